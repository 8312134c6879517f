//! The README's main command, as a user runs it: `zvp-portal demo` starts, the cards in its
//! table do what the table says over real mutual TLS, the audit log verifies with
//! `audit verify --config`, and nothing the portal printed — standard output and the log on
//! standard error — contains a synthetic patient's BSN or name.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

mod common;

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use http_body_util::{BodyExt as _, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use zvp_epd::synthetic::SyntheticEpd;
use zvp_epd::{Epd, RequestContext};

/// GET over mTLS as the demo card `card`.
async fn get(dir: &Path, port: u16, card: &str, path: &str) -> (u16, String) {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(dir.join("pki/tls-root.pem")).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let cards = dir.join("pki/cards").join(card);
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(cards.join("authenticatie.pem"))
            .unwrap()
            .map(Result::unwrap)
            .collect();
    let key = PrivateKeyDer::from_pem_file(cards.join("authenticatie.key.pem")).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(zvp_portal::serve::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .unwrap();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(connection);
    let response = sender
        .send_request(
            hyper::Request::get(path)
                .header("host", "localhost")
                .body(Empty::<Bytes>::new())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_works_as_its_table_says_and_logs_no_patient_data() {
    let dir = common::scratch("demo");
    let mut child = Command::new(env!("CARGO_BIN_EXE_zvp-portal"))
        .args(["demo", "--dir"])
        .arg(&dir)
        .env("ZVP_SERVER_LISTEN", "127.0.0.1:0")
        .env("ZVP_SERVER_ADMIN_LISTEN", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let stderr_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    // Read standard output until the demo is ready; keep the rest for the scan.
    let (lines_tx, lines_rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut out = String::new();
    let mut port = None;
    loop {
        let line = lines_rx
            .recv_timeout(Duration::from_secs(120))
            .expect("the demo prints its address within two minutes");
        if let Some(rest) = line.trim().strip_prefix("portal      https://localhost:") {
            port = rest.trim_end_matches('/').parse::<u16>().ok();
        }
        out.push_str(&line);
        out.push('\n');
        if line.contains("Stop with Ctrl-C.") {
            break;
        }
    }
    let port = port.expect("the portal's port");
    assert!(
        out.contains("curl --cacert") && out.contains("authenticatie.pem"),
        "{out}"
    );

    // Each card does what the table says.
    let (status, start) = get(&dir, port, "huisarts", "/").await;
    assert_eq!(status, 200);
    assert!(start.contains("Mijn patiënten") && start.contains("Eigen patiënt"));
    let link = start
        .split("href=\"/patient/")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let (status, page) = get(&dir, port, "huisarts", &format!("/patient/{link}")).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Zorgmomenten"));
    let (status, page) = get(
        &dir,
        port,
        "huisarts",
        &format!("/patient/{link}/uitslagen/klinische-chemie"),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let (status, delegated) = get(&dir, port, "apotheekhoudend-huisarts", "/").await;
    assert_eq!(status, 200);
    assert!(delegated.contains("Gemachtigd door J. de Vries"));
    for (card, status, text) in [
        ("specialist-ouderengeneeskunde", 200, "Mijn patiënten"),
        ("arts-vg", 200, "Mijn patiënten"),
        ("aios", 403, "role-not-eligible"),
        ("tandarts", 403, "role-not-eligible"),
        ("geblokkeerd", 403, "account-blocked"),
        ("ingetrokken", 403, "revoked"),
        ("verlopen", 403, "expired"),
        ("zonder-account", 403, "Account aanvragen"),
        ("medewerker", 303, ""),
    ] {
        let (got, body) = get(&dir, port, card, "/").await;
        assert_eq!(got, status, "{card}: {body}");
        assert!(body.contains(text), "{card}: {body}");
    }
    let (status, admin) = get(&dir, port, "medewerker", "/beheer").await;
    assert_eq!(status, 200);
    assert!(admin.contains("Accountaanvragen") && admin.contains("Noodprocedures te beoordelen"));

    // Stop it as a user does (Ctrl-C), and read everything it printed.
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done_tx.send(child.wait());
    });
    let status = done_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the demo stops on Ctrl-C")
        .unwrap();
    assert!(status.success(), "{status:?}");
    while let Ok(line) = lines_rx.recv_timeout(Duration::from_secs(5)) {
        out.push_str(&line);
        out.push('\n');
    }
    let err = stderr_reader.join().unwrap();
    let printed = format!("{out}\n{err}");

    // The audit log of the demo verifies through its configuration.
    let verify = Command::new(env!("CARGO_BIN_EXE_zvp-portal"))
        .args(["audit", "verify", "--config"])
        .arg(dir.join("zvp.toml"))
        .output()
        .unwrap();
    let verified = String::from_utf8_lossy(&verify.stdout);
    assert!(
        verify.status.success() && verified.starts_with("ok: "),
        "{verified}"
    );

    // No synthetic patient's BSN or name anywhere in what the portal printed.
    let epd = SyntheticEpd::generate(2026, chrono::Utc::now(), 5000).unwrap();
    let ctx = RequestContext {
        request_id: "scan".to_owned(),
    };
    let mut scanned = 0;
    for id in epd.patient_ids().cloned().collect::<Vec<_>>() {
        let p = epd.patient(&id, &ctx).await.unwrap();
        if let Some(bsn) = p.bsn {
            assert!(!printed.contains(&bsn.to_string()), "BSN of {id} printed");
        }
        let full = format!(
            "{} {}",
            p.name.given_names().unwrap_or(""),
            p.name.family_name()
        );
        assert!(
            !printed.contains(full.trim()),
            "name of {id} printed: {full}"
        );
        scanned += 1;
    }
    assert_eq!(scanned, 5000);
    // It did log: the refusals, with reference numbers.
    assert!(err.contains("\"event\":\"refusal\""), "{err}");
}
