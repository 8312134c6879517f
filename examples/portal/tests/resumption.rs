//! Pulling the card ends access: a TLS session resumed without the card gets nothing while
//! resumption is off (the default), both with rustls as the client and with OpenSSL's
//! `s_client -sess_in`, the tool an attacker holding a stolen session file would use. With
//! `[server] tls_resumption = true` the same clients are served: the documented trade-off,
//! and the proof that each client really offered the card's session.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

mod common;

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::listener::{get_root, start, status, tls_from};
use common::{TestPortal, Who, pki, scratch};
use rustls::client::{ClientSessionMemoryCache, ResolvesClientCert, Resumption};
use rustls::{AlertDescription, HandshakeKind, SupportedProtocolVersion};
use rustls_pki_types::PrivateKeyDer;
use tokio::io::AsyncWriteExt as _;
use zvp_auth::testpki::certificates_pem;
use zvp_portal::serve::{self, Limits, TlsOptions};

/// The failure bound of one `openssl s_client` run.
const BOUND: Duration = Duration::from_secs(30);

/// What a client without a card got after resuming the card's session.
#[derive(Debug, PartialEq, Eq)]
enum Resumed {
    /// The session was resumed and the page served with this status.
    Served(u16),
    /// The session was not resumed: a full handshake, without the card, and the page served
    /// with this status (the portal's page for a browser without a card).
    Anew(u16),
    /// The server refused with this alert.
    Refused(AlertDescription),
}

/// A card reader: the card's key while the card is in, nothing once it is pulled.
#[derive(Debug)]
struct CardReader {
    card: Arc<rustls::sign::CertifiedKey>,
    inserted: AtomicBool,
}

impl ResolvesClientCert for CardReader {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[rustls::SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        self.inserted
            .load(Ordering::SeqCst)
            .then(|| Arc::clone(&self.card))
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// Logs in with the card on `version`, pulls the card, connects again with the same client
/// (which offers the stored session: rustls resumes only with the same certificate resolver)
/// and GETs `/`.
async fn resume_without_the_card(
    resumption: bool,
    version: &'static SupportedProtocolVersion,
) -> Resumed {
    let t = TestPortal::new().await;
    let options = TlsOptions {
        resumption,
        ..TlsOptions::default()
    };
    let (port, stop) = start(&t, Limits::default(), options).await;
    let card = Who::Own.card();
    let provider = serve::provider();
    let key = provider
        .key_provider
        .load_private_key(PrivateKeyDer::Pkcs8(card.private_key()))
        .unwrap();
    let reader = Arc::new(CardReader {
        card: Arc::new(rustls::sign::CertifiedKey::new(card.chain(), key)),
        inserted: AtomicBool::new(true),
    });
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki().tls_root()).unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[version])
        .unwrap()
        .with_root_certificates(roots)
        .with_client_cert_resolver(Arc::clone(&reader) as Arc<dyn ResolvesClientCert>);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config.resumption = Resumption::store(Arc::new(ClientSessionMemoryCache::new(8)));
    let config = Arc::new(config);
    let mut tls = tls_from([127, 0, 0, 1], port, Arc::clone(&config))
        .await
        .unwrap();
    // Read to the end: a TLS 1.3 ticket comes after the handshake.
    assert_eq!(status(&get_root(&mut tls).await.unwrap()), 200);
    assert_eq!(tls.get_ref().1.handshake_kind(), Some(HandshakeKind::Full));
    drop(tls);
    reader.inserted.store(false, Ordering::SeqCst);
    let refused = |e: std::io::Error| {
        let inner = e.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>());
        match inner {
            Some(rustls::Error::AlertReceived(alert)) => Resumed::Refused(*alert),
            _ => panic!("not an alert: {e}"),
        }
    };
    let outcome = match tls_from([127, 0, 0, 1], port, config).await {
        Err(e) => refused(e),
        // In TLS 1.3 the client's side of the handshake ends before the server has seen its
        // (empty) certificate: the refusal comes on the first read.
        Ok(mut tls) => match get_root(&mut tls).await {
            Ok(answer) => match tls.get_ref().1.handshake_kind() {
                Some(HandshakeKind::Resumed) => Resumed::Served(status(&answer)),
                _ => Resumed::Anew(status(&answer)),
            },
            Err(e) => refused(e),
        },
    };
    let _ = stop.send(true);
    outcome
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_session_without_the_card_gets_nothing() {
    assert_eq!(
        resume_without_the_card(false, &rustls::version::TLS13).await,
        Resumed::Anew(403)
    );
    assert_eq!(
        resume_without_the_card(false, &rustls::version::TLS12).await,
        Resumed::Anew(403)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_resumption_switched_on_a_resumed_session_is_served_without_the_card() {
    // The trade-off of `[server] tls_resumption = true`, and the proof that the client above
    // really offered the card's session.
    assert_eq!(
        resume_without_the_card(true, &rustls::version::TLS13).await,
        Resumed::Served(200)
    );
    assert_eq!(
        resume_without_the_card(true, &rustls::version::TLS12).await,
        Resumed::Served(200)
    );
}

/// What one `openssl s_client` run printed and whether it resumed.
#[derive(Debug)]
struct SClient {
    /// Standard output: the handshake summary and whatever the server sent.
    out: String,
    /// Standard error: OpenSSL's errors, such as a received alert.
    err: String,
}

impl SClient {
    /// Whether the handshake resumed the offered session (`Reused,` rather than `New,`).
    fn reused(&self) -> bool {
        self.out.lines().any(|l| l.starts_with("Reused,"))
    }

    /// Whether the portal sent an HTTP answer, and with which status.
    fn http_status(&self) -> Option<u16> {
        let at = self.out.find("HTTP/1.1 ")?;
        self.out.get(at + 9..at + 12)?.parse().ok()
    }
}

/// Runs `openssl s_client` against the portal on `port` with `args`, sends a GET of `/` that
/// closes the connection, and waits for it to end.
async fn s_client(dir: &Path, port: u16, args: &[&str]) -> SClient {
    let mut child = tokio::process::Command::new("openssl")
        .arg("s_client")
        .args(["-connect", &format!("127.0.0.1:{port}")])
        .args(["-servername", "localhost", "-alpn", "http/1.1", "-ign_eof"])
        .arg("-CAfile")
        .arg(dir.join("root.pem"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("openssl is installed (scripts/test installs it)");
    let mut stdin = child.stdin.take().unwrap();
    // A refused handshake may close the pipe before the request is written.
    let _ = stdin
        .write_all(b"GET / HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
        .await;
    drop(stdin);
    let output = tokio::time::timeout(BOUND, child.wait_with_output())
        .await
        .expect("s_client ends once the server closes")
        .unwrap();
    SClient {
        out: String::from_utf8_lossy(&output.stdout).into_owned(),
        err: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The card's files for `openssl s_client` in `dir`: the TLS root, the card's certificate,
/// its intermediates and its key.
fn card_files(dir: &Path) {
    let card = Who::Own.card();
    std::fs::write(dir.join("root.pem"), certificates_pem(&[pki().tls_root()])).unwrap();
    std::fs::write(dir.join("card.pem"), card.cert_pem()).unwrap();
    std::fs::write(dir.join("chain.pem"), certificates_pem(&card.intermediates)).unwrap();
    std::fs::write(dir.join("card.key"), card.key_pem()).unwrap();
}

/// Logs in with the card through `openssl s_client -sess_out session.pem` on `version`
/// (`-tls1_2` or `-tls1_3`); whether OpenSSL had a session to save. It saves one once the
/// handshake is done (TLS 1.2, when the server gave it a session id) or once a ticket arrives
/// (TLS 1.3).
async fn log_in_saving_the_session(dir: &Path, port: u16, version: &str) -> bool {
    let _ = std::fs::remove_file(dir.join("session.pem"));
    let with_card = s_client(
        dir,
        port,
        &[
            version,
            "-cert",
            "card.pem",
            "-cert_chain",
            "chain.pem",
            "-key",
            "card.key",
            "-sess_out",
            "session.pem",
        ],
    )
    .await;
    assert_eq!(with_card.http_status(), Some(200), "{with_card:?}");
    assert!(!with_card.reused(), "{with_card:?}");
    dir.join("session.pem").exists()
}

/// The card pulled: `openssl s_client -sess_in session.pem` without a certificate.
async fn resume_stolen_session(dir: &Path, port: u16, version: &str) -> SClient {
    s_client(dir, port, &[version, "-sess_in", "session.pem"]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssl_sess_in_without_the_card_gets_nothing() {
    let t = TestPortal::new().await;
    let (off, stop_off) = start(&t, Limits::default(), TlsOptions::default()).await;
    // A listener of the same portal with resumption on, to steal a real session from.
    let resuming = TlsOptions {
        resumption: true,
        ..TlsOptions::default()
    };
    let (on, stop_on) = start(&t, Limits::default(), resuming).await;
    let dir = scratch("resume-openssl-off");
    card_files(&dir);
    for version in ["-tls1_2", "-tls1_3"] {
        // Resumption off: the portal gives neither a session id nor a ticket, so a card's
        // connection leaves nothing to steal.
        assert!(
            !log_in_saving_the_session(&dir, off, version).await,
            "{version}"
        );
        // Offered a session all the same (one from the listener that keeps them), it does
        // not resume it: a client without the card gets only the page that asks for it.
        assert!(
            log_in_saving_the_session(&dir, on, version).await,
            "{version}"
        );
        let pulled = resume_stolen_session(&dir, off, version).await;
        assert!(!pulled.reused(), "{version}: {pulled:?}");
        assert_eq!(pulled.http_status(), Some(403), "{version}: {pulled:?}");
        assert!(!pulled.err.contains("alert"), "{version}: {pulled:?}");
        assert!(
            pulled.out.contains("no-certificate"),
            "{version}: the page without a card: {pulled:?}"
        );
    }
    let _ = stop_off.send(true);
    let _ = stop_on.send(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_resumption_switched_on_openssl_sess_in_is_served_without_the_card() {
    let t = TestPortal::new().await;
    let resuming = TlsOptions {
        resumption: true,
        ..TlsOptions::default()
    };
    let (on, stop) = start(&t, Limits::default(), resuming).await;
    let dir = scratch("resume-openssl-on");
    card_files(&dir);
    for version in ["-tls1_2", "-tls1_3"] {
        assert!(
            log_in_saving_the_session(&dir, on, version).await,
            "{version}"
        );
        let pulled = resume_stolen_session(&dir, on, version).await;
        assert!(pulled.reused(), "{version}: {pulled:?}");
        assert_eq!(pulled.http_status(), Some(200), "{version}: {pulled:?}");
    }
    let _ = stop.send(true);
}
