//! The review report ([`ReviewReport`]) as one CSV table: a row per finding, its section in
//! the first column, so that a spreadsheet can filter on it.

use chrono::{DateTime, SecondsFormat, Utc};

use super::csv_row;
use crate::report::review::ReviewReport;

/// The CSV header of [`to_csv`]: `section` is `period`, `emergency`, `refusals`,
/// `search-without-view`, `volume`, `anomaly` or `log-check`.
pub const REVIEW_CSV_HEADER: &str = "section,recorded,uzi,name,bsn,code,text,verdict,count";

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The report as CSV, header first, one line per row (`\r\n`, RFC 4180).
pub fn to_csv(report: &ReviewReport) -> String {
    let mut rows: Vec<[Option<String>; 9]> = Vec::new();
    let s = |text: &str| Some(text.to_owned());
    rows.push([
        s("period"),
        report.period.from.map(time),
        None,
        None,
        None,
        None,
        report.period.to.map(time),
        None,
        Some(report.events.to_string()),
    ]);
    for e in &report.emergencies {
        rows.push([
            s("emergency"),
            Some(time(e.recorded)),
            e.uzi.map(|u| u.to_string()),
            Some(e.name.clone()),
            e.bsn.map(|b| b.to_string()),
            Some(e.category.clone()),
            Some(e.reason.clone()),
            e.verdict.clone(),
            None,
        ]);
    }
    for r in &report.refusals {
        for (code, count) in &r.by_code {
            rows.push([
                s("refusals"),
                None,
                Some(r.uzi.to_string()),
                r.name.clone(),
                None,
                Some(code.clone()),
                None,
                None,
                Some(count.to_string()),
            ]);
        }
    }
    for u in &report.unfollowed {
        rows.push([
            s("search-without-view"),
            Some(time(u.recorded)),
            Some(u.uzi.to_string()),
            Some(u.name.clone()),
            u.bsn.map(|b| b.to_string()),
            serde_json::to_value(u.outcome)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned)),
            None,
            None,
            None,
        ]);
    }
    for v in &report.volumes {
        rows.push([
            s("volume"),
            None,
            Some(v.uzi.to_string()),
            Some(v.name.clone()),
            None,
            None,
            Some(format!("median {}", report.median_patients)),
            None,
            Some(v.patients.to_string()),
        ]);
    }
    for a in &report.anomalies {
        rows.push([
            s("anomaly"),
            None,
            Some(a.uzi.to_string()),
            None,
            None,
            s(a.rule),
            None,
            None,
            Some(a.count.to_string()),
        ]);
    }
    let log = &report.log;
    rows.push([
        s("log-check"),
        log.last_checkpoint.map(|(_, t)| time(t)),
        None,
        None,
        None,
        s(if log.verifies() {
            "verifies"
        } else {
            "does-not-verify"
        }),
        log.problem
            .clone()
            .or_else(|| log.records.map(|n| format!("{n} records"))),
        None,
        log.last_checkpoint.map(|(size, _)| size.to_string()),
    ]);
    let mut out = String::from(REVIEW_CSV_HEADER);
    out.push_str("\r\n");
    for row in &rows {
        out.push_str(&csv_row(row));
        out.push_str("\r\n");
    }
    out
}
