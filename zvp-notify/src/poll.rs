//! The poller: asks the EPD what changed for the watched GPs' patients since the last
//! successful poll (admissions, discharges, letters), records what it finds, and deletes
//! what is older than it keeps, one instance at a time.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use zvp_auth::directory::DirectoryStore;
use zvp_core::AgbCode;
use zvp_epd::{Epd, EpdError, RequestContext};

use crate::event::Event;
use crate::find::{Window, changed_events, watched};
use crate::store::{NotifyStore, StoreError};

/// How the poller polls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollSettings {
    /// This instance's name in the lease (unique per instance: host and process).
    pub holder: String,
    /// How long a lease taken at a poll lasts: longer than a poll takes and than the
    /// interval, so that a live poller keeps it; an instance that died gives it up after this.
    pub lease: Duration,
    /// The window of each poll.
    pub window: Window,
    /// An account unused this long is dormant and told nothing (the portal's `dormant_days`).
    pub dormant: Duration,
}

/// What a poll did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollOutcome {
    /// Another instance holds the lease: this one did not poll.
    NotHolder,
    /// The EPD was asked and what it said recorded.
    Polled {
        /// How many events the EPD's answers held.
        found: usize,
        /// How many of them were new.
        recorded: usize,
        /// How many events older than the store keeps were deleted.
        pruned: u64,
    },
}

/// Why a poll failed. Nothing of it was recorded and the last poll did not move, so the
/// next poll covers its window again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PollError {
    /// The EPD did not answer.
    #[error("the epd did not answer: {0}")]
    Epd(EpdError),
    /// The notification store failed (or the lease was lost meanwhile).
    #[error(transparent)]
    Store(StoreError),
    /// The directory could not be read.
    #[error("the directory could not be read: {0}")]
    Directory(String),
}

/// The poller of one portal instance.
pub struct Poller {
    epd: Arc<dyn Epd>,
    directory: Arc<dyn DirectoryStore>,
    store: Arc<dyn NotifyStore>,
    settings: PollSettings,
}

impl std::fmt::Debug for Poller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Poller")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Poller {
    /// A poller over these stores.
    pub fn new(
        epd: Arc<dyn Epd>,
        directory: Arc<dyn DirectoryStore>,
        store: Arc<dyn NotifyStore>,
        settings: PollSettings,
    ) -> Self {
        Self {
            epd,
            directory,
            store,
            settings,
        }
    }

    /// The store it records in.
    pub fn store(&self) -> &Arc<dyn NotifyStore> {
        &self.store
    }

    /// One poll at `now`: take (or keep) the lease, ask the EPD what changed since the last
    /// successful poll (less the overlap), record it with the time of this poll, and delete
    /// the events older than the store keeps.
    ///
    /// # Errors
    ///
    /// [`PollError`]: nothing was recorded and the time of the last poll did not move, so
    /// the next poll asks for this one's changes again.
    pub async fn poll(&self, now: DateTime<Utc>) -> Result<PollOutcome, PollError> {
        let holder = self.settings.holder.as_str();
        if !self
            .store
            .acquire(holder, now, now + self.settings.lease)
            .await
            .map_err(PollError::Store)?
        {
            return Ok(PollOutcome::NotHolder);
        }
        let window = self.settings.window;
        let last = self.store.last_poll().await.map_err(PollError::Store)?;
        let since = window.since(last, now);
        let gps = self.watched(now).await?;
        let events = self.find(&gps, since, window.kept_from(now)).await?;
        let recorded = self
            .store
            .record(holder, now, &events, now)
            .await
            .map_err(PollError::Store)?;
        let pruned = self
            .store
            .prune(window.kept_from(now))
            .await
            .map_err(PollError::Store)?;
        Ok(PollOutcome::Polled {
            found: events.len(),
            recorded,
            pruned,
        })
    }

    /// Gives up the lease (an instance shutting down), so another takes over at once.
    ///
    /// # Errors
    ///
    /// The store's.
    pub async fn release(&self) -> Result<(), StoreError> {
        self.store.release(&self.settings.holder).await
    }

    async fn watched(&self, now: DateTime<Utc>) -> Result<Vec<AgbCode>, PollError> {
        let directory = |e: zvp_auth::directory::StoreError| PollError::Directory(e.to_string());
        let accounts = self.directory.accounts().await.map_err(directory)?;
        let mut delegations = Vec::new();
        for account in &accounts {
            delegations.extend(
                self.directory
                    .delegations_to(account.uzi)
                    .await
                    .map_err(directory)?,
            );
        }
        Ok(watched(&accounts, &delegations, self.settings.dormant, now))
    }

    /// The events in what changed for the watched GPs' patients after `since`, from
    /// `kept_from` on.
    async fn find(
        &self,
        gps: &[AgbCode],
        since: DateTime<Utc>,
        kept_from: DateTime<Utc>,
    ) -> Result<Vec<Event>, PollError> {
        if gps.is_empty() {
            return Ok(Vec::new());
        }
        let ctx = RequestContext {
            request_id: format!("notify-{}", self.settings.holder),
        };
        let changes = self
            .epd
            .changed_since(gps, since, &ctx)
            .await
            .map_err(PollError::Epd)?;
        Ok(changed_events(&changes, kept_from))
    }
}
