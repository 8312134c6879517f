//! The README's main command, as a user runs it: `zvp-portal demo` starts, the cards in its
//! table do what the table says over real mutual TLS, the demo patients it prints are the
//! ones the GP card may and may not see, the audit log verifies with `audit verify --config`
//! and with the verifier key it wrote, and nothing the portal logged on standard error — nor
//! anything it printed besides those demo patients — contains a synthetic patient's BSN or
//! name. Then `serve` runs the portal with the demo's own configuration.

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
    // The demo patients it printed: those it may see are on the card's start page, the one
    // it may not is not; each is found by the BSN and date of birth printed.
    let patients = demo_patients(&out);
    assert_eq!(
        patients.iter().map(|p| p.may_see).collect::<Vec<_>>(),
        [true, true, true, false],
        "{out}"
    );
    let hospital = SyntheticEpd::generate(2026, chrono::Utc::now(), 5000).unwrap();
    let ctx = RequestContext {
        request_id: "demo-test".to_owned(),
    };
    for p in &patients {
        let id = hospital
            .find_by_bsn(p.bsn.parse().unwrap(), Some(p.born.parse().unwrap()), &ctx)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{} is not found by BSN and birth date", p.name));
        assert_eq!(
            hospital.patient(&id, &ctx).await.unwrap().name.to_string(),
            p.name
        );
        assert_eq!(
            start.contains(&format!("href=\"/patient/{id}\"")),
            p.may_see,
            "{}: {start}",
            p.name
        );
    }
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
    // Everything but the demo patients' lines, which name synthetic people on purpose.
    let printed = format!(
        "{}\n{err}",
        out.lines()
            .filter(|l| !l.starts_with("  huisarts may"))
            .collect::<Vec<_>>()
            .join("\n")
    );

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
    // An auditor's way, as the demo prints it: the verifier key it wrote beside the log.
    let vkey = std::fs::read_to_string(dir.join("audit.vkey")).unwrap();
    let verify = Command::new(env!("CARGO_BIN_EXE_zvp-portal"))
        .args(["audit", "verify", "--log"])
        .arg(dir.join("audit"))
        .args(["--verifier-key", vkey.trim()])
        .output()
        .unwrap();
    let by_key = String::from_utf8_lossy(&verify.stdout);
    assert!(
        verify.status.success() && by_key.contains(" records, 1 signed checkpoints"),
        "{by_key}"
    );
    assert!(out.contains("--verifier-key \"$(cat "), "{out}");
    assert!(
        err.contains(r#"{"level":"INFO","event":"audit-checkpoint","records":"#),
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

    serve_with_the_demo_configuration(&dir).await;
}

/// One line of the demo's patient table.
struct DemoPatient {
    may_see: bool,
    name: String,
    bsn: String,
    born: String,
}

/// The demo patients in what the demo printed:
/// `  huisarts may see      J. de Boer   BSN 185616434  born 1999-02-01  admitted, own patient`.
fn demo_patients(out: &str) -> Vec<DemoPatient> {
    out.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("  huisarts may ")?;
            let (may_see, rest) = match rest.strip_prefix("not see") {
                Some(rest) => (false, rest),
                None => (true, rest.strip_prefix("see")?),
            };
            let (name, rest) = rest.split_once(" BSN ")?;
            let (bsn, rest) = rest.trim_start().split_once(' ')?;
            let born = rest.trim_start().strip_prefix("born ")?.split(' ').next()?;
            Some(DemoPatient {
                may_see,
                name: name.trim().to_owned(),
                bsn: bsn.to_owned(),
                born: born.to_owned(),
            })
        })
        .collect()
}

/// `zvp-portal serve --config zvp-demo/zvp.toml` runs the portal as the demo did: the mock
/// EPD started by the portal, pages served, `/healthz` saying the EPD answers.
async fn serve_with_the_demo_configuration(dir: &std::path::Path) {
    use std::io::{BufRead as _, BufReader, Read as _, Write as _};
    let mut child = Command::new(env!("CARGO_BIN_EXE_zvp-portal"))
        .args(["serve", "--config"])
        .arg(dir.join("zvp.toml"))
        .env("ZVP_SERVER_LISTEN", "127.0.0.1:0")
        .env("ZVP_SERVER_ADMIN_LISTEN", "127.0.0.1:0")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let log = std::thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).unwrap();
        text
    });
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let serving = lines
        .by_ref()
        .map(Result::unwrap)
        .find(|l| l.starts_with("zvp-portal: serving "))
        .expect("serve says where it serves");
    // "zvp-portal: serving 127.0.0.1:PORT (admin 127.0.0.1:PORT)"
    let words: Vec<&str> = serving.split([' ', ')']).collect();
    let web: std::net::SocketAddr = words[2].parse().unwrap();
    let admin: std::net::SocketAddr = words[4].parse().unwrap();

    let (status, start) = common::tls_get(dir, web.port(), "huisarts", "/").await;
    assert_eq!(status, 200, "{start}");
    assert!(start.contains("Mijn patiënten") && start.contains("Eigen patiënt"));

    let mut health = std::net::TcpStream::connect(admin).unwrap();
    health
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    health.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let body = answer.split("\r\n\r\n").nth(1).unwrap();
    assert!(
        body.starts_with("ok\naudit log: ok") && body.ends_with("\nepd: ok\n"),
        "{body}"
    );

    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert!(child.wait().unwrap().success());
    // At the start, the strategies chosen from the EPD's CapabilityStatement, as log events.
    let log = log.join().unwrap();
    assert!(
        log.contains(
            r#""event":"epd-capabilities","software":"zvp-mock-epd","base_url":"http://127.0.0.1:"#
        ),
        "{log}"
    );
    assert!(
        log.contains(
            r#""event":"epd-search-strategy","search":"report results","how":"DiagnosticReport?…&_include=DiagnosticReport:result"}"#
        ),
        "{log}"
    );
}
