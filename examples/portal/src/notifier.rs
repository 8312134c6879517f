//! The running notifier (`[notify] enabled`): its store (in memory with the embedded stores,
//! in PostgreSQL with `[stores] kind = "postgres"`, where one instance polls at a time) and
//! the task that polls the EPD every `interval_seconds`.

use std::sync::Arc;

use chrono::Utc;
use zvp_auth::directory::DirectoryStore;
use zvp_epd::Epd;
use zvp_notify::{MemoryNotifyStore, NotifyStore, PollOutcome, PollSettings, Poller};

use crate::assemble::AssembleError;
use crate::config::{Config, StoresKind};

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

/// The poller over the portal's EPD and directory.
pub fn poller(
    config: &Config,
    epd: Arc<dyn Epd>,
    directory: Arc<dyn DirectoryStore>,
    store: Arc<dyn NotifyStore>,
) -> Poller {
    Poller::new(
        epd,
        directory,
        store,
        PollSettings {
            holder: instance(),
            lease: config.notify.lease(),
            window: config.notify.window(),
            dormant: chrono::Duration::days(i64::from(config.portal.dormant_days)),
        },
    )
}

/// Polls now and every `every` until `shutdown` turns true, then gives the lease up so that
/// another instance takes over at once. A failed poll is logged and tried again at the next
/// interval; it moved nothing, so the next poll covers its window.
pub fn spawn(
    poller: Poller,
    every: std::time::Duration,
    mut shutdown: crate::serve::Shutdown,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                outcome = poller.poll(Utc::now()) => match outcome {
                    Ok(PollOutcome::Polled { found, recorded }) => {
                        tracing::info!(event = "notify-poll", found, recorded);
                    }
                    Ok(PollOutcome::NotHolder) => {
                        tracing::debug!(event = "notify-poll-elsewhere");
                    }
                    Err(e) => tracing::warn!(event = "notify-poll-failed", error = %e),
                },
                _ = shutdown.changed() => break,
            }
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                _ = shutdown.changed() => break,
            }
        }
        if let Err(e) = poller.release().await {
            tracing::warn!(event = "notify-release-failed", error = %e);
        }
    })
}
