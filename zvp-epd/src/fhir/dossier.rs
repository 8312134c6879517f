//! The dossier: AllergyIntolerance, ClinicalImpression (conclusion and plan), Condition
//! (diagnoses), MedicationStatement and DocumentReference (letters and their text).

use base64::Engine as _;
use serde_json::{Value, json};
use zvp_core::{
    Allergy, AllergySeverity, Coding, ConclusionAndPlan, Diagnosis, DiagnosisStatus, Document,
    DocumentContent, DocumentId, Letter, Medication, PatientId, Pdf, Period,
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
/// LOINC's discharge summary, the type of a discharge letter.
const DISCHARGE_SUMMARY: &str = "18842-5";

fn letter_type(discharge: bool) -> (&'static str, &'static str) {
    if discharge {
        (DISCHARGE_SUMMARY, "Discharge summary")
    } else {
        ("11488-4", "Consult note")
    }
}

/// The DocumentReference of a letter, with the letter's text as a `text/plain` attachment.
pub fn letter_to_fhir(patient: &PatientId, letter: &Letter, text: &str) -> Value {
    let (code, display) = letter_type(letter.discharge);
    let mut context = json!({ "practiceSetting": { "text": letter.specialism } });
    if let Some(admission) = letter.admission {
        let mut period = json!({ "start": instant(admission.start()) });
        if let Some(end) = admission.end() {
            put(&mut period, "end", json!(instant(end)));
        }
        put(&mut context, "period", period);
    }
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
        "context": context,
    })
}

/// Where a document's bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttachmentData {
    /// In the DocumentReference itself (`attachment.data`), decoded.
    Inline(Vec<u8>),
    /// At a URL (`attachment.url`), usually `Binary/<id>` relative to the FHIR base.
    Url(String),
}

/// The attachment of a DocumentReference the portal shows: its content type and its bytes
/// or where they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The media type, lower case and without parameters (`text/plain`).
    pub media_type: String,
    /// The `charset` parameter, lower case, if any.
    pub charset: Option<String>,
    /// The bytes, or where they are.
    pub data: AttachmentData,
}

/// The media types the portal shows, in the order it prefers them when a DocumentReference
/// offers the letter in several: text as it is, HTML as its text, PDF as a download.
const SHOWN: [&str; 4] = [
    "text/plain",
    "text/html",
    "application/xhtml+xml",
    "application/pdf",
];

/// The attachment to show of those a DocumentReference's `content` offers.
fn attachment(resource: &Value) -> Result<Attachment, FhirError> {
    const R: &str = "DocumentReference";
    let mut offered = Vec::new();
    for content in resource
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(a) = content.get("attachment") else {
            continue;
        };
        // An attachment without a content type is text (FHIR's Attachment has no default,
        // and text is what the portal can always show safely).
        let (media_type, charset) = media_type(str_at(a, "/contentType").unwrap_or("text/plain"));
        let Some(rank) = SHOWN.iter().position(|t| *t == media_type) else {
            continue;
        };
        let data = match (str_at(a, "/data"), str_at(a, "/url")) {
            (Some(data), _) => AttachmentData::Inline(
                base64::engine::general_purpose::STANDARD
                    .decode(data.trim())
                    .map_err(|e| invalid(R, "content.attachment.data", e))?,
            ),
            (None, Some(url)) => AttachmentData::Url(url.to_owned()),
            (None, None) => continue,
        };
        offered.push((
            rank,
            Attachment {
                media_type,
                charset,
                data,
            },
        ));
    }
    offered
        .into_iter()
        .min_by_key(|(rank, _)| *rank)
        .map(|(_, a)| a)
        .ok_or_else(|| {
            missing(
                R,
                "content.attachment",
                "text/plain, text/html or application/pdf attachment with data or url",
            )
        })
}

/// The widest line an HTML letter's text is wrapped at: wide enough that a paragraph stays
/// one line, as a plain-text letter's does (the page wraps it).
const HTML_TEXT_WIDTH: usize = 10_000;

/// What an attachment's bytes hold: the text of `text/plain` (UTF-8, US-ASCII or ISO-8859-1)
/// and of HTML (its text only: the portal never shows the document's own markup, scripts or
/// styles), or the PDF.
///
/// # Errors
///
/// [`FhirError::Invalid`] for text in another character set or not in the one named, HTML
/// that cannot be read, bytes labelled PDF that are not one, or another media type.
pub fn document_content(
    media_type: &str,
    charset: Option<&str>,
    bytes: Vec<u8>,
) -> Result<DocumentContent, FhirError> {
    const R: &str = "DocumentReference";
    const PATH: &str = "content.attachment";
    let text = |bytes: Vec<u8>| match charset {
        None | Some("utf-8" | "utf8" | "us-ascii") => {
            String::from_utf8(bytes).map_err(|_| invalid(R, PATH, "the text is not UTF-8"))
        }
        Some("iso-8859-1" | "latin1") => Ok(bytes.into_iter().map(char::from).collect()),
        Some(other) => Err(invalid(
            R,
            PATH,
            format!("charset {other:?} is not supported"),
        )),
    };
    match media_type {
        "text/plain" => Ok(DocumentContent::Text(text(bytes)?)),
        "text/html" | "application/xhtml+xml" => {
            let html = text(bytes)?;
            let plain = html2text::config::plain_no_decorate()
                .link_footnotes(false)
                .allow_width_overflow()
                .string_from_read(html.as_bytes(), HTML_TEXT_WIDTH)
                .map_err(|_| invalid(R, PATH, "the HTML cannot be read"))?;
            Ok(DocumentContent::Text(plain.trim_end().to_owned()))
        }
        "application/pdf" => Pdf::new(bytes)
            .map(DocumentContent::Pdf)
            .map_err(|e| invalid(R, PATH, e)),
        other => Err(invalid(
            R,
            PATH,
            format!("media type {other:?} is not shown"),
        )),
    }
}

/// The attachment a Binary resource is (`contentType` and base64 `data`).
///
/// # Errors
///
/// [`FhirError`] when it is no Binary, or has no content type or data.
pub fn binary_from_fhir(resource: &Value) -> Result<Attachment, FhirError> {
    const R: &str = "Binary";
    expect_type(R, resource)?;
    let (media_type, charset) = media_type(required(R, resource, "/contentType", "contentType")?);
    let data = base64::engine::general_purpose::STANDARD
        .decode(required(R, resource, "/data", "data")?.trim())
        .map_err(|e| invalid(R, "data", e))?;
    Ok(Attachment {
        media_type,
        charset,
        data: AttachmentData::Inline(data),
    })
}

/// The media type (lower case, without parameters) and the `charset` of a content type.
fn media_type(content_type: &str) -> (String, Option<String>) {
    let mut parts = content_type.split(';');
    let media_type = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let charset = parts.find_map(|p| {
        let (name, value) = p.split_once('=')?;
        (name.trim().eq_ignore_ascii_case("charset"))
            .then(|| value.trim().trim_matches('"').to_ascii_lowercase())
    });
    (media_type, charset)
}

/// The letter and its patient from a DocumentReference.
fn read_letter(resource: &Value) -> Result<(PatientId, Letter), FhirError> {
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
            discharge: resource
                .pointer("/type/coding")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|c| {
                    str_at(c, "/system") == Some(LOINC)
                        && str_at(c, "/code") == Some(DISCHARGE_SUMMARY)
                }),
            admission: letter_admission(resource)?,
        },
    ))
}

/// The admission a letter belongs to: `context.period`.
fn letter_admission(resource: &Value) -> Result<Option<Period>, FhirError> {
    const R: &str = "DocumentReference";
    let Some(start) = str_at(resource, "/context/period/start") else {
        return Ok(None);
    };
    let start = parse_datetime(R, "context.period.start", start)?;
    let end = str_at(resource, "/context/period/end")
        .map(|t| parse_datetime(R, "context.period.end", t))
        .transpose()?;
    Period::new(start, end)
        .map(Some)
        .map_err(|e| invalid(R, "context.period", e))
}

/// A letter and its patient, from a DocumentReference.
///
/// # Errors
///
/// [`FhirError`] naming the element that is missing or does not parse.
pub fn letter_from_fhir(resource: &Value) -> Result<(PatientId, Letter), FhirError> {
    read_letter(resource)
}

/// A letter, its patient and the attachment to show, from a DocumentReference: the bytes
/// inline, or the URL to read them from.
///
/// # Errors
///
/// [`FhirError`] naming the element that is missing or does not parse; a DocumentReference
/// without a text, HTML or PDF attachment is [`FhirError::Missing`] `content.attachment`.
pub fn document_reference_from_fhir(
    resource: &Value,
) -> Result<(PatientId, Letter, Attachment), FhirError> {
    let (patient, letter) = read_letter(resource)?;
    Ok((patient, letter, attachment(resource)?))
}

/// The document made of a letter and its content.
pub fn document_of(letter: Letter, content: DocumentContent) -> Document {
    Document {
        id: letter.id,
        title: letter.title,
        date: letter.date,
        author: Some(letter.author).filter(|a| !a.is_empty()),
        content,
    }
}

/// A document and its patient, from a DocumentReference whose attachment is inline.
///
/// # Errors
///
/// As [`document_reference_from_fhir`] and [`document_content`]; an attachment by URL is
/// [`FhirError::Missing`] `content.attachment.data`.
pub fn document_from_fhir(resource: &Value) -> Result<(PatientId, Document), FhirError> {
    let (patient, letter, attachment) = document_reference_from_fhir(resource)?;
    let AttachmentData::Inline(bytes) = attachment.data else {
        return Err(missing(
            "DocumentReference",
            "content.attachment.data",
            "base64",
        ));
    };
    let content = document_content(&attachment.media_type, attachment.charset.as_deref(), bytes)?;
    Ok((patient, document_of(letter, content)))
}
