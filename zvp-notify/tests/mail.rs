//! E-mail against a real SMTP server (`aiosmtpd`, started by the tests): the digest, opt-in
//! per kind and opt-out, no patient data in any mail, the audit record of each mail, the SMTP
//! server down for a while, a restart between queueing and sending, blocked accounts.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

mod common;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use common::smtp::{SmtpServer, free_port, scratch};
use common::{Hospital, ctx, gp_account, now};
use zvp_audit::event::{EventType, Target};
use zvp_audit::log::{AuditLog, FileLog, FileLogOptions};
use zvp_auth::directory::{AccountStatus, DirectoryStore};
use zvp_epd::Epd as _;
use zvp_notify::find::Window;
use zvp_notify::mail::mailer::{MailRound, MailSettings, Mailer};
use zvp_notify::mail::transport::{Smtp, SmtpSecurity, SmtpSettings};
use zvp_notify::mail::{MailPreferences, SUBJECT};
use zvp_notify::store::PgNotifyStore;
use zvp_notify::{EventKind, MemoryNotifyStore, NotifyStore, Poller};

struct Rig {
    hospital: Hospital,
    store: Arc<dyn NotifyStore>,
    poller: Poller,
    audit: Arc<FileLog>,
}

impl Rig {
    async fn new(store: Arc<dyn NotifyStore>) -> Self {
        let hospital = Hospital::start().await;
        let poller = hospital.poller(Arc::clone(&store), "a", Window::default());
        let audit = Arc::new(FileLog::open(&scratch("audit"), FileLogOptions::default()).unwrap());
        Self {
            hospital,
            store,
            poller,
            audit,
        }
    }

    fn mailer(&self, port: u16) -> Mailer {
        let transport = Smtp::new(&SmtpSettings {
            host: "127.0.0.1".to_owned(),
            port,
            security: SmtpSecurity::Plain,
            credentials: None,
            ca_pem: None,
            timeout: std::time::Duration::from_secs(10),
        })
        .unwrap();
        Mailer::new(
            Arc::clone(&self.store),
            Arc::clone(&self.hospital.directory) as Arc<dyn DirectoryStore>,
            Arc::clone(&self.audit) as Arc<dyn AuditLog>,
            Arc::new(transport),
            MailSettings {
                sender: "Zorgverlenersportaal <noreply@ziekenhuis.example>"
                    .parse()
                    .unwrap(),
                portal_url: "https://zvp.ziekenhuis.example".to_owned(),
                digest: Duration::hours(1),
                max_pending: 10,
                retry_base: Duration::seconds(30),
                retry_max: Duration::minutes(30),
                dormant: Duration::days(180),
                source: zvp_audit::event::Source {
                    instance: "test".to_owned(),
                    hospital: "Testziekenhuis".to_owned(),
                },
            },
        )
    }

    /// Polls the hospital as it stood at `at`.
    async fn poll(&self, at: DateTime<Utc>) {
        self.hospital.mock.set_as_of(Some(at));
        self.poller.poll(at).await.unwrap();
    }

    /// The GP opted in to every kind, with two days of the hospital's news found since.
    async fn news_for_an_opted_in_gp(&self) {
        self.poll(now() - Duration::days(2)).await;
        self.opt_in(&EventKind::ALL).await;
        self.poll(now()).await;
    }

    async fn opt_in(&self, kinds: &[EventKind]) {
        self.store
            .set_preferences(
                gp_account().uzi,
                Some(&MailPreferences {
                    address: "j.devries@praktijk.example".parse().unwrap(),
                    kinds: kinds.iter().copied().collect(),
                }),
            )
            .await
            .unwrap();
    }

    /// The demo GP's events recorded after `seq`, per kind.
    async fn counts_after(&self, seq: u64, kinds: &[EventKind]) -> Vec<(EventKind, u32)> {
        let mut counts = std::collections::BTreeMap::new();
        for r in self.store.after(seq, 100_000).await.unwrap() {
            if r.event.gp == common::gp() && kinds.contains(&r.event.kind) {
                *counts.entry(r.event.kind).or_insert(0u32) += 1;
            }
        }
        counts.into_iter().collect()
    }

    async fn last_seq(&self) -> u64 {
        self.store
            .after(0, 100_000)
            .await
            .unwrap()
            .last()
            .map_or(0, |r| r.seq)
    }

    /// Every name, BSN, date of birth and id of the synthetic hospital's patients.
    async fn patient_data(&self) -> Vec<String> {
        let mut data = Vec::new();
        for id in self.hospital.synthetic.patient_ids() {
            let p = self.hospital.synthetic.patient(id, &ctx()).await.unwrap();
            data.push(p.name.to_string());
            data.push(p.name.family_name().to_owned());
            if let Some(bsn) = p.bsn {
                data.push(bsn.to_string());
            }
            data.push(p.birth_date.to_string());
            data.push(p.birth_date.format("%d-%m-%Y").to_string());
            data.push(id.to_string());
        }
        data
    }

    async fn mail_records(&self) -> Vec<zvp_audit::event::AuditEvent> {
        self.audit
            .events()
            .await
            .unwrap()
            .into_iter()
            .map(|(_, e)| e)
            .filter(|e| e.event_type == EventType::Notification)
            .collect()
    }
}

/// The message's text: headers as they are, the body decoded from quoted-printable.
fn text(message: &str) -> String {
    let (headers, body) = message
        .split_once("\n\n")
        .or_else(|| message.split_once("\r\n\r\n"))
        .unwrap();
    let body =
        quoted_printable::decode(body.as_bytes(), quoted_printable::ParseMode::Robust).unwrap();
    format!("{headers}\n\n{}", String::from_utf8(body).unwrap())
}

fn the_line(text: &str, kind: &str) -> Option<u32> {
    text.lines()
        .find(|l| l.starts_with("- ") && l.ends_with(kind))
        .and_then(|l| l.trim_start_matches("- ").split(' ').next()?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_digest_per_period_with_counts_and_no_patient_data() {
    let rig = Rig::new(Arc::new(MemoryNotifyStore::new())).await;
    let port = free_port();
    let server = SmtpServer::start(port, &scratch("maildir"));
    let mailer = rig.mailer(port);
    let t0 = now() - Duration::days(2);
    rig.poll(t0).await;
    let all = [
        EventKind::Admission,
        EventKind::Discharge,
        EventKind::Letter,
    ];
    rig.opt_in(&all).await;
    let start = rig.last_seq().await;
    // Opted in after the first poll: nothing to tell yet.
    assert_eq!(mailer.round(t0).await.unwrap(), MailRound::default());
    rig.poll(now()).await;
    let expected = rig.counts_after(start, &all).await;
    let events: u32 = expected.iter().map(|(_, n)| n).sum();
    assert!(events > 1, "{expected:?}");
    let round = mailer.round(now()).await.unwrap();
    assert_eq!(
        (round.queued, round.sent),
        (1, 1),
        "{:?}",
        rig.store.outbox().await.unwrap()
    );
    // One mail for all of them.
    let messages = server.messages();
    assert_eq!(messages.len(), 1);
    let mail = text(&messages[0]);
    assert!(mail.contains(&format!("Subject: {SUBJECT}")), "{mail}");
    assert!(mail.contains("To: j.devries@praktijk.example"), "{mail}");
    assert!(
        mail.contains("Er is nieuwe informatie over een van uw patiënten"),
        "{mail}"
    );
    assert!(mail.contains("https://zvp.ziekenhuis.example"), "{mail}");
    for (kind, n) in &expected {
        let word = match (kind, n) {
            (EventKind::Admission, 1) => "opname",
            (EventKind::Admission, _) => "opnames",
            (EventKind::Discharge, 1) => "ontslag",
            (EventKind::Discharge, _) => "ontslagen",
            (EventKind::Letter, 1) => "nieuwe brief",
            (EventKind::Letter, _) => "nieuwe brieven",
        };
        assert_eq!(the_line(&mail, word), Some(*n), "{mail}");
    }
    // No name, BSN, date of birth or id of any patient of the hospital.
    for datum in rig.patient_data().await {
        assert!(!mail.contains(&datum), "the mail holds {datum:?}:\n{mail}");
        assert!(
            !messages[0].contains(&datum),
            "the raw mail holds {datum:?}"
        );
    }
    // Its audit record: the recipient account, the counts, no patient.
    let records = rig.mail_records().await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].patient, None);
    let change = records[0].change.as_ref().unwrap();
    assert_eq!(
        change.target,
        Target::Account {
            uzi: gp_account().uzi
        }
    );
    assert_eq!(
        change.new.as_deref(),
        Some(zvp_notify::mail::counts_text(&expected).as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn within_the_digest_period_news_waits_for_the_next_digest() {
    let rig = Rig::new(Arc::new(MemoryNotifyStore::new())).await;
    let port = free_port();
    let server = SmtpServer::start(port, &scratch("maildir"));
    let mailer = rig.mailer(port);
    let all = [
        EventKind::Admission,
        EventKind::Discharge,
        EventKind::Letter,
    ];
    rig.poll(now() - Duration::days(4)).await;
    rig.opt_in(&all).await;
    let t1 = now() - Duration::days(2);
    rig.poll(t1).await;
    assert_eq!(mailer.round(t1).await.unwrap().sent, 1);
    // News half an hour later (the hospital two days on): within the hour's period, it waits.
    let seen = rig.last_seq().await;
    rig.poll(now()).await;
    let news = rig.counts_after(seen, &all).await;
    assert!(!news.is_empty());
    assert_eq!(
        mailer.round(t1 + Duration::minutes(30)).await.unwrap(),
        MailRound::default()
    );
    assert_eq!(server.messages().len(), 1);
    // The period over: one digest of the news.
    let round = mailer.round(t1 + Duration::minutes(61)).await.unwrap();
    assert_eq!((round.queued, round.sent), (1, 1));
    let messages = server.messages();
    assert_eq!(messages.len(), 2);
    let change = rig.mail_records().await[1].change.clone().unwrap();
    assert_eq!(
        change.new.as_deref(),
        Some(zvp_notify::mail::counts_text(&news).as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opt_in_per_kind_and_opt_out() {
    let rig = Rig::new(Arc::new(MemoryNotifyStore::new())).await;
    let port = free_port();
    let server = SmtpServer::start(port, &scratch("maildir"));
    let mailer = rig.mailer(port);
    let t0 = now() - Duration::days(3);
    rig.poll(t0).await;
    // Only letters.
    rig.opt_in(&[EventKind::Letter]).await;
    let start = rig.last_seq().await;
    rig.poll(now() - Duration::days(1)).await;
    let letters = rig.counts_after(start, &[EventKind::Letter]).await;
    let others = rig
        .counts_after(start, &[EventKind::Admission, EventKind::Discharge])
        .await;
    assert!(!others.is_empty());
    let round = mailer.round(now() - Duration::days(1)).await.unwrap();
    assert!(!letters.is_empty());
    assert_eq!(round.sent, 1);
    let mails = server.messages();
    assert_eq!(mails.len(), 1);
    let mail = text(&mails[0]);
    assert!(
        !mail.contains("opname") && !mail.contains("ontslag"),
        "{mail}"
    );
    assert_eq!(
        rig.mail_records().await[0]
            .change
            .as_ref()
            .unwrap()
            .new
            .as_deref(),
        Some(zvp_notify::mail::counts_text(&letters).as_str())
    );
    let before = server.messages().len();
    // Opted out: the news of the next day is mailed to nobody.
    rig.store
        .set_preferences(gp_account().uzi, None)
        .await
        .unwrap();
    rig.poll(now()).await;
    assert!(rig.last_seq().await > start);
    assert_eq!(mailer.round(now()).await.unwrap(), MailRound::default());
    assert_eq!(server.messages().len(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_smtp_server_down_for_a_while_delays_the_mail_and_loses_nothing() {
    let rig = Rig::new(Arc::new(MemoryNotifyStore::new())).await;
    let port = free_port();
    let mailer = rig.mailer(port);
    rig.news_for_an_opted_in_gp().await;
    // Nobody listens: the mail stays queued, due again after the back-off.
    let round = mailer.round(now()).await.unwrap();
    assert_eq!((round.queued, round.sent, round.failed), (1, 0, 1));
    let outbox = rig.store.outbox().await.unwrap();
    assert_eq!((outbox.pending, outbox.failing, outbox.sent), (1, 1, 0));
    assert!(outbox.last_error.unwrap().contains("unreachable"));
    let round = mailer.round(now() + Duration::seconds(10)).await.unwrap();
    assert_eq!(round, MailRound::default());
    let round = mailer.round(now() + Duration::seconds(30)).await.unwrap();
    assert_eq!(round.failed, 1);
    assert_eq!(
        rig.store
            .due_mails(now() + Duration::seconds(89), 10)
            .await
            .unwrap()
            .len(),
        0
    );
    // The server is back: the queued mail goes, once.
    let server = SmtpServer::start(port, &scratch("maildir"));
    let round = mailer.round(now() + Duration::seconds(90)).await.unwrap();
    assert_eq!((round.sent, round.queued), (1, 0));
    assert_eq!(server.messages().len(), 1);
    assert_eq!(rig.store.outbox().await.unwrap().pending, 0);
    assert_eq!(rig.mail_records().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_refuses_the_mail_is_retried_and_shown_to_the_administrator() {
    let rig = Rig::new(Arc::new(MemoryNotifyStore::new())).await;
    let port = free_port();
    let mailer = rig.mailer(port);
    rig.news_for_an_opted_in_gp().await;
    // aiosmtpd taking messages of at most 100 bytes refuses the digest (552).
    let dir = scratch("maildir");
    let refusing = SmtpServer::start_with(port, &dir, &["--size".into(), "100".into()]);
    let round = mailer.round(now()).await.unwrap();
    assert_eq!((round.queued, round.sent, round.failed), (1, 0, 1));
    let outbox = rig.store.outbox().await.unwrap();
    assert_eq!((outbox.pending, outbox.failing), (1, 1));
    let error = outbox.last_error.unwrap();
    assert!(
        error.starts_with("the mail server refused the mail"),
        "{error}"
    );
    assert!(error.contains("552"), "{error}");
    assert!(refusing.messages().is_empty());
    drop(refusing);
    // The server takes it again: the retry goes, once.
    let server = SmtpServer::start(port, &dir);
    let round = mailer.round(now() + Duration::minutes(1)).await.unwrap();
    assert_eq!(round.sent, 1);
    assert_eq!(server.messages().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_between_queueing_and_sending_sends_the_digest_once() {
    let schema = "notify_mail_restart";
    let (client, connection) = tokio_postgres::connect(&pg_config(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .await
        .unwrap();
    let first: Arc<dyn NotifyStore> =
        Arc::new(PgNotifyStore::connect(&pg_config(), schema).await.unwrap());
    let rig = Rig::new(first).await;
    let port = free_port();
    rig.news_for_an_opted_in_gp().await;
    // Queued, and the server does not answer: the instance stops there.
    let round = rig.mailer(port).round(now()).await.unwrap();
    assert_eq!((round.queued, round.failed), (1, 1));
    drop(rig);
    // Restarted: a new connection and mailer over the same database.
    let restarted = Rig::new(Arc::new(
        PgNotifyStore::connect(&pg_config(), schema).await.unwrap(),
    ))
    .await;
    let server = SmtpServer::start(port, &scratch("maildir"));
    let mailer = restarted.mailer(port);
    let later = now() + Duration::minutes(5);
    let round = mailer.round(later).await.unwrap();
    assert_eq!((round.queued, round.sent), (0, 1));
    // Again, and after the period: nothing twice.
    assert_eq!(
        mailer.round(later + Duration::hours(2)).await.unwrap().sent,
        0
    );
    assert_eq!(server.messages().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_and_dormant_accounts_get_nothing() {
    let rig = Rig::new(Arc::new(MemoryNotifyStore::new())).await;
    let port = free_port();
    let server = SmtpServer::start(port, &scratch("maildir"));
    let mailer = rig.mailer(port);
    rig.news_for_an_opted_in_gp().await;
    rig.hospital
        .directory
        .set_status(gp_account().uzi, AccountStatus::Blocked)
        .await
        .unwrap();
    assert_eq!(mailer.round(now()).await.unwrap(), MailRound::default());
    // Unblocked, but unused for longer than the dormancy period.
    rig.hospital
        .directory
        .set_status(gp_account().uzi, AccountStatus::Active)
        .await
        .unwrap();
    let dormant = now() + Duration::days(200);
    assert_eq!(mailer.round(dormant).await.unwrap(), MailRound::default());
    assert!(server.messages().is_empty());
    // Queued while active with the server down, blocked before it went: dropped.
    let down = rig.mailer(free_port());
    let round = down.round(now()).await.unwrap();
    assert_eq!((round.queued, round.failed), (1, 1));
    rig.hospital
        .directory
        .set_status(gp_account().uzi, AccountStatus::Blocked)
        .await
        .unwrap();
    let round = mailer.round(now() + Duration::hours(1)).await.unwrap();
    assert_eq!((round.sent, round.dropped), (0, 1));
    assert_eq!(rig.store.outbox().await.unwrap().pending, 0);
    assert!(server.messages().is_empty());
    assert!(rig.mail_records().await.is_empty());
}

fn pg_config() -> String {
    std::env::var("ZVP_TEST_PG")
        .unwrap_or_else(|_| "host=127.0.0.1 port=5432 user=postgres dbname=test".to_owned())
}
