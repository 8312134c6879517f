//! The details of the events that are not reads of a record: what a search or a look-up in
//! the log asked for and what it found, the card of a login (also one that was refused), and
//! what an administrative change changed. Each is an optional field of
//! [`AuditEvent`](super::AuditEvent), absent from the records that have none, so that
//! records written before these fields existed read and verify as they were.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use zvp_core::{AgbCode, Bsn, UziNumber};

/// What a search for a patient or a look-up in the audit log asked for, and what came of it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Query {
    /// The BSN searched for (a patient search, a patient's audit report).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bsn: Option<Bsn>,
    /// The date of birth searched with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<NaiveDate>,
    /// The UZI number looked up (a practitioner's audit report).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uzi: Option<UziNumber>,
    /// The first day of the period asked for (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<NaiveDate>,
    /// The last day of the period asked for (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<NaiveDate>,
    /// What the search came to; none for a look-up in the log, which is recorded before it
    /// is read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<QueryOutcome>,
}

/// What a search for a patient came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum QueryOutcome {
    /// The patient was found and may be seen: the patient page opens.
    Found,
    /// The hospital knows no patient with these criteria.
    NotFound,
    /// The patient was found and the policy refused (the code is the event's `reason`).
    Refused,
    /// The patient was found and only the emergency procedure leads to the record: the
    /// emergency form was shown, no patient data.
    EmergencyOffered,
    /// The criteria were not valid (a BSN failing the eleven test, no date): nothing was
    /// searched.
    Invalid,
    /// The EPD could not answer (the code is the event's `reason`).
    Failed,
}

/// The card of a login, a logout or a refused card, as far as it can be read. For a card the
/// validation refused nothing is verified: these are the certificate's own claims, kept to
/// find the card again (the serial number and issuer identify it at the UZI register).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Card {
    /// The certificate's serial number, in hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    /// The issuing CA's common name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// The UZI number in the certificate's Subject ID, when the event has no verified user
    /// (a refused card).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uzi: Option<UziNumber>,
    /// Whether the certificate was validated (a login, a logout) or refused.
    pub verified: bool,
}

/// What an administrative change changed: the account, delegation or emergency grant, the
/// field, and its value before and after.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    /// What was changed.
    pub target: Target,
    /// Which field of it (`status`, `practice_agb`, `delegation`, `revoked_at`, `review`).
    pub field: String,
    /// The value before (none for something new or a field that was empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old: Option<String>,
    /// The value after (none for a field emptied).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new: Option<String>,
}

/// The account, delegation or emergency grant an administrative change is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Target {
    /// A practitioner's or administrator's account.
    Account {
        /// Its UZI number.
        uzi: UziNumber,
    },
    /// A delegation: a new one has no id yet (it is recorded before it is made).
    Delegation {
        /// Its id, once it has one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<u64>,
        /// The delegating GP's (or practice's) AGB code, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        grantor: Option<AgbCode>,
        /// The practitioner it is to, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        grantee: Option<UziNumber>,
    },
    /// An emergency grant (a reviewer's verdict).
    EmergencyGrant {
        /// Its id.
        grant: u64,
    },
}

impl Target {
    /// The practitioner the change concerns, if it names one.
    pub fn uzi(&self) -> Option<UziNumber> {
        match self {
            Self::Account { uzi } => Some(*uzi),
            Self::Delegation { grantee, .. } => *grantee,
            Self::EmergencyGrant { .. } => None,
        }
    }
}
