//! Reports from the PostgreSQL log without reading all of it.
//!
//! A batch row keeps, beside its records, what a report looks for: `subjects`, the keys of
//! every patient (`bsn:<BSN>`) and practitioner (`uzi:<UZI number>`) its events are about or
//! by, indexed with GIN (`audit_batches_subjects`), and `recorded`, the range from its earliest
//! to its latest event's time, indexed with GiST (`audit_batches_recorded`). A report asks the
//! indexes for the rows that can hold the subject in the period (their keys only), then reads
//! those rows a few at a time, in log order, until the page is full and one more event shows
//! whether there is a next page. The columns are derived from the records when a batch is
//! written; they are not part of a record, its hashes or the chain.
//!
//! A row without them (written before the index existed, or by an instance of an earlier
//! version still running) is read by every report, so that no report leaves out an event;
//! opening the log fills them in (`index_earlier_rows`).

use std::collections::BTreeSet;

use chrono::{DateTime, TimeDelta, Utc};
use tokio_postgres::{Client, Transaction};

use super::{BatchRecords, db, exists};
use crate::event::AuditEvent;
use crate::log::LogError;
use crate::report::{ReportPage, ReportQuery, Subject};

/// The rows read per round trip once the candidates are known: few enough that a page that
/// fills early reads little beyond it (a row holds up to 1024 records).
const ROWS_PER_READ: usize = 8;

/// The rows indexed per transaction when an earlier log is indexed on opening.
const ROWS_PER_INDEXING: i64 = 256;

/// The key of a subject in a row's `subjects`.
fn key(subject: &Subject) -> String {
    match subject {
        Subject::Patient(bsn) => format!("bsn:{bsn}"),
        Subject::Practitioner(uzi) => format!("uzi:{uzi}"),
    }
}

/// What a row's index columns say of one event: the subjects whose reports it is on
/// ([`Subject::matches`]), and when it was recorded.
#[derive(Debug, Clone)]
pub(super) struct Marks {
    keys: Vec<String>,
    recorded: DateTime<Utc>,
}

impl Marks {
    /// The marks of `event`.
    pub(super) fn of(event: &AuditEvent) -> Self {
        // Every BSN and UZI number [`Subject::matches`] looks at: the patient shown or searched
        // for; the user, a refused card's claimed number, a practitioner looked up, an
        // account changed.
        let bsns = [
            event.patient.as_ref().and_then(|p| p.bsn),
            event.query.as_ref().and_then(|q| q.bsn),
        ];
        let uzis = [
            event.user_uzi(),
            event.card.as_ref().and_then(|c| c.uzi),
            event.query.as_ref().and_then(|q| q.uzi),
            event.change.as_ref().and_then(|c| c.target.uzi()),
        ];
        let mut keys: Vec<String> = bsns
            .into_iter()
            .flatten()
            .map(|bsn| key(&Subject::Patient(bsn)))
            .chain(
                uzis.into_iter()
                    .flatten()
                    .map(|uzi| key(&Subject::Practitioner(uzi))),
            )
            .collect();
        keys.sort();
        keys.dedup();
        Self {
            keys,
            recorded: event.recorded,
        }
    }
}

/// A row's index columns: its events' subject keys, and the first and last time they were
/// recorded (a row's events need not be in time order: several instances write).
#[derive(Debug, Clone, Default)]
pub(super) struct RowIndex {
    /// `subjects`, sorted.
    pub(super) subjects: Vec<String>,
    /// The lower end of `recorded`, inclusive.
    pub(super) first: Option<DateTime<Utc>>,
    /// The upper end of `recorded`, inclusive.
    pub(super) last: Option<DateTime<Utc>>,
}

impl RowIndex {
    /// The index of a row holding events with these marks.
    pub(super) fn of<'a>(marks: impl IntoIterator<Item = &'a Marks>) -> Self {
        let mut subjects = BTreeSet::new();
        let (mut first, mut last) = (None::<DateTime<Utc>>, None::<DateTime<Utc>>);
        for mark in marks {
            subjects.extend(mark.keys.iter().cloned());
            first = Some(first.map_or(mark.recorded, |t| t.min(mark.recorded)));
            last = Some(last.map_or(mark.recorded, |t| t.max(mark.recorded)));
        }
        Self {
            subjects: subjects.into_iter().collect(),
            // PostgreSQL keeps microseconds: widened to whole ones, the range still holds
            // every event's time.
            first: first.map(floor_micros),
            last: last.map(ceil_micros),
        }
    }
}

/// `t` down to a whole microsecond.
fn floor_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}

/// `t` up to a whole microsecond.
fn ceil_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    let floor = floor_micros(t);
    if floor < t {
        floor
            .checked_add_signed(TimeDelta::microseconds(1))
            .unwrap_or(t)
    } else {
        floor
    }
}

/// The SQL expression of the `recorded` range of a row from two `timestamptz` parameters.
pub(super) fn range_sql(first: usize, last: usize) -> String {
    format!("tstzrange(${first}::timestamptz, ${last}::timestamptz, '[]')")
}

/// Adds the index columns and their indexes to `schema.audit_batches` when they are missing
/// (a log created by an earlier version), inside the transaction that creates the tables.
/// Only a table without them is altered: an `ALTER TABLE` takes a lock that would hold up
/// every instance's appends, and waits for every reader, at each start.
pub(super) async fn add_index(tx: &Transaction<'_>, schema: &str) -> Result<(), LogError> {
    let has_columns: bool = tx
        .query_one(
            "SELECT count(*) = 2 FROM pg_attribute
             WHERE attrelid = to_regclass($1) AND attname IN ('subjects', 'recorded')
               AND NOT attisdropped",
            &[&format!("{schema}.audit_batches")],
        )
        .await
        .map_err(db)?
        .get(0);
    if !has_columns {
        // Nullable without a default: adding them rewrites nothing.
        tx.batch_execute(&format!(
            "ALTER TABLE {schema}.audit_batches
                 ADD COLUMN IF NOT EXISTS subjects TEXT[],
                 ADD COLUMN IF NOT EXISTS recorded TSTZRANGE"
        ))
        .await
        .map_err(db)?;
    }
    for (name, definition) in [
        ("audit_batches_subjects", "USING gin (subjects)"),
        ("audit_batches_recorded", "USING gist (recorded)"),
        // The rows every report reads until they are indexed; empty once they are, and no
        // cost to appends, which fill the columns.
        (
            "audit_batches_unindexed",
            "(first_seq) WHERE subjects IS NULL",
        ),
    ] {
        if !exists(tx, schema, name).await? {
            tx.batch_execute(&format!(
                "CREATE INDEX IF NOT EXISTS {name} ON {schema}.audit_batches {definition}"
            ))
            .await
            .map_err(db)?;
        }
    }
    Ok(())
}

/// Fills in the index columns of the rows that lack them, in short transactions of their own
/// (appends go on meanwhile). One instance does it at a time (a session advisory lock); one
/// that finds it taken leaves the work to the other, the reports being whole meanwhile. A row
/// whose records do not read is left as it is: every report then reads it, and fails on it as
/// reading every event would, and `verify` names it.
pub(super) async fn index_earlier_rows(client: &Client, schema: &str) -> Result<(), LogError> {
    let lock = format!("zvp-audit-index:{schema}");
    let locked: bool = client
        .query_one("SELECT pg_try_advisory_lock(hashtext($1))", &[&lock])
        .await
        .map_err(db)?
        .get(0);
    if !locked {
        return Ok(());
    }
    let result = index_rows(client, schema).await;
    let unlocked = client
        .execute("SELECT pg_advisory_unlock(hashtext($1))", &[&lock])
        .await
        .map_err(db);
    result.and(unlocked.map(|_| ()))
}

/// [`index_earlier_rows`]'s work, under its lock.
async fn index_rows(client: &Client, schema: &str) -> Result<(), LogError> {
    let select = client
        .prepare(&format!(
            "SELECT first_seq, records FROM {schema}.audit_batches
             WHERE subjects IS NULL AND first_seq > $1 ORDER BY first_seq LIMIT $2"
        ))
        .await
        .map_err(db)?;
    let update = client
        .prepare(&format!(
            "UPDATE {schema}.audit_batches SET subjects = $2::text[], recorded = {}
             WHERE first_seq = $1 AND subjects IS NULL",
            range_sql(3, 4)
        ))
        .await
        .map_err(db)?;
    let mut after = -1_i64;
    loop {
        let rows = client
            .query(&select, &[&after, &ROWS_PER_INDEXING])
            .await
            .map_err(db)?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = last.get(0);
        client.batch_execute("BEGIN").await.map_err(db)?;
        let mut result = Ok(());
        for row in &rows {
            let Some(index) = row_index(row.get(1)) else {
                continue;
            };
            let first_seq: i64 = row.get(0);
            if let Err(e) = client
                .execute(
                    &update,
                    &[&first_seq, &index.subjects, &index.first, &index.last],
                )
                .await
            {
                result = Err(db(e));
                break;
            }
        }
        let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
        client.batch_execute(end).await.map_err(db)?;
        result?;
    }
}

/// The index columns of a row's records; `None` when they do not read.
fn row_index(records: Vec<u8>) -> Option<RowIndex> {
    let mut marks = Vec::new();
    for record in BatchRecords::new(records) {
        let event: AuditEvent = serde_json::from_slice(&record.ok()?.event).ok()?;
        marks.push(Marks::of(&event));
    }
    Some(RowIndex::of(&marks))
}

/// The page of `query` from the log in `schema`: the keys of the rows that can hold it, from
/// the indexes, then those rows in log order until the page is known.
pub(super) async fn report(
    client: &Client,
    schema: &str,
    query: &ReportQuery,
) -> Result<ReportPage, LogError> {
    let mut page = ReportPage {
        events: Vec::new(),
        more: false,
    };
    // A period that ends before it starts holds nothing (and is no range to PostgreSQL).
    if let (Some(from), Some(to)) = (query.period.from, query.period.to)
        && to <= from
    {
        return Ok(page);
    }
    // The period widened to whole microseconds (what PostgreSQL keeps): the rows it finds
    // include every row of the period, and each event is then held against the period itself.
    let from = query.period.from.map(floor_micros);
    let to = query.period.to.map(ceil_micros);
    // A cursor beyond every sequence number leaves nothing to find.
    let after = query
        .after
        .map_or(Ok(-1), i64::try_from)
        .unwrap_or(i64::MAX);
    let candidates: Vec<i64> = client
        .query(
            &candidates_sql(schema),
            &[&key(&query.subject), &from, &to, &after],
        )
        .await
        .map_err(db)?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let needle = query.subject.digits();
    let finder = memchr::memmem::Finder::new(needle.as_bytes());
    let read = format!(
        "SELECT records FROM {schema}.audit_batches WHERE first_seq = ANY($1) ORDER BY first_seq"
    );
    for keys in candidates.chunks(ROWS_PER_READ) {
        let rows = client.query(&read, &[&keys]).await.map_err(db)?;
        for row in rows {
            for record in BatchRecords::new(row.get(0)) {
                let record = record.map_err(|offset| {
                    LogError::Io(format!("a damaged batch row (at byte {offset})"))
                })?;
                // As in the file log: an event is parsed only when its JSON holds the
                // subject's digits.
                if query.after.is_some_and(|after| record.seq <= after)
                    || finder.find(&record.event).is_none()
                {
                    continue;
                }
                let event: AuditEvent = serde_json::from_slice(&record.event)
                    .map_err(|e| LogError::Io(format!("record {}: {e}", record.seq)))?;
                if query.wants(record.seq, &event) {
                    if page.events.len() == query.limit {
                        page.more = true;
                        return Ok(page);
                    }
                    page.events.push((record.seq, event));
                }
            }
        }
    }
    Ok(page)
}

/// The statement that finds the rows a report can need, in log order: `$1` the subject's key,
/// `$2` and `$3` the period (either `NULL`: open), `$4` the cursor (-1 for none). The rows
/// with the key whose range meets the period (the GIN index, with the GiST one where the
/// planner finds that cheaper), and every row not indexed yet (the partial index). Only their
/// keys are read here, so that the planner weighs the whole set, not the first few rows in
/// key order.
pub(super) fn candidates_sql(schema: &str) -> String {
    format!(
        "SELECT first_seq FROM {schema}.audit_batches
         WHERE ((subjects @> ARRAY[$1::text]
                 AND recorded && tstzrange($2::timestamptz, $3::timestamptz, '[)'))
                OR subjects IS NULL)
           AND first_seq + count - 1 > $4::bigint
         ORDER BY first_seq"
    )
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        reason = "test code: a failed expectation should panic"
    )]

    use chrono::TimeZone;

    use super::*;

    #[test]
    fn a_rows_range_holds_its_events_to_the_nanosecond() {
        let t = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
        let marks: Vec<_> = [
            t + TimeDelta::nanoseconds(1_500),
            t + TimeDelta::nanoseconds(999),
        ]
        .into_iter()
        .map(|recorded| Marks {
            keys: vec!["uzi:1".to_owned()],
            recorded,
        })
        .collect();
        let index = RowIndex::of(&marks);
        assert_eq!(index.first, Some(t));
        assert_eq!(index.last, Some(t + TimeDelta::microseconds(2)));
        assert_eq!(index.subjects, ["uzi:1"]);
        assert_eq!(ceil_micros(t), t);
    }

    /// On a log of 20,000 rows, the rows of a patient's report are found by the indexes, not
    /// by reading the table.
    #[tokio::test]
    async fn the_rows_of_a_report_are_found_by_the_index() {
        let config = std::env::var("ZVP_TEST_PG")
            .unwrap_or_else(|_| "host=127.0.0.1 port=5432 user=postgres dbname=test".to_owned());
        let schema = "zvp_pg_report_plan";
        let client = super::super::connect(&config).await.unwrap();
        client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .await
            .unwrap();
        let log = super::super::PgLog::connect(&config, schema).await.unwrap();
        // Rows as appends make them (their records do not matter to the plan): five years,
        // 5,000 patients, 50 practitioners.
        client
            .batch_execute(&format!(
                "INSERT INTO {schema}.audit_batches (first_seq, count, chain, records, subjects, recorded)
                 SELECT i * 16, 16, '\\x00'::bytea, '\\x00'::bytea,
                        ARRAY['bsn:' || (i % 5000), 'uzi:' || (i % 50)],
                        tstzrange(t, t + interval '2 hours', '[]')
                 FROM (SELECT i, timestamptz '2021-01-01' + i * interval '2 hours' AS t
                       FROM generate_series(0, 19999) AS i) AS rows;
                 ANALYZE {schema}.audit_batches"
            ))
            .await
            .unwrap();
        let plan = |period: Option<(DateTime<Utc>, DateTime<Utc>)>| {
            let client = &client;
            async move {
                let (from, to) = (period.map(|p| p.0), period.map(|p| p.1));
                let rows = client
                    .query(
                        &format!("EXPLAIN {}", candidates_sql(schema)),
                        &[&"bsn:1234", &from, &to, &-1_i64],
                    )
                    .await
                    .unwrap();
                rows.iter()
                    .map(|row| row.get::<_, String>(0))
                    .collect::<Vec<_>>()
                    .join("\n")
            }
        };
        // 90 days: by the subject's rows or by the period's, whichever the planner finds
        // fewer of, never by every row.
        let from = Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0).unwrap();
        let days = plan(Some((from, from + TimeDelta::days(90)))).await;
        assert!(
            days.contains("Bitmap Index Scan on audit_batches_"),
            "{days}"
        );
        assert!(!days.contains("Seq Scan"), "{days}");
        // All of the patient's time: by the subject's rows.
        let all = plan(None).await;
        assert!(
            all.contains("Bitmap Index Scan on audit_batches_subjects"),
            "{all}"
        );
        assert!(!all.contains("Seq Scan"), "{all}");
        drop(log);
    }
}
