//! A report page from the PostgreSQL log (`AuditLog::report`: the batch rows of the subject and
//! the period, found by their index, only the page kept) is the page the file log gives and the
//! page the same query gives over every event of the log: for patients and practitioners,
//! periods that start, end and fall between batches, limits and paging. The report reads no
//! other row, and a log created by an earlier version gets its index when it is opened.
//! Against the PostgreSQL server on the machine (`ZVP_TEST_PG` overrides, see `pg_log.rs`);
//! each test has its own schema.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

use std::path::PathBuf;

use chrono::{DateTime, Duration, TimeZone, Utc};
use tokio_postgres::NoTls;
use zvp_audit::event::{AuditEvent, Card, Change, PatientRef, Query, Target};
use zvp_audit::log::pg::PgLog;
use zvp_audit::log::{AuditLog, FileLog, FileLogOptions};
use zvp_audit::report::{Period, ReportPage, ReportQuery, Subject};
use zvp_core::{Bsn, UziNumber};

fn config() -> String {
    std::env::var("ZVP_TEST_PG")
        .unwrap_or_else(|_| "host=127.0.0.1 port=5432 user=postgres dbname=test".to_owned())
}

/// A raw connection for setting up and tampering.
async fn sql() -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&config(), NoTls).await.unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

async fn fresh(schema: &str) -> PgLog {
    sql()
        .await
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .await
        .unwrap();
    PgLog::connect(&config(), schema).await.unwrap()
}

const BSNS: [&str; 3] = ["111222333", "123456782", "999999990"];

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 8, 0, 0).unwrap()
}

/// When event `n` is recorded: a quarter of an hour after the last, and a few nanoseconds
/// more, so that periods can end within a microsecond (PostgreSQL keeps microseconds).
fn at(n: i64) -> DateTime<Utc> {
    start() + Duration::minutes(15 * n) + Duration::nanoseconds(n.rem_euclid(1_000) * 7 % 1_000)
}

/// Event `n`: about one of three patients (every eleventh without a BSN), by one of two
/// practitioners.
fn event(n: u64) -> AuditEvent {
    let mut e = AuditEvent::example(n);
    e.recorded = at(i64::try_from(n).unwrap());
    e.patient = Some(PatientRef {
        id: format!("p{}", n % 3).parse().unwrap(),
        bsn: if n.is_multiple_of(11) {
            None
        } else {
            BSNS[(n % 3) as usize].parse().ok()
        },
    });
    let uzi = UziNumber::new(900_000_001 + u32::try_from(n % 2).unwrap()).unwrap();
    e.user.as_mut().unwrap().uzi = uzi;
    // The other places a report finds its subject: a search for a BSN, a refused card's
    // claimed number (no verified user), an account an administrator changed.
    if n % 5 == 1 {
        e.patient = None;
        e.query = Some(Query {
            bsn: BSNS[(n % 3) as usize].parse().ok(),
            ..Query::default()
        });
    }
    if n % 7 == 2 {
        e.user = None;
        e.card = Some(Card {
            uzi: Some(uzi),
            ..Card::default()
        });
    }
    if n % 13 == 3 {
        e.change = Some(Change {
            target: Target::Account {
                uzi: UziNumber::new(900_000_002).unwrap(),
            },
            field: "status".to_owned(),
            old: None,
            new: None,
        });
    }
    e
}

/// Appends `events` in batches of changing sizes (each `append_all` of an idle log is one
/// batch row), so that periods begin and end inside rows and between them.
async fn append_in_batches(log: &dyn AuditLog, events: &[AuditEvent]) {
    let sizes = [1, 7, 64, 250, 3, 40];
    let mut at = 0;
    for size in sizes.iter().cycle() {
        if at >= events.len() {
            break;
        }
        let end = (at + size).min(events.len());
        log.append_all(&events[at..end]).await.unwrap();
        at = end;
    }
}

/// Every page of `query` from `log`, following `after` until there is no more.
async fn pages(log: &dyn AuditLog, mut query: ReportQuery) -> Vec<ReportPage> {
    let mut pages = Vec::new();
    loop {
        let page = log.report(&query).await.unwrap();
        // A page of no events (limit 0) has no cursor to go on from.
        let more = page.more && !page.events.is_empty();
        query.after = page.events.last().map(|(seq, _)| *seq);
        pages.push(page);
        if !more {
            return pages;
        }
    }
}

fn periods() -> Vec<Period> {
    vec![
        Period::default(),
        Period {
            from: Some(at(1_000)),
            to: Some(at(1_400)),
        },
        // Boundaries a nanosecond beside a record's time.
        Period {
            from: Some(at(1_001) + Duration::nanoseconds(1)),
            to: Some(at(1_399) + Duration::nanoseconds(1)),
        },
        Period {
            from: Some(at(1_003) - Duration::nanoseconds(1)),
            to: Some(at(1_003)),
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
        // Empty, and backwards.
        Period {
            from: Some(at(500)),
            to: Some(at(500)),
        },
        Period {
            from: Some(at(600)),
            to: Some(at(500)),
        },
    ]
}

fn subjects() -> Vec<Subject> {
    vec![
        Subject::Patient(BSNS[1].parse::<Bsn>().unwrap()),
        Subject::Patient(BSNS[0].parse::<Bsn>().unwrap()),
        Subject::Patient("012345672".parse::<Bsn>().unwrap()),
        Subject::Practitioner(UziNumber::new(900_000_002).unwrap()),
        Subject::Practitioner(UziNumber::new(900_000_009).unwrap()),
    ]
}

#[tokio::test]
async fn a_page_from_postgresql_is_the_page_from_the_files() {
    let events: Vec<AuditEvent> = (0..3_000).map(event).collect();
    let pg = fresh("zvp_pg_report_pages").await;
    append_in_batches(&pg, &events).await;
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("pg-report-files");
    let _ = std::fs::remove_dir_all(&dir);
    let files = FileLog::open(
        &dir,
        FileLogOptions {
            segment_bytes: 32 * 1024,
            ..FileLogOptions::default()
        },
    )
    .unwrap();
    files.append_all(&events).await.unwrap();
    let all = AuditLog::events(&pg).await.unwrap();
    assert_eq!(all, AuditLog::events(&files).await.unwrap());

    let mut compared = 0;
    for subject in subjects() {
        for period in periods() {
            for limit in [0, 1, 9, 200, 10_000] {
                let query = ReportQuery {
                    subject,
                    period,
                    limit,
                    after: None,
                };
                let from_pg = pages(&pg, query).await;
                let from_files = pages(&files, query).await;
                assert_eq!(from_pg, from_files, "{query:?}");
                // And each page is the one the full read gives (the trait's default).
                let mut after = None;
                for page in &from_pg {
                    let query = ReportQuery { after, ..query };
                    assert_eq!(*page, query.page(&all), "{query:?}");
                    after = page.events.last().map(|(seq, _)| *seq);
                    compared += 1;
                }
            }
        }
    }
    // A cursor anywhere, not only at a page's end: after a record of another subject, and
    // beyond the log.
    for after in [0, 1, 999, 1_002, 2_999, 3_000, u64::MAX] {
        for subject in subjects() {
            let query = ReportQuery {
                subject,
                period: periods()[1],
                limit: 20,
                after: Some(after),
            };
            assert_eq!(
                pg.report(&query).await.unwrap(),
                query.page(&all),
                "{query:?}"
            );
        }
    }
    // The pages held what they should: 134 events of the second patient (n = 1000, 1003, …
    // 1399) in the second period, less the twelve of them without a BSN, plus the two of
    // those that are searches for the BSN (n % 5 == 1).
    let page = pg
        .report(&ReportQuery {
            subject: subjects()[0],
            period: periods()[1],
            limit: 10_000,
            after: None,
        })
        .await
        .unwrap();
    assert_eq!(page.events.len(), 134 - 12 + 2);
    assert!(!page.more);
    assert!(compared > 300, "{compared}");
}

/// The report reads only the rows its index names: rows of other patients, and of the
/// patient outside the period, can be unreadable without the report noticing, where reading
/// every event fails on them. A damaged row it does need is an error, never left out.
#[tokio::test]
async fn a_report_reads_only_the_rows_of_its_subject_and_period() {
    let schema = "zvp_pg_report_bounded";
    let log = fresh(schema).await;
    let about = |bsn: &str, day: u32, n: u64| {
        // A read of one patient's record, and nothing else that names a subject.
        let mut e = event(n);
        (e.query, e.card, e.change) = (None, None, None);
        e.recorded = Utc.with_ymd_and_hms(2025, 1, day, 9, 0, 0).unwrap()
            + Duration::seconds(i64::try_from(n).unwrap());
        e.patient = Some(PatientRef {
            id: "p".parse().unwrap(),
            bsn: bsn.parse().ok(),
        });
        e
    };
    // One row each: the first patient on 2 January, the second then too, the first on 20
    // January.
    let mut rows = Vec::new();
    for (bsn, day) in [(BSNS[0], 2), (BSNS[1], 2), (BSNS[0], 20)] {
        let events: Vec<_> = (0..20).map(|n| about(bsn, day, n)).collect();
        rows.push(log.append_all(&events).await.unwrap()[0].seq());
    }
    let query = ReportQuery {
        subject: Subject::Patient(BSNS[0].parse().unwrap()),
        period: Period {
            from: Some(Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap()),
            to: Some(Utc.with_ymd_and_hms(2025, 1, 10, 0, 0, 0).unwrap()),
        },
        limit: 15,
        after: None,
    };
    let all = AuditLog::events(&log).await.unwrap();
    let expected = [
        query.page(&all),
        ReportQuery {
            after: Some(14),
            ..query
        }
        .page(&all),
    ];
    assert_eq!(expected[0].events.len(), 15);
    assert!(expected[0].more);
    assert_eq!(expected[1].events.len(), 5);

    // The second patient's row and the first patient's row of 20 January become unreadable.
    sql()
        .await
        .batch_execute(&format!(
            "UPDATE {schema}.audit_batches SET records = '\\xdeadbeef'::bytea \
             WHERE first_seq IN ({}, {})",
            rows[1], rows[2]
        ))
        .await
        .unwrap();
    assert!(AuditLog::events(&log).await.is_err());
    assert_eq!(pages(&log, query).await, expected);

    // A report that needs a damaged row says so.
    let wider = ReportQuery {
        period: Period::default(),
        limit: 100,
        ..query
    };
    assert!(log.report(&wider).await.is_err());
    let other = ReportQuery {
        subject: Subject::Patient(BSNS[1].parse().unwrap()),
        ..query
    };
    assert!(log.report(&other).await.is_err());
}

/// A log made before the index (its rows without the indexed columns, as an earlier version
/// wrote them) gets them when an instance opens it; rows an earlier version writes after that
/// are read by every report until the next opening indexes them.
#[tokio::test]
async fn a_log_of_an_earlier_version_gets_the_index_when_opened() {
    let schema = "zvp_pg_report_migrate";
    let events: Vec<AuditEvent> = (0..600).map(event).collect();
    let log = fresh(schema).await;
    append_in_batches(&log, &events).await;
    let all = AuditLog::events(&log).await.unwrap();
    drop(log);
    let db = sql().await;
    // The table as the earlier version created it.
    db.batch_execute(&format!(
        "ALTER TABLE {schema}.audit_batches DROP COLUMN subjects, DROP COLUMN recorded"
    ))
    .await
    .unwrap();
    let indexes = || async {
        db.query_one(
            "SELECT count(*) FROM pg_indexes WHERE schemaname = $1 AND tablename = 'audit_batches'",
            &[&schema],
        )
        .await
        .unwrap()
        .get::<_, i64>(0)
    };
    assert_eq!(indexes().await, 1, "the primary key only");

    let log = PgLog::connect(&config(), schema).await.unwrap();
    assert!(indexes().await > 1);
    let unindexed = || async {
        db.query_one(
            &format!("SELECT count(*) FROM {schema}.audit_batches WHERE subjects IS NULL"),
            &[],
        )
        .await
        .unwrap()
        .get::<_, i64>(0)
    };
    assert_eq!(unindexed().await, 0);
    // Opening again changes nothing.
    drop(PgLog::connect(&config(), schema).await.unwrap());

    let check = || async {
        for subject in subjects() {
            for period in periods() {
                let query = ReportQuery {
                    subject,
                    period,
                    limit: 40,
                    after: None,
                };
                let mut after = None;
                for page in pages(&log, query).await {
                    let query = ReportQuery { after, ..query };
                    assert_eq!(page, query.page(&all), "{query:?}");
                    after = page.events.last().map(|(seq, _)| *seq);
                }
            }
        }
    };
    check().await;
    // Rows as an instance of the earlier version still running writes them.
    db.batch_execute(&format!(
        "UPDATE {schema}.audit_batches SET subjects = NULL, recorded = NULL \
         WHERE first_seq % 3 = 0"
    ))
    .await
    .unwrap();
    assert!(unindexed().await > 0);
    check().await;
    drop(PgLog::connect(&config(), schema).await.unwrap());
    assert_eq!(unindexed().await, 0);
    check().await;
}

/// A search for a BSN, a refused card's claimed UZI number and an account an administrator
/// changed each name their subject outside `patient` and `user`: a row holding only such an
/// event is found by the index like any other.
#[tokio::test]
async fn events_that_name_their_subject_elsewhere_are_found_by_it() {
    let schema = "zvp_pg_report_elsewhere";
    let log = fresh(schema).await;
    let bsn: Bsn = BSNS[2].parse().unwrap();
    let (card, changed) = (
        UziNumber::new(900_000_077).unwrap(),
        UziNumber::new(900_000_078).unwrap(),
    );
    let mut search = event(3);
    (search.patient, search.card, search.change) = (None, None, None);
    search.query = Some(Query {
        bsn: Some(bsn),
        ..Query::default()
    });
    let mut refused = event(4);
    (refused.patient, refused.user, refused.query, refused.change) = (None, None, None, None);
    refused.card = Some(Card {
        uzi: Some(card),
        ..Card::default()
    });
    let mut change = event(5);
    (change.patient, change.query, change.card) = (None, None, None);
    change.change = Some(Change {
        target: Target::Account { uzi: changed },
        field: "status".to_owned(),
        old: Some("active".to_owned()),
        new: Some("blocked".to_owned()),
    });
    // One row each.
    for e in [&search, &refused, &change] {
        log.append_all(std::slice::from_ref(e)).await.unwrap();
    }
    let all = AuditLog::events(&log).await.unwrap();
    for (subject, wanted) in [
        (Subject::Patient(bsn), &search),
        (Subject::Practitioner(card), &refused),
        (Subject::Practitioner(changed), &change),
    ] {
        let query = ReportQuery {
            subject,
            period: Period::default(),
            limit: 10,
            after: None,
        };
        let page = log.report(&query).await.unwrap();
        assert_eq!(page, query.page(&all), "{subject:?}");
        assert_eq!(page.events.len(), 1, "{subject:?}");
        assert_eq!(&page.events[0].1, wanted, "{subject:?}");
    }
}
