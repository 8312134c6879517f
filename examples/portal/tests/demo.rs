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

use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use zvp_epd::synthetic::SyntheticEpd;
use zvp_epd::{Epd, RequestContext};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_works_as_its_table_says_and_logs_no_patient_data() {
    let dir = common::scratch("demo");
    let common::Demo {
        mut child,
        port,
        lines: lines_rx,
        mut out,
        stderr: stderr_reader,
    } = common::Demo::start(&dir);

    assert!(
        out.contains("curl --cacert") && out.contains("authenticatie.pem"),
        "{out}"
    );

    // Each card does what the table says.
    let (status, start) = common::tls_get(&dir, port, "huisarts", "/").await;
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
    let (status, page) = common::tls_get(&dir, port, "huisarts", &format!("/patient/{link}")).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Zorgmomenten"));
    let (status, page) = common::tls_get(
        &dir,
        port,
        "huisarts",
        &format!("/patient/{link}/uitslagen/klinische-chemie"),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let (status, delegated) = common::tls_get(&dir, port, "apotheekhoudend-huisarts", "/").await;
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
        let (got, body) = common::tls_get(&dir, port, card, "/").await;
        assert_eq!(got, status, "{card}: {body}");
        assert!(body.contains(text), "{card}: {body}");
    }
    let (status, admin) = common::tls_get(&dir, port, "medewerker", "/beheer").await;
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
    // The demo signs its checkpoints with the key it made; the one made when it stopped is
    // checked with that key, found through the configuration.
    assert!(
        verified.contains(" records, 1 signed checkpoints"),
        "{verified}"
    );
    assert!(
        err.contains("{\"event\":\"audit-checkpoint\",\"records\":"),
        "{err}"
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
