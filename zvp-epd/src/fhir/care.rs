//! Care moments: Appointment, Procedure (operations), ServiceRequest (GP referrals); an
//! admission is an Encounter and becomes a care moment through [`admission_moment`].

use serde_json::{Value, json};
use zvp_core::{Admission, CareMoment, CareMomentKind, CareMomentStatus, PatientId};

use super::{
    FhirError, admission_from_fhir, datetime_at, instant, invalid, missing, patient_at,
    patient_reference, required, str_at,
};

/// The care moment an admission is: `Opname <ward>` at the specialism, in progress until the
/// discharge. The synthetic EPD and the FHIR adapter both describe admissions this way.
pub fn admission_moment(admission: &Admission) -> CareMoment {
    CareMoment {
        kind: CareMomentKind::Admission,
        at: admission.admitted_at(),
        department: admission.specialism.clone(),
        status: if admission.discharged_at().is_some() {
            CareMomentStatus::Completed
        } else {
            CareMomentStatus::InProgress
        },
        description: format!("Opname {}", admission.ward),
    }
}

/// The FHIR resource type a care moment of this kind is.
pub const fn care_moment_resource_type(kind: CareMomentKind) -> &'static str {
    match kind {
        CareMomentKind::Appointment => "Appointment",
        CareMomentKind::Operation => "Procedure",
        CareMomentKind::GpReferral => "ServiceRequest",
        CareMomentKind::Admission => "Encounter",
    }
}

/// The status codes of each resource, in the order Planned, InProgress, Completed, Cancelled.
/// A referral is a request: FHIR has no "in progress" for it, so an in-progress referral is
/// `active`, like a planned one, and reads back as planned.
const fn status_codes(kind: CareMomentKind) -> [&'static str; 4] {
    match kind {
        CareMomentKind::Appointment => ["booked", "arrived", "fulfilled", "cancelled"],
        CareMomentKind::Operation => ["preparation", "in-progress", "completed", "not-done"],
        CareMomentKind::GpReferral => ["active", "active", "completed", "revoked"],
        CareMomentKind::Admission => ["planned", "in-progress", "finished", "cancelled"],
    }
}

fn status_code(kind: CareMomentKind, status: CareMomentStatus) -> &'static str {
    let [planned, in_progress, completed, cancelled] = status_codes(kind);
    match status {
        CareMomentStatus::Planned => planned,
        CareMomentStatus::InProgress => in_progress,
        CareMomentStatus::Completed => completed,
        CareMomentStatus::Cancelled => cancelled,
    }
}

/// The resource of a care moment of kind appointment, operation or referral, with `id`.
/// An admission is an Encounter made from the [`Admission`] itself
/// ([`admission_to_fhir`](super::admission_to_fhir)): this gives `None` for one.
pub fn care_moment_to_fhir(id: &str, patient: &PatientId, moment: &CareMoment) -> Option<Value> {
    let status = status_code(moment.kind, moment.status);
    let subject = patient_reference(patient);
    Some(match moment.kind {
        CareMomentKind::Appointment => json!({
            "resourceType": "Appointment",
            "id": id,
            "status": status,
            "description": moment.description,
            "specialty": [{ "text": moment.department }],
            "start": instant(moment.at),
            "participant": [{ "actor": subject, "status": "accepted" }],
        }),
        CareMomentKind::Operation => json!({
            "resourceType": "Procedure",
            "id": id,
            "status": status,
            "category": { "coding": [{
                "system": super::SNOMED, "code": "387713003", "display": "Surgical procedure"
            }] },
            "code": { "text": moment.description },
            "subject": subject,
            "performedDateTime": instant(moment.at),
            "location": { "display": moment.department },
        }),
        CareMomentKind::GpReferral => json!({
            "resourceType": "ServiceRequest",
            "id": id,
            "status": status,
            "intent": "order",
            "category": [{ "coding": [{
                "system": super::SNOMED, "code": "3457005", "display": "Patient referral"
            }] }],
            "code": { "text": moment.description },
            "subject": subject,
            "authoredOn": instant(moment.at),
            "performerType": { "text": moment.department },
        }),
        CareMomentKind::Admission => return None,
    })
}

/// The care moment of an Appointment, Procedure, ServiceRequest or (inpatient) Encounter,
/// and the patient it belongs to.
///
/// # Errors
///
/// [`FhirError`] naming the element that is missing or does not parse, or
/// [`FhirError::NotResource`] for another resource type.
pub fn care_moment_from_fhir(resource: &Value) -> Result<(PatientId, CareMoment), FhirError> {
    let (kind, r, subject, at, department, description): (
        CareMomentKind,
        &'static str,
        &str,
        &str,
        &str,
        &str,
    ) = match str_at(resource, "/resourceType") {
        Some("Appointment") => (
            CareMomentKind::Appointment,
            "Appointment",
            "",
            "/start",
            "/specialty/0/text",
            "/description",
        ),
        Some("Procedure") => (
            CareMomentKind::Operation,
            "Procedure",
            "/subject/reference",
            "/performedDateTime",
            "/location/display",
            "/code/text",
        ),
        Some("ServiceRequest") => (
            CareMomentKind::GpReferral,
            "ServiceRequest",
            "/subject/reference",
            "/authoredOn",
            "/performerType/text",
            "/code/text",
        ),
        Some("Encounter") => {
            let admission = admission_from_fhir(resource)?;
            return Ok((admission.patient.clone(), admission_moment(&admission)));
        }
        other => {
            return Err(FhirError::NotResource {
                resource: "Appointment",
                detail: format!("resourceType is {other:?}"),
            });
        }
    };
    let patient = if kind == CareMomentKind::Appointment {
        appointment_patient(resource)?
    } else {
        patient_at(r, resource, subject, "subject.reference")?
    };
    let code = required(r, resource, "/status", "status")?;
    let status = status_from_code(kind, code)
        .ok_or_else(|| invalid(r, "status", format!("unknown status {code:?}")))?;
    let at = datetime_at(r, resource, at, "date")?;
    Ok((
        patient,
        CareMoment {
            kind,
            at,
            department: str_at(resource, department).unwrap_or("").to_owned(),
            status,
            description: str_at(resource, description).unwrap_or("").to_owned(),
        },
    ))
}

/// The status of a care moment from any code FHIR R4 allows for its resource (a resource
/// `entered-in-error` is not read at all, see [`super::recorded_in_error`]): what waits is
/// planned, what has begun is in progress, what did not happen is cancelled.
fn status_from_code(kind: CareMomentKind, code: &str) -> Option<CareMomentStatus> {
    use CareMomentStatus as S;
    Some(match (kind, code) {
        (CareMomentKind::Appointment, "proposed" | "pending" | "booked" | "waitlist") => S::Planned,
        (CareMomentKind::Appointment, "arrived" | "checked-in") => S::InProgress,
        (CareMomentKind::Appointment, "fulfilled") => S::Completed,
        (CareMomentKind::Appointment, "cancelled" | "noshow") => S::Cancelled,
        (CareMomentKind::Operation, "preparation") => S::Planned,
        (CareMomentKind::Operation, "in-progress" | "on-hold") => S::InProgress,
        (CareMomentKind::Operation, "completed") => S::Completed,
        (CareMomentKind::Operation, "not-done" | "stopped") => S::Cancelled,
        (CareMomentKind::GpReferral, "draft" | "active" | "on-hold") => S::Planned,
        (CareMomentKind::GpReferral, "completed") => S::Completed,
        (CareMomentKind::GpReferral, "revoked") => S::Cancelled,
        _ => return None,
    })
}

/// The patient among an Appointment's participants.
fn appointment_patient(resource: &Value) -> Result<PatientId, FhirError> {
    const R: &str = "Appointment";
    resource
        .get("participant")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find_map(|p| str_at(p, "/actor/reference").and_then(|r| super::reference_id(r, "Patient")))
        .ok_or_else(|| missing(R, "participant.actor", "Patient reference"))?
        .parse()
        .map_err(|e| invalid(R, "participant.actor", e))
}
