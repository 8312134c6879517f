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
//! The stores make a lost connection again at its next use ([`Reconnecting`]).
//!
//! # TLS
//!
//! The connection string's `sslmode` and `sslrootcert` mean what they mean to libpq:
//!
//! | `sslmode` | encrypted | server certificate checked |
//! |---|---|---|
//! | `disable` | no | — |
//! | `prefer` (the default) | if the server offers TLS | no (the chain, with `sslrootcert=<file>`) |
//! | `require` | yes | no (the chain, with `sslrootcert=<file>`) |
//! | `verify-ca` | yes | issued by a trusted CA |
//! | `verify-full` | yes | issued by a trusted CA, for the `host` connected to |
//!
//! Only `verify-full` keeps someone in the middle out; it is the setting for production.
//! The trusted CAs are the PEM certificates in the file `sslrootcert` names (read at every
//! connection, so a renewed file needs no restart), or the system's trust store for
//! `sslrootcert=system` (which, as in libpq, requires `verify-full`) and where `verify-ca` or
//! `verify-full` is given without `sslrootcert` — where libpq would read
//! `~/.postgresql/root.crt`, which a service has no use for. With `hostaddr`, the
//! certificate is checked for `host`. Client certificates (`sslcert`, `sslkey`) are not
//! supported; tokio-postgres refuses them as unknown keys.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use tokio_postgres::config::SslMode;
use tokio_postgres::{Client, Config};

mod conninfo;
mod migrate;
mod tls;

pub use migrate::{MigrateError, migrate};
pub use tls::TlsError;
use tls::{Anchors, Check};

/// Why no connection was made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The connection string could not be read, or the server refused or failed. The message
    /// includes the causes (tokio-postgres's own says only `db error`), so that a log line
    /// made of it names the server's reason.
    #[error("postgresql: {}", zvp_core::error::with_sources(.0))]
    Failed(#[source] tokio_postgres::Error),
    /// Not made within the connect timeout.
    #[error("postgresql: no connection within the connect timeout")]
    TimedOut,
    /// No TLS session with the server: its certificate was refused (an unknown issuer, another
    /// host name, expired), it offered no TLS where the `sslmode` requires it, or the
    /// handshake failed. The cause is a [`TlsError`] where the handshake itself failed.
    #[error("postgresql: TLS: {}", zvp_core::error::with_sources(.0))]
    Tls(#[source] tokio_postgres::Error),
    /// An `sslmode` libpq does not know.
    #[error("postgresql: sslmode {0:?}: use disable, prefer, require, verify-ca or verify-full")]
    SslMode(String),
    /// `sslrootcert=system` with an `sslmode` weaker than `verify-full` (refused, as by libpq:
    /// any of the many CAs in a system store can issue a certificate for any name).
    #[error("postgresql: sslrootcert=system needs sslmode=verify-full, not {0}")]
    SystemRootsNeedVerifyFull(String),
    /// The `sslrootcert` file could not be read.
    #[error("postgresql: sslrootcert {}", .path.display())]
    CaFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    /// A certificate in the `sslrootcert` file is no usable CA certificate.
    #[error("postgresql: sslrootcert {}", .path.display())]
    CaCertificate {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: rustls::Error,
    },
    /// The `sslrootcert` file holds no certificate.
    #[error("postgresql: sslrootcert {}: no certificate in it", .0.display())]
    NoCaCertificates(PathBuf),
    /// The system's trust store holds no usable certificate.
    #[error("postgresql: no certificate in the system's trust store")]
    NoSystemRoots,
    /// The trusted CAs made no certificate checker.
    #[error("postgresql: the trusted CAs")]
    Verifier(#[source] rustls::client::VerifierBuilderError),
    /// rustls could not be set up.
    #[error("postgresql: TLS set-up")]
    TlsSetup(#[source] rustls::Error),
}

impl ConnectError {
    /// tokio-postgres's error, as [`ConnectError::Tls`] where TLS failed. tokio-postgres does
    /// not expose its error kinds: a failed handshake is known by its cause, a [`TlsError`];
    /// a server without TLS (where `sslmode` requires it) only by the kind's text.
    fn from_postgres(e: tokio_postgres::Error) -> Self {
        let handshake = std::error::Error::source(&e).is_some_and(|cause| cause.is::<TlsError>());
        if handshake || e.to_string() == "error performing TLS handshake" {
            Self::Tls(e)
        } else {
            Self::Failed(e)
        }
    }
}

/// A connection string's settings: for tokio-postgres, and for the server's certificate.
fn settings(config: &str) -> Result<(Config, Check), ConnectError> {
    let split = conninfo::split(config);
    let mut parsed: Config = split.rest.parse().map_err(ConnectError::Failed)?;
    let mode = split
        .sslmode
        .as_deref()
        .unwrap_or(match split.sslrootcert.as_deref() {
            Some("system") => "verify-full",
            _ => "prefer",
        });
    let anchors = match split.sslrootcert {
        Some(system) if system == "system" => {
            if mode != "verify-full" {
                return Err(ConnectError::SystemRootsNeedVerifyFull(mode.to_owned()));
            }
            Anchors::System
        }
        Some(file) => Anchors::File(file.into()),
        None => Anchors::System,
    };
    // As libpq: a CA file given is used, also where the mode does not ask for it.
    let from_file = matches!(anchors, Anchors::File(_));
    let unless_file = |anchors| {
        if from_file {
            Check::Chain(anchors)
        } else {
            Check::Nothing
        }
    };
    let (ssl_mode, check) = match mode {
        "disable" => (SslMode::Disable, Check::Nothing),
        "prefer" => (SslMode::Prefer, unless_file(anchors)),
        "require" => (SslMode::Require, unless_file(anchors)),
        "verify-ca" => (SslMode::Require, Check::Chain(anchors)),
        "verify-full" => (SslMode::Require, Check::ChainAndName(anchors)),
        other => return Err(ConnectError::SslMode(other.to_owned())),
    };
    parsed.ssl_mode(ssl_mode);
    Ok((parsed, check))
}

/// `config` parsed, with bounds where it sets none: `connect_timeout` 10 s and
/// `tcp_user_timeout` 30 s (seconds, as tokio-postgres reads it; applied on Linux). Its
/// `sslmode` is tokio-postgres's: `require` for `verify-ca` and `verify-full`, whose checks
/// [`connect`] makes.
///
/// # Errors
///
/// [`ConnectError::Failed`] for a connection string that cannot be read,
/// [`ConnectError::SslMode`] and [`ConnectError::SystemRootsNeedVerifyFull`] for TLS settings
/// that cannot be used.
pub fn bounded(config: &str) -> Result<Config, ConnectError> {
    Ok(bound(settings(config)?.0))
}

fn bound(mut parsed: Config) -> Config {
    if parsed.get_connect_timeout().is_none() {
        parsed.connect_timeout(Duration::from_secs(10));
    }
    if parsed.get_tcp_user_timeout().is_none() {
        parsed.tcp_user_timeout(Duration::from_secs(30));
    }
    parsed
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
/// the thread ends as soon as `work` does. Meant for making connections, which is rare.
pub async fn within<F: Future>(limit: Duration, work: F) -> Option<F::Output> {
    let (expired, mut expiry) = tokio::sync::oneshot::channel::<()>();
    // Dropped when this future ends, which wakes the timer thread at once.
    let (_finished, finish) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = finish.recv_timeout(limit) {
            let _ = expired.send(());
        }
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

/// Something holding a connection: a [`Client`], or a client with what was prepared on it.
pub trait HoldsClient {
    /// The connection's client.
    fn client(&self) -> &Client;
}

impl HoldsClient for Client {
    fn client(&self) -> &Client {
        self
    }
}

/// A connection (with whatever is prepared on it) that is made again when it has ended —
/// PostgreSQL restarted, the backend terminated, a failover — at its next use, instead of
/// failing every use until the portal is restarted.
///
/// One caller at a time makes it again; callers that queued for that attempt take its
/// result, also when it failed (callers queued behind an unreachable server then fail
/// together, not one connect timeout after another). The next caller after a failure tries
/// again.
#[derive(Debug)]
pub struct Reconnecting<T, E> {
    current: std::sync::Mutex<std::sync::Arc<T>>,
    /// Held while the connection is made again.
    turn: tokio::sync::Mutex<()>,
    /// When the last attempt failed, and why.
    failed: std::sync::Mutex<Option<(std::time::Instant, E)>>,
}

impl<T: HoldsClient, E: Clone> Reconnecting<T, E> {
    /// Starts with `first`, a connection just made.
    pub fn new(first: T) -> Self {
        Self {
            current: std::sync::Mutex::new(std::sync::Arc::new(first)),
            turn: tokio::sync::Mutex::new(()),
            failed: std::sync::Mutex::new(None),
        }
    }

    fn current(&self) -> std::sync::Arc<T> {
        // Nothing panics while the lock is held, so a poisoned one holds a whole value.
        let current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        std::sync::Arc::clone(&current)
    }

    fn set_failed(&self, failed: Option<(std::time::Instant, E)>) {
        *self.failed.lock().unwrap_or_else(|e| e.into_inner()) = failed;
    }

    /// The connection, made again with `make` if it has ended.
    ///
    /// # Errors
    ///
    /// What `make` returned, for this caller or for the attempt it queued for.
    pub async fn get<F, Fut>(&self, make: F) -> Result<std::sync::Arc<T>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let open = self.current();
        if !open.client().is_closed() {
            return Ok(open);
        }
        let asked = std::time::Instant::now();
        let _turn = self.turn.lock().await;
        // Made again by another caller while this one waited?
        let open = self.current();
        if !open.client().is_closed() {
            return Ok(open);
        }
        let failed = self
            .failed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some((at, e)) = failed
            && at >= asked
        {
            return Err(e);
        }
        match make().await {
            Ok(made) => {
                let fresh = std::sync::Arc::new(made);
                *self.current.lock().unwrap_or_else(|e| e.into_inner()) =
                    std::sync::Arc::clone(&fresh);
                self.set_failed(None);
                Ok(fresh)
            }
            Err(e) => {
                self.set_failed(Some((std::time::Instant::now(), e.clone())));
                Err(e)
            }
        }
    }
}

/// Opens a connection to `config` (see [`bounded`]) within its [`connect_limit`], over TLS
/// as its `sslmode` says (see [the crate's documentation](crate#tls)), and drives it on the
/// current tokio runtime until the client is dropped or the connection ends.
///
/// # Errors
///
/// [`ConnectError`]; [`ConnectError::Tls`] where no TLS session could be had.
pub async fn connect(config: &str) -> Result<Client, ConnectError> {
    let (config, check) = settings(config)?;
    let config = bound(config);
    let tls = tls::MakeRustls(tls::client_config(&check)?);
    let (client, connection) = within(connect_limit(&config), config.connect(tls))
        .await
        .ok_or(ConnectError::TimedOut)?
        .map_err(ConnectError::from_postgres)?;
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

    #[test]
    fn sslmodes_are_libpqs() {
        let check = |config: &str| {
            let (parsed, check) = settings(config).unwrap();
            (parsed.get_ssl_mode(), check)
        };
        let file = || Anchors::File("/ca.pem".into());
        assert_eq!(check("host=db"), (SslMode::Prefer, Check::Nothing));
        assert_eq!(
            check("host=db sslmode=disable"),
            (SslMode::Disable, Check::Nothing)
        );
        assert_eq!(
            check("host=db sslmode=require"),
            (SslMode::Require, Check::Nothing)
        );
        assert_eq!(
            check("host=db sslmode=require sslrootcert=/ca.pem"),
            (SslMode::Require, Check::Chain(file()))
        );
        assert_eq!(
            check("host=db sslmode=verify-ca sslrootcert=/ca.pem"),
            (SslMode::Require, Check::Chain(file()))
        );
        assert_eq!(
            check("host=db sslmode=verify-full"),
            (SslMode::Require, Check::ChainAndName(Anchors::System))
        );
        assert_eq!(
            check("postgresql://db/zvp?sslrootcert=system"),
            (SslMode::Require, Check::ChainAndName(Anchors::System))
        );
        assert!(matches!(
            settings("host=db sslmode=verify-ca sslrootcert=system"),
            Err(ConnectError::SystemRootsNeedVerifyFull(_))
        ));
        assert!(matches!(
            settings("host=db sslmode=allow"),
            Err(ConnectError::SslMode(mode)) if mode == "allow"
        ));
        // bounded, which the stores call with their whole string, takes them too.
        assert_eq!(
            bounded("host=db sslmode=verify-full")
                .unwrap()
                .get_ssl_mode(),
            SslMode::Require
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unreadable_ca_file_is_named() {
        let made =
            connect("host=127.0.0.1 sslmode=verify-full sslrootcert=/nonexistent/ca.pem").await;
        let e = made.err().unwrap();
        assert!(matches!(e, ConnectError::CaFile { .. }), "{e:?}");
        assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_server_without_tls_is_refused_as_tls_where_it_is_required() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        // Answers the SSLRequest with PostgreSQL's "no TLS here".
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = [0; 8];
            socket.read_exact(&mut request).await.unwrap();
            socket.write_all(b"N").await.unwrap();
            socket
        });
        let made = connect(&format!(
            "host=127.0.0.1 port={port} user=zvp connect_timeout=5 sslmode=require"
        ))
        .await;
        let e = made.err().unwrap();
        assert!(matches!(e, ConnectError::Tls(_)), "{e:?}");
        assert!(e.to_string().contains("server does not support TLS"), "{e}");
        drop(server.await.unwrap());
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
        assert!(matches!(made, Err(ConnectError::TimedOut)));
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
