//! Records written before the search, card and change fields existed read back, and
//! serialize again, byte for byte as they were (the hash chain is over those bytes); the new
//! fields appear only where set, and the reports find events by them.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

use proptest::strategy::Strategy as _;
use zvp_audit::event::{AuditEvent, Card, Change, EventType, Query, QueryOutcome, Target};
use zvp_audit::report::{Period, Subject, patient_view, practitioner_view};
use zvp_core::{Bsn, UziNumber};

/// `AuditEvent::example(1)` as the version before these fields wrote it.
const OLD_RECORD: &str = r#"{"event_type":"patient-record","action":"R","recorded":"2026-11-25T10:00:00.001Z","outcome":"success","subtype":"regular","checks":{"authorisation":true,"treatment_relation":true,"consent":false,"emergency":false},"basis":{"basis":"own"},"purpose":"TREAT","user":{"uzi":"900000001","agb":"01000001","name":"user 1","role":"01.015"},"on_behalf_of":null,"access_point":{"ip":"127.0.0.1","certificate_sha256":null},"patient":{"id":"p1","bsn":null},"part":{"section":"patient-details","item":null},"source":{"instance":"example","hospital":"ASz"},"request_id":"req-1","reason":null}"#;

#[test]
fn an_old_record_reads_and_serializes_as_it_was_written() {
    let event: AuditEvent = serde_json::from_str(OLD_RECORD).unwrap();
    assert_eq!(event, AuditEvent::example(1));
    assert_eq!(serde_json::to_string(&event).unwrap(), OLD_RECORD);
}

fn bsn() -> Bsn {
    "999999990".parse().unwrap()
}

fn uzi(n: u32) -> UziNumber {
    UziNumber::new(n).unwrap()
}

#[test]
fn the_new_fields_round_trip_and_a_refused_card_has_no_user() {
    let mut search = AuditEvent::example(2);
    search.event_type = EventType::Query;
    search.patient = None;
    search.part = None;
    search.query = Some(Query {
        bsn: Some(bsn()),
        birth_date: "1950-01-02".parse().ok(),
        outcome: Some(QueryOutcome::EmergencyOffered),
        ..Query::default()
    });
    let json = serde_json::to_string(&search).unwrap();
    assert!(
        json.ends_with(
            r#""reason":null,"query":{"bsn":"999999990","birth_date":"1950-01-02","outcome":"emergency-offered"}}"#
        ),
        "{json}"
    );
    assert_eq!(serde_json::from_str::<AuditEvent>(&json).unwrap(), search);

    let mut card = AuditEvent::example(3);
    card.event_type = EventType::Login;
    card.user = None;
    card.card = Some(Card {
        serial: Some("0a1b".to_owned()),
        issuer: Some("TEST UZI-register Zorgverlener CA G3".to_owned()),
        uzi: Some(uzi(900_000_222)),
        verified: false,
    });
    let json = serde_json::to_string(&card).unwrap();
    assert!(!json.contains("\"user\""), "{json}");
    assert_eq!(serde_json::from_str::<AuditEvent>(&json).unwrap(), card);

    let mut change = AuditEvent::example(4);
    change.change = Some(Change {
        target: Target::Account {
            uzi: uzi(900_000_333),
        },
        field: "practice_agb".to_owned(),
        old: None,
        new: Some("01000002".to_owned()),
    });
    let json = serde_json::to_string(&change).unwrap();
    assert!(
        json.contains(r#""change":{"target":{"kind":"account","uzi":"900000333"},"field":"practice_agb","new":"01000002"}"#),
        "{json}"
    );
    assert_eq!(serde_json::from_str::<AuditEvent>(&json).unwrap(), change);

    // The reports find them by their subject.
    let events = vec![(0, search), (1, card), (2, change)];
    let seqs = |v: Vec<&(u64, AuditEvent)>| v.iter().map(|(s, _)| *s).collect::<Vec<_>>();
    assert_eq!(seqs(patient_view(&events, bsn(), Period::default())), [0]);
    assert_eq!(
        seqs(practitioner_view(
            &events,
            uzi(900_000_222),
            Period::default()
        )),
        [1]
    );
    assert_eq!(
        seqs(practitioner_view(
            &events,
            uzi(900_000_333),
            Period::default()
        )),
        [2]
    );
    assert!(Subject::Practitioner(uzi(900_000_001)).matches(&events[0].1));
    assert!(!Subject::Practitioner(uzi(900_000_001)).matches(&events[1].1));
}

proptest::proptest! {
    /// `recorded` is written as chrono's own `Serialize` writes it (what every record so far
    /// holds), whatever its fraction of a second, and reads back to the same instant.
    #[test]
    fn the_time_is_written_as_chrono_writes_it(
        seconds in -62_000_000_000i64..250_000_000_000,
        nanos in proptest::prop_oneof![
            proptest::strategy::Just(0u32),
            (0u32..1_000).prop_map(|ms| ms * 1_000_000),
            (0u32..1_000_000).prop_map(|us| us * 1_000),
            0u32..1_000_000_000,
        ],
    ) {
        let recorded = chrono::DateTime::from_timestamp(seconds, nanos).unwrap();
        let mut event = AuditEvent::example(1);
        event.recorded = recorded;
        let json = serde_json::to_string(&event).unwrap();
        let chronos = format!("\"recorded\":{},", serde_json::to_string(&recorded).unwrap());
        proptest::prop_assert!(json.contains(&chronos), "{json} lacks {chronos}");
        let back: AuditEvent = serde_json::from_str(&json).unwrap();
        proptest::prop_assert_eq!(back.recorded, recorded);
    }
}
