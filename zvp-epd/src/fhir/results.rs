//! Results: DiagnosticReport with Observations (lab values, culture isolates with their
//! susceptibilities) or a text `conclusion` (pathology, radiology).
//!
//! Observations are typed serde shapes whose decimals are raw JSON numbers, so a value keeps
//! the precision the lab wrote (`5.40`, not `5.4`).

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use zvp_core::{
    Coding, Comparator, Culture, Decimal, Isolate, LabFlag, LabObservation, ObservationValue,
    PatientId, ReferenceRange, ReportContent, ReportId, ReportStatus, ResultCategory, ResultReport,
    Susceptibility, SusceptibilityInterpretation,
};

use super::{
    FhirError, LOINC, expect_type, instant, invalid, missing, optional, parse_datetime, patient_at,
    patient_reference, put, reference_id, required, str_at,
};

/// HL7 v2 table 0074, the diagnostic service sections (`LAB`, `MB`, `SP`, `RAD`, ...).
pub const V2_0074: &str = "http://terminology.hl7.org/CodeSystem/v2-0074";
/// zvp's own code system for result categories that v2-0074 does not have.
pub const RESULT_CATEGORY_SYSTEM: &str = "urn:zvp:fhir:CodeSystem:result-category";
/// The code of the nuclear lab in [`RESULT_CATEGORY_SYSTEM`] (v2-0074 has none: `NMS` is
/// nuclear imaging), on reports that are also `LAB`.
pub const NUCLEAR_LAB_CODE: &str = "nuclear-lab";
const OBSERVATION_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
const INTERPRETATION: &str = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation";
/// LOINC "Microorganism identified in Unspecified specimen by Culture".
const ISOLATE_CODE: &str = "11475-1";

/// The category codings (system, code) a report of `category` is written with; the first
/// is the most specific.
pub const fn category_codings(category: ResultCategory) -> &'static [(&'static str, &'static str)] {
    match category {
        ResultCategory::ClinicalChemistry => &[(V2_0074, "LAB")],
        ResultCategory::Microbiology => &[(V2_0074, "MB")],
        ResultCategory::NuclearLab => {
            &[(RESULT_CATEGORY_SYSTEM, NUCLEAR_LAB_CODE), (V2_0074, "LAB")]
        }
        ResultCategory::Pathology => &[(V2_0074, "SP")],
        ResultCategory::Radiology => &[(V2_0074, "RAD")],
        ResultCategory::Other => &[(V2_0074, "OTH")],
    }
}

/// The codes EPDs file a category's reports under, from HL7 v2 table 0074 and LOINC's
/// document-class parts (as US Core and JP Core use them): a search asks for all of them, and
/// a report with any of them is of the category. [`ResultCategory::Other`] has none: it is
/// every report with none of the others' codes, and is searched without a category.
pub const fn category_codes(category: ResultCategory) -> &'static [(&'static str, &'static str)] {
    match category {
        ResultCategory::ClinicalChemistry => &[
            (V2_0074, "LAB"),
            (V2_0074, "CH"),
            (V2_0074, "HM"),
            (V2_0074, "BG"),
            (V2_0074, "BLB"),
            (V2_0074, "IMM"),
            (V2_0074, "SR"),
            (V2_0074, "TX"),
            (LOINC, "LP29693-6"),
        ],
        ResultCategory::Microbiology => &[
            (V2_0074, "MB"),
            (V2_0074, "MCB"),
            (V2_0074, "MYC"),
            (V2_0074, "VR"),
            (LOINC, "LP7819-8"),
        ],
        ResultCategory::NuclearLab => &[(RESULT_CATEGORY_SYSTEM, NUCLEAR_LAB_CODE)],
        ResultCategory::Pathology => &[(V2_0074, "SP"), (V2_0074, "CP"), (LOINC, "LP7839-6")],
        ResultCategory::Radiology => &[
            (V2_0074, "RAD"),
            (V2_0074, "IMG"),
            (V2_0074, "RX"),
            (V2_0074, "CT"),
            (V2_0074, "NMR"),
            (V2_0074, "NMS"),
            (V2_0074, "RUS"),
            (V2_0074, "VUS"),
            (V2_0074, "OUS"),
            (V2_0074, "XRC"),
            (LOINC, "LP29684-5"),
        ],
        ResultCategory::Other => &[],
    }
}

/// The category of a report with these category codings: the nuclear lab's own code first
/// (its reports are lab reports too), then the first coding any category knows, otherwise
/// [`ResultCategory::Other`].
pub fn category_of<'a>(codings: impl IntoIterator<Item = (&'a str, &'a str)>) -> ResultCategory {
    let codings: Vec<(&str, &str)> = codings.into_iter().collect();
    if codings.contains(&(RESULT_CATEGORY_SYSTEM, NUCLEAR_LAB_CODE)) {
        return ResultCategory::NuclearLab;
    }
    codings
        .iter()
        .find_map(|coding| {
            ResultCategory::ALL
                .into_iter()
                .find(|&c| category_codes(c).contains(coding))
        })
        .unwrap_or(ResultCategory::Other)
}

/// The (system, code) pairs of a resource's `category` CodeableConcepts.
pub fn category_codings_of(resource: &Value) -> impl Iterator<Item = (&str, &str)> {
    resource
        .get("category")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("coding").and_then(Value::as_array))
        .flatten()
        .filter_map(|c| Some((str_at(c, "/system")?, str_at(c, "/code")?)))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ObservationOut<'a> {
    resource_type: &'static str,
    id: &'a str,
    status: &'static str,
    category: Value,
    code: Value,
    subject: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    effective_date_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value_quantity: Option<QuantityOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value_string: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value_codeable_concept: Option<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    interpretation: Vec<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    note: Vec<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    reference_range: Vec<RangeOut<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    component: Vec<Value>,
}

#[derive(Serialize)]
struct QuantityOut<'a> {
    value: Box<RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    comparator: Option<&'static str>,
    unit: &'a str,
}

#[derive(Serialize)]
struct RangeOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    low: Option<QuantityOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    high: Option<QuantityOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ObservationIn {
    resource_type: Option<String>,
    status: Option<String>,
    #[serde(default)]
    code: Value,
    #[serde(default)]
    subject: Value,
    effective_date_time: Option<String>,
    value_quantity: Option<QuantityIn>,
    value_string: Option<String>,
    #[serde(default)]
    value_codeable_concept: Value,
    #[serde(default)]
    interpretation: Vec<Value>,
    #[serde(default)]
    note: Vec<Value>,
    #[serde(default)]
    reference_range: Vec<RangeIn>,
    #[serde(default)]
    component: Vec<Value>,
}

#[derive(Deserialize)]
struct QuantityIn {
    value: Option<Box<RawValue>>,
    comparator: Option<String>,
    unit: Option<String>,
}

#[derive(Deserialize)]
struct RangeIn {
    low: Option<QuantityIn>,
    high: Option<QuantityIn>,
    text: Option<String>,
}

/// A decimal as a JSON number: the same digits, without leading zeros (which JSON forbids).
fn json_number(d: &Decimal) -> Result<Box<RawValue>, FhirError> {
    let text = d.as_str();
    let (sign, unsigned) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text),
    };
    let (int, frac) = match unsigned.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (unsigned, None),
    };
    let int = int.trim_start_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    let number = match frac {
        Some(f) => format!("{sign}{int}.{f}"),
        None => format!("{sign}{int}"),
    };
    RawValue::from_string(number).map_err(|e| invalid("Observation", "valueQuantity.value", e))
}

fn decimal_from(raw: &RawValue, path: &'static str) -> Result<Decimal, FhirError> {
    raw.get()
        .trim()
        .parse()
        .map_err(|e| invalid("Observation", path, e))
}

fn to_raw(resource: &impl Serialize) -> Result<Box<RawValue>, FhirError> {
    serde_json::value::to_raw_value(resource).map_err(|e| FhirError::NotResource {
        resource: "Observation",
        detail: e.to_string(),
    })
}

fn flag_code(flag: LabFlag) -> &'static str {
    match flag {
        LabFlag::Low => "L",
        LabFlag::High => "H",
        LabFlag::CriticallyLow => "LL",
        LabFlag::CriticallyHigh => "HH",
        LabFlag::Abnormal => "A",
    }
}

/// The flag of interpretation codes. An interpretation this code does not know is shown as
/// abnormal rather than dropped: an unknown flag must not hide an abnormal value.
fn flag_from(interpretation: &[Value]) -> Option<LabFlag> {
    let code = interpretation
        .iter()
        .filter_map(|i| i.get("coding").and_then(Value::as_array))
        .flatten()
        .find_map(|c| str_at(c, "/code"))?;
    match code {
        "N" => None,
        "L" => Some(LabFlag::Low),
        "H" => Some(LabFlag::High),
        "LL" | "LU" => Some(LabFlag::CriticallyLow),
        "HH" | "HU" => Some(LabFlag::CriticallyHigh),
        _ => Some(LabFlag::Abnormal),
    }
}

/// The Observation (category laboratory) of a lab value, as JSON text with the value's
/// precision kept.
///
/// # Errors
///
/// [`FhirError::Invalid`] if a decimal does not make a JSON number (it always does for a
/// parsed [`Decimal`]).
pub fn observation_to_fhir(
    id: &str,
    patient: &PatientId,
    o: &LabObservation,
) -> Result<Box<RawValue>, FhirError> {
    let (value_quantity, value_string, unit) = match &o.value {
        ObservationValue::Quantity {
            comparator,
            value,
            unit,
        } => (
            Some(QuantityOut {
                value: json_number(value)?,
                comparator: comparator.map(Comparator::symbol),
                unit,
            }),
            None,
            unit.as_str(),
        ),
        ObservationValue::Text(text) => (None, Some(text.as_str()), ""),
    };
    let limit = |d: Option<&Decimal>| -> Result<Option<QuantityOut<'_>>, FhirError> {
        d.map(|d| {
            Ok(QuantityOut {
                value: json_number(d)?,
                comparator: None,
                unit,
            })
        })
        .transpose()
    };
    let reference_range = match &o.reference_range {
        Some(r) => vec![RangeOut {
            low: limit(r.low())?,
            high: limit(r.high())?,
            text: r.text(),
        }],
        None => Vec::new(),
    };
    let resource = ObservationOut {
        resource_type: "Observation",
        id,
        status: "final",
        category: json!([{ "coding": [{ "system": OBSERVATION_CATEGORY, "code": "laboratory" }] }]),
        code: json!({
            "coding": [{ "system": o.code.system, "code": o.code.code, "display": o.code.display }],
            "text": o.code.display,
        }),
        subject: patient_reference(patient),
        effective_date_time: Some(instant(o.effective)),
        value_quantity,
        value_string,
        value_codeable_concept: None,
        interpretation: o
            .flag
            .map(|f| json!({ "coding": [{ "system": INTERPRETATION, "code": flag_code(f) }] }))
            .into_iter()
            .collect(),
        note: Vec::new(),
        reference_range,
        component: Vec::new(),
    };
    to_raw(&resource)
}

fn parse_observation(text: &str) -> Result<ObservationIn, FhirError> {
    let o: ObservationIn = serde_json::from_str(text).map_err(|e| FhirError::NotResource {
        resource: "Observation",
        detail: e.to_string(),
    })?;
    match o.resource_type.as_deref() {
        Some("Observation") => Ok(o),
        other => Err(FhirError::NotResource {
            resource: "Observation",
            detail: format!("resourceType is {other:?}"),
        }),
    }
}

/// A lab value and its patient from the JSON text of an Observation (`valueQuantity` or
/// `valueString`).
///
/// # Errors
///
/// [`FhirError`] naming the element that is missing or does not parse; a value in exponent
/// notation or with more than [`Decimal::MAX_LEN`] characters is [`FhirError::Invalid`].
pub fn observation_from_fhir(text: &str) -> Result<(PatientId, LabObservation), FhirError> {
    lab_value(parse_observation(text)?)
}

/// [`observation_from_fhir`], read once: `None` for an Observation recorded in error, which
/// is not part of the record.
///
/// # Errors
///
/// As [`observation_from_fhir`].
pub fn observation_in_record(text: &str) -> Result<Option<(PatientId, LabObservation)>, FhirError> {
    let o = parse_observation(text)?;
    if in_error(&o) {
        return Ok(None);
    }
    lab_value(o).map(Some)
}

fn in_error(o: &ObservationIn) -> bool {
    o.status.as_deref() == Some("entered-in-error")
}

/// The lab value an Observation's parsed shape holds.
fn lab_value(o: ObservationIn) -> Result<(PatientId, LabObservation), FhirError> {
    const R: &str = "Observation";
    let patient = patient_at(R, &o.subject, "/reference", "subject.reference")?;
    let c = o
        .code
        .pointer("/coding/0")
        .ok_or_else(|| missing(R, "code.coding", "Coding"))?;
    let code = Coding {
        system: str_at(c, "/system").unwrap_or("").to_owned(),
        code: required(R, c, "/code", "code.coding.code")?.to_owned(),
        display: optional(c, "/display")
            .or_else(|| optional(&o.code, "/text"))
            .unwrap_or_default(),
    };
    let value = match (&o.value_quantity, &o.value_string) {
        (Some(q), _) => {
            let raw = q
                .value
                .as_deref()
                .ok_or_else(|| missing(R, "valueQuantity.value", "decimal"))?;
            let comparator = match q.comparator.as_deref() {
                None => None,
                Some("<") => Some(Comparator::LessThan),
                Some("<=") => Some(Comparator::AtMost),
                Some(">=") => Some(Comparator::AtLeast),
                Some(">") => Some(Comparator::GreaterThan),
                Some(other) => {
                    return Err(invalid(
                        R,
                        "valueQuantity.comparator",
                        format!("unknown comparator {other:?}"),
                    ));
                }
            };
            ObservationValue::Quantity {
                comparator,
                value: decimal_from(raw, "valueQuantity.value")?,
                unit: q.unit.clone().unwrap_or_default(),
            }
        }
        (None, Some(text)) => ObservationValue::Text(text.clone()),
        (None, None) => return Err(missing(R, "value[x]", "valueQuantity or valueString")),
    };
    let reference_range = o
        .reference_range
        .first()
        .map(|r| {
            let limit = |q: &Option<QuantityIn>, path| {
                q.as_ref()
                    .and_then(|q| q.value.as_deref())
                    .map(|raw| decimal_from(raw, path))
                    .transpose()
            };
            ReferenceRange::new(
                limit(&r.low, "referenceRange.low.value")?,
                limit(&r.high, "referenceRange.high.value")?,
                r.text.clone(),
            )
            .map_err(|e| invalid(R, "referenceRange", e))
        })
        .transpose()?;
    let effective = parse_datetime(
        R,
        "effectiveDateTime",
        o.effective_date_time
            .as_deref()
            .ok_or_else(|| missing(R, "effectiveDateTime", "dateTime"))?,
    )?;
    Ok((
        patient,
        LabObservation {
            code,
            value,
            reference_range,
            flag: flag_from(&o.interpretation),
            effective,
        },
    ))
}

fn susceptibility_code(i: SusceptibilityInterpretation) -> &'static str {
    match i {
        SusceptibilityInterpretation::Susceptible => "S",
        SusceptibilityInterpretation::SusceptibleIncreasedExposure => "I",
        SusceptibilityInterpretation::Resistant => "R",
    }
}

/// The Observation of a culture isolate: the organism as `valueCodeableConcept`, the
/// quantity as a note, each susceptibility a component (antibiotic, MIC, S/I/R).
fn isolate_to_fhir(
    id: &str,
    patient: &PatientId,
    isolate: &Isolate,
    effective: chrono::DateTime<chrono::Utc>,
) -> Result<Box<RawValue>, FhirError> {
    let component = isolate
        .susceptibilities
        .iter()
        .map(|s| {
            let mut c = json!({
                "code": { "text": s.antibiotic },
                "interpretation": [{ "coding": [{
                    "system": INTERPRETATION, "code": susceptibility_code(s.interpretation)
                }] }],
            });
            if let Some(mic) = &s.mic {
                put(&mut c, "valueString", json!(mic));
            }
            c
        })
        .collect();
    let resource = ObservationOut {
        resource_type: "Observation",
        id,
        status: "final",
        category: json!([{ "coding": [{ "system": OBSERVATION_CATEGORY, "code": "laboratory" }] }]),
        code: json!({ "coding": [{
            "system": LOINC, "code": ISOLATE_CODE,
            "display": "Microorganism identified in Unspecified specimen by Culture"
        }] }),
        subject: patient_reference(patient),
        effective_date_time: Some(instant(effective)),
        value_quantity: None,
        value_string: None,
        value_codeable_concept: Some(json!({ "text": isolate.organism })),
        interpretation: Vec::new(),
        note: isolate
            .quantity
            .iter()
            .map(|q| json!({ "text": q }))
            .collect(),
        reference_range: Vec::new(),
        component,
    };
    to_raw(&resource)
}

/// The culture isolate an Observation's parsed shape holds.
fn isolate_of(o: &ObservationIn) -> Result<Isolate, FhirError> {
    const R: &str = "Observation";
    let organism = optional(&o.value_codeable_concept, "/text")
        .or_else(|| optional(&o.value_codeable_concept, "/coding/0/display"))
        .ok_or_else(|| missing(R, "valueCodeableConcept.text", "organism"))?;
    let susceptibilities = o
        .component
        .iter()
        .map(|c| {
            let antibiotic = optional(c, "/code/text")
                .or_else(|| optional(c, "/code/coding/0/display"))
                .ok_or_else(|| missing(R, "component.code.text", "antibiotic"))?;
            let code = str_at(c, "/interpretation/0/coding/0/code")
                .ok_or_else(|| missing(R, "component.interpretation", "S, I or R"))?;
            let interpretation = match code {
                "S" => SusceptibilityInterpretation::Susceptible,
                "I" => SusceptibilityInterpretation::SusceptibleIncreasedExposure,
                "R" => SusceptibilityInterpretation::Resistant,
                other => {
                    return Err(invalid(
                        R,
                        "component.interpretation",
                        format!("unknown susceptibility {other:?}"),
                    ));
                }
            };
            Ok(Susceptibility {
                antibiotic,
                interpretation,
                mic: optional(c, "/valueString"),
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(Isolate {
        organism,
        quantity: o.note.first().and_then(|n| optional(n, "/text")),
        susceptibilities,
    })
}

fn status_code(status: ReportStatus) -> &'static str {
    match status {
        ReportStatus::Preliminary => "preliminary",
        ReportStatus::Final => "final",
        ReportStatus::Amended => "amended",
        ReportStatus::Cancelled => "cancelled",
    }
}

/// The DiagnosticReport of a result report and the Observations it refers to (lab values,
/// or culture isolates), as JSON text. A text report has its text in `conclusion`.
///
/// # Errors
///
/// [`FhirError`] as [`observation_to_fhir`].
pub fn report_to_fhir(
    patient: &PatientId,
    report: &ResultReport,
) -> Result<(Value, Vec<Box<RawValue>>), FhirError> {
    let id = report.id.as_str();
    let category: Vec<Value> = category_codings(report.category)
        .iter()
        .map(|(system, code)| json!({ "coding": [{ "system": system, "code": code }] }))
        .collect();
    let mut resource = json!({
        "resourceType": "DiagnosticReport",
        "id": id,
        "status": status_code(report.status),
        "category": category,
        "code": { "text": report.title },
        "subject": patient_reference(patient),
        "issued": instant(report.issued),
    });
    let mut observations = Vec::new();
    match &report.content {
        ReportContent::Observations(values) => {
            for (n, o) in values.iter().enumerate() {
                observations.push(observation_to_fhir(&format!("{id}-{n}"), patient, o)?);
            }
        }
        ReportContent::Culture(culture) => {
            put(
                &mut resource,
                "specimen",
                json!([{ "display": culture.specimen }]),
            );
            if let Some(conclusion) = &culture.conclusion {
                put(&mut resource, "conclusion", json!(conclusion));
            }
            for (n, isolate) in culture.isolates.iter().enumerate() {
                observations.push(isolate_to_fhir(
                    &format!("{id}-i{n}"),
                    patient,
                    isolate,
                    report.issued,
                )?);
            }
        }
        ReportContent::Text(text) => put(&mut resource, "conclusion", json!(text)),
    }
    if !observations.is_empty() {
        let ids: Vec<Value> = (0..observations.len())
            .map(|n| match &report.content {
                ReportContent::Culture(_) => {
                    json!({ "reference": format!("Observation/{id}-i{n}") })
                }
                _ => json!({ "reference": format!("Observation/{id}-{n}") }),
            })
            .collect();
        put(&mut resource, "result", Value::Array(ids));
    }
    Ok((resource, observations))
}

/// The lab values of a report's Observations, each of the report's patient; those recorded
/// in error are left out. Each is read once.
fn observations_of(
    patient: &PatientId,
    results: Vec<&str>,
) -> Result<Vec<LabObservation>, FhirError> {
    let mut values = Vec::new();
    for text in results {
        let Some((of, value)) = observation_in_record(text)? else {
            continue;
        };
        if &of != patient {
            return Err(invalid(
                "DiagnosticReport",
                "result",
                "an Observation of another patient",
            ));
        }
        values.push(value);
    }
    Ok(values)
}

/// The Observation ids a DiagnosticReport's `result` references (`Observation/<id>`), for
/// reading those a server did not include.
pub fn report_result_ids(resource: &Value) -> Vec<String> {
    resource
        .get("result")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| str_at(r, "/reference").and_then(|r| reference_id(r, "Observation")))
        .map(str::to_owned)
        .collect()
}

/// A result report and its patient from a DiagnosticReport; `observation` finds the JSON text
/// of a referenced Observation by id (in the same search result, `_include`d).
///
/// # Errors
///
/// [`FhirError`] naming the element that is missing or does not parse; a result reference
/// that `observation` cannot resolve is [`FhirError::Missing`] `result`.
pub fn report_from_fhir<'a>(
    resource: &Value,
    observation: impl Fn(&str) -> Option<&'a str>,
) -> Result<(PatientId, ResultReport), FhirError> {
    const R: &str = "DiagnosticReport";
    expect_type(R, resource)?;
    let patient = patient_at(R, resource, "/subject/reference", "subject.reference")?;
    let id: ReportId = required(R, resource, "/id", "id")?
        .parse()
        .map_err(|e| invalid(R, "id", e))?;
    let category = category_of(category_codings_of(resource));
    let status = match required(R, resource, "/status", "status")? {
        // Not (yet) known to be final: shown as preliminary.
        "preliminary" | "registered" | "partial" | "unknown" => ReportStatus::Preliminary,
        "final" => ReportStatus::Final,
        "amended" | "corrected" | "appended" => ReportStatus::Amended,
        "cancelled" => ReportStatus::Cancelled,
        other => return Err(invalid(R, "status", format!("unknown status {other:?}"))),
    };
    let results: Vec<&str> = resource
        .get("result")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|r| {
            let id = str_at(r, "/reference")
                .and_then(|r| reference_id(r, "Observation"))
                .ok_or_else(|| missing(R, "result.reference", "Observation reference"))?;
            observation(id).ok_or_else(|| missing(R, "result", "included Observation"))
        })
        .collect::<Result<_, _>>()?;
    let content = match category {
        ResultCategory::ClinicalChemistry | ResultCategory::NuclearLab => {
            ReportContent::Observations(observations_of(&patient, results)?)
        }
        ResultCategory::Microbiology => ReportContent::Culture(Culture {
            specimen: str_at(resource, "/specimen/0/display")
                .unwrap_or("")
                .to_owned(),
            isolates: results
                .into_iter()
                .map(parse_observation)
                .filter(|o| !o.as_ref().is_ok_and(in_error))
                .map(|o| isolate_of(&o?))
                .collect::<Result<_, _>>()?,
            conclusion: optional(resource, "/conclusion"),
        }),
        ResultCategory::Pathology | ResultCategory::Radiology => {
            ReportContent::Text(required(R, resource, "/conclusion", "conclusion")?.to_owned())
        }
        // What the portal does not know it shows as the report gives it: its values, or its
        // text.
        ResultCategory::Other if !results.is_empty() => {
            ReportContent::Observations(observations_of(&patient, results)?)
        }
        ResultCategory::Other => {
            ReportContent::Text(str_at(resource, "/conclusion").unwrap_or("").to_owned())
        }
    };
    let issued = parse_datetime(R, "issued", required(R, resource, "/issued", "issued")?)?;
    Ok((
        patient,
        ResultReport {
            id,
            category,
            title: optional(resource, "/code/text")
                .or_else(|| optional(resource, "/code/coding/0/display"))
                .unwrap_or_default(),
            issued,
            status,
            content,
        },
    ))
}
