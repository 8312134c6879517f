//! The mailer: per account, a digest of the events it opted in to once per period; the
//! queue, bounded; sending with back-off; an audit record of every mail sent.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use lettre::Message;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Mailbox, SinglePart};
use zvp_audit::event::{
    AccessPoint, ActionCode, AuditEvent, Change, Checks, EventType, Outcome, PurposeOfUse, Source,
    Subtype, Target,
};
use zvp_audit::log::AuditLog;
use zvp_auth::directory::{Account, DirectoryStore};

use super::transport::{MailTransport, SendError};
use super::{Counts, NewMail, OutMail, Queued, SUBJECT, body, counts_text};
use crate::find::{coverage, is_live};
use crate::store::{NotifyStore, StoreError};

/// How the mailer mails.
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// The sender (`Zorgverlenersportaal <noreply@ziekenhuis.nl>`).
    pub sender: Mailbox,
    /// The portal's address, where the mail says to log in.
    pub portal_url: String,
    /// At most one digest per account per this period.
    pub digest: Duration,
    /// The most mails waiting; beyond, digests wait (their events are not lost).
    pub max_pending: usize,
    /// The first retry's delay; each next one doubles, up to `retry_max`.
    pub retry_base: Duration,
    /// The longest delay between retries.
    pub retry_max: Duration,
    /// An account unused this long is dormant and mailed nothing.
    pub dormant: Duration,
    /// The portal instance and hospital, for the audit records.
    pub source: Source,
}

/// What a round did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MailRound {
    /// Digests queued.
    pub queued: usize,
    /// Digests that waited for a full queue.
    pub waiting: usize,
    /// Mails sent.
    pub sent: usize,
    /// Mails whose sending failed (tried again later).
    pub failed: usize,
    /// Mails dropped: their recipient is no longer told anything.
    pub dropped: usize,
}

/// Why a round stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MailError {
    /// The notification store failed.
    #[error(transparent)]
    Store(StoreError),
    /// The directory could not be read.
    #[error("the directory could not be read: {0}")]
    Directory(String),
    /// A mail was sent but its audit record could not be written: it stays queued and is
    /// sent again, so that no mail goes unrecorded.
    #[error("the audit log could not record a mail: {0}")]
    Audit(String),
}

/// The mailer of the instance that polls.
pub struct Mailer {
    store: Arc<dyn NotifyStore>,
    directory: Arc<dyn DirectoryStore>,
    audit: Arc<dyn AuditLog>,
    transport: Arc<dyn MailTransport>,
    settings: MailSettings,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// The delay before the `attempts`th retry: `base` doubled per earlier attempt, at most `max`.
pub fn backoff(attempts: u32, base: Duration, max: Duration) -> Duration {
    let factor = 1i32
        .checked_shl(attempts.saturating_sub(1).min(20))
        .unwrap_or(i32::MAX);
    (base * factor).min(max)
}

/// The counts per kind of the events in `events` that `account` is mailed about.
fn counts(kinds: impl Fn(crate::EventKind) -> bool, events: &[&crate::Recorded]) -> Counts {
    let mut counts: BTreeMap<crate::EventKind, u32> = BTreeMap::new();
    for r in events.iter().filter(|r| kinds(r.event.kind)) {
        *counts.entry(r.event.kind).or_default() += 1;
    }
    counts.into_iter().collect()
}

impl Mailer {
    /// A mailer over these stores, sending through `transport`.
    pub fn new(
        store: Arc<dyn NotifyStore>,
        directory: Arc<dyn DirectoryStore>,
        audit: Arc<dyn AuditLog>,
        transport: Arc<dyn MailTransport>,
        settings: MailSettings,
    ) -> Self {
        Self {
            store,
            directory,
            audit,
            transport,
            settings,
        }
    }

    /// One round at `now`: queue the digests that are due, then send the mails that are due.
    ///
    /// # Errors
    ///
    /// [`MailError`]; what was done before it stands.
    pub async fn round(&self, now: DateTime<Utc>) -> Result<MailRound, MailError> {
        let mut round = MailRound::default();
        self.queue_digests(now, &mut round).await?;
        self.send_due(now, &mut round).await?;
        Ok(round)
    }

    async fn queue_digests(
        &self,
        now: DateTime<Utc>,
        round: &mut MailRound,
    ) -> Result<(), MailError> {
        let directory = |e: zvp_auth::directory::StoreError| MailError::Directory(e.to_string());
        for account in self.directory.accounts().await.map_err(directory)? {
            if !is_live(&account, self.settings.dormant, now) {
                continue;
            }
            let Some(preferences) = self
                .store
                .preferences(account.uzi)
                .await
                .map_err(MailError::Store)?
            else {
                continue;
            };
            let state = self
                .store
                .digest_state(account.uzi)
                .await
                .map_err(MailError::Store)?;
            if state
                .last
                .is_some_and(|last| now < last + self.settings.digest)
            {
                continue;
            }
            let events = self
                .store
                .after(state.upto, 100_000)
                .await
                .map_err(MailError::Store)?;
            let Some(upto) = events.last().map(|r| r.seq) else {
                continue;
            };
            let delegations = self
                .directory
                .delegations_to(account.uzi)
                .await
                .map_err(directory)?;
            let coverage = coverage(&account, &delegations, now);
            let covered: Vec<&crate::Recorded> = events
                .iter()
                .filter(|r| coverage.iter().any(|c| c.covers(&r.event)))
                .collect();
            let counts = counts(|k| preferences.kinds.contains(&k), &covered);
            let mail = (!counts.is_empty()).then(|| NewMail {
                account: account.uzi,
                address: preferences.address.clone(),
                counts,
            });
            match self
                .store
                .digest(
                    account.uzi,
                    upto,
                    now,
                    mail.as_ref(),
                    self.settings.max_pending,
                )
                .await
                .map_err(MailError::Store)?
            {
                Queued::Mail(_) => round.queued += 1,
                Queued::Full => round.waiting += 1,
                Queued::Nothing => {}
            }
        }
        Ok(())
    }

    async fn send_due(&self, now: DateTime<Utc>, round: &mut MailRound) -> Result<(), MailError> {
        for out in self
            .store
            .due_mails(now, 100)
            .await
            .map_err(MailError::Store)?
        {
            let account = self
                .directory
                .account(out.mail.account)
                .await
                .map_err(|e| MailError::Directory(e.to_string()))?;
            // Blocked or dormant since the digest was queued: told nothing.
            let Some(account) = account.filter(|a| is_live(a, self.settings.dormant, now)) else {
                self.store
                    .mail_done(out.id, now, false)
                    .await
                    .map_err(MailError::Store)?;
                round.dropped += 1;
                continue;
            };
            let result = match self.message(&out) {
                Ok(message) => self.transport.send(message).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(()) => {
                    self.audit
                        .append(&self.record(&account, &out, now))
                        .await
                        .map_err(|e| MailError::Audit(e.to_string()))?;
                    self.store
                        .mail_done(out.id, now, true)
                        .await
                        .map_err(MailError::Store)?;
                    round.sent += 1;
                }
                Err(e) => {
                    let attempts = out.attempts.saturating_add(1);
                    let delay =
                        backoff(attempts, self.settings.retry_base, self.settings.retry_max);
                    self.store
                        .mail_failed(out.id, attempts, now + delay, &e.to_string())
                        .await
                        .map_err(MailError::Store)?;
                    tracing::warn!(event = "notify-mail-failed", mail = out.id, attempts, error = %e);
                    round.failed += 1;
                }
            }
        }
        Ok(())
    }

    fn message(&self, out: &OutMail) -> Result<Message, SendError> {
        Message::builder()
            .from(self.settings.sender.clone())
            .to(Mailbox::new(None, out.mail.address.address().clone()))
            .subject(SUBJECT)
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .header(ContentTransferEncoding::QuotedPrintable)
                    .body(body(&out.mail.counts, &self.settings.portal_url)),
            )
            .map_err(|e| SendError::Write(e.to_string()))
    }

    /// The audit record of a mail sent: the recipient's account, the kinds and counts, no
    /// patient.
    fn record(&self, account: &Account, out: &OutMail, now: DateTime<Utc>) -> AuditEvent {
        AuditEvent {
            event_type: EventType::Notification,
            action: ActionCode::C,
            recorded: now,
            outcome: Outcome::Success,
            subtype: Subtype::Regular,
            checks: Checks::default(),
            basis: None,
            purpose: PurposeOfUse::Treat,
            user: None,
            on_behalf_of: None,
            access_point: AccessPoint {
                ip: None,
                certificate_sha256: None,
                dezi: None,
            },
            patient: None,
            part: None,
            source: self.settings.source.clone(),
            request_id: format!("notify-mail-{}", out.id),
            reason: None,
            query: None,
            card: None,
            change: Some(Change {
                target: Target::Account { uzi: account.uzi },
                field: "notification-mail".to_owned(),
                old: None,
                new: Some(counts_text(&out.mail.counts)),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let base = Duration::seconds(30);
        let max = Duration::minutes(30);
        let delays: Vec<i64> = (1..=8)
            .map(|n| backoff(n, base, max).num_seconds())
            .collect();
        assert_eq!(delays, [30, 60, 120, 240, 480, 960, 1800, 1800]);
    }
}
