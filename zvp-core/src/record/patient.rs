//! The patient: identity, address, registered GP and treatment restrictions.

use std::fmt::{self, Write as _};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::RecordError;
use crate::id::{AgbCode, Bsn, PatientId};

/// A patient as the EPD knows them now (in the users' words, "NAW-gegevens en behandelbeperking").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Patient {
    /// The EPD's id of the patient.
    pub id: PatientId,
    /// The patient's BSN; `None` for a patient without one (a foreign visitor, say).
    pub bsn: Option<Bsn>,
    /// The patient's name.
    pub name: PersonName,
    /// Administrative gender.
    pub gender: Gender,
    /// Date of birth.
    pub birth_date: NaiveDate,
    /// Home address, when known.
    pub address: Option<Address>,
    /// The GP the patient is registered with in the EPD, if any. Whether someone's patient is
    /// their "own" is decided on this, at the time of the request.
    pub registered_gp: Option<RegisteredGp>,
    /// Treatment restrictions (behandelbeperkingen), shown prominently.
    pub treatment_restrictions: Vec<TreatmentRestriction>,
    /// The patient's objection to sharing their record, if they made one: then the portal
    /// shows their record to nobody and lists them for nobody.
    #[serde(default)]
    pub sharing_objection: Option<SharingObjection>,
}

/// A patient's objection to their record being shared with practitioners outside the
/// hospital (bezwaar tegen gegevensdeling): an active privacy Consent that denies.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SharingObjection {
    /// When it was recorded, when the EPD says.
    pub recorded_on: Option<NaiveDate>,
}

/// A Dutch person's name in its parts.
///
/// ```
/// use zvp_core::PersonName;
/// let name = PersonName::new("Berg")?
///     .with_given_names("Jan Pieter")
///     .with_prefix("van den");
/// assert_eq!(name.to_string(), "J.P. van den Berg");
/// assert_eq!(name.sort_key(), "Berg, J.P. van den");
/// # Ok::<(), zvp_core::RecordError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "NameFields", into = "NameFields")]
pub struct PersonName {
    // INVARIANT: every field is trimmed; `family` is not empty; optional parts are `None`
    // rather than empty.
    given: Option<String>,
    initials: Option<String>,
    prefix: Option<String>,
    family: String,
}

/// The serde form of [`PersonName`], checked on the way in.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct NameFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    given_names: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    initials: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    prefix: Option<String>,
    family_name: String,
}

/// Trims `s` and turns an empty result into `None`.
fn non_empty(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

impl PersonName {
    /// A name with only a family name (achternaam, without voorvoegsel).
    ///
    /// # Errors
    ///
    /// [`RecordError::EmptyFamilyName`] when `family_name` is empty or only whitespace.
    pub fn new(family_name: &str) -> Result<Self, RecordError> {
        Ok(Self {
            given: None,
            initials: None,
            prefix: None,
            family: non_empty(family_name).ok_or(RecordError::EmptyFamilyName)?,
        })
    }

    /// The same name with these first names (voornamen); blank means none.
    #[must_use]
    pub fn with_given_names(mut self, given_names: &str) -> Self {
        self.given = non_empty(given_names);
        self
    }

    /// The same name with these initials (voorletters, e.g. `J.P.`); blank means none. Without
    /// them, initials are derived from the first names.
    #[must_use]
    pub fn with_initials(mut self, initials: &str) -> Self {
        self.initials = non_empty(initials);
        self
    }

    /// The same name with this voorvoegsel (e.g. `van der`); blank means none.
    #[must_use]
    pub fn with_prefix(mut self, prefix: &str) -> Self {
        self.prefix = non_empty(prefix);
        self
    }

    /// The first names, if known.
    pub fn given_names(&self) -> Option<&str> {
        self.given.as_deref()
    }

    /// The voorvoegsel, if any.
    pub fn prefix(&self) -> Option<&str> {
        self.prefix.as_deref()
    }

    /// The family name without voorvoegsel.
    pub fn family_name(&self) -> &str {
        &self.family
    }

    /// The initials as given, if they were (not derived).
    pub fn given_initials(&self) -> Option<&str> {
        self.initials.as_deref()
    }

    /// The initials: as given, or derived from the first names (`Jan Pieter` → `J.P.`).
    pub fn initials(&self) -> Option<String> {
        if let Some(initials) = &self.initials {
            return Some(initials.clone());
        }
        let given = self.given.as_deref()?;
        Some(
            given
                .split_whitespace()
                .filter_map(|part| part.chars().next())
                .flat_map(|c| c.to_uppercase().chain(['.']))
                .collect(),
        )
    }

    /// The name as a Dutch list sorts it: `Berg, J.P. van den`.
    pub fn sort_key(&self) -> String {
        let mut key = self.family.clone();
        let rest: Vec<String> = self
            .initials()
            .into_iter()
            .chain(self.prefix.clone())
            .collect();
        if !rest.is_empty() {
            key.push_str(", ");
            key.push_str(&rest.join(" "));
        }
        key
    }
}

impl fmt::Display for PersonName {
    /// The formal form: initials, voorvoegsel, family name (`J.P. van den Berg`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Written part by part, without a string for each: every row of the start page's
        // lists shows a name.
        match (&self.initials, &self.given) {
            (Some(initials), _) => write!(f, "{initials} ")?,
            (None, Some(given)) => {
                for c in given
                    .split_whitespace()
                    .filter_map(|part| part.chars().next())
                {
                    for upper in c.to_uppercase() {
                        f.write_char(upper)?;
                    }
                    f.write_char('.')?;
                }
                f.write_char(' ')?;
            }
            (None, None) => {}
        }
        if let Some(prefix) = &self.prefix {
            write!(f, "{prefix} ")?;
        }
        f.write_str(&self.family)
    }
}

impl TryFrom<NameFields> for PersonName {
    type Error = RecordError;

    fn try_from(f: NameFields) -> Result<Self, Self::Error> {
        let name = Self::new(&f.family_name)?;
        Ok(Self {
            given: f.given_names.as_deref().and_then(non_empty),
            initials: f.initials.as_deref().and_then(non_empty),
            prefix: f.prefix.as_deref().and_then(non_empty),
            ..name
        })
    }
}

impl From<PersonName> for NameFields {
    fn from(n: PersonName) -> Self {
        Self {
            given_names: n.given,
            initials: n.initials,
            prefix: n.prefix,
            family_name: n.family,
        }
    }
}

/// Administrative gender, as the EPD records it (FHIR `AdministrativeGender`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gender {
    /// Female.
    Female,
    /// Male.
    Male,
    /// Other.
    Other,
    /// Not known.
    Unknown,
}

/// A postal address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Address {
    /// Street name.
    pub street: String,
    /// House number with any addition (`12`, `12a`, `12-II`).
    pub house_number: String,
    /// Postal code (`1234 AB` in the Netherlands).
    pub postal_code: String,
    /// Place of residence (woonplaats).
    pub city: String,
}

/// The GP a patient is registered with in the EPD.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisteredGp {
    /// The AGB code the EPD records: the GP's personal code or the practice's.
    pub agb: AgbCode,
    /// The GP's or practice's name as the EPD has it, for display.
    pub name: Option<String>,
}

/// A treatment that must not be given, or only within limits (zib TreatmentDirective).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TreatmentRestriction {
    /// The treatment concerned.
    pub treatment: RestrictedTreatment,
    /// `None` when the treatment must not be given at all; otherwise the limits within which
    /// it may ("only non-invasive ventilation").
    pub limits: Option<String>,
    /// When it was agreed with the patient or their representative.
    pub agreed_on: NaiveDate,
    /// A further note.
    pub comment: Option<String>,
}

/// The treatments a restriction commonly concerns.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RestrictedTreatment {
    /// Cardiopulmonary resuscitation ("niet reanimeren").
    Resuscitation,
    /// Mechanical ventilation (beademing).
    MechanicalVentilation,
    /// Admission to intensive care.
    IntensiveCareAdmission,
    /// Hospital admission.
    HospitalAdmission,
    /// Blood transfusion.
    BloodTransfusion,
    /// Dialysis.
    Dialysis,
    /// Artificial nutrition or hydration.
    ArtificialNutrition,
    /// Another treatment, as the EPD names it.
    Other(String),
    /// A directive that names no treatment: it restricts treatment, and what it restricts is
    /// in the EPD only.
    Unspecified,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_family_name_is_refused() {
        assert_eq!(PersonName::new("  "), Err(RecordError::EmptyFamilyName));
        let err = serde_json::from_str::<PersonName>(r#"{"family_name":""}"#).unwrap_err();
        assert_eq!(err.to_string(), "name: the family name is empty");
    }

    #[test]
    fn blank_optional_parts_are_none() {
        let name = PersonName::new(" Jansen ")
            .unwrap()
            .with_prefix(" ")
            .with_given_names("");
        assert_eq!(name.family_name(), "Jansen");
        assert_eq!(name.prefix(), None);
        assert_eq!(name.initials(), None);
        assert_eq!(name.to_string(), "Jansen");
        assert_eq!(name.sort_key(), "Jansen");
    }

    proptest::proptest! {
        /// The name is written as its parts joined by spaces: the initials (given or derived),
        /// the prefix, the family name.
        #[test]
        fn the_formal_name_is_its_parts_joined(
            family in "[A-Za-zı ]{1,12}",
            given in proptest::option::of("[a-zß ]{0,14}"),
            initials in proptest::option::of("[A-Z.]{0,5}"),
            prefix in proptest::option::of("[a-z ]{0,7}"),
        ) {
            let Ok(mut name) = PersonName::new(&family) else { return Ok(()) };
            if let Some(g) = &given { name = name.with_given_names(g); }
            if let Some(i) = &initials { name = name.with_initials(i); }
            if let Some(p) = &prefix { name = name.with_prefix(p); }
            let parts: Vec<String> = name
                .initials()
                .into_iter()
                .chain(name.prefix().map(str::to_owned))
                .chain([name.family_name().to_owned()])
                .collect();
            proptest::prop_assert_eq!(name.to_string(), parts.join(" "));
        }
    }

    #[test]
    fn given_initials_win_over_derived_ones() {
        let name = PersonName::new("Vries")
            .unwrap()
            .with_given_names("Maria")
            .with_initials("M.A.")
            .with_prefix("de");
        assert_eq!(name.to_string(), "M.A. de Vries");
    }

    #[test]
    fn name_serde_round_trips_and_trims() {
        let name: PersonName =
            serde_json::from_str(r#"{"given_names":" Fatma ","prefix":"","family_name":"Yılmaz"}"#)
                .unwrap();
        assert_eq!(name.given_names(), Some("Fatma"));
        assert_eq!(name.prefix(), None);
        assert_eq!(name.to_string(), "F. Yılmaz");
        let json = serde_json::to_string(&name).unwrap();
        assert_eq!(json, r#"{"given_names":"Fatma","family_name":"Yılmaz"}"#);
    }

    #[test]
    fn patient_with_a_bad_bsn_does_not_deserialise() {
        let json = r#"{
            "id": "p1", "bsn": "111222334",
            "name": {"family_name": "Jansen"}, "gender": "female",
            "birth_date": "1950-03-01", "address": null, "registered_gp": null,
            "treatment_restrictions": []
        }"#;
        let err = serde_json::from_str::<Patient>(json).unwrap_err();
        assert!(
            err.to_string().starts_with("bsn: the elfproef fails"),
            "{err}"
        );
    }

    #[test]
    fn patient_without_gp_has_none() {
        let json = r#"{
            "id": "p1", "bsn": null,
            "name": {"family_name": "Jansen"}, "gender": "female",
            "birth_date": "1950-03-01", "address": null, "registered_gp": null,
            "treatment_restrictions": [{"treatment": "resuscitation", "limits": null,
                "agreed_on": "2026-01-05", "comment": null}]
        }"#;
        let patient: Patient = serde_json::from_str(json).unwrap();
        assert_eq!(patient.registered_gp, None);
        assert_eq!(
            patient.treatment_restrictions[0].treatment,
            RestrictedTreatment::Resuscitation
        );
    }
}
