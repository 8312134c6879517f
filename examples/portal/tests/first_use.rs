//! A new user's first steps with the operator commands: the demo's flags and a busy address,
//! a closed pipe, `audit verify` without a key, a report with no records, and the example
//! files of `policy decide` with the decisions their README states.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn portal(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zvp-portal"))
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn demo_help_names_the_listen_flags_and_their_variables() {
    let out = portal(&["demo", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    for wanted in [
        "--listen <ADDR>",
        "--admin-listen <ADDR>",
        "ZVP_SERVER_LISTEN",
        "ZVP_SERVER_ADMIN_LISTEN",
    ] {
        assert!(help.contains(wanted), "{wanted} missing: {help}");
    }
}

#[test]
fn a_busy_address_is_named_with_how_to_choose_another() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let dir = scratch("busy-demo");
    for (flag, what, how) in [
        ("--listen", "the portal", "--listen ADDR"),
        (
            "--admin-listen",
            "the admin listener",
            "--admin-listen ADDR",
        ),
    ] {
        let other = if flag == "--listen" {
            "--admin-listen"
        } else {
            "--listen"
        };
        let out = portal(&[
            "demo",
            "--dir",
            dir.to_str().unwrap(),
            flag,
            &address,
            other,
            "127.0.0.1:0",
        ]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains(&format!("cannot listen on {address} for {what}"))
                && err.contains("Address already in use")
                && err.contains(how),
            "{err}"
        );
        // Nothing was made before the address was found busy.
        assert!(!dir.join("pki").exists());
    }
}

#[test]
fn a_closed_standard_output_is_not_a_panic() {
    let fixtures = repository().join("fixtures/uzi/test");
    let card = fixtures.join("cards/z-900016528-authenticatie.pem");
    // A pipe whose reading end is closed before the command writes: `… | head` at its end.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_zvp-portal"))
        .args(["uzi", "verify", "--anchors"])
        .arg(&fixtures)
        .args(["--test-environment", "--at", "2019-01-01T00:00:00Z"])
        .arg(&card)
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let err = text(&out.stderr);
    // The verdict's exit code, and no stack trace.
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// A file log of three events, two of patient 111222333, with one checkpoint signed by a key
/// of its own; the log's directory and the verifier key.
fn signed_log(name: &str) -> (PathBuf, String) {
    use zvp_audit::event::{AuditEvent, PatientRef};
    use zvp_audit::log::{FileLog, FileLogOptions};

    let dir = scratch(name);
    let log_dir = dir.join("log");
    let log = FileLog::open(&log_dir, FileLogOptions::default()).unwrap();
    for (i, bsn) in ["111222333", "999999990", "111222333"].iter().enumerate() {
        let mut event = AuditEvent::example(i as u64);
        event.patient = Some(PatientRef {
            id: format!("p{i}").parse().unwrap(),
            bsn: Some(bsn.parse().unwrap()),
        });
        log.append_blocking(&event).unwrap();
    }
    let (signer, _) = zvp_audit::checkpoint::CheckpointSigner::generate("zvp.test").unwrap();
    log.checkpoint(&signer, "zvp.test/audit").unwrap();
    (log_dir, signer.verifier().to_vkey())
}

#[test]
fn audit_verify_without_a_key_checks_the_structure_and_says_so() {
    let (log, vkey) = signed_log("verify-no-key");
    let log = log.to_str().unwrap();
    let out = portal(&["audit", "verify", "--log", log]);
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(
        said.starts_with("ok: 3 records, 1 checkpoints, root "),
        "{said}"
    );
    assert!(
        said.contains("no verifier key given: structure checked, signatures not")
            && said.contains("--verifier-key"),
        "{said}"
    );
    // With the key, the signatures count, and the note is gone.
    let out = portal(&["audit", "verify", "--log", log, "--verifier-key", &vkey]);
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(
        said.starts_with("ok: 3 records, 1 signed checkpoints"),
        "{said}"
    );
    assert!(!said.contains("no verifier key"), "{said}");
    // A placeholder instead of a key: a usage error that says what to give.
    let out = portal(&[
        "audit",
        "verify",
        "--log",
        log,
        "--verifier-key",
        "hospital.example+…",
    ]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("expected name+id+key") && err.contains("audit keygen"),
        "{err}"
    );
}

#[test]
fn audit_verify_without_a_key_still_finds_a_checkpoint_of_other_records() {
    // Two logs of the same events (each record salted anew), and the first one's checkpoint
    // put beside the second's records: history rewritten beneath a checkpoint.
    let (first, _) = signed_log("verify-no-key-first");
    let (second, _) = signed_log("verify-no-key-second");
    std::fs::copy(
        first.join("checkpoints.log"),
        second.join("checkpoints.log"),
    )
    .unwrap();
    let out = portal(&["audit", "verify", "--log", second.to_str().unwrap()]);
    let said = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.starts_with("FAILED: checkpoint 0 (size 3) does not match the log"),
        "{said}"
    );
    assert!(said.contains("signatures not"), "{said}");
}

#[test]
fn audit_report_says_when_a_patient_has_no_records() {
    let (log, _) = signed_log("report-empty");
    let log = log.to_str().unwrap();
    for format in ["text", "csv", "fhir"] {
        let out = portal(&[
            "audit",
            "report",
            "--log",
            log,
            "--patient",
            "123456782",
            "--format",
            format,
        ]);
        assert_eq!(out.status.code(), Some(0), "{format}");
        assert_eq!(
            text(&out.stderr).trim(),
            "no records: the audit log holds nothing for patient 123456782",
            "{format}"
        );
    }
    // A patient with records gets them, and no such note.
    let out = portal(&["audit", "report", "--log", log, "--patient", "111222333"]);
    assert_eq!(text(&out.stdout).lines().count(), 3);
    assert_eq!(text(&out.stderr), "");
}

#[test]
fn policy_examples_decide_as_their_readme_says() {
    let examples = repository().join("examples/policy");
    let readme = std::fs::read_to_string(examples.join("README.md")).unwrap();
    let mut rows = 0;
    for line in readme.lines().filter(|l| l.starts_with("| `request-")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let file = cells[1].trim_matches('`');
        let expected: Value = serde_json::from_str(cells[3].trim_matches('`')).unwrap();
        let out = portal(&[
            "policy",
            "decide",
            "--world",
            examples.join("world.json").to_str().unwrap(),
            "--request",
            examples.join(file).to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(0), "{file}: {}", text(&out.stderr));
        let decided: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(decided, expected, "{file}");
        rows += 1;
    }
    // Every request file is in the table.
    let files = std::fs::read_dir(&examples)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("request-")
        })
        .count();
    assert_eq!((rows, files), (7, 7));
}
