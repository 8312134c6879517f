//! The hospital's electronic patient record (EPD), as the portal reads it.
//!
//! - [`Epd`]: what the portal asks the EPD, at request time (the portal keeps no copy);
//! - `synthetic` (feature `synthetic`, off by default): a deterministic synthetic hospital for
//!   demos and tests, current relative to the `now` it is made for. A hospital's build of the
//!   portal leaves it out;
//! - [`fhir`]: the record's FHIR R4 shapes, both ways;
//! - [`client::FhirEpd`]: the [`Epd`] over HTTP(S) against any FHIR R4 server, bounded in time
//!   and size, with [`tls`] (trust anchors, mutual TLS) and [`auth`] (bearer token, OAuth 2.0
//!   client credentials, SMART Backend Services).
//!
//! `zvp-mock-epd` (in `examples/mock-epd`) serves the synthetic hospital over FHIR.

pub mod auth;
pub mod client;
pub mod fhir;
#[cfg(feature = "synthetic")]
pub mod synthetic;
pub mod tls;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use zvp_core::{
    Admission, AgbCode, Allergy, Bsn, CareMoment, ConclusionAndPlan, Diagnosis, Document,
    DocumentId, LabObservation, Letter, Medication, Patient, PatientId, ResultCategory,
    ResultReport,
};

/// Why the EPD could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EpdError {
    /// The EPD knows no such patient, document or lab test.
    #[error("not found: {0}")]
    NotFound(String),
    /// The EPD is down or refused the request.
    #[error("the epd is unavailable: {0}")]
    Unavailable(String),
    /// The EPD did not answer within the configured time.
    #[error("the epd did not answer in time")]
    Timeout,
    /// The EPD's answer could not be read.
    #[error("the epd's answer is malformed: {0}")]
    Malformed(String),
    /// The EPD's answer is larger than the configured bound.
    #[error("the epd's answer is too large: {0}")]
    TooLarge(String),
    /// The EPD refused the portal's request (authentication, authorisation or a request it
    /// does not support): a configuration problem, not a passing one.
    #[error("the epd refused the request: {0}")]
    Refused(String),
    /// The portal could not authenticate to the EPD: the token endpoint down, credentials or
    /// key refused, a token file missing.
    #[error("the portal cannot authenticate to the epd: {0}")]
    Authentication(auth::AuthError),
    /// The TLS connection to the EPD failed: its certificate is not trusted or not for this
    /// host, or it refused the portal's client certificate.
    #[error("the tls connection to the epd failed: {0}")]
    Tls(String),
    /// This EPD does not give this part of the record (an [`Epd`] that leaves a method to
    /// its default): the portal says so in the section's place, and shows the rest.
    #[error("the epd does not provide {0}")]
    NotProvided(&'static str),
}

/// What a request to the EPD carries besides its question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext {
    /// The portal's request id, sent along so the EPD's logs and the audit log can be matched.
    pub request_id: String,
}

/// A patient on a list: who, and the admission that puts them there.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedPatient {
    /// The patient, as the EPD knows them now.
    pub patient: Patient,
    /// The admission (current, or ended in a discharge).
    pub admission: Admission,
}

/// A letter with its patient, as a search for what changed finds it.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedLetter {
    /// The patient, as the EPD knows them now.
    pub patient: Patient,
    /// The letter.
    pub letter: Letter,
}

/// What the EPD recorded or changed after some time, for the patients of some GPs: what the
/// notifier polls for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changes {
    /// The admissions recorded or changed (admitted, discharged, corrected), current or
    /// ended.
    pub admissions: Vec<ListedPatient>,
    /// The letters recorded or changed.
    pub letters: Vec<ListedLetter>,
}

/// What the portal asks the hospital's record. Every method reads the EPD at request time.
///
/// The record sections of a patient the EPD does not know are empty, as a FHIR search answers;
/// [`Epd::patient`] and [`Epd::document`] say [`EpdError::NotFound`].
///
/// The lists, the search and the patient are required: the policy decides on them. Every
/// section has a default that says [`EpdError::NotProvided`], never an empty answer (which a
/// GP would read as "no allergies"), so an EPD that gives only some sections implements only
/// those; [`Epd::check`] defaults to a reachable EPD.
#[async_trait]
pub trait Epd: Send + Sync {
    /// Patients admitted now whose registered GP is one of `gps`.
    async fn admitted(
        &self,
        gps: &[AgbCode],
        ctx: &RequestContext,
    ) -> Result<Vec<ListedPatient>, EpdError>;

    /// Patients discharged since `since` whose registered GP is one of `gps`.
    async fn discharged_since(
        &self,
        gps: &[AgbCode],
        since: DateTime<Utc>,
        ctx: &RequestContext,
    ) -> Result<Vec<ListedPatient>, EpdError>;

    /// What the EPD recorded or changed after `since`, by its own clock (FHIR
    /// `meta.lastUpdated`), for the patients whose registered GP is one of `gps`: so an
    /// admission registered hours after it began, or a letter filed days after its date, is
    /// found when it is entered.
    ///
    /// The default, for an EPD that cannot say when it recorded something, asks by the
    /// clinical dates instead: the admissions that began since, those discharged since, and
    /// the letters of their patients dated since. What such an EPD enters later than that is
    /// not found.
    async fn changed_since(
        &self,
        gps: &[AgbCode],
        since: DateTime<Utc>,
        ctx: &RequestContext,
    ) -> Result<Changes, EpdError> {
        let mut admissions = self.admitted(gps, ctx).await?;
        admissions.retain(|l| l.admission.admitted_at() >= since);
        admissions.extend(self.discharged_since(gps, since, ctx).await?);
        let mut letters = Vec::new();
        let mut asked: Vec<&PatientId> = Vec::new();
        for listed in &admissions {
            let patient = &listed.patient;
            if asked.contains(&&patient.id) {
                continue;
            }
            asked.push(&patient.id);
            match self.letters(&patient.id, ctx).await {
                Ok(found) => letters.extend(
                    found
                        .into_iter()
                        .filter(|l| l.date >= since.date_naive())
                        .map(|letter| ListedLetter {
                            patient: patient.clone(),
                            letter,
                        }),
                ),
                // An EPD that gives no letters has no letter changes; the rest stands.
                Err(EpdError::NotProvided(_)) => break,
                Err(e) => return Err(e),
            }
        }
        Ok(Changes {
            admissions,
            letters,
        })
    }

    /// The patient with this BSN (and date of birth, when given), if the EPD has one.
    async fn find_by_bsn(
        &self,
        bsn: Bsn,
        birth_date: Option<NaiveDate>,
        ctx: &RequestContext,
    ) -> Result<Option<PatientId>, EpdError>;

    /// A patient's details, registered GP and treatment restrictions.
    async fn patient(&self, id: &PatientId, ctx: &RequestContext) -> Result<Patient, EpdError>;

    /// Appointments, operations, admissions and referrals, past and planned.
    async fn care_moments(
        &self,
        _id: &PatientId,
        _ctx: &RequestContext,
    ) -> Result<Vec<CareMoment>, EpdError> {
        Err(EpdError::NotProvided("care moments"))
    }

    /// The patient's admissions (current and past, each with its summary), oldest first; the
    /// banner of every patient page names the current one, or the latest.
    async fn admissions(
        &self,
        _id: &PatientId,
        _ctx: &RequestContext,
    ) -> Result<Vec<Admission>, EpdError> {
        Err(EpdError::NotProvided("admissions"))
    }

    /// Allergies.
    async fn allergies(
        &self,
        _id: &PatientId,
        _ctx: &RequestContext,
    ) -> Result<Vec<Allergy>, EpdError> {
        Err(EpdError::NotProvided("allergies"))
    }

    /// Conclusions and plans.
    async fn conclusions(
        &self,
        _id: &PatientId,
        _ctx: &RequestContext,
    ) -> Result<Vec<ConclusionAndPlan>, EpdError> {
        Err(EpdError::NotProvided("conclusions and plans"))
    }

    /// Letters (all; the portal applies its cut-off date).
    async fn letters(
        &self,
        _id: &PatientId,
        _ctx: &RequestContext,
    ) -> Result<Vec<Letter>, EpdError> {
        Err(EpdError::NotProvided("letters"))
    }

    /// Diagnoses.
    async fn diagnoses(
        &self,
        _id: &PatientId,
        _ctx: &RequestContext,
    ) -> Result<Vec<Diagnosis>, EpdError> {
        Err(EpdError::NotProvided("diagnoses"))
    }

    /// Medication.
    async fn medication(
        &self,
        _id: &PatientId,
        _ctx: &RequestContext,
    ) -> Result<Vec<Medication>, EpdError> {
        Err(EpdError::NotProvided("medication"))
    }

    /// Result reports of one category, newest first.
    async fn results(
        &self,
        _id: &PatientId,
        _category: ResultCategory,
        _ctx: &RequestContext,
    ) -> Result<Vec<ResultReport>, EpdError> {
        Err(EpdError::NotProvided("results"))
    }

    /// Every measurement of one lab test (by its code), oldest first; empty when the patient
    /// has none.
    async fn lab_history(
        &self,
        _id: &PatientId,
        _code: &str,
        _ctx: &RequestContext,
    ) -> Result<Vec<LabObservation>, EpdError> {
        Err(EpdError::NotProvided("a lab history"))
    }

    /// One document.
    async fn document(
        &self,
        _id: &PatientId,
        _document: &DocumentId,
        _ctx: &RequestContext,
    ) -> Result<Document, EpdError> {
        Err(EpdError::NotProvided("documents"))
    }

    /// Whether the EPD answers now, for the portal's health check: one cheap request that
    /// reads no patient (a FHIR server's CapabilityStatement).
    ///
    /// # Errors
    ///
    /// Why it did not answer, as any call would say it.
    async fn check(&self, _ctx: &RequestContext) -> Result<(), EpdError> {
        Ok(())
    }
}
