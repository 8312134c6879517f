//! The scenario files in `tests/scenarios/`: each a world and cases (request → expected
//! decision), covering every rule of the policy. The expected JSON is compared field by field
//! with what `Decision::to_json` gives, so a case names only what it is about.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;
use zvp_auth::policy::{
    Action, Decision, NotPatientRecord, Policy, Request, RequestFile, WorldFile,
};
use zvp_core::{PatientId, RecordSection, RoleCode, UziNumber};

#[derive(Deserialize)]
struct Scenario {
    world: Value,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    request: Value,
    expect: Value,
}

#[test]
fn every_scenario_case_gets_its_expected_decision() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut cases = 0;
    let mut failures = Vec::new();
    for file in &files {
        let scenario: Scenario = serde_json::from_str(&std::fs::read_to_string(file).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let world_file = WorldFile::from_json(&scenario.world.to_string()).unwrap();
        let world = world_file.to_world().unwrap();
        for case in &scenario.cases {
            cases += 1;
            let request = RequestFile::from_json(&case.request.to_string())
                .and_then(|r| r.to_request())
                .unwrap_or_else(|e| panic!("{}: {}: {e}", file.display(), case.name));
            let got = Policy::default()
                .decide(&world, &request, world_file.now)
                .to_json();
            let expected = case.expect.as_object().unwrap();
            if expected
                .iter()
                .any(|(key, value)| got.get(key) != Some(value))
            {
                failures.push(format!(
                    "{}: {}: expected {} got {got}",
                    file.display(),
                    case.name,
                    case.expect
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(cases >= 45, "only {cases} cases found");
}

#[test]
fn malformed_worlds_and_requests_are_refused_with_typed_errors() {
    use zvp_auth::policy::FileError;
    let duplicate = WorldFile::from_json(
        r#"{"now": "2026-11-25T10:00:00Z",
            "accounts": [{"uzi": "900000001", "role": "01.015", "status": "active"},
                         {"uzi": "900000001", "role": "01.015", "status": "blocked"}]}"#,
    )
    .unwrap();
    assert!(matches!(
        duplicate.to_world(),
        Err(FileError::Duplicate { kind: "account", key }) if key == "900000001"
    ));
    let bad_agb = WorldFile::from_json(
        r#"{"now": "2026-11-25T10:00:00Z", "patients": [{"id": "p1", "registered_gp_agb": "0100000"}]}"#,
    )
    .unwrap_err();
    assert!(
        bad_agb.to_string().contains("agb code: expected 8 digits"),
        "{bad_agb}"
    );
    let no_patient = RequestFile::from_json(
        r#"{"uzi": "900000001", "card_role": "01.015", "action": "view-patient", "section": "patient-details"}"#,
    )
    .unwrap()
    .to_request()
    .unwrap_err();
    assert!(matches!(
        no_patient,
        FileError::MissingField {
            action: "view-patient",
            field: "patient"
        }
    ));
    let unknown = RequestFile::from_json(
        r#"{"uzi": "900000001", "card_role": "01.015", "action": "delete-patient"}"#,
    )
    .unwrap()
    .to_request()
    .unwrap_err();
    assert!(matches!(unknown, FileError::UnknownAction(a) if a == "delete-patient"));
    let unknown_section = RequestFile::from_json(
        r#"{"uzi": "900000001", "card_role": "01.015", "action": "view-patient", "section": "results", "patient": "p1"}"#,
    )
    .unwrap()
    .to_request()
    .unwrap_err();
    assert!(matches!(unknown_section, FileError::UnknownSection(s) if s == "results"));
    let list = RequestFile::from_json(
        r#"{"uzi": "900000001", "card_role": "01.015", "action": "view-patient", "section": "admitted-list", "patient": "p1"}"#,
    )
    .unwrap()
    .to_request()
    .unwrap_err();
    assert!(matches!(
        list,
        FileError::NotPatientRecord(NotPatientRecord(RecordSection::AdmittedList))
    ));
}

#[test]
fn a_view_is_made_only_of_a_section_of_one_patient_record() {
    let p1: PatientId = "p1".parse().unwrap();
    for section in RecordSection::PATIENT_RECORD {
        let action = Action::view_patient(p1.clone(), section).unwrap();
        assert!(
            matches!(&action, Action::ViewPatient { patient, section: s, .. } if *patient == p1 && *s == section),
            "{action:?}"
        );
    }
    for section in [
        RecordSection::AdmittedList,
        RecordSection::DischargedList,
        RecordSection::PatientSearch,
    ] {
        assert_eq!(
            Action::view_patient(p1.clone(), section),
            Err(NotPatientRecord(section))
        );
    }
}

#[test]
fn a_view_permit_names_its_section_and_no_other_permit_names_one() {
    let world_file = WorldFile::from_json(
        r#"{"now": "2026-11-25T10:00:00Z",
            "accounts": [{"uzi": "900000001", "agb": "01000001", "role": "01.015", "status": "active", "admin": true}],
            "patients": [{"id": "p1", "registered_gp_agb": "01000001"}]}"#,
    )
    .unwrap();
    let world = world_file.to_world().unwrap();
    let p1: PatientId = "p1".parse().unwrap();
    let permit = |action: Action| {
        let request = Request {
            uzi: UziNumber::new(900_000_001).unwrap(),
            card_agb: None,
            card_role: RoleCode::GENERAL_PRACTITIONER,
            action,
        };
        match Policy::default().decide(&world, &request, world_file.now) {
            Decision::Permit(permit) => permit,
            other => panic!("{request:?}: {other:?}"),
        }
    };
    for section in RecordSection::PATIENT_RECORD {
        let view = permit(Action::view_patient(p1.clone(), section).unwrap());
        assert_eq!(view.section(), Some(section));
    }
    for action in [
        Action::ListAdmitted,
        Action::ListDischarged,
        Action::SearchPatient {
            patient: p1.clone(),
        },
        Action::ReadAudit,
    ] {
        assert_eq!(permit(action.clone()).section(), None, "{action:?}");
    }
}
