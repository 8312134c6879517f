//! `zvp-mock-epd` as a user starts it: it prints its base URL and a search that works as
//! printed, for a patient of its hospital.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The running server, stopped however the test ends: a failed assertion must not leave it
/// holding the test's output open.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_printed_search_finds_a_patient() {
    let mut child = Running(
        Command::new(env!("CARGO_BIN_EXE_zvp-mock-epd"))
            .args(["--listen", "127.0.0.1:0", "--patients", "50"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // Lines arrive through a channel so that a server that prints less than expected fails the
    // test instead of blocking it.
    let (tx, rx) = mpsc::channel();
    let stdout = child.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let next_line = || {
        rx.recv_timeout(Duration::from_secs(60))
            .expect("the mock EPD printed no further line")
    };
    let first = next_line();
    assert!(
        first.contains("50 patients, FHIR base http://127.0.0.1:"),
        "{first}"
    );
    let tried = next_line();
    // try: curl -s 'http://127.0.0.1:PORT/fhir/Patient?identifier=…%7C<BSN>'
    let url = tried
        .strip_prefix("try: curl -s '")
        .and_then(|u| u.strip_suffix('\''))
        .unwrap_or_else(|| panic!("{tried}"));
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut http = std::net::TcpStream::connect(host).unwrap();
    write!(
        http,
        "GET /{path} HTTP/1.1\r\nhost: {host}\r\naccept: application/fhir+json\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    http.read_to_string(&mut answer).unwrap();
    drop(child);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let body = answer.split("\r\n\r\n").nth(1).unwrap();
    let bundle: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(bundle["resourceType"], "Bundle");
    let entries = bundle["entry"].as_array().unwrap();
    let patient = entries
        .iter()
        .find(|e| e["resource"]["resourceType"] == "Patient")
        .unwrap_or_else(|| panic!("{body}"));
    let bsn = url.rsplit("%7C").next().unwrap();
    assert!(
        patient["resource"]["identifier"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["value"] == bsn),
        "{body}"
    );
}
