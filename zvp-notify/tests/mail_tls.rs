//! SMTP over TLS against `aiosmtpd`: STARTTLS and implicit TLS with the server's certificate
//! from a CA the portal is given; a server whose certificate is not trusted, and one that does
//! not offer STARTTLS, get no mail (no fallback to plain text).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

mod common;

use std::ffi::OsString;
use std::path::Path;

use common::smtp::{SmtpServer, free_port, scratch};
use lettre::Message;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use zvp_notify::mail::transport::{MailTransport, SendError, Smtp, SmtpSecurity, SmtpSettings};

/// A CA (its PEM) and a certificate for `localhost` from it, written to `dir`.
fn certificates(dir: &Path) -> Vec<u8> {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "zvp test SMTP CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::from_params(&ca_params, &ca_key);
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    let cert = params.signed_by(&key, &issuer).unwrap();
    std::fs::write(dir.join("server.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();
    ca.pem().into_bytes()
}

fn smtp(port: u16, security: SmtpSecurity, ca_pem: Option<Vec<u8>>) -> Smtp {
    Smtp::new(&SmtpSettings {
        host: "localhost".to_owned(),
        port,
        security,
        credentials: None,
        ca_pem,
        timeout: std::time::Duration::from_secs(10),
    })
    .unwrap()
}

fn message() -> Message {
    Message::builder()
        .from(
            "Zorgverlenersportaal <noreply@ziekenhuis.example>"
                .parse()
                .unwrap(),
        )
        .to("huisarts@praktijk.example".parse().unwrap())
        .subject(zvp_notify::mail::SUBJECT)
        .body("Er is nieuwe informatie.".to_owned())
        .unwrap()
}

/// aiosmtpd's options for the certificate and key in `dir`.
fn tls_options(dir: &Path, cert: &str, key: &str) -> [OsString; 4] {
    [
        cert.into(),
        dir.join("server.pem").into_os_string(),
        key.into(),
        dir.join("server.key").into_os_string(),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_with_a_trusted_certificate_delivers() {
    let dir = scratch("starttls");
    let ca = certificates(&dir);
    let port = free_port();
    let server = SmtpServer::start_with(port, &dir, &tls_options(&dir, "--tlscert", "--tlskey"));
    smtp(port, SmtpSecurity::StartTls, Some(ca))
        .send(message())
        .await
        .unwrap();
    assert_eq!(server.messages().len(), 1);
    // Without the CA (the system's anchors only), the certificate is not trusted: no mail.
    let refused = smtp(port, SmtpSecurity::StartTls, None)
        .send(message())
        .await;
    assert!(
        matches!(refused, Err(SendError::Unreachable(_))),
        "{refused:?}"
    );
    assert_eq!(server.messages().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn implicit_tls_delivers() {
    let dir = scratch("smtps");
    let ca = certificates(&dir);
    let port = free_port();
    let server =
        SmtpServer::start_with(port, &dir, &tls_options(&dir, "--smtpscert", "--smtpskey"));
    smtp(port, SmtpSecurity::Tls, Some(ca))
        .send(message())
        .await
        .unwrap();
    assert_eq!(server.messages().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_starttls_gets_no_mail_in_plain_text() {
    let dir = scratch("no-starttls");
    let ca = certificates(&dir);
    let port = free_port();
    let server = SmtpServer::start(port, &dir);
    let refused = smtp(port, SmtpSecurity::StartTls, Some(ca))
        .send(message())
        .await;
    assert!(
        matches!(refused, Err(SendError::Unreachable(_))),
        "{refused:?}"
    );
    assert!(server.messages().is_empty());
}
