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
use zvp_core::AgbCode;
use zvp_epd::fhir::{
    FhirError, admission_from_fhir, admission_to_fhir, patient_from_fhir, patient_to_fhir,
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
        count += 1;
    }
    assert!(count > 10);
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
        Err(FhirError::Missing { path: "id", .. })
    ));
    let encounter = json!({"resourceType": "Encounter", "subject": {"reference": "Patient/p1"},
        "period": {"start": "2026-11-25T10:00:00Z", "end": "2026-11-24T10:00:00Z"}});
    assert!(matches!(
        admission_from_fhir(&encounter),
        Err(FhirError::Invalid { path: "period", .. })
    ));
}
