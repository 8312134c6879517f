//! `zvp-portal uzi` and `zvp-portal testpki` as an operator runs them: the real UZI-register
//! fixtures, and a generated PKI with its cards, CRLs and PKCS#12 files.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/uzi");

fn portal(args: &[&str]) -> (i32, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_zvp-portal"))
        .args(args)
        .output()
        .unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: stdout {:?} stderr {:?}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap(), json)
}

fn fixture(path: &str) -> String {
    format!("{FIXTURES}/{path}")
}

fn verify_fixture(
    anchors: &str,
    at: &str,
    test_env: bool,
    card: &str,
    extra: &[&str],
) -> (i32, Value) {
    let anchors = fixture(anchors);
    let card = fixture(card);
    let mut args = vec!["uzi", "verify", "--anchors", &anchors, "--at", at];
    if test_env {
        args.push("--test-environment");
    }
    args.extend_from_slice(extra);
    args.push(&card);
    portal(&args)
}

const Z_AUTH: &str = "test/cards/z-900016528-authenticatie.pem";
const EARLY: &str = "2019-01-01T00:00:00Z";

#[test]
fn real_test_card_verifies_with_its_identity() {
    let (code, json) = verify_fixture("test", EARLY, true, Z_AUTH, &[]);
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["ok"], true);
    assert_eq!(json["identity"]["uzi_number"], "900016528");
    assert_eq!(json["identity"]["card_type"], "Z");
    assert_eq!(json["identity"]["subscriber"], "90000382");
    assert_eq!(json["identity"]["role"], "01.000");
    assert_eq!(json["identity"]["agb"], Value::Null);
    assert_eq!(json["revocation"], "not-checked");
}

#[test]
fn real_test_card_is_refused_by_the_default_eligible_roles() {
    let roles = ["--eligible-roles", "01.015,01.004,01.047,01.056"];
    let (code, json) = verify_fixture("test", EARLY, true, Z_AUTH, &roles);
    assert_eq!(
        (code, json["ok"].clone(), json["error"].clone()),
        (1, false.into(), "role-not-eligible".into())
    );
    let (code, _) = verify_fixture(
        "test",
        EARLY,
        true,
        Z_AUTH,
        &["--eligible-roles", "01.015,01.000"],
    );
    assert_eq!(code, 0);
}

#[test]
fn real_fixtures_are_refused_as_their_readme_says() {
    for (anchors, at, test_env, card, error) in [
        (
            "test",
            EARLY,
            true,
            "test/cards/z-900016528-handtekening.pem",
            "not-authentication-certificate",
        ),
        (
            "test",
            EARLY,
            true,
            "test/cards/z-900016528-vertrouwelijkheid.pem",
            "not-authentication-certificate",
        ),
        (
            "test",
            "2022-01-01T00:00:00Z",
            true,
            "test/cards/n-900021219-handtekening.pem",
            "card-type-not-accepted",
        ),
        ("prod", EARLY, false, Z_AUTH, "untrusted-issuer"),
        (
            "prod",
            EARLY,
            false,
            "test/cards/z-900016528-handtekening.pem",
            "untrusted-issuer",
        ),
        ("test", "2026-11-25T00:00:00Z", true, Z_AUTH, "expired"),
    ] {
        let (code, json) = verify_fixture(anchors, at, test_env, card, &[]);
        assert_eq!(code, 1, "{card}: {json}");
        assert_eq!(json["error"], error, "{card}: {json}");
        assert!(json["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
}

#[test]
fn current_time_is_the_default_and_every_fixture_is_expired_now() {
    let anchors = fixture("test");
    let card = fixture(Z_AUTH);
    let (code, json) = portal(&[
        "uzi",
        "verify",
        "--anchors",
        &anchors,
        "--test-environment",
        &card,
    ]);
    assert_eq!((code, json["error"].clone()), (1, "expired".into()));
}

#[test]
fn inspect_shows_the_subject_id_fields() {
    let card = fixture("test/cards/n-900021219-handtekening.pem");
    let (code, json) = portal(&["uzi", "inspect", &card]);
    assert_eq!(code, 0);
    assert_eq!(
        json["subject_id"]["value"],
        "2.16.528.1.1007.99.218-1-900021219-N-90000382-00.000-00000000"
    );
    assert_eq!(json["key_usage"], serde_json::json!(["nonRepudiation"]));
}

/// A PKI generated once for this test binary.
fn generated() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("testpki");
        let _ = std::fs::remove_dir_all(&dir);
        let out = Command::new(env!("CARGO_BIN_EXE_zvp-portal"))
            .args(["testpki", "generate", "--out"])
            .arg(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // Anchors and intermediates in separate directories, as an operator would keep them.
        std::fs::create_dir_all(dir.join("anchors")).unwrap();
        std::fs::copy(dir.join("root.pem"), dir.join("anchors/root.pem")).unwrap();
        std::fs::create_dir_all(dir.join("cas")).unwrap();
        std::fs::copy(
            dir.join("intermediates.pem"),
            dir.join("cas/intermediates.pem"),
        )
        .unwrap();
        dir
    })
}

fn verify_generated(card: &str, extra: &[&str]) -> (i32, Value) {
    let dir = generated();
    let anchors = dir.join("anchors");
    let cas = dir.join("cas");
    let crls: Vec<String> = ["Z", "N", "M", "S"]
        .iter()
        .map(|t| {
            dir.join(format!("crl/{t}.crl"))
                .to_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let cert = dir.join("cards").join(card).join("authenticatie.pem");
    let mut args = vec![
        "uzi",
        "verify",
        "--test-environment",
        "--anchors",
        anchors.to_str().unwrap(),
        "--intermediates",
        cas.to_str().unwrap(),
    ];
    for crl in &crls {
        args.extend_from_slice(&["--crl", crl]);
    }
    args.extend_from_slice(extra);
    args.push(cert.to_str().unwrap());
    portal(&args)
}

#[test]
fn generated_cards_get_the_outcomes_the_readme_lists() {
    let eligible = ["--eligible-roles", "01.015,01.004,01.047,01.056"];
    // The eligible demo cards carry the AGB codes of the synthetic hospital's demo GPs.
    for (card, agb) in [
        ("huisarts", "01012345"),
        ("apotheekhoudend-huisarts", "01012346"),
        ("specialist-ouderengeneeskunde", "01012347"),
        ("arts-vg", "01012348"),
    ] {
        let (code, json) = verify_generated(card, &eligible);
        assert_eq!(code, 0, "{card}: {json}");
        assert_eq!(json["revocation"], "checked");
        assert_eq!(json["identity"]["agb"], agb, "{card}");
    }
    for (card, extra, error) in [
        ("aios", &eligible[..], "role-not-eligible"),
        ("tandarts", &eligible[..], "role-not-eligible"),
        ("medewerker", &[][..], "card-type-not-accepted"),
        ("ingetrokken", &[][..], "revoked"),
        ("verlopen", &[][..], "expired"),
    ] {
        let (code, json) = verify_generated(card, extra);
        assert_eq!(
            (code, json["error"].as_str()),
            (1, Some(error)),
            "{card}: {json}"
        );
    }
    let (code, json) = verify_generated("medewerker", &["--card-types", "Z,N"]);
    assert_eq!(code, 0, "{json}");
    assert_eq!(json["identity"]["card_type"], "N");
}

#[test]
fn generated_pkcs12_opens_with_openssl() {
    let p12 = generated().join("cards/huisarts/authenticatie.p12");
    let out = Command::new("openssl")
        .args(["pkcs12", "-in"])
        .arg(&p12)
        .args(["-passin", "pass:zvp", "-nodes", "-info"])
        .output()
        .expect("openssl is installed by scripts/test");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.matches("BEGIN CERTIFICATE").count(),
        3,
        "card, issuing CA, domain CA"
    );
    assert!(text.contains("BEGIN PRIVATE KEY"));
}

#[test]
fn generated_readme_lists_every_card() {
    let readme = std::fs::read_to_string(generated().join("README.md")).unwrap();
    for card in [
        "huisarts",
        "aios",
        "tandarts",
        "medewerker",
        "ingetrokken",
        "verlopen",
    ] {
        assert!(readme.contains(&format!("| `{card}` |")), "{card}");
    }
}

#[test]
fn unreadable_input_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_zvp-portal"))
        .args([
            "uzi",
            "verify",
            "--anchors",
            "/nonexistent",
            "/nonexistent.pem",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent"));
}

#[test]
fn policy_decide_prints_the_decision() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("policy");
    std::fs::create_dir_all(&dir).unwrap();
    let world = dir.join("world.json");
    std::fs::write(
        &world,
        r#"{"now": "2026-11-25T10:00:00Z",
            "accounts": [{"uzi": "900000001", "agb": "01000001", "practice_agb": "01009001",
                          "role": "01.015", "status": "active", "admin": false}],
            "delegations": [{"grantor_agb": "01000002", "grantee_uzi": "900000001",
                             "from": "2026-11-01T00:00:00Z", "until": "2026-12-01T00:00:00Z",
                             "revoked_at": null}],
            "emergency_grants": [],
            "patients": [{"id": "p1", "registered_gp_agb": "01000002"},
                         {"id": "p2", "registered_gp_agb": "01000003"}]}"#,
    )
    .unwrap();
    let decide = |request: &str| {
        let file = dir.join("request.json");
        std::fs::write(&file, request).unwrap();
        portal(&[
            "policy",
            "decide",
            "--world",
            world.to_str().unwrap(),
            "--request",
            file.to_str().unwrap(),
        ])
    };
    let (code, json) = decide(
        r#"{"uzi": "900000001", "card_agb": "01000001", "card_role": "01.015",
            "action": "view-patient", "section": "results/clinical-chemistry", "patient": "p1"}"#,
    );
    assert_eq!(code, 0);
    assert_eq!(json["decision"], "permit");
    assert_eq!(json["basis"], "delegation");
    assert_eq!(json["grantor"], "01000002");
    let (_, json) = decide(
        r#"{"uzi": "900000001", "card_role": "01.015", "action": "view-patient",
            "section": "patient-details", "patient": "p2"}"#,
    );
    assert_eq!(json, serde_json::json!({"decision": "requires-emergency"}));
    let (_, json) =
        decide(r#"{"uzi": "900000001", "card_role": "01.000", "action": "list-admitted"}"#);
    assert_eq!(
        json,
        serde_json::json!({"decision": "deny", "reason": "role-not-eligible"})
    );

    // Malformed input: exit 2 and a message naming the problem.
    let file = dir.join("bad.json");
    std::fs::write(
        &file,
        r#"{"uzi": "12345678", "card_role": "01.015", "action": "list-admitted"}"#,
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_zvp-portal"))
        .args([
            "policy",
            "decide",
            "--world",
            world.to_str().unwrap(),
            "--request",
            file.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("uzi number"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A section by its name before sections were the audit log's codes: refused, not guessed.
    std::fs::write(
        &file,
        r#"{"uzi": "900000001", "card_role": "01.015", "action": "view-patient",
            "section": "results", "patient": "p1"}"#,
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_zvp-portal"))
        .args([
            "policy",
            "decide",
            "--world",
            world.to_str().unwrap(),
            "--request",
            file.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(r#"unknown section "results""#),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn audit_commands_sign_verify_and_report() {
    use zvp_audit::event::{AuditEvent, PatientRef};
    use zvp_audit::log::{FileLog, FileLogOptions};

    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("audit-cli");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let log_dir = dir.join("log");
    {
        let log = FileLog::open(&log_dir, FileLogOptions::default()).unwrap();
        for (i, bsn) in ["111222333", "999999990", "111222333"].iter().enumerate() {
            let mut event = AuditEvent::example(i as u64);
            event.recorded = "2026-11-25T10:00:00Z"
                .parse::<chrono::DateTime<chrono::Utc>>()
                .unwrap()
                + chrono::Duration::minutes(i as i64);
            event.patient = Some(PatientRef {
                id: format!("p{i}").parse().unwrap(),
                bsn: Some(bsn.parse().unwrap()),
            });
            event.source.instance = "portal-1".to_owned();
            log.append_blocking(&event).unwrap();
        }
    }
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_zvp-portal"))
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let key = dir.join("audit.key");
    let (code, vkey) = run(&[
        "audit",
        "keygen",
        "--name",
        "zvp.test",
        "--out",
        key.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    let vkey = vkey.trim().to_owned();
    assert!(vkey.starts_with("zvp.test+"), "{vkey}");
    // The private key is its owner's alone.
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    let log = log_dir.to_str().unwrap();
    let (code, note) = run(&[
        "audit",
        "checkpoint",
        "--log",
        log,
        "--key",
        key.to_str().unwrap(),
        "--name",
        "zvp.test",
        "--origin",
        "zvp.test/audit",
    ]);
    assert_eq!(code, 0);
    assert!(note.starts_with("zvp.test/audit\n3\n"), "{note}");
    let (code, out) = run(&["audit", "verify", "--log", log, "--verifier-key", &vkey]);
    assert_eq!(
        (code, out.starts_with("ok: 3 records, 1 signed checkpoints")),
        (0, true),
        "{out}"
    );

    let (code, csv) = run(&[
        "audit",
        "report",
        "--log",
        log,
        "--patient",
        "111222333",
        "--format",
        "csv",
    ]);
    assert_eq!(code, 0);
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(csv.lines().nth(1).unwrap().contains(",p0,111222333,"));
    let (_, fhir) = run(&[
        "audit",
        "report",
        "--log",
        log,
        "--practitioner",
        "900000001",
        "--format",
        "fhir",
    ]);
    let bundle: Value = serde_json::from_str(&fhir).unwrap();
    assert_eq!(bundle["entry"].as_array().unwrap().len(), 3);
    assert_eq!(bundle["entry"][0]["resource"]["resourceType"], "AuditEvent");

    // A changed byte: verify names the record and exits 1.
    let segment = log_dir.join("segment-00000000000000000000.log");
    let mut bytes = std::fs::read(&segment).unwrap();
    bytes[100] ^= 0x20;
    std::fs::write(&segment, bytes).unwrap();
    let (code, out) = run(&["audit", "verify", "--log", log, "--verifier-key", &vkey]);
    assert_eq!(code, 1);
    assert!(out.starts_with("FAILED: record 0: damaged frame"), "{out}");
}
