//! The FHIR R4 shapes of the record, with the Dutch identifier systems and nl-core / zib
//! conventions (the table below): from domain values to FHIR JSON and back. Shared by the
//! FHIR adapter ([`FhirEpd`](crate::client::FhirEpd), reading) and `zvp-mock-epd` (serving).
//!
//! | domain | FHIR R4 |
//! |---|---|
//! | [`Patient`](zvp_core::Patient) | Patient (BSN, nl-core name parts, address, registered GP by AGB) |
//! | [`TreatmentRestriction`](zvp_core::TreatmentRestriction) | Consent (treatment directive: SNOMED treatment in `provision.code`, `provision.type` deny) |
//! | [`SharingObjection`](zvp_core::SharingObjection) | Consent (scope `patient-privacy`, policy rule `OPTOUT`, a `deny` provision without codes) |
//! | [`Admission`](zvp_core::Admission) | Encounter, class IMP (`in-progress`, `finished` with `period.end`); reason, attending specialist, ward (phone on a contained Location) and room, expected discharge (R5 `plannedEndDate` extension) |
//! | [`CareMoment`](zvp_core::CareMoment) | Appointment, Procedure, ServiceRequest (referrals); admissions are Encounters |
//! | [`Allergy`](zvp_core::Allergy) | AllergyIntolerance |
//! | [`ConclusionAndPlan`](zvp_core::ConclusionAndPlan) | ClinicalImpression (`summary` and a note with the plan) |
//! | [`Diagnosis`](zvp_core::Diagnosis) | Condition (problem-list item) |
//! | [`Medication`](zvp_core::Medication) | MedicationStatement |
//! | [`Letter`](zvp_core::Letter), [`Document`](zvp_core::Document) | DocumentReference (LOINC 18842-5 / 11488-4, text as a `text/plain` attachment) |
//! | [`ResultReport`](zvp_core::ResultReport) | DiagnosticReport (v2-0074 category) with Observations (lab values, culture isolates) or a `conclusion` text |
//!
//! Lab values keep their written precision: `5.40` stays `5.40` on the wire and back (FHIR
//! decimals are JSON numbers whose precision matters), which is why the Observation is a typed
//! serde shape with raw JSON numbers rather than a [`serde_json::Value`].
//!
//! Reading is lenient where FHIR allows variety (unknown elements are ignored, a `dateTime`
//! may be a date) and strict where a wrong guess would show the wrong thing: a missing or
//! unparsable required element is a [`FhirError`] naming it.

mod bundle;
mod care;
mod consent;
mod dossier;
mod encounter;
mod patient;
mod results;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};
use zvp_core::PatientId;

pub use bundle::{
    Bundle, BundleEntry, BundleLink, EntryMode, EntrySearch, OperationOutcome,
    capability_statement, operation_outcome, searchset,
};
pub use care::{
    admission_moment, care_moment_from_fhir, care_moment_resource_type, care_moment_to_fhir,
};
pub use consent::{
    ConsentMeaning, consent_from_fhir, objection_to_fhir, restriction_from_fhir,
    restriction_to_fhir,
};
pub use dossier::{
    Attachment, AttachmentData, allergy_from_fhir, allergy_to_fhir, binary_from_fhir,
    conclusion_from_fhir, conclusion_to_fhir, diagnosis_from_fhir, diagnosis_to_fhir,
    document_content, document_from_fhir, document_of, document_reference_from_fhir,
    letter_from_fhir, letter_to_fhir, medication_from_fhir, medication_to_fhir,
};
pub use encounter::{PLANNED_END, admission_from_fhir, admission_to_fhir};
pub use patient::{
    patient_from_fhir, patient_from_fhir_with, patient_to_fhir, practitioner_agb,
    unresolved_practitioners,
};
pub use results::{
    NUCLEAR_LAB_CODE, RESULT_CATEGORY_SYSTEM, V2_0074, category_codes, category_codings,
    category_codings_of, category_of, observation_from_fhir, observation_in_record,
    observation_to_fhir, report_from_fhir, report_result_ids, report_to_fhir,
};

/// The BSN naming system.
pub const BSN_SYSTEM: &str = "http://fhir.nl/fhir/NamingSystem/bsn";
/// The AGB naming system (persons and organisations).
pub const AGB_SYSTEM: &str = "http://fhir.nl/fhir/NamingSystem/agb-z";
/// LOINC.
pub const LOINC: &str = "http://loinc.org";
/// SNOMED CT.
pub const SNOMED: &str = "http://snomed.info/sct";

/// Why FHIR JSON does not give a domain value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
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
    /// The text is not the JSON of a resource of the expected type.
    #[error("{resource}: not a {resource} resource: {detail}")]
    NotResource {
        /// The resource type expected.
        resource: &'static str,
        /// What was found instead, or the JSON error.
        detail: String,
    },
}

impl FhirError {
    /// The error without the values it may quote (a date that does not parse, a code): the
    /// resource type, the element and what is wrong, for log lines that must carry no patient
    /// data.
    pub fn without_values(&self) -> String {
        match self {
            Self::Missing { .. } => self.to_string(),
            Self::Invalid { resource, path, .. } => format!("{resource}: {path} does not parse"),
            Self::NotResource { resource, .. } => format!("{resource}: not a {resource} resource"),
        }
    }
}

/// Whether a resource is not part of the record: recorded in error (`status` or a
/// `verificationStatus` coding `entered-in-error`) or refuted (`verificationStatus`
/// `refuted`). The adapter leaves such resources out, as the EPD's own screens do.
pub fn recorded_in_error(resource: &Value) -> bool {
    str_at(resource, "/status") == Some("entered-in-error")
        || resource
            .pointer("/verificationStatus/coding")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|c| matches!(str_at(c, "/code"), Some("entered-in-error" | "refuted")))
}

/// Sets `meta.lastUpdated`, when the server last recorded or changed the resource (a FHIR
/// `instant`: seconds and a time zone), keeping the rest of `meta`.
pub fn set_last_updated(resource: &mut Value, at: DateTime<Utc>) {
    let at = Value::String(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    match resource.get_mut("meta").and_then(Value::as_object_mut) {
        Some(meta) => {
            meta.insert("lastUpdated".to_owned(), at);
        }
        None => put(resource, "meta", json!({ "lastUpdated": at })),
    }
}

/// `meta.lastUpdated`: when the server last recorded or changed the resource, if it says.
///
/// # Errors
///
/// [`FhirError::Invalid`] when it is there but no `instant`.
pub fn last_updated(resource: &Value) -> Result<Option<DateTime<Utc>>, FhirError> {
    let Some(text) = str_at(resource, "/meta/lastUpdated") else {
        return Ok(None);
    };
    let kind = match str_at(resource, "/resourceType") {
        Some("Encounter") => "Encounter",
        Some("DocumentReference") => "DocumentReference",
        _ => "resource",
    };
    DateTime::parse_from_rfc3339(text)
        .map(|t| Some(t.with_timezone(&Utc)))
        .map_err(|_| {
            invalid(
                kind,
                "meta.lastUpdated",
                format!("{text:?} is not an instant"),
            )
        })
}

/// A JSON error without the text it may quote: where, and what kind of error.
pub fn json_error(e: &serde_json::Error) -> String {
    let kind = match e.classify() {
        serde_json::error::Category::Io => "unreadable",
        serde_json::error::Category::Syntax => "not JSON",
        serde_json::error::Category::Data => "JSON of the wrong shape",
        serde_json::error::Category::Eof => "JSON that ends early",
    };
    format!("{kind} at line {} column {}", e.line(), e.column())
}

pub(crate) fn missing(
    resource: &'static str,
    path: &'static str,
    expected: &'static str,
) -> FhirError {
    FhirError::Missing {
        resource,
        path,
        expected,
    }
}

pub(crate) fn invalid(
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

pub(crate) fn str_at<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str)
}

/// A required string element.
pub(crate) fn required<'a>(
    resource: &'static str,
    value: &'a Value,
    pointer: &str,
    path: &'static str,
) -> Result<&'a str, FhirError> {
    str_at(value, pointer).ok_or_else(|| missing(resource, path, "string"))
}

/// An optional string element, `None` when absent or empty.
pub(crate) fn optional(value: &Value, pointer: &str) -> Option<String> {
    str_at(value, pointer)
        .filter(|s| !s.trim().is_empty())
        .map(str::to_owned)
}

/// The value of the extension with `url` in an element's extension list.
pub(crate) fn extension<'a>(element: &'a Value, url: &str) -> Option<&'a Value> {
    element
        .get("extension")?
        .as_array()?
        .iter()
        .find(|e| e.get("url").and_then(Value::as_str) == Some(url))
}

/// The id after `Type/` in a literal reference: relative (`Type/id`), absolute
/// (`https://…/Type/id`), either with a version (`…/Type/id/_history/2`).
pub(crate) fn reference_id<'a>(reference: &'a str, resource_type: &str) -> Option<&'a str> {
    let reference = match reference.rsplit_once("/_history/") {
        Some((unversioned, version)) if !version.is_empty() && !version.contains('/') => {
            unversioned
        }
        _ => reference,
    };
    let (before, id) = reference.rsplit_once('/')?;
    let kind = before.rsplit('/').next()?;
    (kind == resource_type && !id.is_empty()).then_some(id)
}

/// `{"reference": "Patient/<id>"}`.
pub(crate) fn patient_reference(patient: &PatientId) -> Value {
    json!({ "reference": format!("Patient/{patient}") })
}

/// The patient a resource is about, from the reference at `pointer`.
pub(crate) fn patient_at(
    resource: &'static str,
    value: &Value,
    pointer: &str,
    path: &'static str,
) -> Result<PatientId, FhirError> {
    str_at(value, pointer)
        .and_then(|r| reference_id(r, "Patient"))
        .ok_or_else(|| missing(resource, path, "Patient reference"))?
        .parse()
        .map_err(|e| invalid(resource, path, e))
}

/// A FHIR `dateTime` or `instant`. A date without a time is read as midnight UTC.
pub(crate) fn parse_datetime(
    resource: &'static str,
    path: &'static str,
    text: &str,
) -> Result<DateTime<Utc>, FhirError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    text.parse::<NaiveDate>()
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| invalid(resource, path, format!("{text:?} is not a dateTime")))
}

/// A required `dateTime` element.
pub(crate) fn datetime_at(
    resource: &'static str,
    value: &Value,
    pointer: &str,
    path: &'static str,
) -> Result<DateTime<Utc>, FhirError> {
    parse_datetime(
        resource,
        path,
        str_at(value, pointer).ok_or_else(|| missing(resource, path, "dateTime"))?,
    )
}

/// A FHIR `date` (or the date of a `dateTime`, in the time zone it is written in).
pub(crate) fn parse_date(
    resource: &'static str,
    path: &'static str,
    text: &str,
) -> Result<NaiveDate, FhirError> {
    if let Ok(d) = text.parse::<NaiveDate>() {
        return Ok(d);
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.date_naive())
        .map_err(|_| invalid(resource, path, format!("{text:?} is not a date")))
}

/// A timestamp as FHIR writes it: RFC 3339 in UTC with seconds.
pub(crate) fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// Adds `key: value` to a JSON object (no-op on anything else).
pub(crate) fn put(object: &mut Value, key: &str, value: Value) {
    if let Some(o) = object.as_object_mut() {
        o.insert(key.to_owned(), value);
    }
}

/// The `resourceType` of a resource, checked.
pub(crate) fn expect_type(resource: &'static str, value: &Value) -> Result<(), FhirError> {
    match str_at(value, "/resourceType") {
        Some(t) if t == resource => Ok(()),
        Some(other) => Err(FhirError::NotResource {
            resource,
            detail: format!("resourceType is {other:?}"),
        }),
        None => Err(FhirError::NotResource {
            resource,
            detail: "no resourceType".to_owned(),
        }),
    }
}
