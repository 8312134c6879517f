//! What the EPD's latency costs a GP per page: the portal over `FhirEpd` against zvp-mock-epd
//! on loopback, the mock answering every request after 0, 50 and 100 ms, and the median time
//! of the start page, the patient page and every section page. The bound, in the same run: one
//! EPD round trip, the mock's latency itself; a page at 1.0× of it costs one round trip.
//!
//! Requests go to the portal's router in process (the UZI-pas chain handed over as the TLS
//! layer does), so what is measured is the page's own path: session, account, policy, EPD,
//! audit record (file log, group commit), HTML.
//!
//! Run: `cargo bench -p zvp-benches --bench page_latency` (ZVP_PAGE_SAMPLES per page and
//! latency, default 15).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::print_stdout,
    missing_docs,
    reason = "benchmark code"
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use chrono::Utc;
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;
use zvp_audit::log::{FileLog, FileLogOptions};
use zvp_auth::directory::{Account, AccountStatus, DirectoryStore, MemoryDirectory};
use zvp_auth::testpki::{CardSpec, KeyAlgorithm, TestPki};
use zvp_auth::uzi::Environment;
use zvp_core::{AgbCode, CardType, RoleCode, UziNumber};
use zvp_epd::client::{FhirEpd, FhirEpdConfig};
use zvp_epd::synthetic::{DEMO_GPS, SyntheticEpd};
use zvp_epd::{Epd, RequestContext};
use zvp_mock_epd::{Faults, MockEpd};
use zvp_portal::{ClientCertificate, Portal};

const PAGES: [(&str, &str); 8] = [
    ("start page", "/"),
    ("patient page", "/patient/{id}"),
    ("allergies", "/patient/{id}/dossier/allergieen"),
    ("letters", "/patient/{id}/dossier/brieven"),
    ("medication", "/patient/{id}/dossier/medicatie"),
    (
        "clinical chemistry",
        "/patient/{id}/uitslagen/klinische-chemie",
    ),
    ("radiology", "/patient/{id}/uitslagen/radiologie"),
    ("lab history", "/patient/{id}/lab/2160-0"),
];

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let samples: usize = std::env::var("ZVP_PAGE_SAMPLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(15);
    let now = Utc::now();
    let hospital = Arc::new(SyntheticEpd::generate(2026, now, 400).unwrap());
    let agb = AgbCode::new(DEMO_GPS[0].agb).unwrap();
    let ctx = RequestContext {
        request_id: "bench".to_owned(),
    };
    let patient = hospital.admitted(&[agb], &ctx).await.unwrap()[0]
        .patient
        .id
        .to_string();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/fhir", listener.local_addr().unwrap());
    let mock = Arc::new(MockEpd::new(hospital, base.clone(), Faults::default()));
    tokio::spawn(zvp_mock_epd::serve(
        listener,
        mock.clone(),
        std::future::pending(),
    ));

    let pki = TestPki::generate(Environment::Test, KeyAlgorithm::EcdsaP256, now).unwrap();
    let uzi = UziNumber::new(900_000_101).unwrap();
    let mut spec = CardSpec::care_provider(uzi, RoleCode::GENERAL_PRACTITIONER, now);
    spec.agb = Some(agb);
    let chain = Arc::new(pki.issue_card(&spec).unwrap().authentication.chain());
    let directory = Arc::new(MemoryDirectory::new());
    directory
        .create_account(&Account {
            uzi,
            agb: Some(agb),
            name: "Huisarts".to_owned(),
            role: RoleCode::GENERAL_PRACTITIONER,
            practice_agb: None,
            status: AccountStatus::Active,
            created_at: now,
            last_login: Some(now),
            previous_login: None,
            accepted_terms: Some(1),
            admin: false,
            contact: Default::default(),
        })
        .await
        .unwrap();
    let audit_dir = std::env::temp_dir().join(format!("zvp-page-latency-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&audit_dir);
    let audit = Arc::new(FileLog::open(&audit_dir, FileLogOptions::default()).unwrap());
    let validator = pki
        .validator()
        .unwrap()
        .without_revocation_checking()
        .with_accepted_card_types(&[CardType::CareProvider]);
    let portal = Portal::builder()
        .epd(Arc::new(FhirEpd::new(FhirEpdConfig::new(base)).unwrap()) as Arc<dyn Epd>)
        .directory(directory)
        .audit(audit)
        .validator(Arc::new(validator))
        .clock(Arc::new(move || now))
        .build()
        .unwrap();

    let get = |path: String| {
        let router = portal.router();
        let chain = chain.clone();
        async move {
            let mut request = axum::http::Request::get(path).body(Body::empty()).unwrap();
            request.extensions_mut().insert(ClientCertificate(chain));
            let start = Instant::now();
            let response = router.oneshot(request).await.unwrap();
            let status = response.status().as_u16();
            let _ = response.into_body().collect().await.unwrap();
            (status, start.elapsed())
        }
    };

    println!("| page | EPD 0 ms | EPD 50 ms | EPD 100 ms | at 100 ms / latency |");
    println!("|---|---|---|---|---|");
    let mut rows: Vec<(String, Vec<Duration>)> = Vec::new();
    for latency in [0u64, 50, 100] {
        mock.set_faults(Faults {
            latency: Duration::from_millis(latency),
            ..Faults::default()
        });
        for (n, (name, path)) in PAGES.iter().enumerate() {
            let path = path.replace("{id}", &patient);
            // One request first: the adapter reads the CapabilityStatement once.
            let (status, _) = get(path.clone()).await;
            assert_eq!(status, 200, "{name}");
            let mut times = Vec::with_capacity(samples);
            for _ in 0..samples {
                times.push(get(path.clone()).await.1);
            }
            if rows.len() <= n {
                rows.push(((*name).to_owned(), Vec::new()));
            }
            rows[n].1.push(median(times));
        }
    }
    for (name, medians) in rows {
        let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
        println!(
            "| {name} | {} | {} | {} | {:.2}× |",
            ms(medians[0]),
            ms(medians[1]),
            ms(medians[2]),
            medians[2].as_secs_f64() / 0.100
        );
    }
    let _ = std::fs::remove_dir_all(&audit_dir);
}
