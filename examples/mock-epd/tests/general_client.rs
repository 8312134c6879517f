//! The searches a general FHIR client makes, not only the adapter's: every patient paged with
//! `_count`, and a patient's reports and observations without a category or code.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

mod common;

use common::Server;
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use zvp_mock_epd::Faults;

/// A GET of `url` (absolute, on the server): status and JSON body.
async fn get(url: &str) -> (u16, Value) {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    stream
        .write_all(
            format!("GET /{path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    let status = answer[9..12].parse().unwrap();
    let body = answer.split("\r\n\r\n").nth(1).unwrap();
    (status, serde_json::from_str(body).unwrap())
}

fn entries(bundle: &Value) -> Vec<&Value> {
    bundle["entry"]
        .as_array()
        .map(|a| a.iter().map(|e| &e["resource"]).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_general_client_lists_patients_and_reads_reports_without_a_category() {
    let server = Server::start(7, Faults::default()).await;
    let base = server.state.base_url().to_owned();

    // Every patient, three a page, through the next links.
    let mut url = format!("{base}/Patient?_count=3");
    let mut patients = Vec::new();
    loop {
        let (status, bundle) = get(&url).await;
        assert_eq!(status, 200, "{bundle}");
        assert_eq!(bundle["total"], 7);
        patients.extend(
            entries(&bundle)
                .iter()
                .map(|p| p["id"].as_str().unwrap().to_owned()),
        );
        match bundle["link"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["relation"] == "next")
        {
            Some(next) => url = next["url"].as_str().unwrap().to_owned(),
            None => break,
        }
    }
    let expected: Vec<String> = server.epd.patient_ids().map(ToString::to_string).collect();
    assert_eq!(patients, expected);

    // A patient's reports of every category, and their Observations, without naming one.
    let id = &patients[0];
    let (status, reports) = get(&format!("{base}/DiagnosticReport?patient=Patient/{id}")).await;
    assert_eq!(status, 200, "{reports}");
    let reports = entries(&reports);
    assert!(reports.len() >= 2, "{reports:?}");
    let codes: std::collections::BTreeSet<&str> = reports
        .iter()
        .flat_map(|r| r["category"].as_array().unwrap())
        .filter_map(|c| c["coding"][0]["code"].as_str())
        .collect();
    assert!(codes.len() >= 2, "more than one category: {codes:?}");
    let (status, observations) = get(&format!("{base}/Observation?patient=Patient/{id}")).await;
    assert_eq!(status, 200, "{observations}");
    let results: usize = reports
        .iter()
        .map(|r| r["result"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(entries(&observations).len(), results);
}
