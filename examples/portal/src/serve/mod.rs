//! Serving the portal: HTTPS with the UZI-pas (mutual TLS, rustls), plain HTTP behind a
//! trusted reverse proxy, and the admin listener; graceful shutdown for all.
//!
//! The accept loop is the pattern of axum's `low-level-rustls` example: each connection's TLS
//! handshake runs under a timeout, its peer certificate chain is taken once, and every request
//! on the connection carries it as a [`ClientCertificate`] (and the peer address as a
//! [`zvp_web::PeerAddress`]). [`Limits`] bounds the connections, in all and per source address,
//! and how long each may take before its request or stay idle.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use rustls::ServerConfig;
use rustls::crypto::{CryptoProvider, aws_lc_rs};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use zvp_auth::uzi::{UziClientCertVerifier, UziValidator};

use zvp_web::ClientCertificate;

mod connection;
mod limits;

use connection::Protocol;
pub use limits::Limits;
use limits::{AddressTable, Admission};

/// Why serving could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// A certificate or key file holds no certificate, or one that cannot be read.
    #[error("{path}: {detail}")]
    File {
        /// The file.
        path: String,
        /// What is wrong.
        detail: String,
    },
    /// A certificate or key file could not be read from the file system.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The file system's error.
        source: std::io::Error,
    },
    /// The key file holds no private key, or one that cannot be read.
    #[error("{path}: {source}")]
    Key {
        /// The file.
        path: String,
        /// Why the PEM text gives no key.
        source: rustls::pki_types::pem::Error,
    },
    /// The TLS configuration was refused by rustls.
    #[error("tls: {0}")]
    Tls(#[source] rustls::Error),
    /// The listener failed.
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
}

/// The crypto provider: aws-lc-rs with only AEAD suites of TLS 1.3 and ECDHE + AES-GCM /
/// ChaCha20 for TLS 1.2 (which rustls's defaults already are), and the key exchange groups
/// X25519MLKEM768, X25519, P-256 and P-384.
pub fn provider() -> Arc<CryptoProvider> {
    let base = aws_lc_rs::default_provider();
    Arc::new(CryptoProvider {
        cipher_suites: base.cipher_suites.clone(),
        kx_groups: base.kx_groups.clone(),
        ..base
    })
}

pub use zvp_web::pem_certificates;

/// The choices in the card listener's TLS: [`TlsOptions::default`] is `[server]`'s defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// Only TLS 1.3.
    pub tls13_only: bool,
    /// Resume TLS sessions (1.2 session ids, 1.3 tickets). Off, every connection proves
    /// possession of the card's key in a full handshake: a resumed session would carry the
    /// certificate of the session it resumes without the card, so pulling the card would not
    /// end access.
    pub resumption: bool,
}

impl From<&crate::config::Server> for TlsOptions {
    fn from(server: &crate::config::Server) -> Self {
        Self {
            tls13_only: server.tls13_only,
            resumption: server.tls_resumption,
        }
    }
}

/// The TLS server configuration: the portal's certificate and key, client certificates
/// verified by [`UziClientCertVerifier`] (optional in the handshake), TLS 1.2 and 1.3 (or 1.3
/// only), ALPN `http/1.1`,
/// session resumption only when [`TlsOptions::resumption`].
///
/// # Errors
///
/// [`ServeError`] for unreadable files or a key that does not fit.
pub fn tls_config(
    validator: &UziValidator,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    options: TlsOptions,
) -> Result<Arc<ServerConfig>, ServeError> {
    let provider = provider();
    let versions: &[&rustls::SupportedProtocolVersion] = if options.tls13_only {
        &[&rustls::version::TLS13]
    } else {
        &[&rustls::version::TLS13, &rustls::version::TLS12]
    };
    // A browser without a card completes the handshake and gets the portal's own page, which
    // says how to log in (with the card, or with Dezi); every other answer needs a valid card
    // or a Dezi session (zvp-web's authentication).
    let verifier =
        Arc::new(UziClientCertVerifier::new(validator, Arc::clone(&provider)).optional());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .map_err(ServeError::Tls)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(ServeError::Tls)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    // The server's preference (AES-GCM and ChaCha20 over the strongest key exchange) decides.
    config.ignore_client_order = true;
    if !options.resumption {
        // No session cache (TLS 1.2 session ids, TLS 1.3 stateful tickets) and no tickets
        // sent; the default ticketer already makes no stateless ones.
        config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
        config.send_tls13_tickets = 0;
    }
    Ok(Arc::new(config))
}

/// Reads a PEM certificate chain and a PEM private key.
///
/// # Errors
///
/// [`ServeError::File`] naming the file.
pub fn read_identity(
    certificate: &std::path::Path,
    key: &std::path::Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), ServeError> {
    let file_error = |path: &std::path::Path, detail: String| ServeError::File {
        path: path.display().to_string(),
        detail,
    };
    let unreadable = |path: &std::path::Path, source| ServeError::Read {
        path: path.display().to_string(),
        source,
    };
    let pem = std::fs::read(certificate).map_err(|e| unreadable(certificate, e))?;
    let chain = pem_certificates(&pem).map_err(|e| file_error(certificate, e))?;
    if chain.is_empty() {
        return Err(file_error(
            certificate,
            "no certificate in the file".to_owned(),
        ));
    }
    let key_pem = std::fs::read(key).map_err(|e| unreadable(key, e))?;
    let key_der = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|source| ServeError::Key {
        path: key.display().to_string(),
        source,
    })?;
    Ok((chain, key_der))
}

/// The listen queue of [`listen`]: connections the kernel has completed and the accept loop
/// has not yet taken. The usual 128 overflows within a flood's first burst, and then the
/// kernel drops the SYNs of every host, a GP's too, until it retries a second or more later.
/// The kernel caps it at `net.core.somaxconn` (4096 on current Linux).
pub const LISTEN_BACKLOG: u32 = 1024;

/// A TCP listener on `address` with a listen queue of [`LISTEN_BACKLOG`] (`SO_REUSEADDR` set,
/// as [`TcpListener::bind`] does).
///
/// # Errors
///
/// The socket's error (the address in use, not available, no permission).
pub fn listen(address: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if address.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(LISTEN_BACKLOG)
}

/// A shutdown signal shared by the listeners: send `true` to stop accepting, let open requests
/// finish and close every connection after its current request (keep-alive ones too).
pub type Shutdown = watch::Receiver<bool>;

/// Runs `round` now and then once every `interval` after the last one ended, until `shutdown`
/// turns true (a round in progress is dropped then): the refresh tasks of the running portal.
pub async fn rounds<F, Fut>(interval: Duration, mut shutdown: Shutdown, mut round: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    loop {
        tokio::select! {
            () = round() => {}
            _ = shutdown.changed() => return,
        }
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Serves `router` over TLS on `listener` within `limits` until `shutdown` turns true.
///
/// HTTP/2 only on a connection whose ALPN agreed on `h2`; HTTP/1.1 otherwise.
///
/// # Errors
///
/// The listener's I/O error.
pub async fn serve_tls(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    router: Router,
    limits: Limits,
    shutdown: Shutdown,
) -> Result<(), ServeError> {
    let limits = Arc::new(limits);
    let per_connection = Arc::clone(&limits);
    accept_loop(
        listener,
        router,
        &limits,
        true,
        shutdown,
        move |stream, peer, admission, router, shutdown| {
            let config = Arc::clone(&config);
            let limits = Arc::clone(&per_connection);
            async move {
                let Admission {
                    connection: _connection,
                    handshake,
                } = admission;
                let Some(tls) = handshake_tls(stream, config, &limits).await else {
                    return;
                };
                drop(handshake);
                let (_, session) = tls.get_ref();
                let protocol = Protocol::from_alpn(session.alpn_protocol());
                let chain: Vec<CertificateDer<'static>> = session
                    .peer_certificates()
                    .map(|c| c.iter().map(|c| c.clone().into_owned()).collect())
                    .unwrap_or_default();
                let certificate = ClientCertificate(Arc::new(chain));
                connection::serve_connection(
                    tls,
                    protocol,
                    router,
                    peer,
                    Some(certificate),
                    &limits,
                    shutdown,
                )
                .await;
            }
        },
    )
    .await
}

/// The TLS handshake on `stream` within the limits: the ClientHello within
/// `client_hello_timeout` (a connection that sends nothing goes within seconds), the whole
/// handshake within `handshake_timeout` (the PIN is typed during it); `None` when it failed.
async fn handshake_tls(
    stream: TcpStream,
    config: Arc<ServerConfig>,
    limits: &Limits,
) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
    let accepted = tokio::time::Instant::now();
    let handshake_deadline = accepted + limits.handshake_timeout;
    let hello_deadline = handshake_deadline.min(accepted + limits.client_hello_timeout);
    let hello = tokio_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), stream);
    let start = tokio::time::timeout_at(hello_deadline, hello)
        .await
        .ok()?
        .ok()?;
    tokio::time::timeout_at(handshake_deadline, start.into_stream(config))
        .await
        .ok()?
        .ok()
}

/// Serves `router` over plain HTTP/1.1 within `limits` (behind a reverse proxy, or the admin
/// listener).
///
/// # Errors
///
/// The listener's I/O error.
pub async fn serve_plain(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: Shutdown,
) -> Result<(), ServeError> {
    let limits = Arc::new(limits);
    let per_connection = Arc::clone(&limits);
    accept_loop(
        listener,
        router,
        &limits,
        false,
        shutdown,
        move |stream, peer, admission, router, shutdown| {
            let limits = Arc::clone(&per_connection);
            async move {
                connection::serve_connection(
                    stream,
                    Protocol::Http1,
                    router,
                    peer,
                    None,
                    &limits,
                    shutdown,
                )
                .await;
                drop(admission);
            }
        },
    )
    .await
}

/// How long a stopping listener lets its open connections finish their requests.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The first and the longest pause after a failed accept.
const ACCEPT_BACKOFF: (Duration, Duration) = (Duration::from_millis(5), Duration::from_secs(1));

/// How long to wait after a failed accept, given the previous wait (zero after a success).
/// A connection the peer gave up on costs nothing: go on at once. Anything else (out of file
/// descriptors, out of memory) will fail again at once: wait, twice as long each time up to a
/// second, so that the listener does not spin a core while the process recovers.
fn accept_backoff(error: &std::io::Error, previous: Duration) -> Duration {
    use std::io::ErrorKind as K;
    match error.kind() {
        K::ConnectionAborted | K::ConnectionReset | K::ConnectionRefused | K::Interrupted => {
            Duration::ZERO
        }
        _ => (previous * 2).clamp(ACCEPT_BACKOFF.0, ACCEPT_BACKOFF.1),
    }
}

/// Accepts connections within the global cap, lets in those whose source address is below its
/// caps (with a handshake place when `handshake`), and runs `handle` on each.
async fn accept_loop<F, Fut>(
    listener: TcpListener,
    router: Router,
    limits: &Limits,
    handshake: bool,
    mut shutdown: Shutdown,
    handle: F,
) -> Result<(), ServeError>
where
    F: Fn(TcpStream, SocketAddr, Admission, Router, Shutdown) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let addresses = AddressTable::new(limits);
    let mut connections = tokio::task::JoinSet::new();
    let mut backoff = Duration::ZERO;
    loop {
        // Forget the connections that have ended.
        while connections.try_join_next().is_some() {}
        let permit = tokio::select! {
            p = Arc::clone(&permits).acquire_owned() => p,
            _ = shutdown.changed() => break,
        };
        let Ok(permit) = permit else { break };
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => break,
        };
        let (stream, peer) = match accepted {
            Ok(a) => {
                backoff = Duration::ZERO;
                a
            }
            Err(e) => {
                let wait = accept_backoff(&e, backoff);
                if !wait.is_zero() && backoff.is_zero() {
                    // Once per run of failures: what the operator must fix (often the
                    // open-files limit).
                    tracing::warn!(event = "accept-failing", error = %e);
                }
                backoff = wait;
                drop(permit);
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    _ = shutdown.changed() => break,
                }
                continue;
            }
        };
        // Beyond its address's caps, a connection is closed at once: it neither waits nor
        // holds a place that another host's user needs.
        let Some(admission) = addresses.admit(peer.ip(), handshake) else {
            drop(stream);
            drop(permit);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let work = handle(stream, peer, admission, router.clone(), shutdown.clone());
        connections.spawn(async move {
            work.await;
            drop(permit);
        });
    }
    // Let open connections finish their requests (each closes after its current one); what
    // has not finished after the grace period is cut off, so that nothing is served after this
    // returns (the portal's last audit checkpoint comes then).
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            event = "connections-cut-at-shutdown",
            connections = connections.len()
        );
        connections.shutdown().await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_accept_backs_off_up_to_a_second_and_a_dropped_connection_does_not() {
        let emfile = std::io::Error::from_raw_os_error(24);
        let mut wait = Duration::ZERO;
        let mut waits = Vec::new();
        for _ in 0..12 {
            wait = accept_backoff(&emfile, wait);
            waits.push(wait.as_millis());
        }
        assert_eq!(
            waits,
            [5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000, 1000]
        );
        let aborted = std::io::Error::from(std::io::ErrorKind::ConnectionAborted);
        assert_eq!(accept_backoff(&aborted, wait), Duration::ZERO);
    }
}
