//! Domain → FHIR → domain is the identity on the synthetic hospital, and malformed FHIR gives
//! a typed error naming the element.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

use chrono::Duration;
use serde_json::json;
use std::collections::HashMap;
use zvp_core::AgbCode;

use proptest::prelude::*;
use zvp_core::{CareMomentKind, PatientId, ResultCategory};
use zvp_epd::fhir::{
    FhirError, admission_from_fhir, admission_to_fhir, allergy_from_fhir, allergy_to_fhir,
    care_moment_from_fhir, care_moment_to_fhir, conclusion_from_fhir, conclusion_to_fhir,
    diagnosis_from_fhir, diagnosis_to_fhir, document_from_fhir, letter_from_fhir, letter_to_fhir,
    medication_from_fhir, medication_to_fhir, observation_from_fhir, observation_to_fhir,
    patient_from_fhir, patient_to_fhir, report_from_fhir, report_to_fhir, restriction_from_fhir,
    restriction_to_fhir,
};
use zvp_epd::synthetic::{DEMO_GPS, SyntheticEpd, test_now};
use zvp_epd::{Epd, RequestContext};

fn ctx() -> RequestContext {
    RequestContext {
        request_id: "fhir".to_owned(),
    }
}

#[tokio::test]
async fn patients_and_admissions_survive_the_round_trip() {
    let epd = SyntheticEpd::generate(11, test_now(), 600).unwrap();
    for id in epd.patient_ids().cloned().collect::<Vec<_>>() {
        let mut patient = epd.patient(&id, &ctx()).await.unwrap();
        let fhir = patient_to_fhir(&patient);
        assert_eq!(
            fhir["identifier"][0]["system"],
            "http://fhir.nl/fhir/NamingSystem/bsn"
        );
        // Treatment restrictions travel as Consent resources, not in the Patient.
        patient.treatment_restrictions.clear();
        assert_eq!(patient_from_fhir(&fhir).unwrap(), patient);
    }
    let gps: Vec<AgbCode> = DEMO_GPS
        .iter()
        .map(|g| AgbCode::new(g.agb).unwrap())
        .collect();
    let listed = epd.admitted(&gps, &ctx()).await.unwrap().into_iter().chain(
        epd.discharged_since(&gps, test_now() - Duration::days(30), &ctx())
            .await
            .unwrap(),
    );
    let mut count = 0;
    for (n, item) in listed.enumerate() {
        let fhir = admission_to_fhir(&format!("enc-{n}"), &item.admission);
        let expected = if item.admission.discharged_at().is_some() {
            "finished"
        } else {
            "in-progress"
        };
        assert_eq!(fhir["status"], expected);
        assert_eq!(fhir["class"]["code"], "IMP");
        assert_eq!(admission_from_fhir(&fhir).unwrap(), item.admission);
        // The summary travels in the Encounter's own elements, every field of it.
        let a = &item.admission;
        assert_eq!(fhir["reasonCode"][0]["text"], a.reason.as_deref().unwrap());
        assert_eq!(
            fhir["participant"][0]["type"][0]["coding"][0]["code"],
            "ATND"
        );
        assert_eq!(
            fhir["participant"][0]["individual"]["display"],
            a.specialist.as_deref().unwrap()
        );
        assert_eq!(
            fhir["location"][1]["location"]["display"],
            a.room.as_deref().unwrap()
        );
        assert_eq!(fhir["location"][0]["location"]["reference"], "#ward");
        assert_eq!(
            fhir["contained"][0]["telecom"][0]["value"],
            a.ward_phone.as_deref().unwrap()
        );
        assert_eq!(
            a.expected_discharge.is_some(),
            a.discharged_at().is_none(),
            "an expected discharge while admitted, none after"
        );
        if let Some(date) = a.expected_discharge {
            assert_eq!(fhir["extension"][0]["valueDateTime"], date.to_string());
        }
        count += 1;
    }
    assert!(count > 10);
}

/// An Encounter as another EPD writes it: untyped locations, the reason as a diagnosis, the
/// specialist without a participation type, the planned end as a date.
#[test]
fn an_admission_summary_is_read_from_what_other_epds_write() {
    let encounter = json!({
        "resourceType": "Encounter",
        "status": "in-progress",
        "subject": {"reference": "Patient/p1"},
        "serviceType": {"text": "Longziekten"},
        "period": {"start": "2026-11-23T10:00:00Z"},
        "location": [{"location": {"display": "Longziekten, B4", "reference": "#w"}}],
        "contained": [{"resourceType": "Location", "id": "w",
            "telecom": [{"system": "email", "value": "b4@example.org"},
                        {"system": "phone", "value": "078 123 4567"}]}],
        "participant": [{"individual": {"display": "dr. S. El Amrani"}}],
        "diagnosis": [{"condition": {"display": "Pneumonie"}}],
        "extension": [{"url": zvp_epd::fhir::PLANNED_END, "valueDateTime": "2026-11-27"}],
    });
    let a = admission_from_fhir(&encounter).unwrap();
    assert_eq!(a.ward, "Longziekten, B4");
    assert_eq!(a.ward_phone.as_deref(), Some("078 123 4567"));
    assert_eq!(a.room, None);
    assert_eq!(a.specialist.as_deref(), Some("dr. S. El Amrani"));
    assert_eq!(a.reason.as_deref(), Some("Pneumonie"));
    assert_eq!(a.expected_discharge, "2026-11-27".parse().ok());
    // A planned end that is no date is an error naming the element, not a silent gap.
    let mut wrong = encounter.clone();
    wrong["extension"][0]["valueDateTime"] = json!("morgen");
    assert!(matches!(
        admission_from_fhir(&wrong),
        Err(FhirError::Invalid {
            path: "extension(plannedEndDate)",
            ..
        })
    ));
    // Without any of it, the summary is empty rather than guessed.
    let bare = json!({"resourceType": "Encounter", "subject": {"reference": "Patient/p1"},
        "period": {"start": "2026-11-23T10:00:00Z"}});
    let a = admission_from_fhir(&bare).unwrap();
    assert_eq!(
        (
            a.reason,
            a.specialist,
            a.room,
            a.ward_phone,
            a.expected_discharge
        ),
        (None, None, None, None, None)
    );
}

#[test]
fn initials_and_prefixes_round_trip() {
    let patient = zvp_core::Patient {
        id: "p1".parse().unwrap(),
        bsn: Some("111222333".parse().unwrap()),
        name: zvp_core::PersonName::new("Berg")
            .unwrap()
            .with_given_names("Jan Pieter")
            .with_initials("J.P.G.")
            .with_prefix("van den"),
        gender: zvp_core::Gender::Male,
        birth_date: "1950-03-01".parse().unwrap(),
        address: None,
        registered_gp: None,
        treatment_restrictions: Vec::new(),
        sharing_objection: None,
    };
    let fhir = patient_to_fhir(&patient);
    assert_eq!(fhir["name"][0]["family"], "van den Berg");
    assert_eq!(patient_from_fhir(&fhir).unwrap(), patient);
}

#[test]
fn malformed_resources_name_the_element() {
    let good = json!({"resourceType": "Patient", "id": "p1", "name": [{"family": "Jansen"}], "birthDate": "1950-03-01"});
    assert!(patient_from_fhir(&good).is_ok());
    let mut no_birth = good.clone();
    no_birth.as_object_mut().unwrap().remove("birthDate");
    assert_eq!(
        patient_from_fhir(&no_birth),
        Err(FhirError::Missing {
            resource: "Patient",
            path: "birthDate",
            expected: "date"
        })
    );
    let mut bad_bsn = good.clone();
    bad_bsn["identifier"] =
        json!([{"system": "http://fhir.nl/fhir/NamingSystem/bsn", "value": "111222334"}]);
    assert!(matches!(
        patient_from_fhir(&bad_bsn),
        Err(FhirError::Invalid {
            path: "identifier.value",
            ..
        })
    ));
    let mut bad_id = good.clone();
    bad_id["id"] = json!("../../etc");
    assert!(matches!(
        patient_from_fhir(&bad_id),
        Err(FhirError::Invalid { path: "id", .. })
    ));
    assert!(matches!(
        patient_from_fhir(&json!([])),
        Err(FhirError::NotResource {
            resource: "Patient",
            ..
        })
    ));
    assert!(matches!(
        patient_from_fhir(&json!({"resourceType": "Practitioner", "id": "p1"})),
        Err(FhirError::NotResource {
            resource: "Patient",
            ..
        })
    ));
    let encounter = json!({"resourceType": "Encounter", "subject": {"reference": "Patient/p1"},
        "period": {"start": "2026-11-25T10:00:00Z", "end": "2026-11-24T10:00:00Z"}});
    assert!(matches!(
        admission_from_fhir(&encounter),
        Err(FhirError::Invalid { path: "period", .. })
    ));
}

/// Every record section of one patient: domain → FHIR (as JSON text, as on the wire) → domain.
async fn round_trip_record(epd: &SyntheticEpd, id: &PatientId) -> usize {
    let ctx = ctx();
    let wire = |v: &serde_json::Value| -> serde_json::Value {
        serde_json::from_str(&serde_json::to_string(v).unwrap()).unwrap()
    };
    let mut checked = 0;
    let patient = epd.patient(id, &ctx).await.unwrap();
    for (n, r) in patient.treatment_restrictions.iter().enumerate() {
        let fhir = wire(&restriction_to_fhir(&format!("c{n}"), id, r));
        assert_eq!(
            restriction_from_fhir(&fhir).unwrap(),
            Some((id.clone(), r.clone()))
        );
        checked += 1;
    }
    for m in epd.care_moments(id, &ctx).await.unwrap() {
        let fhir = match m.kind {
            CareMomentKind::Admission => {
                admission_to_fhir("e1", epd.admission(id).unwrap().unwrap())
            }
            _ => care_moment_to_fhir("m1", id, &m).unwrap(),
        };
        assert_eq!(
            care_moment_from_fhir(&wire(&fhir)).unwrap(),
            (id.clone(), m)
        );
        checked += 1;
    }
    for a in epd.allergies(id, &ctx).await.unwrap() {
        let fhir = wire(&allergy_to_fhir("a1", id, &a));
        assert_eq!(allergy_from_fhir(&fhir).unwrap(), (id.clone(), a));
        checked += 1;
    }
    for c in epd.conclusions(id, &ctx).await.unwrap() {
        let fhir = wire(&conclusion_to_fhir("c1", id, &c));
        assert_eq!(conclusion_from_fhir(&fhir).unwrap(), (id.clone(), c));
        checked += 1;
    }
    for d in epd.diagnoses(id, &ctx).await.unwrap() {
        let fhir = wire(&diagnosis_to_fhir("d1", id, &d));
        assert_eq!(diagnosis_from_fhir(&fhir).unwrap(), (id.clone(), d));
        checked += 1;
    }
    for m in epd.medication(id, &ctx).await.unwrap() {
        let fhir = wire(&medication_to_fhir("m1", id, &m));
        assert_eq!(medication_from_fhir(&fhir).unwrap(), (id.clone(), m));
        checked += 1;
    }
    for l in epd.letters(id, &ctx).await.unwrap() {
        let document = epd.document(id, &l.id, &ctx).await.unwrap();
        let fhir = wire(&letter_to_fhir(id, &l, document.content.text().unwrap()));
        assert_eq!(letter_from_fhir(&fhir).unwrap(), (id.clone(), l));
        assert_eq!(document_from_fhir(&fhir).unwrap(), (id.clone(), document));
        checked += 1;
    }
    for category in ResultCategory::ALL {
        for report in epd.results(id, category, &ctx).await.unwrap() {
            let (fhir, observations) = report_to_fhir(id, &report).unwrap();
            let texts: HashMap<String, String> = observations
                .iter()
                .map(|o| {
                    let v: serde_json::Value = serde_json::from_str(o.get()).unwrap();
                    (v["id"].as_str().unwrap().to_owned(), o.get().to_owned())
                })
                .collect();
            let back = report_from_fhir(&wire(&fhir), |oid| texts.get(oid).map(String::as_str));
            assert_eq!(back.unwrap(), (id.clone(), report));
            checked += 1;
        }
    }
    for o in epd.lab_history(id, "2160-0", &ctx).await.unwrap() {
        let text = observation_to_fhir("o1", id, &o).unwrap();
        assert_eq!(observation_from_fhir(text.get()).unwrap(), (id.clone(), o));
        checked += 1;
    }
    checked
}

#[tokio::test]
async fn every_record_section_survives_the_round_trip() {
    let epd = SyntheticEpd::generate(5, test_now(), 400).unwrap();
    let mut checked = 0;
    for id in epd.patient_ids().cloned().collect::<Vec<_>>() {
        checked += round_trip_record(&epd, &id).await;
    }
    assert!(checked > 10_000, "{checked}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// Any synthetic hospital (any seed, any now): the round trip is the identity.
    #[test]
    fn round_trip_is_the_identity_for_any_hospital(seed in any::<u64>(), days in 0i64..4000) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let epd = SyntheticEpd::generate(seed, test_now() - Duration::days(days), 25).unwrap();
        runtime.block_on(async {
            for id in epd.patient_ids().cloned().collect::<Vec<_>>() {
                round_trip_record(&epd, &id).await;
            }
        });
    }
}

#[test]
fn lab_values_keep_their_precision_on_the_wire() {
    let o = zvp_core::LabObservation {
        code: zvp_core::Coding {
            system: "http://loinc.org".to_owned(),
            code: "2823-3".to_owned(),
            display: "Kalium".to_owned(),
        },
        value: zvp_core::ObservationValue::Quantity {
            comparator: Some(zvp_core::Comparator::LessThan),
            value: "5.40".parse().unwrap(),
            unit: "mmol/L".to_owned(),
        },
        reference_range: Some(
            zvp_core::ReferenceRange::new("3.50".parse().ok(), "5.00".parse().ok(), None).unwrap(),
        ),
        flag: Some(zvp_core::LabFlag::High),
        effective: test_now(),
    };
    let id: PatientId = "p1".parse().unwrap();
    let text = observation_to_fhir("o1", &id, &o).unwrap();
    assert!(text.get().contains(r#""value":5.40"#), "{}", text.get());
    assert!(
        text.get().contains(r#""low":{"value":3.50"#),
        "{}",
        text.get()
    );
    assert!(text.get().contains(r#""comparator":"<""#));
    assert_eq!(
        observation_from_fhir(text.get()).unwrap(),
        (id.clone(), o.clone())
    );

    // Leading zeros are not JSON: they are dropped, the precision is kept.
    let mut padded = o.clone();
    padded.value = zvp_core::ObservationValue::Quantity {
        comparator: None,
        value: "007.50".parse().unwrap(),
        unit: "mmol/L".to_owned(),
    };
    let text = observation_to_fhir("o1", &id, &padded).unwrap();
    assert!(text.get().contains(r#""value":7.50"#), "{}", text.get());

    // An exponent is a valid JSON number but not a lab value as written: refused, named.
    let exponent = text.get().replace("7.50", "7.5e0");
    assert!(matches!(
        observation_from_fhir(&exponent),
        Err(FhirError::Invalid {
            path: "valueQuantity.value",
            ..
        })
    ));
}

#[test]
fn an_unknown_interpretation_shows_as_abnormal() {
    let text = r#"{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"2823-3"}]},
        "subject":{"reference":"Patient/p1"},"effectiveDateTime":"2026-11-25T08:00:00Z",
        "valueQuantity":{"value":6.1,"unit":"mmol/L"},
        "interpretation":[{"coding":[{"code":"AA"}]}]}"#;
    let (_, o) = observation_from_fhir(text).unwrap();
    assert_eq!(o.flag, Some(zvp_core::LabFlag::Abnormal));
    let normal = text.replace(r#""AA""#, r#""N""#);
    assert_eq!(observation_from_fhir(&normal).unwrap().1.flag, None);
}

/// The newest clinical chemistry report of pat-000001 of a small hospital.
fn first_chemistry_report() -> (PatientId, zvp_core::ResultReport) {
    let epd = SyntheticEpd::generate(5, test_now(), 50).unwrap();
    let id: PatientId = "pat-000001".parse().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let report = runtime
        .block_on(epd.results(&id, ResultCategory::ClinicalChemistry, &ctx()))
        .unwrap()
        .remove(0);
    (id, report)
}

#[test]
fn a_report_must_resolve_its_results_and_keep_to_one_patient() {
    let (id, report) = first_chemistry_report();
    let (fhir, observations) = report_to_fhir(&id, &report).unwrap();
    assert!(matches!(
        report_from_fhir(&fhir, |_| None),
        Err(FhirError::Missing { path: "result", .. })
    ));
    let other = observations[0]
        .get()
        .replace("Patient/pat-000001", "Patient/pat-000002");
    assert!(matches!(
        report_from_fhir(&fhir, |_| Some(other.as_str())),
        Err(FhirError::Invalid { path: "result", .. })
    ));
}

/// A value recorded in error is not part of its report; nor are resources recorded in error
/// or refuted.
#[test]
fn what_is_recorded_in_error_is_left_out() {
    let (id, report) = first_chemistry_report();
    let (fhir, observations) = report_to_fhir(&id, &report).unwrap();
    let texts: HashMap<String, String> = observations
        .iter()
        .map(|o| {
            let v: serde_json::Value = serde_json::from_str(o.get()).unwrap();
            (v["id"].as_str().unwrap().to_owned(), o.get().to_owned())
        })
        .collect();
    let first = serde_json::from_str::<serde_json::Value>(observations[0].get()).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let in_error = texts[&first].replace("\"status\":\"final\"", "\"status\":\"entered-in-error\"");
    assert_eq!(zvp_epd::fhir::observation_in_record(&in_error), Ok(None));
    let (_, read) = report_from_fhir(&fhir, |oid| {
        if oid == first {
            Some(in_error.as_str())
        } else {
            texts.get(oid).map(String::as_str)
        }
    })
    .unwrap();
    let (zvp_core::ReportContent::Observations(all), zvp_core::ReportContent::Observations(kept)) =
        (&report.content, &read.content)
    else {
        panic!("lab reports");
    };
    assert_eq!(kept.len(), all.len() - 1);
    assert_eq!(kept[..], all[1..]);

    let mut condition = json!({ "resourceType": "Condition", "status": "active" });
    assert!(!zvp_epd::fhir::recorded_in_error(&condition));
    for code in ["entered-in-error", "refuted"] {
        condition["verificationStatus"] = json!({ "coding": [{ "code": code }] });
        assert!(zvp_epd::fhir::recorded_in_error(&condition), "{code}");
    }
    let letter = json!({ "resourceType": "DocumentReference", "status": "entered-in-error" });
    assert!(zvp_epd::fhir::recorded_in_error(&letter));
}

#[test]
fn a_gp_named_by_a_literal_reference_is_found_through_the_practitioner() {
    let agb = AgbCode::new(1_012_345).unwrap();
    let patient = json!({
        "resourceType": "Patient",
        "id": "pat-1",
        "name": [{"family": "Jansen", "given": ["A."]}],
        "gender": "female",
        "birthDate": "1950-01-01",
        "generalPractitioner": [{"reference": "Practitioner/gp-1", "display": "J. de Vries"}],
    });
    assert_eq!(
        zvp_epd::fhir::unresolved_practitioners(&patient),
        vec!["gp-1".to_owned()]
    );
    // Without the Practitioner there is no registered GP: the patient is nobody's (the
    // policy then refuses), never someone else's.
    assert_eq!(patient_from_fhir(&patient).unwrap().registered_gp, None);
    let practitioner = json!({
        "resourceType": "Practitioner",
        "id": "gp-1",
        "identifier": [{"system": "http://fhir.nl/fhir/NamingSystem/agb-z", "value": "01012345"}],
    });
    let (id, found) = zvp_epd::fhir::practitioner_agb(&practitioner)
        .unwrap()
        .unwrap();
    assert_eq!((id.as_str(), found), ("gp-1", agb));
    let gp = zvp_epd::fhir::patient_from_fhir_with(&patient, |id| (id == "gp-1").then_some(agb))
        .unwrap()
        .registered_gp
        .unwrap();
    assert_eq!((gp.agb, gp.name.as_deref()), (agb, Some("J. de Vries")));
}

#[test]
fn errors_for_the_log_name_the_element_without_its_value() {
    let report = json!({
        "resourceType": "DiagnosticReport",
        "id": "rep-1",
        "status": "Jansen, 12-03-1950",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "RAD"}]}],
        "code": {"text": "X-thorax"},
        "subject": {"reference": "Patient/pat-1"},
    });
    let e = report_from_fhir(&report, |_| None).unwrap_err();
    assert!(e.to_string().contains("Jansen, 12-03-1950"), "{e}");
    assert_eq!(
        e.without_values(),
        "DiagnosticReport: status does not parse"
    );
    let json = serde_json::from_str::<serde_json::Value>("{\"name\": \"Jansen\" x}").unwrap_err();
    assert!(json.to_string().contains("line 1"), "{json}");
    assert_eq!(
        zvp_epd::fhir::json_error(&json),
        "not JSON at line 1 column 19"
    );
}

#[test]
fn last_updated_is_written_as_an_instant_and_read_back() {
    use zvp_epd::fhir::{last_updated, set_last_updated};
    let epd = SyntheticEpd::generate(11, test_now(), 50).unwrap();
    let admission = epd
        .patient_ids()
        .find_map(|id| epd.admission(id).unwrap())
        .unwrap()
        .clone();
    let mut fhir = admission_to_fhir("enc-0", &admission);
    assert_eq!(last_updated(&fhir), Ok(None));
    let at = test_now() - Duration::minutes(90);
    set_last_updated(&mut fhir, at);
    assert_eq!(fhir["meta"]["lastUpdated"], "2026-11-25T06:30:00Z");
    assert_eq!(last_updated(&fhir), Ok(Some(at)));
    // The rest of meta stays; the resource reads as before.
    fhir["meta"]["versionId"] = json!("3");
    set_last_updated(&mut fhir, at + Duration::seconds(1));
    assert_eq!(fhir["meta"]["versionId"], "3");
    assert_eq!(admission_from_fhir(&fhir).unwrap(), admission);
    // A server's other offsets are read as the same instant; a date alone is no instant.
    fhir["meta"]["lastUpdated"] = json!("2026-11-25T07:30:00+01:00");
    assert_eq!(last_updated(&fhir), Ok(Some(at)));
    fhir["meta"]["lastUpdated"] = json!("2026-11-25");
    assert!(matches!(
        last_updated(&fhir),
        Err(FhirError::Invalid {
            resource: "Encounter",
            path: "meta.lastUpdated",
            ..
        })
    ));
}
