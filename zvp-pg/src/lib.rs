//! How zvp's PostgreSQL stores — the audit log, the directory and the portal's sessions —
//! make their connections, in one place:
//!
//! - where the connection string sets no bounds, a connection attempt gets 10 s
//!   (`connect_timeout`) and, on Linux, a connection whose server stops acknowledging what
//!   was sent (a host down, a network cut) ends after 30 s (`tcp_user_timeout`), instead of
//!   hanging for minutes;
//! - making a connection as a whole — TCP, start-up, log-in and the store's own first
//!   statements — is limited to that `connect_timeout` ([`within`]); `connect_timeout` itself
//!   covers only TCP, and a server (or a proxy in front of one) that accepts and then says
//!   nothing would otherwise hold the attempt, and everyone waiting for it, for ever.
//!
//! The stores make a lost connection again at its next use; see their docs.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use tokio_postgres::{Client, Config, NoTls};

/// Why no connection was made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    /// The connection string could not be read, or the server refused or failed.
    #[error("postgresql: {0}")]
    Failed(String),
    /// Not made within the connect timeout.
    #[error("postgresql: no connection within the connect timeout")]
    TimedOut,
}

impl ConnectError {
    fn of(e: &tokio_postgres::Error) -> Self {
        Self::Failed(zvp_core::error::with_sources(e))
    }
}

/// `config` parsed, with bounds where it sets none: `connect_timeout` 10 s and
/// `tcp_user_timeout` 30 s (seconds, as tokio-postgres reads it; applied on Linux).
///
/// # Errors
///
/// [`ConnectError::Failed`] for a connection string that cannot be read.
pub fn bounded(config: &str) -> Result<Config, ConnectError> {
    let mut parsed: Config = config.parse().map_err(|e| ConnectError::of(&e))?;
    if parsed.get_connect_timeout().is_none() {
        parsed.connect_timeout(Duration::from_secs(10));
    }
    if parsed.get_tcp_user_timeout().is_none() {
        parsed.tcp_user_timeout(Duration::from_secs(30));
    }
    Ok(parsed)
}

/// How long making a connection may take in all: the `connect_timeout` of `config` (10 s
/// when it has none).
pub fn connect_limit(config: &Config) -> Duration {
    config
        .get_connect_timeout()
        .copied()
        .unwrap_or(Duration::from_secs(10))
}

/// `work`'s output, or `None` when `limit` passed first. Timed by a thread of its own, so
/// that it needs no timer in the embedder's runtime (in one without, `tokio::time` panics);
/// meant for making connections, which is rare.
pub async fn within<F: Future>(limit: Duration, work: F) -> Option<F::Output> {
    let (expired, mut expiry) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        std::thread::sleep(limit);
        let _ = expired.send(());
    });
    let mut work = std::pin::pin!(work);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(output) = work.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        if Pin::new(&mut expiry).poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await
}

/// Opens a connection to `config` (see [`bounded`]) within its [`connect_limit`], and drives
/// it on the current tokio runtime until the client is dropped or the connection ends.
///
/// # Errors
///
/// [`ConnectError`].
pub async fn connect(config: &str) -> Result<Client, ConnectError> {
    let config = bounded(config)?;
    let (client, connection) = within(connect_limit(&config), config.connect(NoTls))
        .await
        .ok_or(ConnectError::TimedOut)?
        .map_err(|e| ConnectError::of(&e))?;
    tokio::spawn(async move {
        // The connection ends when its client is dropped; an error then is of no use.
        let _ = connection.await;
    });
    Ok(client)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    reason = "test code: a failed expectation should panic"
)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_added_only_where_the_string_sets_none() {
        let plain = bounded("host=db user=zvp").unwrap();
        assert_eq!(plain.get_connect_timeout(), Some(&Duration::from_secs(10)));
        assert_eq!(plain.get_tcp_user_timeout(), Some(&Duration::from_secs(30)));
        assert_eq!(connect_limit(&plain), Duration::from_secs(10));
        let own = bounded("host=db user=zvp connect_timeout=3 tcp_user_timeout=7").unwrap();
        assert_eq!(own.get_connect_timeout(), Some(&Duration::from_secs(3)));
        assert_eq!(own.get_tcp_user_timeout(), Some(&Duration::from_secs(7)));
        assert!(matches!(
            bounded("host=db port=notanumber"),
            Err(ConnectError::Failed(_))
        ));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_server_that_accepts_and_says_nothing_times_out() {
        // Accepts, and never answers the start-up message.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let held = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            std::future::pending::<()>().await;
            drop(socket);
        });
        let made = connect(&format!(
            "host=127.0.0.1 port={port} user=zvp connect_timeout=1"
        ))
        .await;
        assert_eq!(made.err(), Some(ConnectError::TimedOut));
        held.abort();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn work_that_finishes_in_time_gives_its_output() {
        assert_eq!(within(Duration::from_secs(60), async { 7 }).await, Some(7));
        assert_eq!(
            within(Duration::from_millis(1), std::future::pending::<()>()).await,
            None
        );
    }
}
