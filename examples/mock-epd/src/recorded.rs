//! When the mock says a record was entered: its `meta.lastUpdated`, the `_lastUpdated`
//! search, the record as it stood at [`MockEpd::as_of`], and records a test has entered late
//! ([`MockEpd::enter_late`]).

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use zvp_core::{Admission, DocumentId, Letter, PatientId};
use zvp_epd::EpdError;
use zvp_epd::synthetic::{admission_recorded, letter_recorded};

use crate::MockEpd;
use crate::query::Query;

/// A record the EPD enters late: after the time it is about, as a busy ward does.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Late {
    /// The admission (Encounter) of this patient: registered after it began, and any
    /// discharge of it before it was registered with it.
    Admission(PatientId),
    /// This letter: filed after its date.
    Letter(DocumentId),
}

impl MockEpd {
    /// When `record` was entered, if a test entered it late.
    fn entered(&self, record: &Late) -> Option<DateTime<Utc>> {
        self.late
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(record)
            .copied()
    }

    /// Enters `record` at `at` instead of when it happened: until then (as of
    /// [`MockEpd::set_as_of`]) it is not there, and from then on its `meta.lastUpdated` is
    /// `at` (or its own change, when later).
    pub fn enter_late(&self, record: Late, at: DateTime<Utc>) {
        self.late
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(record, at);
    }

    /// An admission as it stood at [`MockEpd::as_of`], with when it was last updated: none
    /// when it starts later or was entered later, still open when its discharge is later.
    pub(crate) fn admission_as_of(
        &self,
        admission: &Admission,
    ) -> Option<(Admission, DateTime<Utc>)> {
        let entered = self.entered(&Late::Admission(admission.patient.clone()));
        let mut admission = admission.clone();
        if let Some(at) = self.as_of() {
            if admission.admitted_at() > at || entered.is_some_and(|e| e > at) {
                return None;
            }
            if admission.discharged_at().is_some_and(|d| d > at) {
                admission.period = zvp_core::Period::open(admission.admitted_at());
            }
        }
        let updated =
            admission_recorded(&admission).max(entered.unwrap_or(DateTime::<Utc>::MIN_UTC));
        Some((admission, updated))
    }

    /// When a letter was last updated, if it is written (and entered) at
    /// [`MockEpd::as_of`].
    pub(crate) fn letter_as_of(&self, letter: &Letter) -> Option<DateTime<Utc>> {
        let entered = self.entered(&Late::Letter(letter.id.clone()));
        if let Some(at) = self.as_of()
            && (letter.date > at.date_naive() || entered.is_some_and(|e| e > at))
        {
            return None;
        }
        Some(letter_recorded(letter).max(entered.unwrap_or(DateTime::<Utc>::MIN_UTC)))
    }
}

/// The `_lastUpdated` of a search: `gt<instant>` (what changed after it), or none.
pub(crate) fn changed_after(q: &Query) -> Result<Option<DateTime<Utc>>, EpdError> {
    let Some(value) = q.get("_lastUpdated") else {
        return Ok(None);
    };
    let refused = || EpdError::Refused("_lastUpdated takes gt<dateTime> or gt<date>".to_owned());
    let at = value.strip_prefix("gt").ok_or_else(refused)?;
    DateTime::parse_from_rfc3339(at)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            Some(
                at.parse::<NaiveDate>()
                    .ok()?
                    .and_hms_opt(0, 0, 0)?
                    .and_utc(),
            )
        })
        .map(Some)
        .ok_or_else(refused)
}

/// `resource` with its `meta.lastUpdated`.
pub(crate) fn updated(mut resource: Value, at: DateTime<Utc>) -> Value {
    zvp_epd::fhir::set_last_updated(&mut resource, at);
    resource
}
