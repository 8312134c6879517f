//! Whatever the EPD sends — garbage, a truncated or oversized body, nothing at all, errors,
//! another GP's patients — the adapter answers with data it may show or a typed error, within
//! its configured deadline.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Server, ctx};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zvp_core::{AgbCode, PatientId};
use zvp_epd::client::{FhirConfigError, FhirEpd, FhirEpdConfig};
use zvp_epd::fhir::{self, EntryMode};
use zvp_epd::synthetic::{SyntheticEpd, test_now};
use zvp_epd::{Epd, EpdError};
use zvp_mock_epd::Faults;

/// What a scripted server does with each request.
#[derive(Clone)]
enum Script {
    /// Writes these bytes and closes.
    Send(Vec<u8>),
    /// Reads the request and never answers.
    Stall,
}

/// A server that answers every connection by `script(n)` (n counts requests from 0).
async fn scripted(script: impl Fn(usize, &str) -> Script + Send + Sync + 'static) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/fhir", listener.local_addr().unwrap());
    let script = Arc::new(script);
    tokio::spawn(async move {
        let mut held = Vec::new();
        let mut n = 0;
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let mut head = Vec::new();
            let mut buf = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match socket.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(k) => head.extend_from_slice(&buf[..k]),
                }
            }
            let head = String::from_utf8_lossy(&head).into_owned();
            let path = head.split_whitespace().nth(1).unwrap_or("").to_owned();
            // The CapabilityStatement the adapter reads first: the scripts are about the
            // searches, and their numbering counts only those.
            if path.ends_with("/metadata") {
                let statement = fhir::capability_statement("scripted", "1", "2026-01-01");
                let _ = socket
                    .write_all(&http("200 OK", FHIR, statement.to_string().as_bytes()))
                    .await;
                let _ = socket.shutdown().await;
                continue;
            }
            match script(n, &path) {
                Script::Send(bytes) => {
                    let _ = socket.write_all(&bytes).await;
                    let _ = socket.shutdown().await;
                }
                Script::Stall => held.push(socket),
            }
            n += 1;
        }
    });
    base
}

fn http(status: &str, content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

fn adapter(base: &str, tune: impl FnOnce(&mut FhirEpdConfig)) -> FhirEpd {
    let mut config = FhirEpdConfig::new(base);
    config.timeout = Duration::from_secs(5);
    tune(&mut config);
    FhirEpd::new(config).unwrap()
}

fn someone() -> PatientId {
    "pat-000001".parse().unwrap()
}

const FHIR: &str = "application/fhir+json";

#[tokio::test]
async fn malformed_json_is_malformed() {
    let base = scripted(|_, _| {
        Script::Send(http(
            "200 OK",
            FHIR,
            br#"{"resourceType":"Bundle","entry":[{"#,
        ))
    })
    .await;
    let result = adapter(&base, |_| {}).allergies(&someone(), &ctx()).await;
    assert!(matches!(result, Err(EpdError::Malformed(_))), "{result:?}");
}

#[tokio::test]
async fn a_resource_that_does_not_map_is_malformed_and_named() {
    // A valid bundle whose AllergyIntolerance has no recordedDate.
    let resource = json!({"resourceType": "AllergyIntolerance", "id": "a1",
        "patient": {"reference": "Patient/pat-000001"}, "code": {"text": "Pinda"}});
    let bundle = json!({"resourceType": "Bundle", "type": "searchset",
        "entry": [{"resource": resource, "search": {"mode": "match"}}]});
    let base =
        scripted(move |_, _| Script::Send(http("200 OK", FHIR, bundle.to_string().as_bytes())))
            .await;
    let result = adapter(&base, |_| {}).allergies(&someone(), &ctx()).await;
    assert_eq!(
        result,
        Err(EpdError::Malformed(
            "AllergyIntolerance: recordedDate is missing or not a dateTime".to_owned()
        ))
    );
}

#[tokio::test]
async fn a_truncated_body_is_malformed() {
    let base = scripted(|_, _| {
        let mut bytes = http("200 OK", FHIR, &[b' '; 1000]);
        bytes.truncate(bytes.len() - 900);
        Script::Send(bytes)
    })
    .await;
    let result = adapter(&base, |_| {}).allergies(&someone(), &ctx()).await;
    assert_eq!(
        result,
        Err(EpdError::Malformed(
            "the response ended before it was complete".to_owned()
        ))
    );
}

#[tokio::test]
async fn an_oversized_body_is_too_large_declared_or_not() {
    let big = format!(
        r#"{{"resourceType":"Bundle","type":"searchset","x":"{}"}}"#,
        "a".repeat(5000)
    );
    let declared = big.clone();
    let base = scripted(move |_, _| Script::Send(http("200 OK", FHIR, declared.as_bytes()))).await;
    let result = adapter(&base, |c| c.max_response_bytes = 1000)
        .allergies(&someone(), &ctx())
        .await;
    assert!(matches!(result, Err(EpdError::TooLarge(_))), "{result:?}");

    // Without a content-length (read to the end of the connection): cut off at the bound.
    let base = scripted(move |_, _| {
        let mut bytes =
            format!("HTTP/1.1 200 OK\r\ncontent-type: {FHIR}\r\nconnection: close\r\n\r\n")
                .into_bytes();
        bytes.extend_from_slice(big.as_bytes());
        Script::Send(bytes)
    })
    .await;
    let result = adapter(&base, |c| c.max_response_bytes = 1000)
        .allergies(&someone(), &ctx())
        .await;
    assert!(matches!(result, Err(EpdError::TooLarge(_))), "{result:?}");
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let base = scripted(|_, _| Script::Stall).await;
    let result = adapter(&base, |c| c.timeout = Duration::from_millis(300))
        .patient(&someone(), &ctx())
        .await;
    assert_eq!(result, Err(EpdError::Timeout));
}

#[tokio::test]
async fn a_slow_mock_times_out_and_a_patient_one_answers() {
    let faults = Faults {
        latency: Duration::from_millis(400),
        ..Faults::default()
    };
    let server = Server::start(20, faults).await;
    let mut config = server.config();
    config.timeout = Duration::from_millis(100);
    let result = FhirEpd::new(config)
        .unwrap()
        .patient(&someone(), &ctx())
        .await;
    assert_eq!(result, Err(EpdError::Timeout));
    let mut config = server.config();
    config.timeout = Duration::from_secs(30);
    let patient = FhirEpd::new(config)
        .unwrap()
        .patient(&someone(), &ctx())
        .await;
    assert_eq!(patient.unwrap().id, someone());
}

#[tokio::test]
async fn errors_are_retried_then_reported() {
    let server = Server::start(
        20,
        Faults {
            error_percent: 100,
            ..Faults::default()
        },
    )
    .await;
    let mut config = server.config();
    config.retries = 2;
    let result = FhirEpd::new(config)
        .unwrap()
        .allergies(&someone(), &ctx())
        .await;
    assert_eq!(
        result,
        Err(EpdError::Unavailable("http 503 (transient)".to_owned()))
    );
    assert_eq!(server.state.requests(), 3, "one try and two retries");
}

#[tokio::test]
async fn a_passing_error_is_retried_away() {
    // The first of every hundred requests fails: the retry gets the data.
    let server = Server::start(
        20,
        Faults {
            error_percent: 1,
            ..Faults::default()
        },
    )
    .await;
    let result = FhirEpd::new(server.config())
        .unwrap()
        .allergies(&someone(), &ctx())
        .await;
    let expected = server.epd.allergies(&someone(), &ctx()).await;
    assert_eq!(result, expected);
    assert_eq!(server.state.requests(), 2);
}

#[tokio::test]
async fn garbage_from_the_mock_is_malformed() {
    let server = Server::start(
        20,
        Faults {
            garbage_percent: 100,
            ..Faults::default()
        },
    )
    .await;
    let result = FhirEpd::new(server.config())
        .unwrap()
        .admitted(&[AgbCode::new(1_012_345).unwrap()], &ctx())
        .await;
    assert!(matches!(result, Err(EpdError::Malformed(_))), "{result:?}");
}

#[tokio::test]
async fn statuses_map_to_typed_errors() {
    let outcome = |code: &str| {
        fhir::operation_outcome("error", code, "Patient 999999990 unknown").to_string()
    };
    let cases = [
        (
            "404 Not Found",
            "not-found",
            EpdError::NotFound("http 404 (not-found)".to_owned()),
        ),
        (
            "401 Unauthorized",
            "login",
            EpdError::Refused("http 401 (login)".to_owned()),
        ),
        (
            "403 Forbidden",
            "forbidden",
            EpdError::Refused("http 403 (forbidden)".to_owned()),
        ),
        (
            "500 Internal Server Error",
            "exception",
            EpdError::Unavailable("http 500 (exception)".to_owned()),
        ),
    ];
    for (status, code, expected) in cases {
        let body = outcome(code);
        let base = scripted(move |_, _| Script::Send(http(status, FHIR, body.as_bytes()))).await;
        let result = adapter(&base, |_| {})
            .document(&someone(), &"doc-1-0".parse().unwrap(), &ctx())
            .await;
        // The diagnostics text (which could name a patient) is not carried into the error.
        assert_eq!(result, Err(expected));
    }
    let base =
        scripted(|_, _| Script::Send(http("200 OK", "text/html", b"<html>login</html>"))).await;
    let result = adapter(&base, |_| {}).allergies(&someone(), &ctx()).await;
    assert_eq!(
        result,
        Err(EpdError::Malformed(
            "the response is not FHIR JSON (content type)".to_owned()
        ))
    );
}

#[tokio::test]
async fn nothing_listening_is_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}/fhir", listener.local_addr().unwrap());
    drop(listener);
    let result = adapter(&base, |c| c.retries = 0)
        .allergies(&someone(), &ctx())
        .await;
    assert_eq!(
        result,
        Err(EpdError::Unavailable("cannot connect".to_owned()))
    );
}

#[tokio::test]
async fn paging_stays_on_the_epd_and_is_bounded() {
    let elsewhere = json!({"resourceType": "Bundle", "type": "searchset",
        "link": [{"relation": "next", "url": "http://attacker.example/fhir/AllergyIntolerance?page=2"}]});
    let base =
        scripted(move |_, _| Script::Send(http("200 OK", FHIR, elsewhere.to_string().as_bytes())))
            .await;
    let result = adapter(&base, |_| {}).allergies(&someone(), &ctx()).await;
    assert_eq!(
        result,
        Err(EpdError::Malformed(
            "a next-page link outside the epd's base url".to_owned()
        ))
    );

    // A search of more pages than allowed.
    let server = Server::start(40, Faults::default()).await;
    let mut config = server.config();
    config.page_size = 1;
    config.max_pages = 1;
    // Every synthetic patient has at least two lab panels: two pages of one.
    let result = FhirEpd::new(config)
        .unwrap()
        .results(
            &someone(),
            zvp_core::ResultCategory::ClinicalChemistry,
            &ctx(),
        )
        .await;
    assert_eq!(
        result,
        Err(EpdError::TooLarge(
            "a search of more than 1 pages".to_owned()
        ))
    );
}

#[tokio::test]
async fn a_server_that_ignores_the_search_shows_no_other_gps_patients() {
    // The server answers every Encounter search with all admissions of the hospital.
    let epd = SyntheticEpd::generate(7, test_now(), 200).unwrap();
    let mut entries = Vec::new();
    let mut gps = std::collections::BTreeSet::new();
    for id in epd.patient_ids().cloned().collect::<Vec<_>>() {
        let patient = epd.patient(&id, &ctx()).await.unwrap();
        if let Some(gp) = &patient.registered_gp {
            gps.insert(gp.agb);
        }
        if let Some(admission) = epd.admission(&id).unwrap() {
            entries.push((
                serde_json::value::to_raw_value(&fhir::admission_to_fhir(
                    &format!("{id}-enc"),
                    admission,
                ))
                .unwrap(),
                EntryMode::Match,
            ));
            entries.push((
                serde_json::value::to_raw_value(&fhir::patient_to_fhir(&patient)).unwrap(),
                EntryMode::Include,
            ));
            for (n, r) in patient.treatment_restrictions.iter().enumerate() {
                let consent = fhir::restriction_to_fhir(&format!("{id}-c{n}"), &id, r);
                entries.push((
                    serde_json::value::to_raw_value(&consent).unwrap(),
                    EntryMode::Include,
                ));
            }
        }
    }
    assert!(gps.len() > 2);
    let body = fhir::searchset("http://x/fhir", entries, 0, "http://x/fhir/Encounter", None)
        .to_json()
        .unwrap();
    let base = scripted(move |_, _| Script::Send(http("200 OK", FHIR, body.as_bytes()))).await;
    let one_gp = AgbCode::new(1_012_345).unwrap();
    let listed = adapter(&base, |_| {})
        .admitted(&[one_gp], &ctx())
        .await
        .unwrap();
    let expected = epd.admitted(&[one_gp], &ctx()).await.unwrap();
    assert!(!expected.is_empty());
    assert_eq!(listed, expected, "only the asked GP's admitted patients");
}

#[tokio::test]
async fn another_patients_record_is_refused() {
    let resource = fhir::allergy_to_fhir(
        "a1",
        &"pat-000002".parse().unwrap(),
        &zvp_core::Allergy {
            substance: "Pinda".to_owned(),
            reaction: None,
            severity: None,
            recorded_at: test_now(),
        },
    );
    let bundle = json!({"resourceType": "Bundle", "type": "searchset",
        "entry": [{"resource": resource, "search": {"mode": "match"}}]});
    let base =
        scripted(move |_, _| Script::Send(http("200 OK", FHIR, bundle.to_string().as_bytes())))
            .await;
    let result = adapter(&base, |_| {}).allergies(&someone(), &ctx()).await;
    assert_eq!(
        result,
        Err(EpdError::Malformed(
            "the epd returned a AllergyIntolerance of another patient than asked".to_owned()
        ))
    );
}

#[test]
fn bad_configurations_are_refused() {
    assert_eq!(
        FhirEpd::new(FhirEpdConfig::new("https://epd.example/fhir")).err(),
        Some(FhirConfigError::NoTls(
            "https://epd.example/fhir".to_owned()
        ))
    );
    assert_eq!(
        FhirEpd::new(FhirEpdConfig::new("ftp://epd.example/fhir")).err(),
        Some(FhirConfigError::BaseUrl(
            "ftp://epd.example/fhir".to_owned()
        ))
    );
    assert_eq!(
        FhirEpd::new(FhirEpdConfig::new("/fhir")).err(),
        Some(FhirConfigError::BaseUrl("/fhir".to_owned()))
    );
}
