//! zvp's policy engine against the same rules written in Cedar: both must give the same
//! decision (outcome and basis or reason) on every case.
//!
//! The test command runs 100,000 random requests (4,000 worlds of 25 requests); set
//! `ZVP_CEDAR_WORLDS` for a longer run. The scenario files of `zvp-auth` run through both too:
//! a disagreement found here is kept there as a regression case once fixed.

#![cfg(feature = "cedar")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::test_runner::{Config, TestCaseError, TestRunner};
use zvp_auth::policy::{Action, Policy, RequestFile, WorldFile};
use zvp_core::RecordSection;
use zvp_policy_oracle::cedar::{CedarOracle, Outcome};
use zvp_policy_oracle::worlds::{now, world_and_requests};

const REQUESTS_PER_WORLD: usize = 25;

#[test]
fn zvp_and_cedar_agree_on_random_worlds() {
    let worlds: u32 = std::env::var("ZVP_CEDAR_WORLDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4_000);
    let policy = Policy::default();
    let oracle = CedarOracle::new(&policy).unwrap();
    let compared = AtomicUsize::new(0);
    let seen = std::sync::Mutex::new(std::collections::BTreeMap::<String, usize>::new());
    let sections = std::sync::Mutex::new(std::collections::BTreeSet::<RecordSection>::new());
    let mut runner = TestRunner::new(Config {
        cases: worlds,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(
        &world_and_requests(REQUESTS_PER_WORLD),
        |(file, requests)| {
            let world = file.to_world().unwrap();
            let cedar = oracle
                .load(&file)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            for request in &requests {
                let ours = Outcome::of(&policy.decide(&world, request, now()));
                let theirs = oracle
                    .decide(&cedar, request)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                if ours != theirs {
                    return Err(TestCaseError::fail(format!(
                        "zvp {ours:?} cedar {theirs:?} for {request:?}"
                    )));
                }
                compared.fetch_add(1, Ordering::Relaxed);
                *seen.lock().unwrap().entry(format!("{ours:?}")).or_default() += 1;
                if let Action::ViewPatient { section, .. } = &request.action {
                    sections.lock().unwrap().insert(*section);
                }
            }
            Ok(())
        },
    );
    if let Err(e) = result {
        panic!("{e}");
    }
    let compared = compared.into_inner();
    assert!(
        compared >= worlds as usize * REQUESTS_PER_WORLD,
        "only {compared} cases compared"
    );
    println!("zvp and cedar agreed on {compared} requests");
    // The worlds must exercise every outcome, or agreement proves little.
    let seen = seen.into_inner().unwrap();
    println!("{seen:?}");
    for outcome in [
        "Permit(\"own\")",
        "Permit(\"practice\")",
        "Permit(\"delegation\")",
        "Permit(\"emergency\")",
        "Permit(\"administrator\")",
        "RequiresEmergency",
        "Deny(\"no-account\")",
        "Deny(\"account-pending\")",
        "Deny(\"account-rejected\")",
        "Deny(\"account-blocked\")",
        "Deny(\"agb-mismatch\")",
        "Deny(\"not-administrator\")",
        "Deny(\"role-not-eligible\")",
        "Deny(\"unknown-patient\")",
        "Deny(\"patient-objection\")",
    ] {
        assert!(
            seen.contains_key(outcome),
            "no case gave {outcome}: {seen:?}"
        );
    }
    // Cedar has no notion of sections: comparing views of every one shows zvp has none either.
    let sections: Vec<RecordSection> = sections.into_inner().unwrap().into_iter().collect();
    assert_eq!(sections, RecordSection::PATIENT_RECORD);
}

#[test]
fn zvp_and_cedar_agree_on_every_scenario_case() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../zvp-auth/tests/scenarios");
    let policy = Policy::default();
    let oracle = CedarOracle::new(&policy).unwrap();
    let mut cases = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let scenario: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let file = WorldFile::from_json(&scenario["world"].to_string()).unwrap();
        let world = file.to_world().unwrap();
        let cedar = oracle.load(&file).unwrap();
        for case in scenario["cases"].as_array().unwrap() {
            let request = RequestFile::from_json(&case["request"].to_string())
                .unwrap()
                .to_request()
                .unwrap();
            let ours = Outcome::of(&policy.decide(&world, &request, file.now));
            let theirs = oracle.decide(&cedar, &request).unwrap();
            assert_eq!(ours, theirs, "{}: {}", path.display(), case["name"]);
            cases += 1;
        }
    }
    assert!(cases >= 45, "{cases}");
}
