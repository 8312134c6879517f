//! The FHIR R4 shapes of the record, with the Dutch identifier systems and nl-core
//! conventions of `specs/features.md`: from domain values to FHIR JSON and back. Shared by the
//! FHIR adapter (reading) and `zvp-mock-epd` (serving).
//!
//! So far: Patient (BSN, name parts, address, registered GP) and Encounter (admissions).

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};
use zvp_core::{
    Address, Admission, AgbCode, Bsn, Gender, Patient, PatientId, Period, PersonName, RegisteredGp,
};

/// The BSN naming system.
pub const BSN_SYSTEM: &str = "http://fhir.nl/fhir/NamingSystem/bsn";
/// The AGB naming system (persons and organisations).
pub const AGB_SYSTEM: &str = "http://fhir.nl/fhir/NamingSystem/agb-z";
const OWN_PREFIX: &str = "http://hl7.org/fhir/StructureDefinition/humanname-own-prefix";
const OWN_NAME: &str = "http://hl7.org/fhir/StructureDefinition/humanname-own-name";
const EN_QUALIFIER: &str = "http://hl7.org/fhir/StructureDefinition/iso21090-EN-qualifier";
const STREET_NAME: &str = "http://hl7.org/fhir/StructureDefinition/iso21090-ADXP-streetName";
const HOUSE_NUMBER: &str = "http://hl7.org/fhir/StructureDefinition/iso21090-ADXP-houseNumber";
const ENCOUNTER_CLASS: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";

/// Why FHIR JSON does not give a domain value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FhirError {
    /// A required element is missing or of the wrong type.
    #[error("{resource}: {path} is missing or not a {expected}")]
    Missing {
        /// The resource type.
        resource: &'static str,
        /// The element.
        path: &'static str,
        /// What was expected there.
        expected: &'static str,
    },
    /// An element is present but its value does not parse.
    #[error("{resource}: {path}: {detail}")]
    Invalid {
        /// The resource type.
        resource: &'static str,
        /// The element.
        path: &'static str,
        /// Why not.
        detail: String,
    },
}

fn missing(resource: &'static str, path: &'static str, expected: &'static str) -> FhirError {
    FhirError::Missing {
        resource,
        path,
        expected,
    }
}

fn invalid(
    resource: &'static str,
    path: &'static str,
    detail: impl std::fmt::Display,
) -> FhirError {
    FhirError::Invalid {
        resource,
        path,
        detail: detail.to_string(),
    }
}

/// The Patient resource of a patient (treatment restrictions are Consent resources of their own).
pub fn patient_to_fhir(patient: &Patient) -> Value {
    let name = &patient.name;
    let mut given = Vec::new();
    let mut given_extensions = Vec::new();
    for part in name.given_names().unwrap_or("").split_whitespace() {
        given.push(json!(part));
        given_extensions.push(json!({ "extension": [{ "url": EN_QUALIFIER, "valueCode": "BR" }] }));
    }
    if let Some(initials) = name.given_initials() {
        given.push(json!(initials));
        given_extensions.push(json!({ "extension": [{ "url": EN_QUALIFIER, "valueCode": "IN" }] }));
    }
    let family = match name.prefix() {
        Some(prefix) => format!("{prefix} {}", name.family_name()),
        None => name.family_name().to_owned(),
    };
    let mut family_parts = Vec::new();
    if let Some(prefix) = name.prefix() {
        family_parts.push(json!({ "url": OWN_PREFIX, "valueString": prefix }));
    }
    family_parts.push(json!({ "url": OWN_NAME, "valueString": name.family_name() }));
    let mut resource = json!({
        "resourceType": "Patient",
        "id": patient.id.as_str(),
        "name": [{
            "use": "official",
            "family": family,
            "_family": { "extension": family_parts },
            "given": given,
            "_given": given_extensions,
        }],
        "gender": match patient.gender {
            Gender::Female => "female",
            Gender::Male => "male",
            Gender::Other => "other",
            Gender::Unknown => "unknown",
        },
        "birthDate": patient.birth_date.to_string(),
    });
    let Some(object) = resource.as_object_mut() else {
        return resource;
    };
    if let Some(bsn) = patient.bsn {
        object.insert(
            "identifier".to_owned(),
            json!([{ "system": BSN_SYSTEM, "value": bsn.to_string() }]),
        );
    }
    if let Some(address) = &patient.address {
        object.insert(
            "address".to_owned(),
            json!([{
                "use": "home",
                "line": [format!("{} {}", address.street, address.house_number)],
                "_line": [{ "extension": [
                    { "url": STREET_NAME, "valueString": address.street },
                    { "url": HOUSE_NUMBER, "valueString": address.house_number },
                ]}],
                "postalCode": address.postal_code,
                "city": address.city,
            }]),
        );
    }
    if let Some(gp) = &patient.registered_gp {
        let mut reference =
            json!({ "identifier": { "system": AGB_SYSTEM, "value": gp.agb.to_string() } });
        if let (Some(name), Some(r)) = (&gp.name, reference.as_object_mut()) {
            r.insert("display".to_owned(), json!(name));
        }
        object.insert("generalPractitioner".to_owned(), json!([reference]));
    }
    resource
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str)
}

/// The value of the extension with `url` in an element's extension list.
fn extension<'a>(element: &'a Value, url: &str) -> Option<&'a Value> {
    element
        .get("extension")?
        .as_array()?
        .iter()
        .find(|e| e.get("url").and_then(Value::as_str) == Some(url))
}

/// A patient from a Patient resource (without its treatment restrictions).
///
/// # Errors
///
/// [`FhirError`] naming the element that is missing or does not parse.
pub fn patient_from_fhir(resource: &Value) -> Result<Patient, FhirError> {
    const R: &str = "Patient";
    let id: PatientId = str_at(resource, "/id")
        .ok_or_else(|| missing(R, "id", "string"))?
        .parse()
        .map_err(|e| invalid(R, "id", e))?;
    let bsn = resource
        .get("identifier")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|i| i.get("system").and_then(Value::as_str) == Some(BSN_SYSTEM))
        .map(|i| {
            i.get("value")
                .and_then(Value::as_str)
                .ok_or_else(|| missing(R, "identifier.value", "string"))?
                .parse::<Bsn>()
                .map_err(|e| invalid(R, "identifier.value", e))
        })
        .transpose()?;
    let name_element = resource
        .get("name")
        .and_then(Value::as_array)
        .and_then(|names| {
            names
                .iter()
                .find(|n| n.get("use").and_then(Value::as_str) == Some("official"))
                .or(names.first())
        })
        .ok_or_else(|| missing(R, "name", "HumanName"))?;
    let family_parts = name_element.get("_family");
    let own_name = family_parts
        .and_then(|f| extension(f, OWN_NAME))
        .and_then(|e| e.get("valueString"))
        .and_then(Value::as_str);
    let prefix = family_parts
        .and_then(|f| extension(f, OWN_PREFIX))
        .and_then(|e| e.get("valueString"))
        .and_then(Value::as_str);
    let family = own_name
        .or_else(|| name_element.get("family").and_then(Value::as_str))
        .ok_or_else(|| missing(R, "name.family", "string"))?;
    let mut given_names = Vec::new();
    let mut initials = None;
    let given = name_element
        .get("given")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let qualifiers = name_element
        .get("_given")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for (i, part) in given.iter().enumerate() {
        let Some(part) = part.as_str() else { continue };
        let qualifier = qualifiers
            .get(i)
            .and_then(|q| extension(q, EN_QUALIFIER))
            .and_then(|e| e.get("valueCode"))
            .and_then(Value::as_str);
        if qualifier == Some("IN") {
            initials = Some(part);
        } else {
            given_names.push(part);
        }
    }
    let mut name = PersonName::new(family)
        .map_err(|e| invalid(R, "name.family", e))?
        .with_given_names(&given_names.join(" "))
        .with_prefix(prefix.unwrap_or(""));
    if let Some(initials) = initials {
        name = name.with_initials(initials);
    }
    let gender = match str_at(resource, "/gender") {
        Some("female") => Gender::Female,
        Some("male") => Gender::Male,
        Some("other") => Gender::Other,
        Some("unknown") | None => Gender::Unknown,
        Some(other) => return Err(invalid(R, "gender", format!("unknown gender {other:?}"))),
    };
    let birth_date: NaiveDate = str_at(resource, "/birthDate")
        .ok_or_else(|| missing(R, "birthDate", "date"))?
        .parse()
        .map_err(|e| invalid(R, "birthDate", e))?;
    let address = resource
        .get("address")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .map(|a| {
            let parts = a.pointer("/_line/0");
            let street = parts
                .and_then(|p| extension(p, STREET_NAME))
                .and_then(|e| e.get("valueString"))
                .and_then(Value::as_str);
            let number = parts
                .and_then(|p| extension(p, HOUSE_NUMBER))
                .and_then(|e| e.get("valueString"))
                .and_then(Value::as_str);
            let line = str_at(a, "/line/0").unwrap_or("");
            Address {
                street: street.unwrap_or(line).to_owned(),
                house_number: number.unwrap_or("").to_owned(),
                postal_code: str_at(a, "/postalCode").unwrap_or("").to_owned(),
                city: str_at(a, "/city").unwrap_or("").to_owned(),
            }
        });
    let registered_gp = resource
        .get("generalPractitioner")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|r| str_at(r, "/identifier/system") == Some(AGB_SYSTEM))
        .map(|r| {
            let agb: AgbCode = str_at(r, "/identifier/value")
                .ok_or_else(|| missing(R, "generalPractitioner.identifier.value", "string"))?
                .parse()
                .map_err(|e| invalid(R, "generalPractitioner.identifier.value", e))?;
            Ok(RegisteredGp {
                agb,
                name: str_at(r, "/display").map(str::to_owned),
            })
        })
        .transpose()?;
    Ok(Patient {
        id,
        bsn,
        name,
        gender,
        birth_date,
        address,
        registered_gp,
        treatment_restrictions: Vec::new(),
    })
}

/// The Encounter (class IMP) of an admission: `in-progress` while admitted, `finished` with
/// `period.end` after discharge.
pub fn admission_to_fhir(id: &str, admission: &Admission) -> Value {
    let mut period = json!({ "start": admission.admitted_at().to_rfc3339() });
    let discharged = admission.discharged_at();
    if let (Some(end), Some(p)) = (discharged, period.as_object_mut()) {
        p.insert("end".to_owned(), json!(end.to_rfc3339()));
    }
    json!({
        "resourceType": "Encounter",
        "id": id,
        "status": if discharged.is_some() { "finished" } else { "in-progress" },
        "class": { "system": ENCOUNTER_CLASS, "code": "IMP", "display": "inpatient encounter" },
        "subject": { "reference": format!("Patient/{}", admission.patient) },
        "serviceType": { "text": admission.specialism },
        "location": [{ "location": { "display": admission.ward } }],
        "period": period,
    })
}

/// An admission from an Encounter.
///
/// # Errors
///
/// [`FhirError`] naming the element that is missing or does not parse.
pub fn admission_from_fhir(resource: &Value) -> Result<Admission, FhirError> {
    const R: &str = "Encounter";
    let patient: PatientId = str_at(resource, "/subject/reference")
        .and_then(|r| r.strip_prefix("Patient/"))
        .ok_or_else(|| missing(R, "subject.reference", "Patient reference"))?
        .parse()
        .map_err(|e| invalid(R, "subject.reference", e))?;
    let time = |path: &'static str, pointer: &str| -> Result<Option<DateTime<Utc>>, FhirError> {
        str_at(resource, pointer)
            .map(|t| {
                DateTime::parse_from_rfc3339(t)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|e| invalid(R, path, e))
            })
            .transpose()
    };
    let start = time("period.start", "/period/start")?
        .ok_or_else(|| missing(R, "period.start", "dateTime"))?;
    let end = time("period.end", "/period/end")?;
    Ok(Admission {
        patient,
        ward: str_at(resource, "/location/0/location/display")
            .unwrap_or("")
            .to_owned(),
        specialism: str_at(resource, "/serviceType/text")
            .unwrap_or("")
            .to_owned(),
        period: Period::new(start, end).map_err(|e| invalid(R, "period", e))?,
    })
}
