//! Serving the portal: HTTPS with the UZI-pas (mutual TLS, rustls), plain HTTP behind a
//! trusted reverse proxy, and the admin listener; graceful shutdown for all.
//!
//! The accept loop is the pattern of axum's `low-level-rustls` example: each connection's TLS
//! handshake runs under a timeout, its peer certificate chain is taken once, and every request
//! on the connection carries it as a [`ClientCertificate`] (and the peer address as a
//! [`PeerAddress`]). The connection count is bounded.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use rustls::ServerConfig;
use rustls::crypto::{CryptoProvider, aws_lc_rs};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt as _;
use zvp_auth::uzi::{UziClientCertVerifier, UziValidator};

use zvp_web::{ClientCertificate, ConnectionIdentity, PeerAddress};

/// The longest a TLS handshake may take (the user types the card's PIN during it).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(60);

/// The most connections served at once; beyond, new connections wait.
const MAX_CONNECTIONS: usize = 4096;

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

/// The TLS server configuration: the portal's certificate and key, client certificates
/// verified by [`UziClientCertVerifier`], TLS 1.2 and 1.3 (or 1.3 only).
///
/// # Errors
///
/// [`ServeError`] for unreadable files or a key that does not fit.
pub fn tls_config(
    validator: &UziValidator,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    tls13_only: bool,
) -> Result<Arc<ServerConfig>, ServeError> {
    let provider = provider();
    let versions: &[&rustls::SupportedProtocolVersion] = if tls13_only {
        &[&rustls::version::TLS13]
    } else {
        &[&rustls::version::TLS13, &rustls::version::TLS12]
    };
    let verifier = Arc::new(UziClientCertVerifier::new(validator, Arc::clone(&provider)));
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .map_err(ServeError::Tls)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(ServeError::Tls)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    // The server's preference (AES-GCM and ChaCha20 over the strongest key exchange) decides.
    config.ignore_client_order = true;
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

/// A shutdown signal shared by the listeners: send `true` to stop accepting, let open requests
/// finish and close every connection after its current request (keep-alive ones too).
pub type Shutdown = watch::Receiver<bool>;

/// Serves `router` over TLS on `listener` until `shutdown` turns true.
///
/// # Errors
///
/// The listener's I/O error.
pub async fn serve_tls(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    router: Router,
    shutdown: Shutdown,
) -> Result<(), ServeError> {
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    accept_loop(
        listener,
        router,
        shutdown,
        move |stream, peer, router, shutdown| {
            let acceptor = acceptor.clone();
            async move {
                let Ok(Ok(tls)) =
                    tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await
                else {
                    return;
                };
                let chain: Vec<CertificateDer<'static>> = tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .map(|c| c.iter().map(|c| c.clone().into_owned()).collect())
                    .unwrap_or_default();
                let certificate = ClientCertificate(Arc::new(chain));
                serve_connection(TokioIo::new(tls), router, peer, Some(certificate), shutdown)
                    .await;
            }
        },
    )
    .await
}

/// Serves `router` over plain HTTP (behind a reverse proxy, or the admin listener).
///
/// # Errors
///
/// The listener's I/O error.
pub async fn serve_plain(
    listener: TcpListener,
    router: Router,
    shutdown: Shutdown,
) -> Result<(), ServeError> {
    accept_loop(
        listener,
        router,
        shutdown,
        |stream, peer, router, shutdown| async move {
            serve_connection(TokioIo::new(stream), router, peer, None, shutdown).await;
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

async fn accept_loop<F, Fut>(
    listener: TcpListener,
    router: Router,
    mut shutdown: Shutdown,
    handle: F,
) -> Result<(), ServeError>
where
    F: Fn(tokio::net::TcpStream, SocketAddr, Router, Shutdown) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
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
        let _ = stream.set_nodelay(true);
        let work = handle(stream, peer, router.clone(), shutdown.clone());
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

async fn serve_connection<I>(
    io: TokioIo<I>,
    router: Router,
    peer: SocketAddr,
    certificate: Option<ClientCertificate>,
    mut shutdown: Shutdown,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    // One identity cache per mutual-TLS connection (its certificate is fixed).
    let cache = certificate.as_ref().map(|_| ConnectionIdentity::default());
    let service = router.map_request(move |mut request: Request<hyper::body::Incoming>| {
        request.extensions_mut().insert(PeerAddress(peer));
        if let Some(certificate) = &certificate {
            request.extensions_mut().insert(certificate.clone());
        }
        if let Some(cache) = &cache {
            request.extensions_mut().insert(cache.clone());
        }
        request
    });
    let builder = auto::Builder::new(TokioExecutor::new());
    let connection = builder.serve_connection(io, TowerToHyperService::new(service));
    tokio::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => return,
        _ = shutdown.wait_for(|stopping| *stopping) => {}
    }
    // Stopping: finish the request in hand, then close (a keep-alive connection would
    // otherwise go on serving after the listener stopped).
    connection.as_mut().graceful_shutdown();
    let _ = connection.await;
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
