//! The review report over hand-made events: each section counts exactly what it should.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

use chrono::{DateTime, Duration, TimeZone, Utc};
use zvp_audit::event::{
    AuditEvent, Basis, Card, Change, EventType, Outcome, PatientRef, Query, QueryOutcome, Subtype,
    Target,
};
use zvp_audit::render::review::{REVIEW_CSV_HEADER, to_csv};
use zvp_audit::report::review::{LogCheck, ReviewRules, review};
use zvp_audit::report::{AnomalyRules, Period, REVIEW_PREFIX};
use zvp_core::{Bsn, UziNumber};

fn at(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, day, hour, minute, 0)
        .unwrap()
}

fn uzi(n: u32) -> UziNumber {
    UziNumber::new(900_000_000 + n).unwrap()
}

fn patient(n: u32) -> PatientRef {
    PatientRef {
        id: format!("p{n}").parse().unwrap(),
        bsn: match n {
            1 => Some("111222333".parse::<Bsn>().unwrap()),
            2 => Some("999999990".parse::<Bsn>().unwrap()),
            _ => None,
        },
    }
}

/// A successful read of patient `p` by user `who` at `when`.
fn read(who: u32, p: u32, when: DateTime<Utc>) -> AuditEvent {
    let mut e = AuditEvent::example(0);
    e.recorded = when;
    let user = e.user.as_mut().unwrap();
    user.uzi = uzi(who);
    user.name = format!("user {who}");
    e.patient = Some(patient(p));
    e
}

fn search(who: u32, p: u32, when: DateTime<Utc>, outcome: QueryOutcome) -> AuditEvent {
    let mut e = read(who, p, when);
    e.event_type = EventType::Query;
    e.part = None;
    e.basis = None;
    e.query = Some(Query {
        outcome: Some(outcome),
        ..Query::default()
    });
    e
}

fn refusal(who: u32, when: DateTime<Utc>, code: &str) -> AuditEvent {
    let mut e = read(who, 1, when);
    e.event_type = EventType::SecurityAlert;
    e.outcome = Outcome::Denied;
    e.basis = None;
    e.part = None;
    e.reason = Some(code.to_owned());
    e
}

fn emergency(who: u32, p: u32, when: DateTime<Utc>, grant: u64) -> AuditEvent {
    let mut e = read(who, p, when);
    e.subtype = Subtype::EmergencyStarted;
    e.basis = Some(Basis::Emergency {
        grant,
        reason_category: "acute-care".to_owned(),
    });
    e.reason = Some("acute-care: bewusteloos binnengebracht".to_owned());
    e
}

fn verdict(when: DateTime<Utc>, grant: u64, verdict: &str) -> AuditEvent {
    let mut e = read(99, 1, when);
    e.event_type = EventType::AuditLogUsed;
    e.subtype = Subtype::LogAccess;
    e.basis = Some(Basis::Administrator);
    e.patient = None;
    e.part = None;
    e.change = Some(Change {
        target: Target::EmergencyGrant { grant },
        field: "review".to_owned(),
        old: None,
        new: Some(verdict.to_owned()),
    });
    e.reason = Some(format!("{REVIEW_PREFIX}{verdict}"));
    e
}

fn numbered(events: Vec<AuditEvent>) -> Vec<(u64, AuditEvent)> {
    (0..).zip(events).collect()
}

#[test]
fn each_section_counts_what_it_should() {
    let period = Period {
        from: Some(at(1, 0, 0)),
        to: Some(at(30, 0, 0)),
    };
    let now = at(30, 12, 0);
    let mut events = vec![
        // Before the period: none of it counts.
        refusal(1, at(1, 0, 0) - Duration::minutes(1), "not-permitted"),
        emergency(1, 1, at(1, 0, 0) - Duration::minutes(1), 7),
        // Two emergency accesses, one reviewed.
        emergency(1, 1, at(2, 10, 0), 1),
        emergency(2, 2, at(3, 10, 0), 2),
        verdict(at(4, 9, 0), 1, "justified"),
        // Refusals: user 1 twice not-permitted and once the emergency required, user 2 once;
        // a refused card claiming user 3; an EPD error is no refusal.
        refusal(1, at(5, 10, 0), "not-permitted"),
        refusal(1, at(5, 11, 0), "not-permitted"),
        refusal(1, at(5, 12, 0), "emergency-procedure-required"),
        refusal(2, at(5, 13, 0), "account-blocked"),
        {
            let mut e = refusal(3, at(5, 14, 0), "certificate-revoked");
            e.user = None;
            e.card = Some(Card {
                uzi: Some(uzi(3)),
                ..Card::default()
            });
            e
        },
        {
            let mut e = refusal(2, at(5, 15, 0), "epd-timeout");
            e.outcome = Outcome::Error;
            e
        },
        // Searches: one followed by a read within 30 minutes, one read only after 31 minutes,
        // one emergency-offered never followed, one not found (not counted), one whose read
        // is by someone else, and one 10 minutes before the end of the period whose read
        // comes after the end (followed: the events read reach past the period).
        search(1, 1, at(6, 10, 0), QueryOutcome::Found),
        read(1, 1, at(6, 10, 5)),
        search(1, 2, at(7, 10, 0), QueryOutcome::Found),
        read(1, 2, at(7, 10, 31)),
        search(2, 3, at(8, 10, 0), QueryOutcome::EmergencyOffered),
        search(2, 4, at(8, 11, 0), QueryOutcome::NotFound),
        search(1, 5, at(9, 10, 0), QueryOutcome::Found),
        read(2, 5, at(9, 10, 1)),
        search(1, 6, at(29, 23, 50), QueryOutcome::Found),
        read(1, 6, at(30, 0, 5)),
    ];
    // Volumes: users 10..=14 each view 2 patients, user 15 views 30: above 3 × median (2) and
    // the floor of 5.
    for who in 10..=14 {
        for p in 0..2 {
            events.push(read(who, 100 + p, at(10, 9, 0)));
        }
    }
    for p in 0..30 {
        events.push(read(15, 200 + p, at(11, 9, 0)));
        // Reading the same patient again does not count twice.
        events.push(read(15, 200 + p, at(11, 10, 0)));
    }
    let log = LogCheck {
        records: Some(1000),
        last_checkpoint: Some((990, at(30, 11, 0))),
        problem: None,
    };
    let rules = ReviewRules {
        volume_floor: 5,
        anomalies: AnomalyRules {
            night_hours_utc: (0, 0),
            ..AnomalyRules::default()
        },
        ..ReviewRules::default()
    };
    let report = review(&numbered(events), period, now, rules, log);

    assert_eq!(report.emergencies.len(), 2);
    assert_eq!(report.emergencies[0].grant, 1);
    assert_eq!(report.emergencies[0].verdict.as_deref(), Some("justified"));
    assert_eq!(report.emergencies[0].category, "acute-care");
    assert_eq!(report.emergencies[0].reason, "bewusteloos binnengebracht");
    assert_eq!(
        report.emergencies[0].bsn,
        Some("111222333".parse().unwrap())
    );
    assert_eq!(report.emergencies[1].verdict, None);

    assert_eq!(report.refusals.len(), 3);
    assert_eq!(report.refusals[0].uzi, uzi(1));
    assert_eq!(report.refusals[0].total(), 3);
    assert_eq!(report.refusals[0].by_code["not-permitted"], 2);
    assert_eq!(
        report.refusals[0].by_code["emergency-procedure-required"],
        1
    );
    let user2 = report.refusals.iter().find(|r| r.uzi == uzi(2)).unwrap();
    assert_eq!(user2.total(), 1);
    let card = report.refusals.iter().find(|r| r.uzi == uzi(3)).unwrap();
    assert_eq!((card.total(), card.name.as_deref()), (1, None));

    let unfollowed: Vec<_> = report
        .unfollowed
        .iter()
        .map(|u| (u.uzi, u.recorded))
        .collect();
    assert_eq!(
        unfollowed,
        [
            (uzi(1), at(7, 10, 0)),
            (uzi(2), at(8, 10, 0)),
            (uzi(1), at(9, 10, 0))
        ]
    );
    assert_eq!(report.unfollowed[1].outcome, QueryOutcome::EmergencyOffered);
    assert_eq!(report.pending_searches, 0);

    assert_eq!(report.median_patients, 2);
    assert_eq!(report.volumes.len(), 1);
    assert_eq!(
        (report.volumes[0].uzi, report.volumes[0].patients),
        (uzi(15), 30)
    );

    assert!(report.log.verifies());

    let csv = to_csv(&report);
    assert!(csv.starts_with(REVIEW_CSV_HEADER));
    let count = |section: &str| {
        csv.lines()
            .filter(|l| l.starts_with(&format!("{section},")))
            .count()
    };
    assert_eq!(count("emergency"), 2);
    // One row per practitioner and code.
    assert_eq!(count("refusals"), 4);
    assert_eq!(count("search-without-view"), 3);
    assert_eq!(count("volume"), 1);
    assert_eq!(count("log-check"), 1);
    assert!(csv.contains("log-check,2026-11-30T11:00:00.000Z,,,,verifies,1000 records,,990"));
}

#[test]
fn a_search_whose_window_has_not_passed_is_pending_not_unfollowed() {
    let now = at(20, 10, 10);
    let period = Period {
        from: Some(at(1, 0, 0)),
        to: Some(now),
    };
    let events = numbered(vec![search(1, 1, at(20, 10, 0), QueryOutcome::Found)]);
    let report = review(
        &events,
        period,
        now,
        ReviewRules::default(),
        LogCheck::default(),
    );
    assert!(report.unfollowed.is_empty());
    assert_eq!(report.pending_searches, 1);
    // A log that did not answer does not verify.
    assert!(!report.log.verifies());
}

#[test]
fn a_log_shorter_than_its_checkpoint_or_refusing_does_not_verify() {
    let t = at(1, 0, 0);
    let short = LogCheck {
        records: Some(5),
        last_checkpoint: Some((6, t)),
        problem: None,
    };
    assert!(!short.verifies());
    let refusing = LogCheck {
        records: Some(6),
        last_checkpoint: Some((6, t)),
        problem: Some("damaged".to_owned()),
    };
    assert!(!refusing.verifies());
}

#[tokio::test]
async fn the_file_log_reads_the_events_of_a_period() {
    use zvp_audit::log::{AuditLog, FileLog, FileLogOptions};
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("review-period");
    let _ = std::fs::remove_dir_all(&dir);
    let log = FileLog::open(&dir, FileLogOptions::default()).unwrap();
    for day in 1..=5 {
        log.append(&read(1, 1, at(day, 12, 0))).await.unwrap();
    }
    let period = Period {
        from: Some(at(2, 0, 0)),
        to: Some(at(4, 12, 0)),
    };
    let events = log.period_events(period).await.unwrap();
    let days: Vec<_> = events.iter().map(|(seq, e)| (*seq, e.recorded)).collect();
    assert_eq!(days, [(1, at(2, 12, 0)), (2, at(3, 12, 0))]);
}
