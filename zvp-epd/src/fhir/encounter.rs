//! Encounter (admissions, nl-core-Encounter): the period and the admission summary a GP asks
//! for first.
//!
//! | [`Admission`] | Encounter |
//! |---|---|
//! | `ward`, `ward_phone` | `location` of physical type `wa`, its display; the phone on the contained Location it references (`telecom`, system `phone`) |
//! | `room` | `location` of physical type `ro`, its display |
//! | `specialism` | `serviceType.text` |
//! | `specialist` | `participant` of type `ATND` (attender), `individual.display` |
//! | `reason` | `reasonCode.text` (read also from a coding's display, or the first `diagnosis`'s display) |
//! | `expected_discharge` | the R5 `plannedEndDate` as the cross-version extension R4 has for it |
//! | `period` | `period` (`in-progress` without an end, `finished` with one) |

use serde_json::{Value, json};
use zvp_core::{Admission, Period};

use super::{
    FhirError, datetime_at, expect_type, extension, instant, invalid, optional, parse_date,
    parse_datetime, patient_at, patient_reference, put, str_at,
};

const ENCOUNTER_CLASS: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
const PARTICIPATION_TYPE: &str = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType";
const PHYSICAL_TYPE: &str = "http://terminology.hl7.org/CodeSystem/location-physical-type";
/// R4 has no planned end of an encounter; R5 has, and this is its R4 extension.
pub const PLANNED_END: &str =
    "http://hl7.org/fhir/5.0/StructureDefinition/extension-Encounter.plannedEndDate";
/// The id of the contained Location that carries the ward's phone number.
const WARD_ID: &str = "ward";

fn physical_type(code: &str, display: &str) -> Value {
    json!({ "coding": [{ "system": PHYSICAL_TYPE, "code": code, "display": display }] })
}

/// The Encounter (class IMP) of an admission: `in-progress` while admitted, `finished` with
/// `period.end` after discharge; the summary fields as the table above says.
pub fn admission_to_fhir(id: &str, admission: &Admission) -> Value {
    let mut period = json!({ "start": instant(admission.admitted_at()) });
    let discharged = admission.discharged_at();
    if let Some(end) = discharged {
        put(&mut period, "end", json!(instant(end)));
    }
    let mut ward = json!({ "display": admission.ward });
    let mut locations = Vec::new();
    let mut encounter = json!({
        "resourceType": "Encounter",
        "id": id,
        "status": if discharged.is_some() { "finished" } else { "in-progress" },
        "class": { "system": ENCOUNTER_CLASS, "code": "IMP", "display": "inpatient encounter" },
        "subject": patient_reference(&admission.patient),
        "serviceType": { "text": admission.specialism },
        "period": period,
    });
    if let Some(phone) = &admission.ward_phone {
        put(&mut ward, "reference", json!(format!("#{WARD_ID}")));
        put(
            &mut encounter,
            "contained",
            json!([{
                "resourceType": "Location",
                "id": WARD_ID,
                "name": admission.ward,
                "telecom": [{ "system": "phone", "value": phone, "use": "work" }],
                "physicalType": physical_type("wa", "Ward"),
            }]),
        );
    }
    locations.push(json!({ "location": ward, "physicalType": physical_type("wa", "Ward") }));
    if let Some(room) = &admission.room {
        locations.push(json!({
            "location": { "display": room },
            "physicalType": physical_type("ro", "Room"),
        }));
    }
    put(&mut encounter, "location", Value::Array(locations));
    if let Some(reason) = &admission.reason {
        put(&mut encounter, "reasonCode", json!([{ "text": reason }]));
    }
    if let Some(specialist) = &admission.specialist {
        put(
            &mut encounter,
            "participant",
            json!([{
                "type": [{ "coding": [{
                    "system": PARTICIPATION_TYPE, "code": "ATND", "display": "attender"
                }] }],
                "individual": { "display": specialist },
            }]),
        );
    }
    if let Some(date) = admission.expected_discharge {
        put(
            &mut encounter,
            "extension",
            json!([{ "url": PLANNED_END, "valueDateTime": date.to_string() }]),
        );
    }
    encounter
}

/// An admission from an Encounter.
///
/// # Errors
///
/// [`FhirError`] naming the element that is missing or does not parse.
pub fn admission_from_fhir(resource: &Value) -> Result<Admission, FhirError> {
    const R: &str = "Encounter";
    expect_type(R, resource)?;
    let patient = patient_at(R, resource, "/subject/reference", "subject.reference")?;
    let start = datetime_at(R, resource, "/period/start", "period.start")?;
    let end = str_at(resource, "/period/end")
        .map(|t| parse_datetime(R, "period.end", t))
        .transpose()?;
    let locations: Vec<&Value> = resource
        .get("location")
        .and_then(Value::as_array)
        .map(|l| l.iter().collect())
        .unwrap_or_default();
    let of_type = |code: &str| {
        locations.iter().copied().find(|l| {
            l.pointer("/physicalType/coding")
                .and_then(Value::as_array)
                .is_some_and(|c| c.iter().any(|c| str_at(c, "/code") == Some(code)))
        })
    };
    // An EPD that types no location names the ward first, as this adapter always did.
    let ward = of_type("wa").or_else(|| locations.first().copied());
    let expected_discharge = extension(resource, PLANNED_END)
        .and_then(|e| str_at(e, "/valueDateTime").or_else(|| str_at(e, "/valueDate")))
        .map(|t| parse_date(R, "extension(plannedEndDate)", t))
        .transpose()?;
    Ok(Admission {
        patient,
        ward: ward
            .and_then(|l| str_at(l, "/location/display"))
            .unwrap_or("")
            .to_owned(),
        specialism: str_at(resource, "/serviceType/text")
            .unwrap_or("")
            .to_owned(),
        period: Period::new(start, end).map_err(|e| invalid(R, "period", e))?,
        reason: reason(resource),
        specialist: specialist(resource),
        room: of_type("ro").and_then(|l| optional(l, "/location/display")),
        ward_phone: ward.and_then(|l| ward_phone(resource, l)),
        expected_discharge,
    })
}

/// The reason for admission: the first reason's text or coded display, else the first
/// diagnosis's display.
fn reason(resource: &Value) -> Option<String> {
    optional(resource, "/reasonCode/0/text")
        .or_else(|| optional(resource, "/reasonCode/0/coding/0/display"))
        .or_else(|| optional(resource, "/diagnosis/0/condition/display"))
}

/// The attending participant's name, else the first participant named at all.
fn specialist(resource: &Value) -> Option<String> {
    let participants = resource.get("participant").and_then(Value::as_array)?;
    let attending = participants.iter().find(|p| {
        p.get("type")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|t| t.pointer("/coding").and_then(Value::as_array))
            .flatten()
            .any(|c| str_at(c, "/code") == Some("ATND"))
    });
    attending
        .and_then(|p| optional(p, "/individual/display"))
        .or_else(|| {
            participants
                .iter()
                .find_map(|p| optional(p, "/individual/display"))
        })
}

/// The ward's phone: from the contained Location the ward's entry references.
fn ward_phone(resource: &Value, ward: &Value) -> Option<String> {
    let id = str_at(ward, "/location/reference")?.strip_prefix('#')?;
    let location =
        resource.get("contained")?.as_array()?.iter().find(|c| {
            str_at(c, "/resourceType") == Some("Location") && str_at(c, "/id") == Some(id)
        })?;
    location
        .get("telecom")?
        .as_array()?
        .iter()
        .find(|t| str_at(t, "/system") == Some("phone"))
        .and_then(|t| optional(t, "/value"))
}
