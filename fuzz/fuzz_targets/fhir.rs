//! The FHIR adapter's reading side on arbitrary input: a searchset Bundle, and every resource
//! in it through the mapping of its type. Never a panic; and a lab value that reads, written
//! back and read again, is the same value with the same precision.
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use zvp_epd::fhir;

fn resource(kind: &str, value: &Value) {
    let _ = match kind {
        "Patient" => fhir::patient_from_fhir(value).map(|_| ()),
        "Consent" => fhir::consent_from_fhir(value).map(|_| ()),
        "Encounter" => fhir::admission_from_fhir(value).map(|_| ()),
        "Appointment" | "Procedure" | "ServiceRequest" => {
            fhir::care_moment_from_fhir(value).map(|_| ())
        }
        "AllergyIntolerance" => fhir::allergy_from_fhir(value).map(|_| ()),
        "ClinicalImpression" => fhir::conclusion_from_fhir(value).map(|_| ()),
        "Condition" => fhir::diagnosis_from_fhir(value).map(|_| ()),
        "MedicationStatement" => fhir::medication_from_fhir(value).map(|_| ()),
        "DocumentReference" => fhir::letter_from_fhir(value)
            .map(|_| ())
            .and_then(|()| fhir::document_from_fhir(value).map(|_| ())),
        // A letter's bytes through their media type: text, HTML (parsed), PDF.
        "Binary" => fhir::binary_from_fhir(value).and_then(|a| match a.data {
            fhir::AttachmentData::Inline(bytes) => {
                fhir::document_content(&a.media_type, a.charset.as_deref(), bytes).map(|_| ())
            }
            fhir::AttachmentData::Url(_) => Ok(()),
        }),
        _ => Ok(()),
    };
}

fn observation(text: &str) {
    if let Ok((patient, o)) = fhir::observation_from_fhir(text) {
        let written = fhir::observation_to_fhir("o1", &patient, &o).expect("a read value writes");
        let again = fhir::observation_from_fhir(written.get()).expect("a written value reads");
        assert_eq!(again, (patient, o));
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(bundle) = fhir::Bundle::parse(text) {
        let _ = bundle.next();
        let mut observations = HashMap::new();
        let mut reports = Vec::new();
        for entry in &bundle.entry {
            let Ok(Some((kind, id))) = entry.head() else { continue };
            let Some(raw) = entry.resource.as_deref() else { continue };
            if kind == "Observation" {
                observation(raw.get());
                if let Some(id) = id {
                    observations.insert(id, raw.get());
                }
                continue;
            }
            let Ok(value) = serde_json::from_str::<Value>(raw.get()) else { continue };
            if kind == "DiagnosticReport" {
                reports.push(value);
            } else {
                resource(&kind, &value);
            }
        }
        for report in &reports {
            let _ = fhir::report_from_fhir(report, |id| observations.get(id).copied());
        }
    }
    // The input as one resource of each type.
    observation(text);
    if let Ok(value) = serde_json::from_str::<Value>(text) {
        for kind in ["Patient", "Consent", "Encounter", "Appointment", "AllergyIntolerance",
            "ClinicalImpression", "Condition", "MedicationStatement", "DocumentReference"] {
            resource(kind, &value);
        }
        let _ = fhir::report_from_fhir(&value, |_| None);
    }
    let _ = fhir::OperationOutcome::parse(text);
});
