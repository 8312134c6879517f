//! An EPD whose answers are far larger than the record (zvp-mock-epd's `padding_bytes`): with
//! the answer budget below one answer, every page that reads the EPD is the clear page for an
//! answer the portal cannot read, nothing of the record is shown, and service returns when the
//! answers are normal again.

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

use common::{TestPortal, Who};
use zvp_epd::client::{FhirEpd, FhirEpdConfig};
use zvp_epd::synthetic::SyntheticEpd;
use zvp_mock_epd::{Faults, MockEpd};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_beyond_the_budget_give_the_answer_page_and_service_returns() {
    let synthetic = Arc::new(SyntheticEpd::generate(2026, common::now(), 400).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/fhir", listener.local_addr().unwrap());
    let mock = Arc::new(MockEpd::new(synthetic, base.clone(), Faults::default()));
    tokio::spawn(zvp_mock_epd::serve(
        listener,
        mock.clone(),
        std::future::pending(),
    ));
    let mut config = FhirEpdConfig::new(base);
    config.timeout = Duration::from_secs(10);
    // Below one padded answer (2 MiB), far above the record's (a few kB), and below the
    // 16 MiB a page may be: only the budget refuses it.
    config.max_answer_bytes = 1 << 20;
    let fhir = Arc::new(FhirEpd::new(config).unwrap());
    let t = TestPortal::with(None, Some(fhir)).await;
    let (id, patient) = t.own_patient().await;
    let name = patient.name.to_string();
    let page = format!("/patient/{id}");
    let ok = t.get(Some(Who::Own), &page).await;
    assert_eq!(ok.status, 200);
    assert!(ok.body.contains(&name));

    mock.set_faults(Faults {
        padding_bytes: 2 << 20,
        ..Faults::default()
    });
    for path in [page.as_str(), "/"] {
        let refused = t.get(Some(Who::Own), path).await;
        assert_eq!(refused.status, 503, "{path}: {}", refused.body);
        assert!(!refused.body.contains(&name), "{path}: no patient data");
        assert!(
            refused
                .body
                .contains("antwoord dat het portaal niet kan lezen"),
            "{path}: {}",
            refused.body
        );
    }

    mock.set_faults(Faults::default());
    let back = t.get(Some(Who::Own), &page).await;
    assert_eq!(
        back.status, 200,
        "service after the answers are normal again"
    );
    assert!(back.body.contains(&name));
}
