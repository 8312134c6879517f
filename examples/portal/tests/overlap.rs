//! A record page asks the EPD while its audit record is being written (the page waits for the
//! slower of the two, not for both in turn), and still shows nothing unless the record was
//! written (docs/audit.md, "Fail closed").
//!
//! The audit log here lets an append finish only after the EPD has been asked for the page's
//! data: a portal that asked the EPD only after the record was durable would never answer
//! (the test's time limit is the failure, not a synchronisation). A log that refuses at once
//! (stopped after a failed write, and saying so) is found out before the EPD is asked for
//! record data at all.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use common::{TestPortal, Who, scratch};
use tokio::sync::Notify;
use zvp_audit::checkpoint::CheckpointSigner;
use zvp_audit::event::{AuditEvent, EventType};
use zvp_audit::log::{AuditLog, FileLog, FileLogOptions, LogError, Receipt};
use zvp_audit::merkle::Hash;
use zvp_core::{
    AgbCode, Allergy, Bsn, CareMoment, ConclusionAndPlan, Diagnosis, Document, DocumentId,
    LabObservation, Letter, Medication, Patient, PatientId, ResultCategory, ResultReport,
};
use zvp_epd::synthetic::SyntheticEpd;
use zvp_epd::{Epd, EpdError, ListedPatient, RequestContext};

/// What the gated log does with a record read.
#[derive(Clone, Copy)]
enum Gate {
    /// Writes it once the EPD was asked for record data.
    Write,
    /// Fails once the EPD was asked (a write that fails on a full disk).
    Fail,
    /// Refuses it at once, as a log that stopped after an earlier failure does.
    Stopped,
}

/// An audit log whose appends of record reads wait until the EPD was asked for record data,
/// then are written or fail (see [`Gate`]); other events (a login) are written at once.
struct Gated {
    inner: FileLog,
    asked: Arc<Notify>,
    gate: Gate,
}

#[async_trait]
impl AuditLog for Gated {
    async fn append(&self, event: &AuditEvent) -> Result<Receipt, LogError> {
        Ok(self
            .append_all(std::slice::from_ref(event))
            .await?
            .remove(0))
    }
    async fn append_all(&self, events: &[AuditEvent]) -> Result<Vec<Receipt>, LogError> {
        if events
            .iter()
            .all(|e| e.event_type != EventType::PatientRecord)
        {
            return self.inner.append_all(events).await;
        }
        if let Gate::Stopped = self.gate {
            return Err(LogError::Stopped);
        }
        // One permit per page: the EPD's one call for the page's record data.
        self.asked.notified().await;
        if let Gate::Fail = self.gate {
            return Err(LogError::Io("disk full".to_owned()));
        }
        self.inner.append_all(events).await
    }
    async fn size(&self) -> Result<u64, LogError> {
        self.inner.size()
    }
    async fn inclusion_proof(&self, seq: u64, size: u64) -> Result<Vec<Hash>, LogError> {
        self.inner.inclusion_proof(seq, size)
    }
    async fn consistency_proof(&self, first: u64, second: u64) -> Result<Vec<Hash>, LogError> {
        self.inner.consistency_proof(first, second)
    }
    async fn checkpoint(
        &self,
        signer: &CheckpointSigner,
        origin: &str,
    ) -> Result<String, LogError> {
        self.inner.checkpoint(signer, origin)
    }
    async fn events(&self) -> Result<Vec<(u64, AuditEvent)>, LogError> {
        AuditLog::events(&self.inner).await
    }
    fn refusing(&self) -> Option<LogError> {
        // As a stopped file log says of itself.
        matches!(self.gate, Gate::Stopped).then_some(LogError::Stopped)
    }
}

/// The synthetic EPD, telling `asked` (and counting in `calls`) whenever record data (not the
/// patient's identity, which the policy needs first) is asked for.
struct Telling {
    inner: Arc<SyntheticEpd>,
    asked: Arc<Notify>,
    calls: Arc<AtomicUsize>,
    /// When set, the patient is answered only once record data was asked for: a page that
    /// asked for its section only after the patient's answer would never get one.
    hold_patient: Option<Arc<Notify>>,
}

impl Telling {
    fn tell(&self) {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.asked.notify_one();
        if let Some(section_asked) = &self.hold_patient {
            section_asked.notify_one();
        }
    }
}

#[async_trait]
impl Epd for Telling {
    async fn admitted(
        &self,
        gps: &[AgbCode],
        ctx: &RequestContext,
    ) -> Result<Vec<ListedPatient>, EpdError> {
        self.inner.admitted(gps, ctx).await
    }
    async fn discharged_since(
        &self,
        gps: &[AgbCode],
        since: DateTime<Utc>,
        ctx: &RequestContext,
    ) -> Result<Vec<ListedPatient>, EpdError> {
        self.inner.discharged_since(gps, since, ctx).await
    }
    async fn find_by_bsn(
        &self,
        bsn: Bsn,
        birth_date: Option<NaiveDate>,
        ctx: &RequestContext,
    ) -> Result<Option<PatientId>, EpdError> {
        self.inner.find_by_bsn(bsn, birth_date, ctx).await
    }
    async fn patient(&self, id: &PatientId, ctx: &RequestContext) -> Result<Patient, EpdError> {
        if let Some(section_asked) = &self.hold_patient {
            section_asked.notified().await;
        }
        self.inner.patient(id, ctx).await
    }
    async fn care_moments(
        &self,
        id: &PatientId,
        ctx: &RequestContext,
    ) -> Result<Vec<CareMoment>, EpdError> {
        self.tell();
        self.inner.care_moments(id, ctx).await
    }
    async fn allergies(
        &self,
        id: &PatientId,
        ctx: &RequestContext,
    ) -> Result<Vec<Allergy>, EpdError> {
        self.tell();
        self.inner.allergies(id, ctx).await
    }
    async fn conclusions(
        &self,
        id: &PatientId,
        ctx: &RequestContext,
    ) -> Result<Vec<ConclusionAndPlan>, EpdError> {
        self.tell();
        self.inner.conclusions(id, ctx).await
    }
    async fn letters(&self, id: &PatientId, ctx: &RequestContext) -> Result<Vec<Letter>, EpdError> {
        self.tell();
        self.inner.letters(id, ctx).await
    }
    async fn diagnoses(
        &self,
        id: &PatientId,
        ctx: &RequestContext,
    ) -> Result<Vec<Diagnosis>, EpdError> {
        self.tell();
        self.inner.diagnoses(id, ctx).await
    }
    async fn medication(
        &self,
        id: &PatientId,
        ctx: &RequestContext,
    ) -> Result<Vec<Medication>, EpdError> {
        self.tell();
        self.inner.medication(id, ctx).await
    }
    async fn results(
        &self,
        id: &PatientId,
        category: ResultCategory,
        ctx: &RequestContext,
    ) -> Result<Vec<ResultReport>, EpdError> {
        self.tell();
        self.inner.results(id, category, ctx).await
    }
    async fn lab_history(
        &self,
        id: &PatientId,
        code: &str,
        ctx: &RequestContext,
    ) -> Result<Vec<LabObservation>, EpdError> {
        self.tell();
        self.inner.lab_history(id, code, ctx).await
    }
    async fn document(
        &self,
        id: &PatientId,
        document: &DocumentId,
        ctx: &RequestContext,
    ) -> Result<Document, EpdError> {
        self.tell();
        self.inner.document(id, document, ctx).await
    }
    async fn check(&self, ctx: &RequestContext) -> Result<(), EpdError> {
        self.inner.check(ctx).await
    }
}

/// A test portal whose EPD tells the gated audit log when record data was asked for; with the
/// count of the EPD's calls for record data.
async fn portal(name: &str, gate: Gate) -> (TestPortal, Arc<AtomicUsize>) {
    portal_holding(name, gate, false).await
}

async fn portal_holding(
    name: &str,
    gate: Gate,
    hold_patient: bool,
) -> (TestPortal, Arc<AtomicUsize>) {
    let asked = Arc::new(Notify::new());
    let calls = Arc::new(AtomicUsize::new(0));
    let dir = scratch(name);
    let audit = Arc::new(Gated {
        inner: FileLog::open(&dir, FileLogOptions::default()).unwrap(),
        asked: Arc::clone(&asked),
        gate,
    });
    let epd = Arc::new(SyntheticEpd::generate(2026, common::now(), 400).unwrap());
    let telling = Telling {
        inner: epd,
        asked,
        calls: Arc::clone(&calls),
        hold_patient: hold_patient.then(|| Arc::new(Notify::new())),
    };
    (
        TestPortal::with(Some(audit), Some(Arc::new(telling))).await,
        calls,
    )
}

/// The pages that fetch from the EPD while their record is written.
fn overlapping_pages(id: &PatientId) -> Vec<String> {
    let mut pages = vec![
        format!("/patient/{id}"),
        format!("/patient/{id}/uitslagen/klinische-chemie"),
        format!("/patient/{id}/lab/HB"),
    ];
    for section in [
        "allergieen",
        "conclusies",
        "brieven",
        "diagnoses",
        "medicatie",
    ] {
        pages.push(format!("/patient/{id}/dossier/{section}"));
    }
    pages
}

/// Every overlapping page answers with the patient within the test's limit; `otherwise` says
/// what a page that does not has done wrong.
async fn every_page_answers(t: &TestPortal, otherwise: &str) {
    let (id, patient) = t.own_patient().await;
    for path in overlapping_pages(&id) {
        let reply = tokio::time::timeout(
            std::time::Duration::from_secs(30),
            t.get(Some(Who::Own), &path),
        )
        .await
        .unwrap_or_else(|_| panic!("{path}: {otherwise}"));
        assert_eq!(reply.status, 200, "{path}");
        assert!(reply.body.contains(&patient.name.to_string()), "{path}");
    }
}

/// One EPD round trip per page: the section is asked for together with the patient, not
/// after the patient's answer (whose GP the decision needs); it is shown only after the
/// decision and the record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_section_is_asked_with_the_patient_not_after_it() {
    let (t, _) = portal_holding("overlap-one-trip", Gate::Write, true).await;
    every_page_answers(&t, "the section was asked only after the patient").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_epd_is_asked_while_the_record_is_written() {
    let (t, _) = portal("overlap", Gate::Write).await;
    every_page_answers(&t, "the EPD was not asked until the record was written").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_epd_answered_is_not_shown_without_the_record() {
    let (t, _) = portal("overlap-fail", Gate::Fail).await;
    let (id, patient) = t.own_patient().await;
    for path in overlapping_pages(&id) {
        let reply = tokio::time::timeout(
            std::time::Duration::from_secs(30),
            t.get(Some(Who::Own), &path),
        )
        .await
        .unwrap();
        assert_eq!(reply.status, 503, "{path}");
        assert!(!reply.body.contains(&patient.name.to_string()), "{path}");
        assert!(reply.body.contains("tijdelijk niet beschikbaar"), "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_log_is_found_out_before_the_epd_is_asked() {
    let (t, calls) = portal("overlap-stopped", Gate::Stopped).await;
    let (id, patient) = t.own_patient().await;
    for path in overlapping_pages(&id) {
        let reply = t.get(Some(Who::Own), &path).await;
        assert_eq!(reply.status, 503, "{path}");
        assert!(!reply.body.contains(&patient.name.to_string()), "{path}");
        assert!(reply.body.contains("tijdelijk niet beschikbaar"), "{path}");
        assert_eq!(calls.load(Ordering::SeqCst), 0, "{path}: the EPD was asked");
    }
}
