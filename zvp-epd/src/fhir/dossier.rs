//! The dossier: AllergyIntolerance, ClinicalImpression (conclusion and plan), Condition
//! (diagnoses), MedicationStatement and DocumentReference (letters and their text).

use base64::Engine as _;
use serde_json::{Value, json};
use zvp_core::{
    Allergy, AllergySeverity, Coding, ConclusionAndPlan, Diagnosis, DiagnosisStatus, Document,
    DocumentId, Letter, Medication, PatientId, Period,
};

use super::{
    FhirError, LOINC, datetime_at, expect_type, instant, invalid, missing, optional, parse_date,
    parse_datetime, patient_at, patient_reference, put, required, str_at,
};

const ALLERGY_CLINICAL: &str = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical";
const ALLERGY_VERIFICATION: &str =
    "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification";
const CONDITION_CLINICAL: &str = "http://terminology.hl7.org/CodeSystem/condition-clinical";
const CONDITION_VERIFICATION: &str = "http://terminology.hl7.org/CodeSystem/condition-ver-status";
const CONDITION_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/condition-category";
const DATA_ABSENT: &str = "http://terminology.hl7.org/CodeSystem/data-absent-reason";

/// The AllergyIntolerance of an allergy. A severity without a known reaction is a reaction
/// whose manifestation is absent (data-absent-reason `unknown`).
pub fn allergy_to_fhir(id: &str, patient: &PatientId, allergy: &Allergy) -> Value {
    let mut resource = json!({
        "resourceType": "AllergyIntolerance",
        "id": id,
        "clinicalStatus": { "coding": [{ "system": ALLERGY_CLINICAL, "code": "active" }] },
        "verificationStatus": { "coding": [{ "system": ALLERGY_VERIFICATION, "code": "confirmed" }] },
        "code": { "text": allergy.substance },
        "patient": patient_reference(patient),
        "recordedDate": instant(allergy.recorded_at),
    });
    if allergy.reaction.is_some() || allergy.severity.is_some() {
        let manifestation = match &allergy.reaction {
            Some(text) => json!({ "text": text }),
            None => json!({ "coding": [{ "system": DATA_ABSENT, "code": "unknown" }] }),
        };
        let mut reaction = json!({ "manifestation": [manifestation] });
        if let Some(severity) = allergy.severity {
            let code = match severity {
                AllergySeverity::Mild => "mild",
                AllergySeverity::Moderate => "moderate",
                AllergySeverity::Severe => "severe",
            };
            put(&mut reaction, "severity", json!(code));
        }
        put(&mut resource, "reaction", json!([reaction]));
    }
    resource
}

/// An allergy and its patient, from an AllergyIntolerance.
///
/// # Errors
///
/// [`FhirError`] naming the element that is missing or does not parse.
pub fn allergy_from_fhir(resource: &Value) -> Result<(PatientId, Allergy), FhirError> {
    const R: &str = "AllergyIntolerance";
    expect_type(R, resource)?;
    let patient = patient_at(R, resource, "/patient/reference", "patient.reference")?;
    let substance = optional(resource, "/code/text")
        .or_else(|| optional(resource, "/code/coding/0/display"))
        .ok_or_else(|| missing(R, "code.text", "string"))?;
    let severity = match str_at(resource, "/reaction/0/severity") {
        None => None,
        Some("mild") => Some(AllergySeverity::Mild),
        Some("moderate") => Some(AllergySeverity::Moderate),
        Some("severe") => Some(AllergySeverity::Severe),
        Some(other) => {
            return Err(invalid(
                R,
                "reaction.severity",
                format!("unknown severity {other:?}"),
            ));
        }
    };
    Ok((
        patient,
        Allergy {
            substance,
            reaction: optional(resource, "/reaction/0/manifestation/0/text"),
            severity,
            recorded_at: datetime_at(R, resource, "/recordedDate", "recordedDate")?,
        },
    ))
}

/// The ClinicalImpression of a conclusion and plan: the conclusion as `summary`, the plan as
/// a note, the author as assessor and the specialism as `code.text`.
pub fn conclusion_to_fhir(id: &str, patient: &PatientId, c: &ConclusionAndPlan) -> Value {
    json!({
        "resourceType": "ClinicalImpression",
        "id": id,
        "status": "completed",
        "code": { "text": c.specialism },
        "subject": patient_reference(patient),
        "date": instant(c.at),
        "assessor": { "display": c.author },
        "summary": c.conclusion,
        "note": [{ "text": c.plan }],
    })
}

/// A conclusion and plan and its patient, from a ClinicalImpression.
///
/// # Errors
///
/// [`FhirError`] naming the element that is missing or does not parse.
pub fn conclusion_from_fhir(resource: &Value) -> Result<(PatientId, ConclusionAndPlan), FhirError> {
    const R: &str = "ClinicalImpression";
    expect_type(R, resource)?;
    Ok((
        patient_at(R, resource, "/subject/reference", "subject.reference")?,
        ConclusionAndPlan {
            at: datetime_at(R, resource, "/date", "date")?,
            author: str_at(resource, "/assessor/display")
                .unwrap_or("")
                .to_owned(),
            specialism: str_at(resource, "/code/text").unwrap_or("").to_owned(),
            conclusion: required(R, resource, "/summary", "summary")?.to_owned(),
            plan: str_at(resource, "/note/0/text").unwrap_or("").to_owned(),
        },
    ))
}

/// The Condition (problem-list item) of a diagnosis; the specialism that made it is the
/// asserter.
pub fn diagnosis_to_fhir(id: &str, patient: &PatientId, d: &Diagnosis) -> Value {
    let status = match d.status {
        DiagnosisStatus::Active => "active",
        DiagnosisStatus::Resolved => "resolved",
    };
    let mut code = json!({ "text": d.description });
    if let Some(c) = &d.code {
        put(
            &mut code,
            "coding",
            json!([{ "system": c.system, "code": c.code, "display": c.display }]),
        );
    }
    let mut resource = json!({
        "resourceType": "Condition",
        "id": id,
        "clinicalStatus": { "coding": [{ "system": CONDITION_CLINICAL, "code": status }] },
        "verificationStatus": { "coding": [{ "system": CONDITION_VERIFICATION, "code": "confirmed" }] },
        "category": [{ "coding": [{ "system": CONDITION_CATEGORY, "code": "problem-list-item" }] }],
        "code": code,
        "subject": patient_reference(patient),
        "asserter": { "display": d.specialism },
    });
    if let Some(onset) = d.onset {
        put(&mut resource, "onsetDateTime", json!(onset.to_string()));
    }
    resource
}

/// A diagnosis and its patient, from a Condition. Statuses other than active and resolved
/// (recurrence, relapse, inactive, remission) read as active unless they end the condition
/// (inactive, remission, resolved).
///
/// # Errors
///
/// [`FhirError`] naming the element that is missing or does not parse.
pub fn diagnosis_from_fhir(resource: &Value) -> Result<(PatientId, Diagnosis), FhirError> {
    const R: &str = "Condition";
    expect_type(R, resource)?;
    let status = match str_at(resource, "/clinicalStatus/coding/0/code") {
        Some("active" | "recurrence" | "relapse") | None => DiagnosisStatus::Active,
        Some("inactive" | "remission" | "resolved") => DiagnosisStatus::Resolved,
        Some(other) => {
            return Err(invalid(
                R,
                "clinicalStatus",
                format!("unknown status {other:?}"),
            ));
        }
    };
    let code = resource.pointer("/code/coding/0").and_then(|c| {
        Some(Coding {
            system: str_at(c, "/system")?.to_owned(),
            code: str_at(c, "/code")?.to_owned(),
            display: str_at(c, "/display").unwrap_or("").to_owned(),
        })
    });
    let description = optional(resource, "/code/text")
        .or_else(|| code.as_ref().map(|c| c.display.clone()))
        .ok_or_else(|| missing(R, "code.text", "string"))?;
    let onset = str_at(resource, "/onsetDateTime")
        .map(|t| parse_date(R, "onsetDateTime", t))
        .transpose()?;
    Ok((
        patient_at(R, resource, "/subject/reference", "subject.reference")?,
        Diagnosis {
            description,
            code,
            onset,
            status,
            specialism: str_at(resource, "/asserter/display")
                .unwrap_or("")
                .to_owned(),
        },
    ))
}

/// The MedicationStatement of a medication: `active` while its period is open, `completed`
/// once it has an end.
pub fn medication_to_fhir(id: &str, patient: &PatientId, m: &Medication) -> Value {
    let mut period = json!({ "start": instant(m.period.start()) });
    if let Some(end) = m.period.end() {
        put(&mut period, "end", json!(instant(end)));
    }
    let mut dosage = json!({ "text": m.dosage });
    if let Some(route) = &m.route {
        put(&mut dosage, "route", json!({ "text": route }));
    }
    let mut resource = json!({
        "resourceType": "MedicationStatement",
        "id": id,
        "status": if m.period.end().is_some() { "completed" } else { "active" },
        "medicationCodeableConcept": { "text": m.name },
        "subject": patient_reference(patient),
        "effectivePeriod": period,
        "dosage": [dosage],
    });
    if let Some(prescriber) = &m.prescriber {
        put(
            &mut resource,
            "informationSource",
            json!({ "display": prescriber }),
        );
    }
    resource
}

/// A medication and its patient, from a MedicationStatement.
///
/// # Errors
///
/// [`FhirError`] naming the element that is missing or does not parse.
pub fn medication_from_fhir(resource: &Value) -> Result<(PatientId, Medication), FhirError> {
    const R: &str = "MedicationStatement";
    expect_type(R, resource)?;
    let name = optional(resource, "/medicationCodeableConcept/text")
        .or_else(|| optional(resource, "/medicationCodeableConcept/coding/0/display"))
        .ok_or_else(|| missing(R, "medicationCodeableConcept.text", "string"))?;
    let start = datetime_at(
        R,
        resource,
        "/effectivePeriod/start",
        "effectivePeriod.start",
    )?;
    let end = str_at(resource, "/effectivePeriod/end")
        .map(|t| parse_datetime(R, "effectivePeriod.end", t))
        .transpose()?;
    Ok((
        patient_at(R, resource, "/subject/reference", "subject.reference")?,
        Medication {
            name,
            dosage: str_at(resource, "/dosage/0/text").unwrap_or("").to_owned(),
            route: optional(resource, "/dosage/0/route/text"),
            period: Period::new(start, end).map_err(|e| invalid(R, "effectivePeriod", e))?,
            prescriber: optional(resource, "/informationSource/display"),
        },
    ))
}

/// The LOINC document type of a letter: a discharge summary for an "Ontslagbrief", a consult
/// note for anything else.
fn letter_type(title: &str) -> (&'static str, &'static str) {
    if title.to_lowercase().starts_with("ontslag") {
        ("18842-5", "Discharge summary")
    } else {
        ("11488-4", "Consult note")
    }
}

/// The DocumentReference of a letter, with the letter's text as a `text/plain` attachment.
pub fn letter_to_fhir(patient: &PatientId, letter: &Letter, text: &str) -> Value {
    let (code, display) = letter_type(&letter.title);
    json!({
        "resourceType": "DocumentReference",
        "id": letter.id.as_str(),
        "status": "current",
        "type": { "coding": [{ "system": LOINC, "code": code, "display": display }] },
        "subject": patient_reference(patient),
        "date": format!("{}T00:00:00Z", letter.date),
        "author": [{ "display": letter.author }],
        "description": letter.title,
        "content": [{ "attachment": {
            "contentType": "text/plain; charset=utf-8",
            "language": "nl",
            "title": letter.title,
            "creation": letter.date.to_string(),
            "data": base64::engine::general_purpose::STANDARD.encode(text),
        } }],
        "context": { "practiceSetting": { "text": letter.specialism } },
    })
}

/// The letter, its patient and its text from a DocumentReference.
fn read_letter(resource: &Value) -> Result<(PatientId, Letter, Option<String>), FhirError> {
    const R: &str = "DocumentReference";
    expect_type(R, resource)?;
    let id: DocumentId = required(R, resource, "/id", "id")?
        .parse()
        .map_err(|e| invalid(R, "id", e))?;
    let date = match str_at(resource, "/content/0/attachment/creation") {
        Some(t) => parse_date(R, "content.attachment.creation", t)?,
        None => parse_date(R, "date", required(R, resource, "/date", "date")?)?,
    };
    let title = optional(resource, "/description")
        .or_else(|| optional(resource, "/content/0/attachment/title"))
        .or_else(|| optional(resource, "/type/text"))
        .or_else(|| optional(resource, "/type/coding/0/display"))
        .ok_or_else(|| missing(R, "description", "string"))?;
    let text = str_at(resource, "/content/0/attachment/data")
        .map(|data| {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data)
                .map_err(|e| invalid(R, "content.attachment.data", e))?;
            String::from_utf8(bytes).map_err(|_| {
                invalid(
                    R,
                    "content.attachment.data",
                    "the text is not UTF-8 (only text/plain letters are shown)",
                )
            })
        })
        .transpose()?;
    Ok((
        patient_at(R, resource, "/subject/reference", "subject.reference")?,
        Letter {
            id,
            date,
            title,
            author: str_at(resource, "/author/0/display")
                .unwrap_or("")
                .to_owned(),
            specialism: str_at(resource, "/context/practiceSetting/text")
                .unwrap_or("")
                .to_owned(),
        },
        text,
    ))
}

/// A letter and its patient, from a DocumentReference.
///
/// # Errors
///
/// [`FhirError`] naming the element that is missing or does not parse.
pub fn letter_from_fhir(resource: &Value) -> Result<(PatientId, Letter), FhirError> {
    read_letter(resource).map(|(patient, letter, _)| (patient, letter))
}

/// A document (a letter with its text) and its patient, from a DocumentReference.
///
/// # Errors
///
/// [`FhirError`] naming the element that is missing or does not parse; a DocumentReference
/// without inline text is [`FhirError::Missing`] `content.attachment.data`.
pub fn document_from_fhir(resource: &Value) -> Result<(PatientId, Document), FhirError> {
    let (patient, letter, text) = read_letter(resource)?;
    let text =
        text.ok_or_else(|| missing("DocumentReference", "content.attachment.data", "base64"))?;
    Ok((
        patient,
        Document {
            id: letter.id,
            title: letter.title,
            date: letter.date,
            author: Some(letter.author).filter(|a| !a.is_empty()),
            text,
        },
    ))
}
