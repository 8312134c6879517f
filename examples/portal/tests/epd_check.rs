//! `zvp-portal epd check` as an integration engineer runs it: against zvp-mock-epd it prints
//! every query with its strategy and result count and exits 0; against a server that refuses
//! the search the start page needs, it names the failure and exits 1.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

mod common;

use std::process::Command;
use std::sync::Arc;

use zvp_epd::synthetic::SyntheticEpd;
use zvp_mock_epd::{Faults, MockEpd};

async fn check(config: std::path::PathBuf) -> (i32, String) {
    let agb = common::demo_agb(0).to_string();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_zvp-portal"))
            .args(["epd", "check", "--config"])
            .arg(&config)
            .args(["--agb", &agb])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8(output.stdout).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn epd_check_prints_every_query_and_fails_on_a_missing_search() {
    let hospital = Arc::new(SyntheticEpd::generate(2026, common::now(), 200).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/fhir", listener.local_addr().unwrap());
    let mock = Arc::new(MockEpd::new(hospital, base.clone(), Faults::default()));
    tokio::spawn(zvp_mock_epd::serve(
        listener,
        mock.clone(),
        std::future::pending(),
    ));
    let dir = common::scratch("epd-check");
    let config = dir.join("zvp.toml");
    std::fs::write(
        &config,
        format!("[epd]\nkind = \"fhir\"\nbase_url = \"{base}\"\n"),
    )
    .unwrap();

    let (code, table) = check(config.clone()).await;
    assert_eq!(code, 0, "{table}");
    assert!(
        table.starts_with(&format!("EPD zvp-mock-epd at {base}\n")),
        "{table}"
    );
    let admitted = table
        .lines()
        .find(|l| l.starts_with("admitted patients of the GP"))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(
        admitted.contains("Encounter?patient.general-practitioner:identifier=…"),
        "{admitted}"
    );
    let count: usize = admitted
        .split_whitespace()
        .nth_back(1)
        .unwrap()
        .parse()
        .unwrap();
    assert!(count > 0, "{admitted}");
    for query in [
        "what changed for the GP",
        "patient ",
        "care moments",
        "letters",
        "results: clinical-chemistry",
        "lab history: ",
    ] {
        assert!(
            table.lines().any(|l| l.starts_with(query)),
            "{query}: {table}"
        );
    }
    assert!(
        table.ends_with("ok: the portal can work against this server\n"),
        "{table}"
    );

    // As HAPI does with the :identifier modifier: refused, and nothing to fall back on.
    mock.refuse_searches(vec![
        "Encounter:patient.general-practitioner:identifier".to_owned(),
    ]);
    let (code, table) = check(config).await;
    assert_eq!(code, 1, "{table}");
    let lines: Vec<&str> = table.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with("admitted patients of the GP"))
        .unwrap();
    assert!(lines[at].contains("FAILED"), "{table}");
    assert_eq!(
        lines[at + 1],
        "  the epd refused the request: http 400 (not-supported)"
    );
    assert!(
        table.ends_with("FAILED: the portal cannot work against this server as configured\n"),
        "{table}"
    );
}
