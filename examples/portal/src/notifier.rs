//! The running notifier (`[notify] enabled`): its store (in memory with the embedded stores,
//! in PostgreSQL with `[stores] kind = "postgres"`, where one instance polls at a time), the
//! mailer (SMTP, or `.eml` files in a folder), and the task that polls the EPD and mails
//! every `interval_seconds`.

use std::sync::Arc;

use chrono::Utc;
use zvp_audit::log::AuditLog;
use zvp_auth::directory::DirectoryStore;
use zvp_epd::Epd;
use zvp_notify::mail::mailer::{MailSettings, Mailer};
use zvp_notify::mail::transport::{EmlFolder, MailTransport, Smtp, SmtpSecurity, SmtpSettings};
use zvp_notify::{MemoryNotifyStore, NotifyStore, PollOutcome, PollSettings, Poller};

use crate::assemble::AssembleError;
use crate::config::{Config, StoresKind};

/// The notifier of this instance: its store, poller and (with mail configured) mailer.
pub struct Notifier {
    /// Where its events are kept.
    pub store: Arc<dyn NotifyStore>,
    /// The poller.
    pub poller: Poller,
    /// The mailer, with `smtp_host` or `mail_folder` set.
    pub mailer: Option<Mailer>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("poller", &self.poller)
            .field("mailer", &self.mailer)
            .finish_non_exhaustive()
    }
}

/// The notifier's store, when `[notify]` is enabled.
///
/// # Errors
///
/// [`AssembleError::Store`] when the PostgreSQL store cannot be reached.
pub async fn store(config: &Config) -> Result<Option<Arc<dyn NotifyStore>>, AssembleError> {
    if !config.notify.enabled {
        return Ok(None);
    }
    Ok(Some(match config.stores.kind {
        StoresKind::Embedded => Arc::new(MemoryNotifyStore::new()),
        StoresKind::Postgres => Arc::new(
            zvp_notify::store::PgNotifyStore::connect(
                &config.stores.postgres,
                &config.stores.schema,
            )
            .await
            .map_err(|e| AssembleError::Store(format!("notifications: {e}")))?,
        ),
    }))
}

/// This instance's name in the poller's lease: host and process.
fn instance() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "zvp".to_owned());
    format!("{host}:{}", std::process::id())
}

fn config_error(what: impl std::fmt::Display) -> AssembleError {
    AssembleError::Config(format!("[notify] {what}"))
}

fn read(path: &std::path::Path) -> Result<Vec<u8>, AssembleError> {
    std::fs::read(path).map_err(|e| AssembleError::File {
        path: path.display().to_string(),
        detail: e.to_string(),
    })
}

/// How mail leaves, as `[notify]` says: `.eml` files in `mail_folder`, SMTP to `smtp_host`,
/// or none.
///
/// # Errors
///
/// [`AssembleError`] for an unknown `smtp_security`, `plain` to a host not on loopback, a
/// credentials or CA file that cannot be read.
pub fn transport(config: &Config) -> Result<Option<Arc<dyn MailTransport>>, AssembleError> {
    let notify = &config.notify;
    if let Some(folder) = &notify.mail_folder {
        std::fs::create_dir_all(folder).map_err(|e| AssembleError::File {
            path: folder.display().to_string(),
            detail: e.to_string(),
        })?;
        return Ok(Some(Arc::new(EmlFolder::new(folder))));
    }
    let Some(host) = &notify.smtp_host else {
        return Ok(None);
    };
    let security = match notify.smtp_security.as_str() {
        "starttls" => SmtpSecurity::StartTls,
        "tls" => SmtpSecurity::Tls,
        "plain" => {
            let loopback = host == "localhost"
                || host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            if !loopback {
                return Err(config_error(format!(
                    "smtp_security = \"plain\" sends mail unencrypted: only to a host on loopback, not {host:?}"
                )));
            }
            SmtpSecurity::Plain
        }
        other => {
            return Err(config_error(format!(
                "smtp_security {other:?}: use \"starttls\", \"tls\" or \"plain\""
            )));
        }
    };
    let credentials = match &notify.smtp_credentials {
        None => None,
        Some(path) => {
            let text = String::from_utf8(read(path)?)
                .map_err(|_| config_error("smtp_credentials is not UTF-8 text"))?;
            let mut lines = text.lines();
            match (lines.next(), lines.next()) {
                (Some(user), Some(password)) if !user.is_empty() => {
                    Some((user.to_owned(), password.to_owned()))
                }
                _ => {
                    return Err(config_error(
                        "smtp_credentials: the user name on the first line, the password on the second",
                    ));
                }
            }
        }
    };
    let ca_pem = notify.smtp_ca_file.as_deref().map(read).transpose()?;
    let smtp = Smtp::new(&SmtpSettings {
        host: host.clone(),
        port: notify.smtp_port,
        security,
        credentials,
        ca_pem,
        timeout: std::time::Duration::from_secs(30),
    })
    .map_err(config_error)?;
    Ok(Some(Arc::new(smtp)))
}

/// The notifier over the portal's EPD, directory and audit log.
///
/// # Errors
///
/// [`AssembleError`] from the mail settings.
pub fn notifier(
    config: &Config,
    epd: Arc<dyn Epd>,
    directory: Arc<dyn DirectoryStore>,
    audit: Arc<dyn AuditLog>,
    store: Arc<dyn NotifyStore>,
) -> Result<Notifier, AssembleError> {
    let dormant = chrono::Duration::days(i64::from(config.portal.dormant_days));
    let poller = Poller::new(
        epd,
        Arc::clone(&directory),
        Arc::clone(&store),
        PollSettings {
            holder: instance(),
            lease: config.notify.lease(),
            window: config.notify.window(),
            dormant,
        },
    );
    let mailer = match transport(config)? {
        None => None,
        Some(transport) => {
            let notify = &config.notify;
            let settings = MailSettings {
                sender: notify
                    .sender
                    .parse()
                    .map_err(|e| config_error(format!("sender {:?}: {e}", notify.sender)))?,
                portal_url: config.server.public_url.clone(),
                digest: chrono::Duration::minutes(i64::from(notify.digest_minutes.max(1))),
                max_pending: notify.max_queued.max(1),
                retry_base: chrono::Duration::seconds(i64::from(notify.retry_seconds.max(1))),
                retry_max: chrono::Duration::minutes(i64::from(notify.retry_max_minutes.max(1))),
                dormant,
                source: zvp_audit::event::Source {
                    instance: config.portal.instance.clone(),
                    hospital: config.portal.hospital.clone(),
                },
            };
            Some(Mailer::new(
                Arc::clone(&store),
                directory,
                audit,
                transport,
                settings,
            ))
        }
    };
    Ok(Notifier {
        store,
        poller,
        mailer,
    })
}

/// Polls (and mails) now and every `every` until `shutdown` turns true, then gives the lease
/// up so that another instance takes over at once. Only the instance that holds the lease
/// mails. A failed poll or round is logged and tried again at the next interval; it moved
/// nothing, so nothing is lost.
pub fn spawn(
    notifier: Notifier,
    every: std::time::Duration,
    shutdown: crate::serve::Shutdown,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let round = || async {
            match notifier.poller.poll(Utc::now()).await {
                Ok(PollOutcome::Polled {
                    found,
                    recorded,
                    pruned,
                }) => {
                    tracing::info!(event = "notify-poll", found, recorded, pruned);
                }
                Ok(PollOutcome::NotHolder) => {
                    tracing::debug!(event = "notify-poll-elsewhere");
                    return;
                }
                // The EPD down (the lease held): the mails already queued still go.
                Err(e @ zvp_notify::PollError::Epd(_)) => {
                    tracing::warn!(event = "notify-poll-failed", error = %e);
                }
                Err(e) => {
                    tracing::warn!(event = "notify-poll-failed", error = %e);
                    return;
                }
            }
            if let Some(mailer) = &notifier.mailer {
                match mailer.round(Utc::now()).await {
                    Ok(round) => tracing::info!(
                        event = "notify-mail",
                        queued = round.queued,
                        sent = round.sent,
                        failed = round.failed,
                        waiting = round.waiting,
                        dropped = round.dropped
                    ),
                    Err(e) => tracing::warn!(event = "notify-mail-failed", error = %e),
                }
            }
        };
        crate::serve::rounds(every, shutdown, round).await;
        if let Err(e) = notifier.poller.release().await {
            tracing::warn!(event = "notify-release-failed", error = %e);
        }
    })
}
