//! The store in memory, for tests and the demo: gone with the process.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use zvp_core::UziNumber;

use super::{Coverage, NotifyStore, StoreError};
use crate::event::{Event, EventKey, Recorded, Seen};
use crate::mail::{DigestState, MailPreferences, NewMail, OutMail, OutboxState, Queued};

/// A [`NotifyStore`] in memory.
#[derive(Debug, Default)]
pub struct MemoryNotifyStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    lease: Option<(String, DateTime<Utc>)>,
    last_poll: Option<DateTime<Utc>>,
    events: BTreeMap<u64, Recorded>,
    keys: HashSet<EventKey>,
    read: HashMap<(UziNumber, u64), DateTime<Utc>>,
    preferences: HashMap<UziNumber, MailPreferences>,
    digests: HashMap<UziNumber, DigestState>,
    outbox: BTreeMap<u64, OutMail>,
    next_mail: u64,
    sent: u64,
}

impl MemoryNotifyStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Nothing panics while the lock is held, so a poisoned one holds a whole value.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Inner {
    fn holds(&self, holder: &str, now: DateTime<Utc>) -> bool {
        self.lease
            .as_ref()
            .is_some_and(|(h, until)| h == holder && now < *until)
    }

    fn covered<'a>(&'a self, coverage: &'a [Coverage]) -> impl Iterator<Item = &'a Recorded> {
        self.events
            .values()
            .filter(|r| coverage.iter().any(|c| c.covers(&r.event)))
    }
}

#[async_trait]
impl NotifyStore for MemoryNotifyStore {
    async fn acquire(
        &self,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut inner = self.inner();
        let free = inner
            .lease
            .as_ref()
            .is_none_or(|(h, held_until)| h == holder || *held_until <= now);
        if free {
            inner.lease = Some((holder.to_owned(), until));
        }
        Ok(free)
    }

    async fn release(&self, holder: &str) -> Result<(), StoreError> {
        let mut inner = self.inner();
        if inner.lease.as_ref().is_some_and(|(h, _)| h == holder) {
            inner.lease = None;
        }
        Ok(())
    }

    async fn last_poll(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(self.inner().last_poll)
    }

    async fn record(
        &self,
        holder: &str,
        now: DateTime<Utc>,
        events: &[Event],
        polled_at: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let mut inner = self.inner();
        if !inner.holds(holder, now) {
            return Err(StoreError::LeaseLost);
        }
        let mut new = 0;
        for event in events {
            if inner.keys.insert(event.key.clone()) {
                let seq = inner.events.keys().next_back().map_or(1, |last| last + 1);
                inner.events.insert(
                    seq,
                    Recorded {
                        seq,
                        event: event.clone(),
                        recorded_at: now,
                    },
                );
                new += 1;
            }
        }
        inner.last_poll = Some(inner.last_poll.map_or(polled_at, |p| p.max(polled_at)));
        Ok(new)
    }

    async fn prune(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut inner = self.inner();
        let old: Vec<(u64, EventKey)> = inner
            .events
            .values()
            .filter(|r| r.event.at < before)
            .map(|r| (r.seq, r.event.key.clone()))
            .collect();
        for (seq, key) in &old {
            inner.events.remove(seq);
            inner.keys.remove(key);
        }
        inner
            .read
            .retain(|(_, seq), _| !old.iter().any(|(s, _)| s == seq));
        Ok(u64::try_from(old.len()).unwrap_or(u64::MAX))
    }

    async fn events(
        &self,
        coverage: &[Coverage],
        reader: UziNumber,
        limit: usize,
    ) -> Result<Vec<Seen>, StoreError> {
        let inner = self.inner();
        let mut seen: Vec<Seen> = inner
            .covered(coverage)
            .map(|r| Seen {
                recorded: r.clone(),
                read_at: inner.read.get(&(reader, r.seq)).copied(),
            })
            .collect();
        seen.sort_by(|a, b| {
            (b.recorded.event.at, b.recorded.seq).cmp(&(a.recorded.event.at, a.recorded.seq))
        });
        seen.truncate(limit);
        Ok(seen)
    }

    async fn unread(&self, coverage: &[Coverage], reader: UziNumber) -> Result<u64, StoreError> {
        let inner = self.inner();
        let n = inner
            .covered(coverage)
            .filter(|r| !inner.read.contains_key(&(reader, r.seq)))
            .count();
        Ok(u64::try_from(n).unwrap_or(u64::MAX))
    }

    async fn event(&self, seq: u64) -> Result<Option<Recorded>, StoreError> {
        Ok(self.inner().events.get(&seq).cloned())
    }

    async fn mark_read(
        &self,
        reader: UziNumber,
        seq: u64,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut inner = self.inner();
        if !inner.events.contains_key(&seq) {
            return Err(StoreError::NoSuchEvent(seq));
        }
        inner.read.entry((reader, seq)).or_insert(at);
        Ok(())
    }

    async fn after(&self, seq: u64, limit: usize) -> Result<Vec<Recorded>, StoreError> {
        Ok(self
            .inner()
            .events
            .range(seq.saturating_add(1)..)
            .take(limit)
            .map(|(_, r)| r.clone())
            .collect())
    }

    async fn preferences(&self, account: UziNumber) -> Result<Option<MailPreferences>, StoreError> {
        Ok(self.inner().preferences.get(&account).cloned())
    }

    async fn set_preferences(
        &self,
        account: UziNumber,
        preferences: Option<&MailPreferences>,
    ) -> Result<(), StoreError> {
        let mut inner = self.inner();
        let latest = inner.events.keys().next_back().copied().unwrap_or(0);
        inner.digests.entry(account).or_insert(DigestState {
            upto: latest,
            last: None,
        });
        match preferences {
            Some(p) => inner.preferences.insert(account, p.clone()),
            None => inner.preferences.remove(&account),
        };
        Ok(())
    }

    async fn digest_state(&self, account: UziNumber) -> Result<DigestState, StoreError> {
        Ok(self
            .inner()
            .digests
            .get(&account)
            .copied()
            .unwrap_or_default())
    }

    async fn digest(
        &self,
        account: UziNumber,
        upto: u64,
        at: DateTime<Utc>,
        mail: Option<&NewMail>,
        max_pending: usize,
    ) -> Result<Queued, StoreError> {
        let mut inner = self.inner();
        if mail.is_some() && inner.outbox.len() >= max_pending {
            return Ok(Queued::Full);
        }
        let state = inner.digests.entry(account).or_default();
        state.upto = state.upto.max(upto);
        let Some(mail) = mail else {
            return Ok(Queued::Nothing);
        };
        state.last = Some(at);
        inner.next_mail += 1;
        let id = inner.next_mail;
        inner.outbox.insert(
            id,
            OutMail {
                id,
                mail: mail.clone(),
                created_at: at,
                attempts: 0,
                due_at: at,
                last_error: None,
            },
        );
        Ok(Queued::Mail(id))
    }

    async fn due_mails(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutMail>, StoreError> {
        Ok(self
            .inner()
            .outbox
            .values()
            .filter(|m| m.due_at <= now)
            .take(limit)
            .cloned()
            .collect())
    }

    async fn mail_done(&self, id: u64, _at: DateTime<Utc>, sent: bool) -> Result<(), StoreError> {
        let mut inner = self.inner();
        if inner.outbox.remove(&id).is_some() && sent {
            inner.sent += 1;
        }
        Ok(())
    }

    async fn mail_failed(
        &self,
        id: u64,
        attempts: u32,
        due_at: DateTime<Utc>,
        error: &str,
    ) -> Result<(), StoreError> {
        if let Some(m) = self.inner().outbox.get_mut(&id) {
            m.attempts = attempts;
            m.due_at = due_at;
            m.last_error = Some(error.to_owned());
        }
        Ok(())
    }

    async fn outbox(&self) -> Result<OutboxState, StoreError> {
        let inner = self.inner();
        Ok(OutboxState {
            pending: u64::try_from(inner.outbox.len()).unwrap_or(u64::MAX),
            failing: u64::try_from(inner.outbox.values().filter(|m| m.attempts > 0).count())
                .unwrap_or(u64::MAX),
            oldest: inner.outbox.values().map(|m| m.created_at).min(),
            last_error: inner
                .outbox
                .values()
                .filter_map(|m| m.last_error.clone())
                .next_back(),
            sent: inner.sent,
        })
    }
}
