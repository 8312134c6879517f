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
use zvp_auth::policy::{Policy, RequestFile, WorldFile};

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
        r#"{"uzi": "900000001", "card_role": "01.015", "action": "view-patient", "section": "details"}"#,
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
}
