//! A report page read from the file log (only the segments its period can be in, only the
//! page kept) is the page the same query gives over every event of the log: for patients and
//! practitioners, periods that start, end and fall between segments, limits and paging.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

use std::path::PathBuf;

use chrono::{Duration, TimeZone, Utc};
use zvp_audit::event::{AuditEvent, PatientRef};
use zvp_audit::log::{AuditLog, FileLog, FileLogOptions};
use zvp_audit::report::{Period, ReportQuery, Subject};
use zvp_core::{Bsn, UziNumber};

const BSNS: [&str; 3] = ["111222333", "123456782", "999999990"];

/// An event a quarter of an hour after the last, about one of three patients, by one of two
/// practitioners.
fn event(n: u64) -> AuditEvent {
    let mut e = AuditEvent::example(n);
    e.recorded = Utc.with_ymd_and_hms(2025, 1, 1, 8, 0, 0).unwrap()
        + Duration::minutes(15 * i64::try_from(n).unwrap());
    e.patient = Some(PatientRef {
        id: format!("p{}", n % 3).parse().unwrap(),
        bsn: BSNS[(n % 3) as usize].parse().ok(),
    });
    e.user.as_mut().unwrap().uzi =
        UziNumber::new(900_000_001 + u32::try_from(n % 2).unwrap()).unwrap();
    e
}

#[tokio::test]
async fn a_page_from_the_files_is_the_page_over_every_event() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("report-query");
    let _ = std::fs::remove_dir_all(&dir);
    // Small segments, so that a period covers some of them and not others.
    let options = FileLogOptions {
        segment_bytes: 32 * 1024,
        ..FileLogOptions::default()
    };
    let log = FileLog::open(&dir, options).unwrap();
    let events: Vec<AuditEvent> = (0..3_000).map(event).collect();
    // Pages of 25: a page goes whole into one segment, so small pages make many segments.
    for chunk in events.chunks(25) {
        log.append_all(chunk).await.unwrap();
    }
    let segments = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("segment-")
        })
        .count();
    assert!(segments > 20, "{segments} segments");
    let all = AuditLog::events(&log).await.unwrap();
    let at = |n: i64| event(0).recorded + Duration::minutes(15 * n);
    let periods = [
        Period::default(),
        Period {
            from: Some(at(1_000)),
            to: Some(at(1_400)),
        },
        Period {
            from: Some(at(2_990)),
            to: None,
        },
        Period {
            from: None,
            to: Some(at(7)),
        },
        Period {
            from: Some(at(5_000)),
            to: None,
        },
        Period {
            from: Some(at(-100)),
            to: Some(at(1)),
        },
    ];
    let subjects = [
        Subject::Patient(BSNS[1].parse::<Bsn>().unwrap()),
        Subject::Patient("012345672".parse::<Bsn>().unwrap()),
        Subject::Practitioner(UziNumber::new(900_000_002).unwrap()),
    ];
    let mut compared = 0;
    for subject in subjects {
        for period in periods {
            for limit in [1, 50, 10_000] {
                let mut after = None;
                loop {
                    let query = ReportQuery {
                        subject,
                        period,
                        limit,
                        after,
                    };
                    let expected = query.page(&all);
                    let got = log.report(&query).await.unwrap();
                    assert_eq!(got, expected, "{query:?}");
                    compared += 1;
                    if !got.more || compared > 400 {
                        break;
                    }
                    after = got.events.last().map(|(seq, _)| *seq);
                }
            }
        }
    }
    // The pages held what they should: a patient's 134 events (n = 1000, 1003, … 1399) in the
    // second period.
    let query = ReportQuery {
        subject: subjects[0],
        period: periods[1],
        limit: 10_000,
        after: None,
    };
    let page = log.report(&query).await.unwrap();
    assert_eq!(page.events.len(), 134);
    assert!(!page.more);
    assert!(compared > 60, "{compared}");
}
