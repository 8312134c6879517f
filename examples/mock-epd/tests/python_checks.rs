//! Independent checks by FHIR libraries no one here wrote: every resource type zvp-mock-epd
//! serves validates against the models of `fhir.resources` (R4B) and `fhirclient` (R4), the
//! codes of the required bindings are in their R4 value sets, and `fhirclient`, a real FHIR
//! client, reads patients, encounters and observations that agree with the raw JSON
//! (`scripts/fhir_check.py`, in the virtual environment `scripts/python-env` makes).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

use common::Server;
use zvp_mock_epd::Faults;

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The venv's python (made on first use; quick afterwards).
fn python() -> PathBuf {
    let out = Command::new(repository().join("scripts/python-env"))
        .output()
        .expect("scripts/python-env runs");
    assert!(
        out.status.success(),
        "scripts/python-env failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    PathBuf::from(stdout.lines().last().unwrap().trim())
}

async fn check(base: String) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new(python())
            .arg(repository().join("scripts/fhir_check.py"))
            .arg(base)
            .env("ZVP_FHIR_CHECK_DEADLINE", "300")
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fhir_resources_and_fhirclient_accept_what_the_mock_serves() {
    let server = Server::start(400, Faults::default()).await;
    let out = check(server.state.base_url().to_owned()).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("fhir-check: OK, validated"), "{stdout}");
    for kind in [
        "Patient",
        "Encounter",
        "Consent",
        "Appointment",
        "ServiceRequest",
        "AllergyIntolerance",
        "ClinicalImpression",
        "Condition",
        "MedicationStatement",
        "DocumentReference",
        "DiagnosticReport",
        "Observation",
        "Bundle",
        "CapabilityStatement",
    ] {
        assert!(
            stdout.contains(&format!("{kind} ")),
            "{kind} validated: {stdout}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_check_fails_on_a_broken_server() {
    // Every answer a truncated JSON body: the check must fail, not pass vacuously.
    let server = Server::start(
        20,
        Faults {
            garbage_percent: 100,
            ..Faults::default()
        },
    )
    .await;
    let out = check(server.state.base_url().to_owned()).await;
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
