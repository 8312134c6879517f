//! CRLs that fetch themselves, against a local HTTP server: a good list replaces the kept one;
//! a badly signed, truncated, older or missing one, or none at all, is refused with its error
//! and the last good list stays in its file. A refresh round puts the fetched list to work:
//! its card is refused from then on, and `/metrics` shows the list with its warning.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

mod common;

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use common::{TestPortal, Who};
use rustls_pki_types::CertificateDer;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use zvp_auth::testpki::{KeyAlgorithm, TestPki, certificates_pem};
use zvp_auth::uzi::{CrlError, Environment};
use zvp_core::CardType;
use zvp_portal::config::{Config, CrlDownload, UziEnvironment};
use zvp_portal::crl::{FetchError, gauges, refresh, refresh_round};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 8, 0, 0).unwrap()
}

fn crl(pki: &TestPki, hours_ago: i64) -> Vec<u8> {
    let this_update = now() - chrono::Duration::hours(hours_ago);
    pki.crl(
        CardType::CareProvider,
        &[],
        this_update,
        this_update + chrono::Duration::hours(48),
    )
    .unwrap()
    .as_ref()
    .to_vec()
}

/// Serves `routes` (path, status, body) over HTTP/1.1; `/cut` announces more than it sends,
/// `/silent` never answers.
async fn server(routes: Vec<(&'static str, u16, Vec<u8>)>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            let routes = routes.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = stream.read(&mut buf).await.unwrap();
                    if n == 0 {
                        return;
                    }
                    request.extend_from_slice(&buf[..n]);
                }
                let line = String::from_utf8_lossy(&request);
                let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
                if path == "/silent" {
                    // A server that never answers: the client's timeout must end it.
                    std::future::pending::<()>().await;
                }
                let (status, body, length) = match routes.iter().find(|r| r.0 == path) {
                    Some((_, status, body)) if path == "/cut" => {
                        (*status, body.clone(), body.len() + 100)
                    }
                    Some((_, status, body)) => (*status, body.clone(), body.len()),
                    None => (404, b"not found".to_vec(), 9),
                };
                let head = format!(
                    "HTTP/1.1 {status} X\r\ncontent-length: {length}\r\nconnection: close\r\n\r\n"
                );
                let _ = stream.write_all(head.as_bytes()).await;
                let _ = stream.write_all(&body).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    format!("http://{address}")
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("zvp-crl-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn a_good_crl_replaces_the_kept_one_and_every_bad_answer_leaves_it() {
    let pki = TestPki::generate(Environment::Test, KeyAlgorithm::EcdsaP256, now()).unwrap();
    let other = TestPki::generate(Environment::Test, KeyAlgorithm::EcdsaP256, now()).unwrap();
    let mut issuers: Vec<CertificateDer<'static>> = vec![pki.root()];
    issuers.extend(pki.intermediates());
    let old = crl(&pki, 3);
    let good = crl(&pki, 1);
    let mut flipped = crl(&pki, 0);
    *flipped.last_mut().unwrap() ^= 1;
    let truncated = good[..good.len() / 2].to_vec();
    let base = server(vec![
        ("/good", 200, good.clone()),
        ("/old", 200, old.clone()),
        ("/flipped", 200, flipped),
        ("/foreign", 200, crl(&other, 0)),
        ("/truncated", 200, truncated),
        ("/cut", 200, good.clone()),
    ])
    .await;
    let dir = temp_dir("fetch");
    let file = dir.join("crl").join("Z.crl");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, &old).unwrap();
    let timeout = Duration::from_secs(2);
    let download = |path: &str| CrlDownload {
        url: format!("{base}{path}"),
        file: file.clone(),
    };

    let info = refresh(&download("/good"), &issuers, now(), timeout)
        .await
        .unwrap();
    assert_eq!(info.this_update, now() - chrono::Duration::hours(1));
    assert_eq!(std::fs::read(&file).unwrap(), good);
    assert!(!dir.join("crl").join("Z.crl.download").exists());

    let refused = |e: &FetchError| format!("{e:?}");
    for (path, expected) in [
        ("/flipped", "BadSignature"),
        ("/foreign", "BadSignature"),
        ("/truncated", "Malformed"),
        ("/old", "Older"),
    ] {
        let err = refresh(&download(path), &issuers, now(), timeout)
            .await
            .unwrap_err();
        match &err {
            FetchError::Refused(CrlError::BadSignature { .. }) if expected == "BadSignature" => {}
            FetchError::Refused(CrlError::Malformed(_)) if expected == "Malformed" => {}
            FetchError::Refused(CrlError::Older { .. }) if expected == "Older" => {}
            other => panic!("{path}: {}", refused(other)),
        }
        assert_eq!(std::fs::read(&file).unwrap(), good, "{path}");
    }
    let err = refresh(&download("/missing"), &issuers, now(), timeout)
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Status(404)), "{err:?}");
    let err = refresh(&download("/cut"), &issuers, now(), timeout)
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Body(_)), "{err:?}");
    let err = refresh(
        &download("/silent"),
        &issuers,
        now(),
        Duration::from_secs(1),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, FetchError::Timeout { seconds: 1 }), "{err:?}");
    // Connection refused: a port that was free a moment ago.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let refused_download = CrlDownload {
        url: format!("http://{closed}/Z.crl"),
        file: file.clone(),
    };
    let err = refresh(&refused_download, &issuers, now(), timeout)
        .await
        .unwrap_err();
    assert!(matches!(err, FetchError::Connect(_)), "{err:?}");
    let https = CrlDownload {
        url: "https://example.invalid/Z.crl".to_owned(),
        file: file.clone(),
    };
    let err = refresh(&https, &issuers, now(), timeout).await.unwrap_err();
    assert!(matches!(err, FetchError::Url(_)), "{err:?}");
    assert_eq!(std::fs::read(&file).unwrap(), good);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_crl_near_its_next_update_is_a_warning() {
    let pki = TestPki::generate(Environment::Test, KeyAlgorithm::EcdsaP256, now()).unwrap();
    let info = zvp_auth::uzi::crl_info(&crl(&pki, 30)).unwrap();
    // nextUpdate in 18 hours: within a 24-hour margin, not within 12.
    let warned = gauges(
        std::slice::from_ref(&info),
        now(),
        chrono::Duration::hours(24),
    );
    assert!(warned[0].warning);
    assert_eq!(
        warned[0].next_update,
        Some(now() + chrono::Duration::hours(18))
    );
    let quiet = gauges(&[info], now(), chrono::Duration::hours(12));
    assert!(!quiet[0].warning);
}

#[tokio::test]
async fn a_refresh_round_revokes_the_card_and_shows_the_list_in_metrics() {
    let t = TestPortal::new().await;
    let pki = common::pki();
    let dir = temp_dir("round");
    std::fs::write(dir.join("roots.pem"), certificates_pem(&[pki.root()])).unwrap();
    std::fs::write(dir.join("cas.pem"), certificates_pem(&pki.intermediates())).unwrap();
    // The portal's clock is `common::now()`; the list is 30 hours old and due in 18.
    let this_update = common::now() - chrono::Duration::hours(30);
    let next_update = this_update + chrono::Duration::hours(48);
    let revoked = Who::Own.card();
    let list = pki
        .crl(
            CardType::CareProvider,
            &[&revoked],
            this_update,
            next_update,
        )
        .unwrap()
        .as_ref()
        .to_vec();
    let issuer = zvp_auth::uzi::crl_info(&list).unwrap().issuer;
    let base = server(vec![("/Z.crl", 200, list)]).await;
    let mut config = Config::default();
    config.uzi.environment = UziEnvironment::Test;
    config.uzi.anchors = dir.join("roots.pem");
    config.uzi.intermediates = dir.join("cas.pem");
    config.uzi.crl_downloads = vec![CrlDownload {
        url: format!("{base}/Z.crl"),
        file: dir.join("Z.crl"),
    }];

    assert_eq!(t.get(Some(Who::Own), "/").await.status, 200);
    assert!(!t.admin("/metrics").await.1.contains("zvp_crl_"));

    refresh_round(&t.portal, &config, common::now()).await;

    let metrics = t.admin("/metrics").await.1;
    let label = issuer.replace('\\', "\\\\").replace('"', "\\\"");
    assert!(
        metrics.contains(&format!(
            "zvp_crl_next_update_seconds{{issuer=\"{label}\"}} {}\n",
            next_update.timestamp()
        )),
        "{metrics}"
    );
    // Within the default 24-hour margin of its nextUpdate.
    assert!(
        metrics.contains(&format!("zvp_crl_warning{{issuer=\"{label}\"}} 1\n")),
        "{metrics}"
    );
    let revoked = t.get(Some(Who::Own), "/").await;
    assert_eq!(revoked.status, 403, "{}", revoked.body);
    assert!(revoked.body.contains("ingetrokken"), "{}", revoked.body);
    // A card of the same CA that the list does not name is still served: the new validator
    // checks revocation, it does not refuse the CA.
    assert_eq!(t.get(Some(Who::Practice), "/").await.status, 200);
    let _ = std::fs::remove_dir_all(&dir);
}
