//! The reports of docs/audit.md on a small log written and read back through the file log.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

use std::path::PathBuf;

use chrono::{DateTime, TimeZone, Utc};
use zvp_audit::event::{
    AccessPoint, ActionCode, AuditEvent, Basis, Checks, EventType, Outcome, Part, PatientRef,
    PurposeOfUse, Source, Subtype, User,
};
use zvp_audit::log::{FileLog, FileLogOptions, read_events};
use zvp_audit::report::{
    AnomalyRules, Period, REVIEW_PREFIX, anomalies, emergency_queue, patient_view,
    practitioner_view,
};
use zvp_core::{Bsn, RecordSection, RoleCode, UziNumber};

fn at(hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, hour, minute, 0).unwrap()
}

fn uzi(n: u32) -> UziNumber {
    UziNumber::new(900_000_000 + n).unwrap()
}

fn bsn(s: &str) -> Bsn {
    s.parse().unwrap()
}

fn read(who: u32, patient: &str, when: DateTime<Utc>, basis: Basis) -> AuditEvent {
    let emergency = matches!(basis, Basis::Emergency { .. });
    AuditEvent {
        event_type: EventType::PatientRecord,
        action: ActionCode::R,
        recorded: when,
        outcome: Outcome::Success,
        subtype: if emergency {
            Subtype::Emergency
        } else {
            Subtype::Regular
        },
        checks: Checks {
            authorisation: true,
            treatment_relation: true,
            consent: false,
            emergency,
        },
        basis: Some(basis),
        purpose: if emergency {
            PurposeOfUse::BreakTheGlass
        } else {
            PurposeOfUse::Treat
        },
        user: Some(User {
            uzi: uzi(who),
            agb: None,
            name: format!("user {who}"),
            role: RoleCode::GENERAL_PRACTITIONER,
        }),
        on_behalf_of: None,
        access_point: AccessPoint {
            ip: None,
            certificate_sha256: None,
            dezi: None,
        },
        patient: Some(PatientRef {
            id: format!("p-{patient}").parse().unwrap(),
            bsn: Some(bsn(patient)),
        }),
        part: Some(Part {
            section: RecordSection::PatientDetails,
            item: None,
        }),
        source: Source {
            instance: "portal-1".to_owned(),
            hospital: "ASz".to_owned(),
        },
        request_id: format!("{who}-{when}"),
        reason: None,
        query: None,
        card: None,
        change: None,
    }
}

fn emergency(grant: u64) -> Basis {
    Basis::Emergency {
        grant,
        reason_category: "acute-care".to_owned(),
    }
}

const ANNA: &str = "111222333";
const BOB: &str = "999999990";

fn events() -> Vec<(u64, AuditEvent)> {
    static EVENTS: std::sync::OnceLock<Vec<(u64, AuditEvent)>> = std::sync::OnceLock::new();
    EVENTS.get_or_init(write_and_read_back).clone()
}

fn write_and_read_back() -> Vec<(u64, AuditEvent)> {
    let mut start = read(2, BOB, at(9, 0), emergency(1));
    start.subtype = Subtype::EmergencyStarted;
    start.action = ActionCode::E;
    let mut review = read(9, BOB, at(12, 0), emergency(1));
    review.event_type = EventType::AuditLogUsed;
    review.subtype = Subtype::LogAccess;
    review.reason = Some(format!("{REVIEW_PREFIX}justified"));
    let mut second_start = read(2, ANNA, at(11, 0), emergency(2));
    second_start.subtype = Subtype::EmergencyStarted;
    second_start.action = ActionCode::E;
    let list = vec![
        read(1, ANNA, at(8, 0), Basis::Own),
        start,
        read(2, BOB, at(9, 5), emergency(1)),
        read(2, BOB, at(9, 6), emergency(1)),
        read(
            1,
            BOB,
            at(10, 0),
            Basis::Delegation {
                grantor: "01000009".parse().unwrap(),
                delegation: 3,
            },
        ),
        second_start,
        review,
        read(3, ANNA, at(2, 30), Basis::Own),
    ];
    // Written to a real log and read back, as an auditor's report would be.
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("reports");
    let _ = std::fs::remove_dir_all(&dir);
    let log = FileLog::open(&dir, FileLogOptions::default()).unwrap();
    for event in &list {
        log.append_blocking(event).unwrap();
    }
    drop(log);
    let back = read_events(&dir).unwrap();
    assert_eq!(
        back.iter().map(|(_, e)| e.clone()).collect::<Vec<_>>(),
        list
    );
    back
}

#[test]
fn patient_view_lists_everyone_who_looked_in_order() {
    let events = events();
    let view = patient_view(&events, bsn(BOB), Period::default());
    let who: Vec<_> = view
        .iter()
        .map(|(_, e)| (e.user_uzi().unwrap(), e.recorded))
        .collect();
    assert_eq!(
        who,
        [
            (uzi(2), at(9, 0)),
            (uzi(2), at(9, 5)),
            (uzi(2), at(9, 6)),
            (uzi(1), at(10, 0)),
            (uzi(9), at(12, 0))
        ]
    );
    let morning = Period {
        from: Some(at(9, 5)),
        to: Some(at(10, 0)),
    };
    assert_eq!(patient_view(&events, bsn(BOB), morning).len(), 2);
    let anna: Vec<_> = patient_view(&events, bsn(ANNA), Period::default())
        .iter()
        .map(|(_, e)| e.recorded)
        .collect();
    assert_eq!(anna, [at(2, 30), at(8, 0), at(11, 0)]);
}

#[test]
fn practitioner_view_lists_what_one_user_did() {
    let events = events();
    let view = practitioner_view(&events, uzi(1), Period::default());
    assert_eq!(view.len(), 2);
    assert!(view.iter().all(|(_, e)| e.user_uzi() == Some(uzi(1))));
}

#[test]
fn emergency_queue_puts_unreviewed_grants_first_with_their_reads() {
    let events = events();
    let queue = emergency_queue(&events);
    assert_eq!(queue.len(), 2);
    assert_eq!(
        (
            queue[0].grant,
            queue[0].verdict.as_deref(),
            queue[0].reads.len()
        ),
        (2, None, 0)
    );
    assert_eq!(
        (
            queue[1].grant,
            queue[1].verdict.as_deref(),
            queue[1].reads.len()
        ),
        (1, Some("justified"), 2)
    );
}

#[test]
fn anomaly_rules_flag_what_they_say() {
    let events = events();
    let rules = AnomalyRules {
        max_emergency_grants: 1,
        max_non_own_reads: 2,
        night_hours_utc: (0, 5),
    };
    let found: Vec<_> = anomalies(&events, Period::default(), rules)
        .into_iter()
        .map(|a| (a.uzi, a.rule, a.count))
        .collect();
    assert_eq!(
        found,
        [
            (uzi(2), "many-emergency-grants", 2),
            (uzi(2), "many-non-own-reads", 4),
            (uzi(3), "night-reads", 1),
        ]
    );
    assert!(
        anomalies(
            &events,
            Period {
                from: Some(at(13, 0)),
                to: None
            },
            rules
        )
        .is_empty()
    );
}
