//! End to end over real mutual TLS on loopback: a Rust HTTP client presents a generated card,
//! the portal's rustls server verifies the handshake and the page validates the card; and the
//! reverse-proxy mode, where a trusted proxy forwards the certificate in a header.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

mod common;

use std::sync::Arc;

use common::{TestPortal, Who, now, pki};
use http_body_util::{BodyExt as _, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls_pki_types::{PrivateKeyDer, ServerName};
use zvp_auth::testpki::IssuedCertificate;
use zvp_portal::serve;

/// GET `path` over TLS as `card` (or without a client certificate).
async fn get(
    port: u16,
    card: Option<&IssuedCertificate>,
    path: &str,
) -> Result<(u16, String), String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki().tls_root()).unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(serve::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match card {
        Some(card) => builder
            .with_client_auth_cert(card.chain(), PrivateKeyDer::Pkcs8(card.private_key()))
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let request = hyper::Request::get(path)
        .header("host", "localhost")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Ok((status, String::from_utf8(body.to_vec()).unwrap()))
}

/// The portal served over mutual TLS on a free loopback port: the port, the stop switch and
/// the serving task.
async fn start_tls(
    t: &TestPortal,
) -> (
    u16,
    tokio::sync::watch::Sender<bool>,
    tokio::task::JoinHandle<Result<(), serve::ServeError>>,
) {
    let server = pki().issue_tls_server(&["localhost"], now()).unwrap();
    let key = PrivateKeyDer::Pkcs8(server.private_key());
    let validator = pki().validator().unwrap().without_revocation_checking();
    let config = serve::tls_config(
        &validator,
        vec![server.der.clone()],
        key,
        serve::TlsOptions::default(),
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let serving = tokio::spawn(serve::serve_tls(
        listener,
        config,
        t.portal.router(),
        serve::Limits::default(),
        stopped,
    ));
    (port, stop, serving)
}

/// `router` served over plain HTTP on a free loopback port: the port, the stop switch, the
/// serving task.
async fn start_plain(
    router: axum::Router,
) -> (
    u16,
    tokio::sync::watch::Sender<bool>,
    tokio::task::JoinHandle<Result<(), serve::ServeError>>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let serving = tokio::spawn(serve::serve_plain(
        listener,
        router,
        serve::Limits::default(),
        stopped,
    ));
    (port, stop, serving)
}

/// A plain HTTP/1 connection to `port`, its driver running.
async fn connect_plain(port: u16) -> hyper::client::conn::http1::SendRequest<Empty<Bytes>> {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(connection);
    sender
}

/// A keep-alive HTTP/1 connection over mutual TLS as `card`: its sender and its driver task.
async fn connect(
    port: u16,
    card: &IssuedCertificate,
) -> (
    hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
    tokio::task::JoinHandle<Result<(), hyper::Error>>,
) {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki().tls_root()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(serve::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(card.chain(), PrivateKeyDer::Pkcs8(card.private_key()))
        .unwrap();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    (sender, tokio::spawn(connection))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_logs_in_over_mutual_tls() {
    let t = TestPortal::new().await;
    let (port, stop, _) = start_tls(&t).await;
    let (id, patient) = t.own_patient().await;
    let (status, body) = get(port, Some(&Who::Own.card()), "/").await.unwrap();
    assert_eq!(status, 200);
    assert!(body.contains("Mijn patiënten") && body.contains(&patient.name.to_string()));
    let (status, body) = get(port, Some(&Who::Own.card()), &format!("/patient/{id}"))
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert!(body.contains(&patient.bsn.unwrap().to_string()));
    // A refused card completes the handshake and gets the page that says why.
    let (status, body) = get(port, Some(&Who::Blocked.card()), "/").await.unwrap();
    assert_eq!(status, 403);
    assert!(body.contains("Uw account is geblokkeerd"));
    // Without a client certificate, the handshake completes and the portal's own page says
    // how to log in; nothing else is served.
    let (status, body) = get(port, None, "/").await.unwrap();
    assert_eq!(status, 403);
    assert!(body.contains("Plaats uw UZI-pas") && body.contains("no-certificate"));
    let (status, body) = get(port, None, &format!("/patient/{id}")).await.unwrap();
    assert_eq!(status, 403);
    assert!(!body.contains(&patient.name.to_string()), "{body}");
    let _ = stop.send(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_the_forwarded_certificate_logs_in_and_is_validated() {
    let t = TestPortal::new().await;
    let card = Who::Own.card();
    let pem = card.chain_pem();
    let escaped = common::encode(&pem);
    // The proxy is 127.0.0.1; the same header from another address is ignored.
    let trusted = t.portal_with_proxy(vec!["127.0.0.1".parse().unwrap()]);
    let untrusted = t.portal_with_proxy(vec!["10.0.0.1".parse().unwrap()]);
    for (portal, expected) in [(trusted, 200u16), (untrusted, 403)] {
        let (port, stop, _) = start_plain(portal.router()).await;
        let mut sender = connect_plain(port).await;
        let request = hyper::Request::get("/")
            .header("host", "localhost")
            .header("x-ssl-client-cert", escaped.as_str())
            .body(Empty::<Bytes>::new())
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.status().as_u16(), expected);
        let _ = stop.send(true);
    }
    // A forwarded certificate is validated like any other: a blocked card stays out.
    let blocked = common::encode(&Who::Blocked.card().chain_pem());
    let portal = t.portal_with_proxy(vec!["127.0.0.1".parse().unwrap()]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(serve::serve_plain(
        listener,
        portal.router(),
        serve::Limits::default(),
        stopped,
    ));
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(connection);
    let response = sender
        .send_request(
            hyper::Request::get("/")
                .header("host", "localhost")
                .header("x-ssl-client-cert", blocked.as_str())
                .body(Empty::<Bytes>::new())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);
    let _ = stop.send(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_crl_reaches_a_connection_that_is_already_open() {
    // The identity is validated once per connection and reused for its next requests — but
    // not across a change of the validator: a card revoked meanwhile is refused on the same
    // keep-alive connection.
    let t = TestPortal::new().await;
    let (port, stop, _) = start_tls(&t).await;
    let card = Who::Own.card();
    let (mut sender, _connection) = connect(port, &card).await;
    // One request on the open connection, answered and read to the end before the next.
    async fn status(sender: &mut hyper::client::conn::http1::SendRequest<Empty<Bytes>>) -> u16 {
        sender.ready().await.unwrap();
        let request = hyper::Request::get("/")
            .header("host", "localhost")
            .body(Empty::<Bytes>::new())
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        let status = response.status().as_u16();
        let _ = response.into_body().collect().await.unwrap();
        status
    }
    assert_eq!(status(&mut sender).await, 200);
    assert_eq!(status(&mut sender).await, 200);
    let crl = pki()
        .crl(
            zvp_core::CardType::CareProvider,
            &[&card],
            now() - chrono::Duration::hours(1),
            now() + chrono::Duration::hours(47),
        )
        .unwrap();
    t.portal.replace_validator(Arc::new(
        pki()
            .validator()
            .unwrap()
            .with_crls([crl])
            .unwrap()
            .with_accepted_card_types(&[
                zvp_core::CardType::CareProvider,
                zvp_core::CardType::NamedEmployee,
            ]),
    ));
    assert_eq!(status(&mut sender).await, 403);
    let _ = stop.send(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_closes_keep_alive_connections_after_their_request() {
    // When the portal stops, an open keep-alive connection is closed after the request in
    // hand, so no page is served (and no record written) after the portal's last checkpoint.
    let t = TestPortal::new().await;
    let (port, stop, serving) = start_tls(&t).await;
    let (mut sender, connection) = connect(port, &Who::Own.card()).await;
    let request = hyper::Request::get("/")
        .header("host", "localhost")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let _ = response.into_body().collect().await.unwrap();
    let records = t.audit.size().unwrap();

    stop.send(true).unwrap();
    // The server closes the idle keep-alive connection: the client's side of it ends. (Before,
    // it stayed open and served on; the time limit is the failure, not a synchronisation.)
    tokio::time::timeout(std::time::Duration::from_secs(30), connection)
        .await
        .expect("the server closed the connection")
        .unwrap()
        .unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(30), serving)
        .await
        .expect("the listener stopped")
        .unwrap()
        .unwrap();
    assert!(sender.ready().await.is_err(), "nothing more is sent on it");
    assert_eq!(t.audit.size().unwrap(), records);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_still_running_after_the_shutdown_grace_is_cut_off() {
    // A request that never ends (here a handler that waits forever) does not keep a stopping
    // listener, nor its connection, alive past the grace period: once `serve_plain` returns,
    // nothing more is served. (The time limits are the failure, not a synchronisation.)
    let started = Arc::new(tokio::sync::Notify::new());
    let handler_started = Arc::clone(&started);
    let router = axum::Router::new().route(
        "/forever",
        axum::routing::get(move || {
            let started = Arc::clone(&handler_started);
            async move {
                started.notify_one();
                std::future::pending::<&'static str>().await
            }
        }),
    );
    let (port, stop, serving) = start_plain(router).await;
    let mut sender = connect_plain(port).await;
    let request = hyper::Request::get("/forever")
        .header("host", "localhost")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let pending = tokio::spawn(async move { sender.send_request(request).await });
    // Stop once the request is in the handler.
    started.notified().await;
    stop.send(true).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(60), serving)
        .await
        .expect("the listener stops after its grace period")
        .unwrap()
        .unwrap();
    let answer = tokio::time::timeout(std::time::Duration::from_secs(5), pending)
        .await
        .expect("the cut connection ends the request")
        .unwrap();
    assert!(answer.is_err(), "no answer was served: {answer:?}");
}
