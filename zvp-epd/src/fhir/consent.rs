//! Consent: treatment restrictions (nl-core-TreatmentDirective2) and a patient's objection
//! to sharing their record (a privacy Consent that denies).

use serde_json::{Value, json};
use zvp_core::{PatientId, RestrictedTreatment, SharingObjection, TreatmentRestriction};

use super::{
    FhirError, LOINC, SNOMED, expect_type, extension, missing, optional, parse_date, patient_at,
    patient_reference, put, required, str_at,
};

/// What a Consent means for the portal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsentMeaning {
    /// A treatment directive that restricts treatment.
    Restriction(TreatmentRestriction),
    /// The patient objects to their record being shared.
    Objection(SharingObjection),
}

const ACT_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";

const CONSENT_SCOPE: &str = "http://terminology.hl7.org/CodeSystem/consentscope";
const SPECIFICATION_OTHER: &str =
    "http://nictiz.nl/fhir/StructureDefinition/ext-TreatmentDirective2.SpecificationOther";
const COMMENT: &str = "http://nictiz.nl/fhir/StructureDefinition/ext-Comment";
/// The SNOMED codes of the treatments a restriction can name (zib TreatmentDirective2).
const TREATMENTS: [(&str, &str); 7] = [
    ("89666000", "Reanimatie"),
    ("40617009", "Beademing"),
    ("305351004", "Opname op de intensive care"),
    ("32485007", "Ziekenhuisopname"),
    ("116859006", "Bloedtransfusie"),
    ("108241001", "Dialyse"),
    ("61420007", "Sondevoeding"),
];

fn treatment_code(t: &RestrictedTreatment) -> Option<(&'static str, &'static str)> {
    let index = match t {
        RestrictedTreatment::Resuscitation => 0,
        RestrictedTreatment::MechanicalVentilation => 1,
        RestrictedTreatment::IntensiveCareAdmission => 2,
        RestrictedTreatment::HospitalAdmission => 3,
        RestrictedTreatment::BloodTransfusion => 4,
        RestrictedTreatment::Dialysis => 5,
        RestrictedTreatment::ArtificialNutrition => 6,
        RestrictedTreatment::Other(_) | RestrictedTreatment::Unspecified => return None,
    };
    TREATMENTS.get(index).copied()
}

fn treatment_from_code(code: &str) -> Option<RestrictedTreatment> {
    Some(match code {
        "89666000" => RestrictedTreatment::Resuscitation,
        "40617009" => RestrictedTreatment::MechanicalVentilation,
        "305351004" => RestrictedTreatment::IntensiveCareAdmission,
        "32485007" => RestrictedTreatment::HospitalAdmission,
        "116859006" => RestrictedTreatment::BloodTransfusion,
        "108241001" => RestrictedTreatment::Dialysis,
        "61420007" => RestrictedTreatment::ArtificialNutrition,
        _ => return None,
    })
}

/// The Consent (treatment directive) of a treatment restriction: the treatment as a SNOMED
/// code in `provision.code` (free text for other treatments), `provision.type` deny, the date
/// it was agreed in `dateTime`, limits and comment as nl-core extensions.
pub fn restriction_to_fhir(
    id: &str,
    patient: &PatientId,
    restriction: &TreatmentRestriction,
) -> Value {
    let treatment = match (
        &restriction.treatment,
        treatment_code(&restriction.treatment),
    ) {
        (_, Some((code, display))) => json!({
            "coding": [{ "system": SNOMED, "code": code, "display": display }],
            "text": display,
        }),
        (RestrictedTreatment::Other(text), None) => json!({ "text": text }),
        (_, None) => json!({ "text": "" }),
    };
    let mut extensions = Vec::new();
    if let Some(limits) = &restriction.limits {
        extensions.push(json!({ "url": SPECIFICATION_OTHER, "valueString": limits }));
    }
    if let Some(comment) = &restriction.comment {
        extensions.push(json!({ "url": COMMENT, "valueString": comment }));
    }
    let mut resource = json!({
        "resourceType": "Consent",
        "id": id,
        "status": "active",
        "scope": { "coding": [{ "system": CONSENT_SCOPE, "code": "treatment" }] },
        "category": [{ "coding": [{
            "system": SNOMED, "code": "11291000146105", "display": "Treatment instructions"
        }] }],
        "patient": patient_reference(patient),
        "dateTime": restriction.agreed_on.to_string(),
        "policy": [{ "uri": "https://wetten.overheid.nl/BWBR0005290" }],
        "provision": { "type": "deny", "code": [treatment] },
    });
    if !extensions.is_empty() {
        put(&mut resource, "extension", Value::Array(extensions));
    }
    resource
}

/// The Consent of a patient's objection to sharing: scope `patient-privacy`, policy rule
/// `OPTOUT`, a `deny` provision without codes (it covers everything).
pub fn objection_to_fhir(id: &str, patient: &PatientId, objection: &SharingObjection) -> Value {
    let mut resource = json!({
        "resourceType": "Consent",
        "id": id,
        "status": "active",
        "scope": { "coding": [{ "system": CONSENT_SCOPE, "code": "patient-privacy" }] },
        "category": [{ "coding": [{
            "system": LOINC, "code": "59284-0", "display": "Patient Consent"
        }] }],
        "patient": patient_reference(patient),
        "policyRule": { "coding": [{ "system": ACT_CODE, "code": "OPTOUT" }] },
        "provision": { "type": "deny" },
    });
    if let Some(date) = objection.recorded_on {
        put(&mut resource, "dateTime", json!(date.to_string()));
    }
    resource
}

/// What a Consent is about, by its scope, else its category.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Treatment,
    Privacy,
    /// Research, an advance directive for another purpose: nothing the portal shows.
    Other,
}

fn scope(resource: &Value) -> Scope {
    let codes = |pointer: &str| -> Vec<(&str, &str)> {
        let concepts: Vec<&Value> = match resource.pointer(pointer) {
            Some(Value::Array(items)) => items.iter().collect(),
            Some(one) => vec![one],
            None => Vec::new(),
        };
        concepts
            .into_iter()
            .filter_map(|c| c.get("coding").and_then(Value::as_array))
            .flatten()
            .filter_map(|c| Some((str_at(c, "/system")?, str_at(c, "/code")?)))
            .collect()
    };
    for (system, code) in codes("/scope") {
        if system == CONSENT_SCOPE {
            return match code {
                "treatment" => Scope::Treatment,
                "patient-privacy" => Scope::Privacy,
                _ => Scope::Other,
            };
        }
    }
    // LOINC's privacy consents: patient consent, privacy policy acknowledgment, release of
    // information.
    let privacy = ["59284-0", "57016-8", "57017-6", "64292-6"];
    if codes("/category")
        .iter()
        .any(|&(system, code)| system == LOINC && privacy.contains(&code))
    {
        Scope::Privacy
    } else {
        // A Consent that says no more is read as the treatment directive the portal knew
        // first, as before.
        Scope::Treatment
    }
}

/// What a Consent means for the portal, and the patient it is about; `Ok(None)` when it means
/// nothing for the portal (not active, a treatment directive that permits, a privacy Consent
/// that permits, another scope).
///
/// - A treatment directive that denies is a [`TreatmentRestriction`]: the treatment its
///   `provision.code` names (a SNOMED code, else its text), or
///   [`RestrictedTreatment::Unspecified`] when it names none.
/// - A privacy Consent is an [`SharingObjection`] unless it permits (`provision.type` permit,
///   or policy rule `OPTIN` without a deny): one that denies anything, or whose meaning is
///   not clear, is read as an objection to everything, so that the portal fails closed.
///
/// # Errors
///
/// [`FhirError`] naming the element that is missing or does not parse.
pub fn consent_from_fhir(
    resource: &Value,
) -> Result<Option<(PatientId, ConsentMeaning)>, FhirError> {
    const R: &str = "Consent";
    expect_type(R, resource)?;
    let patient = patient_at(R, resource, "/patient/reference", "patient.reference")?;
    if str_at(resource, "/status").is_some_and(|s| s != "active") {
        return Ok(None);
    }
    let provision = str_at(resource, "/provision/type");
    match scope(resource) {
        Scope::Other => Ok(None),
        Scope::Privacy => {
            let rule = str_at(resource, "/policyRule/coding/0/code");
            let permits = provision == Some("permit")
                || (provision.is_none() && matches!(rule, Some("OPTIN" | "OPTINR")));
            if permits {
                return Ok(None);
            }
            let recorded_on = str_at(resource, "/dateTime")
                .map(|t| parse_date(R, "dateTime", t))
                .transpose()?;
            Ok(Some((
                patient,
                ConsentMeaning::Objection(SharingObjection { recorded_on }),
            )))
        }
        Scope::Treatment => {
            if provision == Some("permit") {
                return Ok(None);
            }
            let treatment = match resource.pointer("/provision/code/0") {
                None => RestrictedTreatment::Unspecified,
                Some(code) => {
                    let snomed = code
                        .get("coding")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter(|c| str_at(c, "/system") == Some(SNOMED))
                        .find_map(|c| str_at(c, "/code").and_then(treatment_from_code));
                    match snomed {
                        Some(t) => t,
                        None => RestrictedTreatment::Other(
                            optional(code, "/text")
                                .or_else(|| optional(code, "/coding/0/display"))
                                .ok_or_else(|| missing(R, "provision.code.text", "string"))?,
                        ),
                    }
                }
            };
            let agreed_on = parse_date(
                R,
                "dateTime",
                required(R, resource, "/dateTime", "dateTime")?,
            )?;
            let ext = |url| extension(resource, url).and_then(|e| optional(e, "/valueString"));
            Ok(Some((
                patient,
                ConsentMeaning::Restriction(TreatmentRestriction {
                    treatment,
                    limits: ext(SPECIFICATION_OTHER),
                    agreed_on,
                    comment: ext(COMMENT),
                }),
            )))
        }
    }
}

/// A treatment restriction and the patient it belongs to, from a Consent: as
/// [`consent_from_fhir`], `None` for every Consent that is no treatment restriction.
///
/// # Errors
///
/// As [`consent_from_fhir`].
pub fn restriction_from_fhir(
    resource: &Value,
) -> Result<Option<(PatientId, TreatmentRestriction)>, FhirError> {
    Ok(match consent_from_fhir(resource)? {
        Some((patient, ConsentMeaning::Restriction(r))) => Some((patient, r)),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn consent(extra: Value) -> Value {
        let mut c = json!({
            "resourceType": "Consent",
            "id": "c1",
            "status": "active",
            "patient": { "reference": "Patient/p1" },
            "dateTime": "2026-01-02",
        });
        if let (Some(c), Value::Object(extra)) = (c.as_object_mut(), extra) {
            c.extend(extra);
        }
        c
    }

    fn meaning(extra: Value) -> Option<ConsentMeaning> {
        consent_from_fhir(&consent(extra))
            .unwrap()
            .map(|(patient, m)| {
                assert_eq!(patient.as_str(), "p1");
                m
            })
    }

    const PRIVACY: &str = "patient-privacy";

    fn scope(code: &str) -> Value {
        json!({ "coding": [{ "system": CONSENT_SCOPE, "code": code }] })
    }

    #[test]
    fn a_treatment_directive_without_a_code_restricts_an_unspecified_treatment() {
        let Some(ConsentMeaning::Restriction(r)) =
            meaning(json!({ "scope": scope("treatment"), "provision": { "type": "deny" } }))
        else {
            panic!("a restriction");
        };
        assert_eq!(r.treatment, RestrictedTreatment::Unspecified);
        assert_eq!(r.agreed_on.to_string(), "2026-01-02");
        // With no provision at all, as well.
        assert!(matches!(
            meaning(json!({ "scope": scope("treatment") })),
            Some(ConsentMeaning::Restriction(TreatmentRestriction {
                treatment: RestrictedTreatment::Unspecified,
                ..
            }))
        ));
    }

    #[test]
    fn a_privacy_consent_that_denies_without_codes_is_an_objection_to_everything() {
        let objection = Some(ConsentMeaning::Objection(SharingObjection {
            recorded_on: "2026-01-02".parse().ok(),
        }));
        assert_eq!(
            meaning(json!({ "scope": scope(PRIVACY), "provision": { "type": "deny" } })),
            objection
        );
        // The policy rule alone.
        assert_eq!(
            meaning(json!({
                "scope": scope(PRIVACY),
                "policyRule": { "coding": [{ "system": ACT_CODE, "code": "OPTOUT" }] }
            })),
            objection
        );
        // A deny of some data only is read as everything: the portal fails closed.
        assert_eq!(
            meaning(json!({
                "scope": scope(PRIVACY),
                "provision": { "type": "deny", "code": [{ "text": "psychiatrie" }] }
            })),
            objection
        );
        // By LOINC category, without a scope.
        assert_eq!(
            meaning(json!({
                "category": [{ "coding": [{ "system": LOINC, "code": "59284-0" }] }],
                "provision": { "type": "deny" }
            })),
            objection
        );
        // Written by objection_to_fhir and read back.
        let patient: PatientId = "p1".parse().unwrap();
        let written = SharingObjection {
            recorded_on: "2026-03-04".parse().ok(),
        };
        assert_eq!(
            consent_from_fhir(&objection_to_fhir("o", &patient, &written)).unwrap(),
            Some((patient, ConsentMeaning::Objection(written)))
        );
    }

    #[test]
    fn consents_that_permit_or_are_not_in_force_mean_nothing() {
        for extra in [
            json!({ "scope": scope(PRIVACY), "provision": { "type": "permit" } }),
            json!({
                "scope": scope(PRIVACY),
                "policyRule": { "coding": [{ "system": ACT_CODE, "code": "OPTIN" }] }
            }),
            json!({ "scope": scope("treatment"), "provision": { "type": "permit" } }),
            json!({ "scope": scope("research"), "provision": { "type": "deny" } }),
            json!({ "scope": scope(PRIVACY), "status": "inactive" }),
            json!({ "scope": scope(PRIVACY), "status": "rejected" }),
        ] {
            assert_eq!(meaning(extra.clone()), None, "{extra}");
        }
    }

    #[test]
    fn an_unreadable_date_is_named() {
        assert_eq!(
            consent_from_fhir(&consent(json!({
                "scope": scope(PRIVACY),
                "dateTime": "gisteren",
            })))
            .unwrap_err()
            .without_values(),
            "Consent: dateTime does not parse"
        );
    }
}
