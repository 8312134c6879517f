//! What a notification is about: an admission, a discharge or a new letter of one patient,
//! keyed by what the EPD says so that finding it again gives the same key.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use zvp_core::{AgbCode, DocumentId, PatientId};

/// The kind of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventKind {
    /// The patient was admitted.
    Admission,
    /// The patient was discharged.
    Discharge,
    /// A letter about the patient was written (a discharge letter, most often).
    Letter,
}

impl EventKind {
    /// Every kind.
    pub const ALL: [Self; 3] = [Self::Admission, Self::Discharge, Self::Letter];

    /// The stable code, as stored: `admission`, `discharge`, `letter`.
    pub const fn code(self) -> &'static str {
        match self {
            Self::Admission => "admission",
            Self::Discharge => "discharge",
            Self::Letter => "letter",
        }
    }

    /// The Dutch word the portal shows.
    pub const fn dutch(self) -> &'static str {
        match self {
            Self::Admission => "Opname",
            Self::Discharge => "Ontslag",
            Self::Letter => "Nieuwe brief",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A stored kind that is none of [`EventKind::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event kind {0:?}")]
pub struct UnknownKind(pub String);

impl FromStr for EventKind {
    type Err = UnknownKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.code() == s)
            .ok_or_else(|| UnknownKind(s.to_owned()))
    }
}

/// The key of an event: its kind, its patient and what makes it that event in the EPD (the
/// admission's start, the letter's document id). The same EPD fact always gives the same
/// key, so whoever finds it again (a retry, a restart, another instance) records nothing new.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventKey(String);

impl EventKey {
    /// The key of an admission starting at `admitted_at`.
    pub fn admission(patient: &PatientId, admitted_at: DateTime<Utc>) -> Self {
        Self(format!(
            "admission:{}:{}",
            patient.as_str(),
            admitted_at.to_rfc3339_opts(SecondsFormat::Secs, true)
        ))
    }

    /// The key of the discharge ending the admission that started at `admitted_at`.
    pub fn discharge(patient: &PatientId, admitted_at: DateTime<Utc>) -> Self {
        Self(format!(
            "discharge:{}:{}",
            patient.as_str(),
            admitted_at.to_rfc3339_opts(SecondsFormat::Secs, true)
        ))
    }

    /// The key of a letter.
    pub fn letter(patient: &PatientId, document: &DocumentId) -> Self {
        Self(format!("letter:{}:{}", patient.as_str(), document.as_str()))
    }

    /// A key as stored.
    pub fn stored(key: String) -> Self {
        Self(key)
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EventKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An event as the poller finds it.
///
/// It holds what a notification needs and nothing of the record: the kind, the EPD's id of
/// the patient (a pseudonymous reference, no name, BSN or date of birth), the patient's
/// registered GP at the time it was found (who is told), and when it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Its key.
    pub key: EventKey,
    /// What happened.
    pub kind: EventKind,
    /// To whom, as the EPD's id.
    pub patient: PatientId,
    /// The registered GP of the patient when the event was found.
    pub gp: AgbCode,
    /// When it happened, as the EPD says (a letter: the start of its date).
    pub at: DateTime<Utc>,
}

/// An event as stored, with its place in the order of recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// Its sequence number: increasing in the order events were recorded.
    pub seq: u64,
    /// The event.
    pub event: Event,
    /// When the poller recorded it.
    pub recorded_at: DateTime<Utc>,
}

/// A recorded event as one reader sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// The event.
    pub recorded: Recorded,
    /// When this reader marked it read, if they did.
    pub read_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_and_unknown_is_refused() {
        for kind in EventKind::ALL {
            assert_eq!(kind.code().parse::<EventKind>(), Ok(kind));
        }
        assert_eq!(
            "opname".parse::<EventKind>(),
            Err(UnknownKind("opname".to_owned()))
        );
    }

    #[test]
    fn keys_name_kind_patient_and_fact() {
        let patient: PatientId = "p-1".parse().unwrap();
        let at = DateTime::parse_from_rfc3339("2026-11-24T10:30:00+01:00")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            EventKey::admission(&patient, at).as_str(),
            "admission:p-1:2026-11-24T09:30:00Z"
        );
        assert_ne!(
            EventKey::admission(&patient, at),
            EventKey::discharge(&patient, at)
        );
    }
}
