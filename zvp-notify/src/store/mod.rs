//! Where events, the poller's lease and progress, and what each reader has read are kept:
//! [`NotifyStore`], in memory ([`MemoryNotifyStore`]) or in PostgreSQL (`PgNotifyStore`,
//! feature `postgres`).

mod memory;
#[cfg(feature = "postgres")]
mod pg;
#[cfg(feature = "postgres")]
mod pg_mail;

pub use memory::MemoryNotifyStore;
#[cfg(feature = "postgres")]
pub use pg::PgNotifyStore;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use zvp_core::{AgbCode, UziNumber};

use crate::event::{Event, Recorded, Seen};
use crate::mail::{DigestState, MailPreferences, NewMail, OutMail, OutboxState, Queued};

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The caller no longer holds the poller's lease (it expired and another instance took
    /// it): what it found is not recorded, the other instance finds it again.
    #[error("the poller's lease is held by another instance")]
    LeaseLost,
    /// No event with this sequence number.
    #[error("no event {0}")]
    NoSuchEvent(u64),
    /// A stored value does not parse (the store was changed outside zvp, or is damaged).
    #[error("stored event {key}: {detail}")]
    Corrupt {
        /// The row's key.
        key: String,
        /// What does not parse.
        detail: String,
    },
    /// The store could not be reached, read or written.
    #[error("notification store: {0}")]
    Backend(String),
}

/// Whose events a reader sees: the patients of one GP, for events in a period (a delegation's
/// period; unbounded for one's own and the practice's patients).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Coverage {
    /// The registered GP of the patients.
    pub gp: AgbCode,
    /// Events from (inclusive); `None` for no bound.
    pub from: Option<DateTime<Utc>>,
    /// Events until (exclusive); `None` for no bound.
    pub until: Option<DateTime<Utc>>,
}

impl Coverage {
    /// Whether `event` is covered.
    pub fn covers(&self, event: &Event) -> bool {
        event.gp == self.gp
            && self.from.is_none_or(|from| event.at >= from)
            && self.until.is_none_or(|until| event.at < until)
    }
}

/// Where notifications are kept.
///
/// Only one poller records at a time: it holds the lease ([`NotifyStore::acquire`]) and
/// [`NotifyStore::record`] refuses a holder whose lease has run out, in the same step as it
/// records, so that an instance paused past its lease cannot write beside its successor.
#[async_trait]
pub trait NotifyStore: Send + Sync {
    /// Takes the poller's lease for `holder` until `until`, or renews it, when it is free, has
    /// run out at `now`, or is `holder`'s already. Whether `holder` holds it now.
    async fn acquire(
        &self,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Gives the lease up, if `holder` holds it (an instance shutting down).
    async fn release(&self, holder: &str) -> Result<(), StoreError>;

    /// When the last successful poll was made, if one was.
    async fn last_poll(&self) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// Records the events not recorded yet (by key) and that a poll was made at `polled_at`,
    /// together, if `holder` holds the lease at `now`; how many were new.
    ///
    /// # Errors
    ///
    /// [`StoreError::LeaseLost`] when `holder` does not hold the lease at `now`: nothing is
    /// recorded.
    async fn record(
        &self,
        holder: &str,
        now: DateTime<Utc>,
        events: &[Event],
        polled_at: DateTime<Utc>,
    ) -> Result<usize, StoreError>;

    /// Deletes the events that happened before `before`, with who read them; how many.
    /// Digests and mails keep no event, so they stand.
    async fn prune(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;

    /// The events `coverage` covers, newest first (by time, then by recording), at most
    /// `limit`, each with whether `reader` has read it.
    async fn events(
        &self,
        coverage: &[Coverage],
        reader: UziNumber,
        limit: usize,
    ) -> Result<Vec<Seen>, StoreError>;

    /// How many of the events `coverage` covers `reader` has not read.
    async fn unread(&self, coverage: &[Coverage], reader: UziNumber) -> Result<u64, StoreError>;

    /// One event.
    async fn event(&self, seq: u64) -> Result<Option<Recorded>, StoreError>;

    /// Marks event `seq` read by `reader` at `at` (again: keeps the first time).
    ///
    /// # Errors
    ///
    /// [`StoreError::NoSuchEvent`] when there is no such event.
    async fn mark_read(
        &self,
        reader: UziNumber,
        seq: u64,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// The events recorded after `seq`, in order, at most `limit` (for the mailer).
    async fn after(&self, seq: u64, limit: usize) -> Result<Vec<Recorded>, StoreError>;

    /// What `account` asked to be mailed about, if anything.
    async fn preferences(&self, account: UziNumber) -> Result<Option<MailPreferences>, StoreError>;

    /// Sets (or with `None` clears) what `account` is mailed about. An account's first
    /// preferences start its digests at the events recorded by then: it is mailed about what
    /// comes after.
    async fn set_preferences(
        &self,
        account: UziNumber,
        preferences: Option<&MailPreferences>,
    ) -> Result<(), StoreError>;

    /// Where `account`'s digests stand.
    async fn digest_state(&self, account: UziNumber) -> Result<DigestState, StoreError>;

    /// Moves `account`'s digest on to event `upto` at `at`, and queues `mail` if given, in one
    /// step: a digest is queued once, and its events are not digested again. With `mail` and
    /// `max_pending` mails waiting, nothing moves ([`Queued::Full`]).
    async fn digest(
        &self,
        account: UziNumber,
        upto: u64,
        at: DateTime<Utc>,
        mail: Option<&NewMail>,
        max_pending: usize,
    ) -> Result<Queued, StoreError>;

    /// The mails waiting whose time has come at `now`, oldest first, at most `limit`.
    async fn due_mails(&self, now: DateTime<Utc>, limit: usize)
    -> Result<Vec<OutMail>, StoreError>;

    /// Takes mail `id` off the queue: sent at `at` (`sent`), or dropped (its recipient is no
    /// longer told anything).
    async fn mail_done(&self, id: u64, at: DateTime<Utc>, sent: bool) -> Result<(), StoreError>;

    /// Notes that sending mail `id` failed for the `attempts`th time, with `error`; it is due
    /// again at `due_at`.
    async fn mail_failed(
        &self,
        id: u64,
        attempts: u32,
        due_at: DateTime<Utc>,
        error: &str,
    ) -> Result<(), StoreError>;

    /// The queue, for the administrator.
    async fn outbox(&self) -> Result<OutboxState, StoreError>;
}
