//! Accounts, delegations and emergency grants: the data the policy decides on.
//!
//! The types here are plain data with their rules in their types; their storage implements
//! [`DirectoryStore`]: [`MemoryDirectory`] for tests and demos, `SqliteDirectory` (feature
//! `sqlite`) embedded and durable.

mod memory;
#[cfg(feature = "postgres")]
mod pg;
#[cfg(feature = "sqlite")]
mod sqlite;
mod store;

pub use memory::MemoryDirectory;
#[cfg(feature = "postgres")]
pub use pg::PgDirectory;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteDirectory;
pub use store::{
    DelegationError, DirectoryStore, NewDelegation, StoreError, world_for, world_with,
    world_with_delegations,
};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use zvp_core::{AgbCode, PatientId, RoleCode, UziNumber};

/// The state of a portal account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    /// Requested, waiting for an administrator (the users' "accountaanvraag").
    Requested,
    /// Approved and usable.
    Active,
    /// Blocked by an administrator (a stolen card, misuse, a dormant account).
    Blocked,
    /// The request was rejected.
    Rejected,
}

/// A practitioner's (or administrator's) account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The UZI number: the account's key, matched against the card.
    pub uzi: UziNumber,
    /// The personal AGB code; administrators without one have `None`.
    pub agb: Option<AgbCode>,
    /// The practitioner's name, for display.
    pub name: String,
    /// The profession and specialism verified when the account was approved.
    pub role: RoleCode,
    /// The AGB code of the practitioner's practice, if any.
    pub practice_agb: Option<AgbCode>,
    /// Where the account stands.
    pub status: AccountStatus,
    /// When it was requested.
    pub created_at: DateTime<Utc>,
    /// The last successful login.
    pub last_login: Option<DateTime<Utc>>,
    /// The login before the last one: while the session the last login started lasts, what
    /// happened after it is news to the practitioner ("nieuw" on the start page).
    #[serde(default)]
    pub previous_login: Option<DateTime<Utc>>,
    /// The version of the terms of use last accepted.
    pub accepted_terms: Option<u32>,
    /// Whether the account administers the portal (accounts, delegations, audit). Never opens
    /// patient data.
    pub admin: bool,
    /// How the hospital reaches the practitioner (from the account request).
    #[serde(default)]
    pub contact: Contact,
}

impl Account {
    /// The account after a login at `at`: the last login becomes the previous one. Every
    /// store records a login this way ([`DirectoryStore::record_login`]).
    pub fn logged_in(&mut self, at: DateTime<Utc>) {
        self.previous_login = self.last_login.replace(at);
    }
}

/// How the hospital reaches a practitioner: what the account request asks besides the card.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    /// The practice's name.
    pub practice_name: Option<String>,
    /// An e-mail address.
    pub email: Option<String>,
    /// A phone number.
    pub phone: Option<String>,
}

/// The id of a delegation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct DelegationId(pub u64);

/// A GP's authorisation (machtiging) for a colleague to see their patients without the
/// emergency procedure, for a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delegation {
    /// Its id.
    pub id: DelegationId,
    /// The delegating GP's AGB code (or their practice's), as registered GP of the patients.
    pub grantor: AgbCode,
    /// The practitioner who may see those patients.
    pub grantee: UziNumber,
    /// From when it holds (inclusive).
    pub from: DateTime<Utc>,
    /// Until when it holds (exclusive); `None` for open-ended.
    pub until: Option<DateTime<Utc>>,
    /// Who created it (an administrator or the GP).
    pub created_by: Option<UziNumber>,
    /// When it was revoked; from that moment on it no longer holds.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Delegation {
    /// Whether the delegation holds at `now`: `from <= now < until` and not revoked at or
    /// before `now`.
    pub fn in_force(&self, now: DateTime<Utc>) -> bool {
        self.from <= now
            && self.until.is_none_or(|until| now < until)
            && self.revoked_at.is_none_or(|revoked| now < revoked)
    }
}

/// The id of an emergency grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct GrantId(pub u64);

/// Why a practitioner used the emergency procedure (the coded part of the reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReasonCategory {
    /// Acute care for the patient now.
    AcuteCare,
    /// Out-of-hours care (huisartsenpost, ANW).
    OutOfHours,
    /// Continuity of care: a patient in the practitioner's care whose registration in the EPD
    /// is not (yet) theirs.
    ContinuityOfCare,
    /// Another reason, explained in the text.
    Other,
}

impl ReasonCategory {
    /// Every category.
    pub const ALL: [Self; 4] = [
        Self::AcuteCare,
        Self::OutOfHours,
        Self::ContinuityOfCare,
        Self::Other,
    ];

    /// The stable code (`acute-care`).
    pub const fn code(self) -> &'static str {
        match self {
            Self::AcuteCare => "acute-care",
            Self::OutOfHours => "out-of-hours",
            Self::ContinuityOfCare => "continuity-of-care",
            Self::Other => "other",
        }
    }
}

/// A reviewer's verdict on an emergency grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReviewVerdict {
    /// The access was justified.
    Justified,
    /// The access was not justified.
    NotJustified,
    /// Needs follow-up.
    NeedsFollowUp,
}

/// Access to one patient's record through the emergency procedure (break-the-glass).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmergencyGrant {
    /// Its id.
    pub id: GrantId,
    /// Who may use it.
    pub practitioner: UziNumber,
    /// For which patient.
    pub patient: PatientId,
    /// The coded reason.
    pub reason_category: ReasonCategory,
    /// The practitioner's own words.
    pub reason: String,
    /// When it was granted.
    pub granted_at: DateTime<Utc>,
    /// When it expires (exclusive).
    pub expires_at: DateTime<Utc>,
    /// The review verdict, once reviewed.
    pub verdict: Option<ReviewVerdict>,
}

impl EmergencyGrant {
    /// Whether the grant holds at `now`: `granted_at <= now < expires_at`.
    pub fn in_force(&self, now: DateTime<Utc>) -> bool {
        self.granted_at <= now && now < self.expires_at
    }
}
