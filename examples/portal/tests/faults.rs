//! Faults as they happen in a hospital: the EPD goes down, slows down beyond the timeout,
//! answers garbage, and comes back; the audit log cannot be written, and comes back; the
//! portal is killed in the middle of requests. Each time: a clear page within the timeout, no
//! patient data without its audit record, no piling up, and normal service afterwards. (Two
//! hundred sessions at once: `session_memory.rs`.)

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{TestPortal, Who};
use zvp_audit::event::AuditEvent;
use zvp_audit::log::{AuditLog, LogError, Receipt};
use zvp_mock_epd::Faults;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_epd_down_slow_or_garbled_gives_a_clear_page_and_service_returns() {
    let (t, mock) = common::over_fhir(Duration::from_millis(400)).await;
    let (id, patient) = t.own_patient().await;
    let name = patient.name.to_string();
    let page = format!("/patient/{id}");
    let ok = t.get(Some(Who::Own), &page).await;
    assert_eq!(ok.status, 200);
    assert!(ok.body.contains(&name));

    for (what, faults) in [
        (
            "down",
            Faults {
                error_percent: 100,
                ..Faults::default()
            },
        ),
        (
            "garbage",
            Faults {
                garbage_percent: 100,
                ..Faults::default()
            },
        ),
        (
            "slow",
            Faults {
                latency: Duration::from_secs(5),
                ..Faults::default()
            },
        ),
    ] {
        mock.set_faults(faults);
        // Fifty GPs at once: every one gets the page within the EPD timeout (the whole batch
        // is bounded well below the mock's latency times fifty), none piles up.
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..50 {
            let router = t.portal.router();
            let page = page.clone();
            tasks.spawn(async move {
                let mut request = axum::http::Request::get(page)
                    .body(axum::body::Body::empty())
                    .unwrap();
                request
                    .extensions_mut()
                    .insert(zvp_portal::ClientCertificate(Arc::new(
                        Who::Own.card().chain(),
                    )));
                tower::ServiceExt::oneshot(router, request).await.unwrap()
            });
        }
        let all = tokio::time::timeout(Duration::from_secs(20), async {
            let mut statuses = Vec::new();
            while let Some(r) = tasks.join_next().await {
                let response = r.unwrap();
                let status = response.status().as_u16();
                let body = http_body_util::BodyExt::collect(response.into_body())
                    .await
                    .unwrap()
                    .to_bytes();
                let body = String::from_utf8(body.to_vec()).unwrap();
                assert!(!body.contains(&name), "{what}: no patient data");
                assert!(
                    body.contains("tijdelijk niet beschikbaar"),
                    "{what}: {body}"
                );
                statuses.push(status);
            }
            statuses
        })
        .await
        .unwrap_or_else(|_| panic!("{what}: requests piled up beyond 20 s"));
        assert_eq!(all, vec![503; 50], "{what}");
        // The health check says the instance lives, and that its EPD does not answer.
        let (status, health) = t.admin("/healthz").await;
        assert_eq!(status, 200, "{what}: {health}");
        assert!(
            health.starts_with("degraded\naudit log: ok")
                && health.contains("\nepd: unreachable ("),
            "{what}: {health}"
        );
    }

    mock.set_faults(Faults::default());
    let back = t.get(Some(Who::Own), &page).await;
    assert_eq!(back.status, 200, "service after recovery");
    assert!(back.body.contains(&name));
    let (status, health) = t.admin("/healthz").await;
    assert_eq!(
        (status, health.lines().next()),
        (200, Some("ok")),
        "{health}"
    );
    assert!(health.ends_with("\nepd: ok\n"), "{health}");
}

/// An audit log whose writes fail while `broken` (as on a full or read-only disk).
struct Switchable {
    inner: Arc<dyn AuditLog>,
    broken: AtomicBool,
}

#[async_trait::async_trait]
impl AuditLog for Switchable {
    async fn append(&self, event: &AuditEvent) -> Result<Receipt, LogError> {
        if self.broken.load(Ordering::SeqCst) {
            return Err(LogError::Io(
                "no space left on device (os error 28)".to_owned(),
            ));
        }
        self.inner.append(event).await
    }
    async fn size(&self) -> Result<u64, LogError> {
        self.inner.size().await
    }
    async fn inclusion_proof(
        &self,
        seq: u64,
        size: u64,
    ) -> Result<Vec<zvp_audit::merkle::Hash>, LogError> {
        self.inner.inclusion_proof(seq, size).await
    }
    async fn consistency_proof(
        &self,
        a: u64,
        b: u64,
    ) -> Result<Vec<zvp_audit::merkle::Hash>, LogError> {
        self.inner.consistency_proof(a, b).await
    }
    async fn checkpoint(
        &self,
        s: &zvp_audit::checkpoint::CheckpointSigner,
        o: &str,
    ) -> Result<String, LogError> {
        self.inner.checkpoint(s, o).await
    }
    async fn events(&self) -> Result<Vec<(u64, AuditEvent)>, LogError> {
        self.inner.events().await
    }
    fn refusing(&self) -> Option<LogError> {
        self.broken
            .load(Ordering::SeqCst)
            .then(|| LogError::Io("no space left on device (os error 28)".to_owned()))
    }
}

/// One part of the record the EPD will not give (here: a server that refuses the search)
/// fails that part alone: the page keeps the patient header and the other parts, names the
/// part that failed with the reference and code, and the other sections still open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_section_the_epd_does_not_give_fails_alone_and_is_named() {
    let (t, mock) = common::over_fhir(Duration::from_secs(10)).await;
    let (id, patient) = t.own_patient().await;
    let name = patient.name.to_string();
    mock.refuse_searches(vec![
        "MedicationStatement:patient".to_owned(),
        "Appointment:patient".to_owned(),
        "DiagnosticReport:category".to_owned(),
    ]);

    let medication = t
        .get(Some(Who::Own), &format!("/patient/{id}/dossier/medicatie"))
        .await;
    assert_eq!(medication.status, 503);
    for part in [
        name.as_str(),
        "Onderdelen van het dossier",
        "Medicatie kon niet uit het ziekenhuisdossier worden gelezen.",
        "code epd-answer",
    ] {
        assert!(
            medication.body.contains(part),
            "{part}: {}",
            medication.body
        );
    }
    assert!(!medication.body.contains("<table><thead><tr><th>Middel"));

    let results = t
        .get(
            Some(Who::Own),
            &format!("/patient/{id}/uitslagen/radiologie"),
        )
        .await;
    assert_eq!(results.status, 503);
    assert!(
        results
            .body
            .contains("Radiologie kon niet uit het ziekenhuisdossier worden gelezen."),
        "{}",
        results.body
    );

    // The patient page: the details stand, the care moments are named as failed.
    let page = t.get(Some(Who::Own), &format!("/patient/{id}")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("<h2>Gegevens</h2>"));
    assert!(
        page.body
            .contains(&patient.birth_date.format("%d-%m-%Y").to_string())
    );
    assert!(
        page.body
            .contains("Zorgmomenten kon niet uit het ziekenhuisdossier worden gelezen."),
        "{}",
        page.body
    );

    // The other sections are there.
    let allergies = t
        .get(Some(Who::Own), &format!("/patient/{id}/dossier/allergieen"))
        .await;
    assert_eq!(allergies.status, 200);
    assert!(
        !allergies
            .body
            .contains("kon niet uit het ziekenhuisdossier")
    );
    // And the failed ones come back with the server.
    mock.refuse_searches(Vec::new());
    let medication = t
        .get(Some(Who::Own), &format!("/patient/{id}/dossier/medicatie"))
        .await;
    assert_eq!(medication.status, 200);
}

/// An EPD that gives the lists, the search and the patient only (every section left to the
/// trait's default).
struct PatientsOnly(Arc<zvp_epd::synthetic::SyntheticEpd>);

#[async_trait::async_trait]
impl zvp_epd::Epd for PatientsOnly {
    async fn admitted(
        &self,
        gps: &[zvp_core::AgbCode],
        ctx: &zvp_epd::RequestContext,
    ) -> Result<Vec<zvp_epd::ListedPatient>, zvp_epd::EpdError> {
        self.0.admitted(gps, ctx).await
    }

    async fn discharged_since(
        &self,
        gps: &[zvp_core::AgbCode],
        since: chrono::DateTime<chrono::Utc>,
        ctx: &zvp_epd::RequestContext,
    ) -> Result<Vec<zvp_epd::ListedPatient>, zvp_epd::EpdError> {
        self.0.discharged_since(gps, since, ctx).await
    }

    async fn find_by_bsn(
        &self,
        bsn: zvp_core::Bsn,
        birth_date: Option<chrono::NaiveDate>,
        ctx: &zvp_epd::RequestContext,
    ) -> Result<Option<zvp_core::PatientId>, zvp_epd::EpdError> {
        self.0.find_by_bsn(bsn, birth_date, ctx).await
    }

    async fn patient(
        &self,
        id: &zvp_core::PatientId,
        ctx: &zvp_epd::RequestContext,
    ) -> Result<zvp_core::Patient, zvp_epd::EpdError> {
        self.0.patient(id, ctx).await
    }
}

/// A section the EPD does not give at all is said so in its place (501), not shown as empty:
/// "no allergies" would be a wrong answer, not a missing one.
#[tokio::test]
async fn a_section_the_epd_does_not_give_at_all_is_said_so_not_shown_empty() {
    let plain = TestPortal::new().await;
    let epd = Arc::new(PatientsOnly(plain.epd.clone()));
    let t = TestPortal::with(None, Some(epd)).await;
    let (id, patient) = t.own_patient().await;
    let allergies = t
        .get(Some(Who::Own), &format!("/patient/{id}/dossier/allergieen"))
        .await;
    assert_eq!(allergies.status, 501);
    assert!(allergies.body.contains(&patient.name.to_string()));
    assert!(
        allergies.body.contains(
            "Allergieën: dit onderdeel levert het ziekenhuisdossier niet aan het portaal."
        ),
        "{}",
        allergies.body
    );
    assert!(allergies.body.contains("code epd-not-provided"));
    assert!(!allergies.body.contains("Geen allergieën bekend"));
    let page = t.get(Some(Who::Own), &format!("/patient/{id}")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(
        "Zorgmomenten: dit onderdeel levert het ziekenhuisdossier niet aan het portaal."
    ));
    assert!(!page.body.contains("Geen zorgmomenten"));
}

#[tokio::test]
async fn an_unwritable_audit_log_shows_nothing_and_service_returns() {
    let dir = common::scratch("switchable");
    let file = Arc::new(
        zvp_audit::log::FileLog::open(&dir, zvp_audit::log::FileLogOptions::default()).unwrap(),
    );
    let switch = Arc::new(Switchable {
        inner: file.clone(),
        broken: AtomicBool::new(false),
    });
    let t = TestPortal::with_audit(Some(switch.clone())).await;
    let (id, patient) = t.own_patient().await;
    let page = format!("/patient/{id}/dossier/medicatie");
    assert_eq!(t.get(Some(Who::Own), &page).await.status, 200);
    let before = file.size().unwrap();

    assert_eq!(t.admin("/healthz").await.0, 200);
    assert!(
        t.admin("/metrics")
            .await
            .1
            .contains("zvp_audit_refusing 0\n")
    );

    switch.broken.store(true, Ordering::SeqCst);
    // The load balancer's health check and the operators' metrics say so at once.
    let (status, health) = t.admin("/healthz").await;
    assert_eq!(status, 503, "{health}");
    assert!(
        health.starts_with("failing\naudit log: refuses appends") && health.ends_with("epd: ok\n"),
        "{health}"
    );
    assert!(
        t.admin("/metrics")
            .await
            .1
            .contains("zvp_audit_refusing 1\n")
    );
    for path in [page.clone(), "/".to_owned(), format!("/patient/{id}")] {
        let reply = t.get(Some(Who::Own), &path).await;
        assert_eq!(reply.status, 503, "{path}");
        assert!(!reply.body.contains(&patient.name.to_string()), "{path}");
        assert!(
            reply.body.contains("Er zijn geen gegevens getoond"),
            "{path}"
        );
    }
    assert_eq!(
        file.size().unwrap(),
        before,
        "nothing was logged, nothing was shown"
    );

    switch.broken.store(false, Ordering::SeqCst);
    assert_eq!(t.admin("/healthz").await.0, 200);
    let back = t.get(Some(Who::Own), &page).await;
    assert_eq!(back.status, 200);
    assert!(file.size().unwrap() > before);
    assert!(
        zvp_audit::log::verify(
            &dir,
            &zvp_audit::checkpoint::CheckpointSigner::generate("x")
                .unwrap()
                .0
                .verifier()
                .clone()
        )
        .is_ok()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_portal_killed_mid_request_leaves_a_verifiable_log_and_restarts_cleanly() {
    let dir = common::scratch("killed");
    let demo = common::Demo::start(&dir);
    let port = demo.port;
    // One request answered (so its audit records are durable), then twenty more in
    // flight, and SIGKILL while they are.
    let (status, _) = common::tls_get(&dir, port, "huisarts", "/").await;
    assert_eq!(status, 200);
    let audit = dir.join("audit");
    // The demo signs checkpoints with the key it made (its configuration names it).
    let verifier = zvp_audit::checkpoint::CheckpointSigner::from_pkcs8(
        "zvp-demo.localhost",
        &std::fs::read(dir.join("audit.key")).unwrap(),
    )
    .unwrap()
    .verifier()
    .clone();
    let seen = zvp_audit::log::read_events(&audit).unwrap().len();
    assert!(seen > 0, "the answered request left its records");
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let dir = dir.clone();
        tasks.spawn(async move {
            for _ in 0..5 {
                let _ = tokio::time::timeout(
                    Duration::from_secs(10),
                    common::tls_get(&dir, port, "huisarts", "/"),
                )
                .await;
            }
        });
    }
    // Kill once the first of them has been answered: the others are mid-request.
    let _ = tasks.join_next().await;
    let mut child = demo.child;
    child.kill().unwrap();
    child.wait().unwrap();
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}

    // The log verifies (a torn tail, if any, is cut on open and reported by verify).
    let report = zvp_audit::log::verify(&audit, &verifier);
    let records = match report {
        Ok(r) => r.records,
        Err(e) => {
            // Only a torn tail is acceptable after a kill; opening the log repairs it.
            assert!(e.to_string().contains("torn"), "{e}");
            let log =
                zvp_audit::log::FileLog::open(&audit, zvp_audit::log::FileLogOptions::default())
                    .unwrap();
            drop(log);
            zvp_audit::log::verify(&audit, &verifier).unwrap().records
        }
    };
    assert!(records as usize >= seen);

    // A restart in the same directory serves again, and its log goes on from there.
    let again = common::Demo::start(&dir);
    let (status, body) = common::tls_get(&dir, again.port, "huisarts", "/").await;
    assert_eq!(status, 200, "{body}");
    let mut child = again.child;
    let _ = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    child.wait().unwrap();
    let report = zvp_audit::log::verify(&audit, &verifier).unwrap();
    assert!(report.records > records);
    // Killed, the first run signed nothing; stopped, the second signed one checkpoint.
    assert_eq!(report.checkpoints, 1);
}
