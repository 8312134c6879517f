//! The cumulative view of a results category, as a GP reads lab results: tests in rows,
//! sampling times in columns (newest first), each value with its flag in place, the unit
//! and the reference range once per row.

use chrono::{DateTime, Utc};
use maud::{Markup, Render, html};
use zvp_core::{LabFlag, LabObservation, ObservationValue, ReportContent, ResultReport};

use crate::layout::{DutchClock, DutchDate, amsterdam, path_segment};
use crate::numbers;

/// One test's row: its code, name, unit and latest range, and its values by sampling time.
struct Row<'a> {
    code: &'a str,
    name: &'a str,
    unit: &'a str,
    latest: &'a LabObservation,
    values: Vec<&'a LabObservation>,
}

/// The observations of the reports, if any report has them.
fn observations(reports: &[ResultReport]) -> impl Iterator<Item = &LabObservation> {
    reports.iter().flat_map(|r| match &r.content {
        ReportContent::Observations(values) => values.as_slice(),
        ReportContent::Culture(_) | ReportContent::Text(_) => &[],
    })
}

/// Whether the reports have values a cumulative view can show.
pub(crate) fn has_values(reports: &[ResultReport]) -> bool {
    observations(reports).next().is_some()
}

/// A value as the cumulative view shows it: the comparator and number with a comma.
pub(crate) fn value_text(value: &ObservationValue) -> String {
    match value {
        ObservationValue::Quantity {
            comparator, value, ..
        } => format!(
            "{}{}",
            comparator.map_or("", |c| c.symbol()),
            numbers::decimal(value)
        ),
        ObservationValue::Text(t) => numbers::in_text(t),
    }
}

/// [`value_text`] written straight into the page: the cumulative table has a value in most
/// of its cells, and each was a `String` of its own.
struct ValueText<'a>(&'a ObservationValue);

impl Render for ValueText<'_> {
    fn render_to(&self, out: &mut String) {
        match self.0 {
            ObservationValue::Quantity {
                comparator, value, ..
            } => {
                // The comparator's `<` is escaped as any text is; a decimal is digits, a sign
                // and a point (zvp_core::Decimal), which need no escaping.
                let comparator = comparator.map_or("", |c| c.symbol());
                comparator.render_to(out);
                numbers::decimal_into(value, out);
            }
            ObservationValue::Text(t) => numbers::in_text(t).render_to(out),
        }
    }
}

fn unit_of(o: &LabObservation) -> &str {
    match &o.value {
        ObservationValue::Quantity { unit, .. } => unit,
        ObservationValue::Text(_) => "",
    }
}

/// A flag's letter in the cell and its word for screen readers and the legend.
pub(crate) const fn flag_parts(flag: LabFlag) -> (&'static str, &'static str) {
    match flag {
        LabFlag::Low => ("L", "laag"),
        LabFlag::High => ("H", "hoog"),
        LabFlag::CriticallyLow => ("LL", "kritisch laag"),
        LabFlag::CriticallyHigh => ("HH", "kritisch hoog"),
        LabFlag::Abnormal => ("A", "afwijkend"),
    }
}

/// The table: every test of the category against every sampling time.
pub(crate) fn table(patient: &str, reports: &[ResultReport]) -> Markup {
    let mut times: Vec<DateTime<Utc>> = observations(reports).map(|o| o.effective).collect();
    times.sort_unstable_by(|a, b| b.cmp(a));
    times.dedup();
    let mut rows: Vec<Row<'_>> = Vec::new();
    // Reports come newest first: the first value of a test met is its latest.
    for o in observations(reports) {
        match rows.iter_mut().find(|r| r.code == o.code.code) {
            Some(row) => row.values.push(o),
            None => rows.push(Row {
                code: &o.code.code,
                name: &o.code.display,
                unit: unit_of(o),
                latest: o,
                values: vec![o],
            }),
        }
    }
    let patient = path_segment(patient);
    html! {
        div.scroll {
            table.cumulative {
                caption.muted { "Per bepaling de uitslagen naar afnametijdstip, nieuwste links." }
                thead {
                    tr {
                        th scope="col" { "Bepaling" }
                        th scope="col" { "Eenheid" }
                        th scope="col" { "Referentie" }
                        @for t in &times {
                            @let local = amsterdam(*t);
                            th scope="col" {
                                span.sr-only { "Afname " }
                                (DutchDate(local.date())) br;
                                (DutchClock(local))
                            }
                        }
                    }
                }
                tbody {
                    @for row in &rows {
                        tr {
                            th scope="row" {
                                a href={ "/patient/" (patient) "/lab/" (path_segment(row.code)) } { (row.name) }
                            }
                            td { (numbers::unit(row.unit)) }
                            td { @if let Some(r) = &row.latest.reference_range { (numbers::Range(r)) } }
                            @for t in &times {
                                td.value {
                                    @for (n, o) in row.values.iter().filter(|o| o.effective == *t).enumerate() {
                                        @if n > 0 { br; }
                                        (ValueText(&o.value))
                                        @if let Some(flag) = o.flag {
                                            @let (letter, word) = flag_parts(flag);
                                            " " span.flag aria-hidden="true" { (letter) }
                                            span.sr-only { " (" (word) ")" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        p.muted.legend { "H: hoog, L: laag, HH/LL: kritisch hoog/laag, A: afwijkend." }
    }
}
