//! The card listener under attack, over real TLS on loopback: a flood from one address is
//! capped and timed out while a card from another address is served; HTTP/2 is not served
//! without ALPN agreeing on it. (Resumption without the card: `resumption.rs`.)
//!
//! The flood comes from 127.0.0.1 and the real card from 127.0.0.2 (Linux routes all of
//! 127.0.0.0/8 to the loopback interface). Time limits are failure bounds, never a
//! synchronisation: every wait is for an event (a status, or the server closing the stream).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::listener::{get_root, start, status, tcp_from, tls_from};
use common::{TestPortal, Who, pki};
use rustls::client::Resumption;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use zvp_portal::serve::{self, Limits, TlsOptions};

/// The failure bound of a wait that the server's timeouts (2 s in the flood) end.
const BOUND: Duration = Duration::from_secs(30);

/// Whom a client says it is.
enum Client {
    /// A UZI-pas of the test PKI.
    Card(Who),
    /// A self-signed certificate: it parses, so the handshake completes.
    SelfSigned,
}

/// A client configuration for the portal, offering ALPN `http/1.1`, without resumption.
fn client_config(client: &Client) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki().tls_root()).unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(serve::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let mut config = match client {
        Client::Card(who) => {
            let card = who.card();
            builder
                .with_client_auth_cert(card.chain(), PrivateKeyDer::Pkcs8(card.private_key()))
                .unwrap()
        }
        Client::SelfSigned => {
            let made =
                rcgen::generate_simple_self_signed(vec!["flood.example".to_owned()]).unwrap();
            let key = PrivatePkcs8KeyDer::from(made.signing_key.serialize_der());
            builder
                .with_client_auth_cert(
                    vec![CertificateDer::from(made.cert.der().to_vec())],
                    PrivateKeyDer::Pkcs8(key),
                )
                .unwrap()
        }
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config.resumption = Resumption::disabled();
    Arc::new(config)
}

/// Sends a GET of `/` on a connection that stays open and reads the answer's status line.
async fn keep_alive_status<S>(stream: &mut S) -> u16
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    stream
        .write_all(b"GET / HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).await.unwrap();
    status(&head)
}

/// GET `/` as the demo card from 127.0.0.2: the status and the body.
async fn card_get(port: u16) -> (u16, String) {
    let config = client_config(&Client::Card(Who::Own));
    let mut tls = tls_from([127, 0, 0, 2], port, config).await.unwrap();
    let answer = get_root(&mut tls).await.unwrap();
    (
        status(&answer),
        String::from_utf8_lossy(&answer).into_owned(),
    )
}

/// Reads until the server closes the stream; what it sent before. A close without TLS
/// close_notify (the server drops the connection) or a reset (it closed with unread bytes)
/// counts as closed; any other error fails.
async fn until_closed<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> Vec<u8> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) => return seen,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset
                ) =>
            {
                return seen;
            }
            Err(e) => panic!("reading: {e}"),
        }
    }
}

/// How one flood connection ended.
#[derive(Debug, PartialEq, Eq)]
enum Ended {
    /// The server closed it before the TLS handshake completed (a cap, or a timeout).
    BeforeHandshake,
    /// The server closed it after the handshake (a timeout).
    AfterHandshake,
}

/// A flood connection that connects and sends nothing.
async fn bare(port: u16) -> Ended {
    let mut tcp = tcp_from([127, 0, 0, 1], port).await.unwrap();
    assert_eq!(until_closed(&mut tcp).await, b"");
    Ended::BeforeHandshake
}

/// A flood connection that completes TLS with a self-signed certificate and sends nothing.
async fn idle_tls(port: u16, config: Arc<rustls::ClientConfig>) -> Ended {
    let Ok(mut tls) = tls_from([127, 0, 0, 1], port, config).await else {
        return Ended::BeforeHandshake;
    };
    assert_eq!(until_closed(&mut tls).await, b"");
    Ended::AfterHandshake
}

/// A flood connection that completes TLS with a self-signed certificate and sends a request
/// header a byte at a time, never finishing it, faster than the idle timeout.
async fn slow_header(port: u16, config: Arc<rustls::ClientConfig>) -> Ended {
    let Ok(tls) = tls_from([127, 0, 0, 1], port, config).await else {
        return Ended::BeforeHandshake;
    };
    let (mut reader, mut writer) = tokio::io::split(tls);
    let drip = tokio::spawn(async move {
        let _ = writer
            .write_all(b"GET / HTTP/1.1\r\nhost: localhost\r\n")
            .await;
        // The pace of the attacker, not a synchronisation: a byte each 200 ms keeps the
        // connection busy well within the 2 s idle timeout, so only the header-read timeout
        // can end it.
        loop {
            if writer.write_all(b"x").await.is_err() || writer.flush().await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let seen = until_closed(&mut reader).await;
    drip.abort();
    // hyper answers an unfinished header with 408 when it can.
    assert!(
        seen.is_empty() || status(&seen) == 408,
        "{}",
        String::from_utf8_lossy(&seen)
    );
    Ended::AfterHandshake
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_from_one_address_is_capped_and_timed_out_while_a_card_is_served() {
    // 300 connections from 127.0.0.1 (idle TCP, idle TLS with a self-signed certificate, and
    // slow headers) against a listener that serves at most 128 at once: without the caps per
    // address they would hold all 128 places and the card would wait; without the timeouts
    // they would stay open.
    let t = TestPortal::new().await;
    let limits = Limits {
        max_connections: 128,
        max_connections_per_address: 48,
        max_handshakes_per_address: 24,
        client_hello_timeout: Duration::from_secs(2),
        handshake_timeout: Duration::from_secs(4),
        header_read_timeout: Duration::from_secs(2),
        idle_timeout: Duration::from_secs(2),
        ..Limits::default()
    };
    let (port, stop) = start(&t, limits, TlsOptions::default()).await;
    let (_, patient) = t.own_patient().await;
    let self_signed = client_config(&Client::SelfSigned);
    let mut flood = tokio::task::JoinSet::new();
    // What is still open, by kind, for the failure message.
    let open = Arc::new(std::sync::Mutex::new([100usize; 3]));
    let counted = |kind: usize, work: std::pin::Pin<Box<dyn Future<Output = Ended> + Send>>| {
        let open = Arc::clone(&open);
        async move {
            let ended = work.await;
            open.lock().unwrap()[kind] -= 1;
            ended
        }
    };
    for _ in 0..100 {
        flood.spawn(counted(0, Box::pin(bare(port))));
        flood.spawn(counted(
            1,
            Box::pin(idle_tls(port, Arc::clone(&self_signed))),
        ));
        flood.spawn(counted(
            2,
            Box::pin(slow_header(port, Arc::clone(&self_signed))),
        ));
    }
    // The card, from another address, while the flood is on.
    let started = std::time::Instant::now();
    let (status, body) = tokio::time::timeout(BOUND, card_get(port))
        .await
        .expect("the card is served under the flood");
    let took = started.elapsed();
    assert_eq!(status, 200, "{body:.500}");
    assert!(body.contains(&patient.name.to_string()));
    eprintln!("the card's page under the flood: {} ms", took.as_millis());
    // Every flood connection is closed by the server: at once beyond the caps, after its
    // timeout within them.
    let mut ended = Vec::new();
    tokio::time::timeout(BOUND, async {
        while let Some(one) = flood.join_next().await {
            ended.push(one.unwrap());
        }
    })
    .await
    .unwrap_or_else(|_| {
        panic!(
            "still open (bare, idle TLS, slow header): {:?}",
            open.lock().unwrap()
        )
    });
    assert_eq!(ended.len(), 300);
    // Some TLS connections completed their handshake, so the timeouts after it were met too.
    let after = ended
        .iter()
        .filter(|e| **e == Ended::AfterHandshake)
        .count();
    assert!(after > 0, "no flood handshake completed");
    eprintln!("flood connections past the handshake: {after} of 200 TLS");
    let _ = stop.send(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_gets_its_caps_and_is_closed_at_once_beyond_them() {
    // Timeouts far beyond the failure bound: whatever is closed within the bound was closed by
    // a cap.
    let t = TestPortal::new().await;
    let long = Duration::from_secs(600);
    let limits = Limits {
        max_connections_per_address: 3,
        max_handshakes_per_address: 2,
        client_hello_timeout: long,
        handshake_timeout: long,
        header_read_timeout: long,
        idle_timeout: long,
        ..Limits::default()
    };
    let (port, stop) = start(&t, limits, TlsOptions::default()).await;
    let card = client_config(&Client::Card(Who::Own));
    // Two connections in their handshake: the third is closed at once.
    let first = tcp_from([127, 0, 0, 1], port).await.unwrap();
    let second = tcp_from([127, 0, 0, 1], port).await.unwrap();
    let mut third = tcp_from([127, 0, 0, 1], port).await.unwrap();
    let closed = tokio::time::timeout(BOUND, until_closed(&mut third))
        .await
        .expect("the third handshake from the address is closed at once");
    assert_eq!(closed, b"");
    // The first two are still open. The first completes its handshake and is served on a
    // connection kept open (its answer means its handshake place is given back).
    let connector = tokio_rustls::TlsConnector::from(Arc::clone(&card));
    let mut first = connector
        .connect(ServerName::try_from("localhost").unwrap(), first)
        .await
        .unwrap();
    assert_eq!(keep_alive_status(&mut first).await, 200);
    // A third connection gets the freed handshake place and is served.
    let mut open = tls_from([127, 0, 0, 1], port, Arc::clone(&card))
        .await
        .unwrap();
    assert_eq!(keep_alive_status(&mut open).await, 200);
    // Three open connections: a fourth is closed at once, although a handshake place is free.
    let mut fourth = tcp_from([127, 0, 0, 1], port).await.unwrap();
    let closed = tokio::time::timeout(BOUND, until_closed(&mut fourth))
        .await
        .expect("the fourth connection from the address is closed at once");
    assert_eq!(closed, b"");
    // Another address is not affected.
    let (status_other, _) = tokio::time::timeout(BOUND, card_get(port)).await.unwrap();
    assert_eq!(status_other, 200);
    // And the second one, open all along, completes its handshake and is served.
    let mut second = connector
        .connect(ServerName::try_from("localhost").unwrap(), second)
        .await
        .unwrap();
    assert_eq!(status(&get_root(&mut second).await.unwrap()), 200);
    let _ = stop.send(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http2_preface_is_not_served_where_alpn_agreed_on_http1() {
    let t = TestPortal::new().await;
    let (port, stop) = start(&t, Limits::default(), TlsOptions::default()).await;
    let card = client_config(&Client::Card(Who::Own));
    let mut tls = tls_from([127, 0, 0, 1], port, card).await.unwrap();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    // The prior-knowledge preface and an empty SETTINGS frame.
    tls.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .await
        .unwrap();
    let answer = tokio::time::timeout(BOUND, until_closed(&mut tls))
        .await
        .expect("the server answers and closes");
    // An HTTP/2 server would have sent its SETTINGS frame; the HTTP/1.1 server closes the
    // connection without a byte.
    assert_eq!(answer, b"", "{answer:?}");
    let _ = stop.send(true);
}
