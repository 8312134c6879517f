//! The synthetic EPD with the CPU time of its answers counted: so that the bench can say what
//! the hospital's stand-in costs a page, apart from what the portal costs. In a deployment the
//! EPD's work is done on the hospital's servers; here it runs on the portal's threads.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Poll;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use zvp_core::{
    Admission, AgbCode, Allergy, Bsn, CareMoment, ConclusionAndPlan, Diagnosis, Document,
    DocumentId, LabObservation, Letter, Medication, Patient, PatientId, ResultCategory,
    ResultReport,
};
use zvp_epd::synthetic::SyntheticEpd;
use zvp_epd::{Changes, Epd, EpdError, ListedPatient, RequestContext};

/// The CPU time of the calling thread, in nanoseconds (`CLOCK_THREAD_CPUTIME_ID`).
fn thread_cpu_nanos() -> u64 {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

/// The synthetic EPD, counting the thread CPU time spent in each poll of its answers.
pub(crate) struct TimedEpd {
    inner: Arc<SyntheticEpd>,
    nanos: AtomicU64,
}

impl TimedEpd {
    pub(crate) fn new(inner: Arc<SyntheticEpd>) -> Self {
        Self {
            inner,
            nanos: AtomicU64::new(0),
        }
    }

    /// The CPU time spent in the EPD's answers so far, in nanoseconds.
    pub(crate) fn nanos(&self) -> u64 {
        self.nanos.load(Ordering::Relaxed)
    }

    /// Polls `answer` to its end, counting the CPU time of every poll (a poll runs on one
    /// thread, so the thread's clock covers it exactly, whatever else runs between polls).
    async fn timed<T>(&self, answer: impl Future<Output = T>) -> T {
        let mut answer = pin!(answer);
        std::future::poll_fn(|cx| {
            let begin = thread_cpu_nanos();
            let polled = answer.as_mut().poll(cx);
            self.nanos
                .fetch_add(thread_cpu_nanos() - begin, Ordering::Relaxed);
            match polled {
                Poll::Ready(value) => Poll::Ready(value),
                Poll::Pending => Poll::Pending,
            }
        })
        .await
    }
}

#[async_trait]
impl Epd for TimedEpd {
    async fn admitted(
        &self,
        gps: &[AgbCode],
        ctx: &RequestContext,
    ) -> Result<Vec<ListedPatient>, EpdError> {
        self.timed(self.inner.admitted(gps, ctx)).await
    }
    async fn discharged_since(
        &self,
        gps: &[AgbCode],
        since: DateTime<Utc>,
        ctx: &RequestContext,
    ) -> Result<Vec<ListedPatient>, EpdError> {
        self.timed(self.inner.discharged_since(gps, since, ctx))
            .await
    }
    async fn changed_since(
        &self,
        gps: &[AgbCode],
        since: DateTime<Utc>,
        ctx: &RequestContext,
    ) -> Result<Changes, EpdError> {
        self.timed(self.inner.changed_since(gps, since, ctx)).await
    }
    async fn find_by_bsn(
        &self,
        bsn: Bsn,
        birth: Option<NaiveDate>,
        ctx: &RequestContext,
    ) -> Result<Option<PatientId>, EpdError> {
        self.timed(self.inner.find_by_bsn(bsn, birth, ctx)).await
    }
    async fn patient(&self, id: &PatientId, ctx: &RequestContext) -> Result<Patient, EpdError> {
        self.timed(self.inner.patient(id, ctx)).await
    }
    async fn care_moments(
        &self,
        id: &PatientId,
        ctx: &RequestContext,
    ) -> Result<Vec<CareMoment>, EpdError> {
        self.timed(self.inner.care_moments(id, ctx)).await
    }
    async fn admissions(
        &self,
        id: &PatientId,
        ctx: &RequestContext,
    ) -> Result<Vec<Admission>, EpdError> {
        self.timed(self.inner.admissions(id, ctx)).await
    }
    async fn allergies(
        &self,
        id: &PatientId,
        ctx: &RequestContext,
    ) -> Result<Vec<Allergy>, EpdError> {
        self.timed(self.inner.allergies(id, ctx)).await
    }
    async fn conclusions(
        &self,
        id: &PatientId,
        ctx: &RequestContext,
    ) -> Result<Vec<ConclusionAndPlan>, EpdError> {
        self.timed(self.inner.conclusions(id, ctx)).await
    }
    async fn letters(&self, id: &PatientId, ctx: &RequestContext) -> Result<Vec<Letter>, EpdError> {
        self.timed(self.inner.letters(id, ctx)).await
    }
    async fn diagnoses(
        &self,
        id: &PatientId,
        ctx: &RequestContext,
    ) -> Result<Vec<Diagnosis>, EpdError> {
        self.timed(self.inner.diagnoses(id, ctx)).await
    }
    async fn medication(
        &self,
        id: &PatientId,
        ctx: &RequestContext,
    ) -> Result<Vec<Medication>, EpdError> {
        self.timed(self.inner.medication(id, ctx)).await
    }
    async fn results(
        &self,
        id: &PatientId,
        category: ResultCategory,
        ctx: &RequestContext,
    ) -> Result<Vec<ResultReport>, EpdError> {
        self.timed(self.inner.results(id, category, ctx)).await
    }
    async fn lab_history(
        &self,
        id: &PatientId,
        code: &str,
        ctx: &RequestContext,
    ) -> Result<Vec<LabObservation>, EpdError> {
        self.timed(self.inner.lab_history(id, code, ctx)).await
    }
    async fn document(
        &self,
        id: &PatientId,
        document: &DocumentId,
        ctx: &RequestContext,
    ) -> Result<Document, EpdError> {
        self.timed(self.inner.document(id, document, ctx)).await
    }
    async fn check(&self, ctx: &RequestContext) -> Result<(), EpdError> {
        self.timed(self.inner.check(ctx)).await
    }
}
