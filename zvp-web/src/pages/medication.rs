//! The medication list as a GP reads it after a discharge: what the hospital started,
//! changed and stopped during the (latest) admission, what is in use unchanged, and what
//! stopped before; each medicine once, sorted by that status and then by name.

use chrono::{DateTime, Utc};
use maud::{Markup, html};
use zvp_core::{Admission, Medication};

use crate::layout::{dutch_date, dutch_time};

/// Where a medicine stands against the admission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Status {
    /// Started during the admission.
    Started,
    /// In use at a new dose set during the admission (the old dose stopped then).
    Changed,
    /// Stopped during the admission.
    Stopped,
    /// In use, untouched by the admission.
    InUse,
    /// Stopped before (or without an admission: stopped).
    StoppedBefore,
}

impl Status {
    const fn text(self) -> &'static str {
        match self {
            Self::Started => "gestart",
            Self::Changed => "gewijzigd",
            Self::Stopped => "gestopt",
            Self::InUse => "ongewijzigd",
            Self::StoppedBefore => "eerder gestopt",
        }
    }
}

/// A row: the medicine, its status, and for a changed one the dose it had.
pub(crate) struct Row<'a> {
    pub(crate) medication: &'a Medication,
    pub(crate) status: Status,
    pub(crate) was: Option<&'a str>,
}

fn same_medicine(a: &Medication, b: &Medication) -> bool {
    a.name.eq_ignore_ascii_case(&b.name)
}

/// The rows: active duplicates (the same medicine, dose and route in use twice) shown once,
/// a stop and a start of the same medicine at the same moment read as one change.
pub(crate) fn rows<'a>(
    items: &'a [Medication],
    admission: Option<&Admission>,
    now: DateTime<Utc>,
) -> Vec<Row<'a>> {
    let during = |t: DateTime<Utc>| {
        admission
            .is_some_and(|a| a.admitted_at() <= t && a.discharged_at().is_none_or(|end| t <= end))
    };
    // First the changes: a start during the admission paired with the stop of the same
    // medicine at that moment; the stopped dose is then part of the change, not a row.
    let mut old_of: Vec<Option<usize>> = vec![None; items.len()];
    let mut is_old = vec![false; items.len()];
    for (i, m) in items.iter().enumerate() {
        if !during(m.period.start()) {
            continue;
        }
        let found = items.iter().enumerate().position(|(j, o)| {
            j != i
                && same_medicine(o, m)
                && o.period.end() == Some(m.period.start())
                && !is_old.get(j).copied().unwrap_or(true)
        });
        if let Some(j) = found {
            if let Some(flag) = is_old.get_mut(j) {
                *flag = true;
            }
            if let Some(slot) = old_of.get_mut(i) {
                *slot = Some(j);
            }
        }
    }
    let mut rows: Vec<Row<'a>> = Vec::new();
    for (i, m) in items.iter().enumerate() {
        if is_old.get(i).copied().unwrap_or(true) {
            continue;
        }
        let in_use = m.in_use_at(now);
        if in_use
            && rows.iter().any(|r| {
                r.medication.in_use_at(now)
                    && same_medicine(r.medication, m)
                    && r.medication.dosage == m.dosage
                    && r.medication.route == m.route
            })
        {
            continue;
        }
        let old = old_of.get(i).copied().flatten().and_then(|j| items.get(j));
        let status = if old.is_some() {
            Status::Changed
        } else if during(m.period.start()) {
            Status::Started
        } else if in_use {
            Status::InUse
        } else if m.period.end().is_some_and(during) {
            Status::Stopped
        } else {
            Status::StoppedBefore
        };
        rows.push(Row {
            medication: m,
            status,
            was: old.map(|o| o.dosage.as_str()),
        });
    }
    rows.sort_by(|a, b| {
        (a.status, a.medication.name.to_lowercase())
            .cmp(&(b.status, b.medication.name.to_lowercase()))
    });
    rows
}

/// The medication page's body.
pub(crate) fn page(
    items: &[Medication],
    admission: Option<&Admission>,
    now: DateTime<Utc>,
) -> Markup {
    let rows = rows(items, admission, now);
    html! {
        @if let Some(a) = admission {
            p.notice {
                "Wijzigingen ten opzichte van de opname van " (dutch_time(a.admitted_at()))
                @match a.discharged_at() {
                    Some(end) => { " tot het ontslag op " (dutch_time(end)) "." }
                    None => { " (nog opgenomen)." }
                }
            }
        }
        @if rows.is_empty() {
            p.empty { "Geen medicatie bekend in het ziekenhuisdossier." }
        } @else {
            div.scroll {
                table.medication {
                    thead {
                        tr {
                            th scope="col" { "Status" } th scope="col" { "Middel" }
                            th scope="col" { "Dosering" } th scope="col" { "Start" }
                            th scope="col" { "Stop" } th scope="col" { "Voorschrijver" }
                        }
                    }
                    tbody {
                        @for r in &rows {
                            @let m = r.medication;
                            tr.muted[r.status == Status::StoppedBefore] {
                                td { strong.status { (r.status.text()) } }
                                td { (m.name) }
                                td {
                                    (m.dosage)
                                    @if let Some(route) = &m.route { ", " (route) }
                                    @if let Some(was) = r.was { br; span.muted { "was: " (was) } }
                                }
                                td { (dutch_date(m.period.start().date_naive())) }
                                td { (m.period.end().map(|e| dutch_date(e.date_naive())).unwrap_or_default()) }
                                td { (m.prescriber.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};
    use zvp_core::Period;

    use super::*;

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, day, 10, 0, 0).unwrap()
    }

    fn med(
        name: &str,
        dosage: &str,
        start: DateTime<Utc>,
        end: Option<DateTime<Utc>>,
    ) -> Medication {
        Medication {
            name: name.to_owned(),
            dosage: dosage.to_owned(),
            route: Some("oraal".to_owned()),
            period: Period::new(start, end).unwrap(),
            prescriber: None,
        }
    }

    #[test]
    fn statuses_follow_the_admission_and_duplicates_go() {
        let admission = Admission {
            patient: "p1".parse().unwrap(),
            ward: "Cardiologie, C2".to_owned(),
            specialism: "Cardiologie".to_owned(),
            period: Period::new(at(10), Some(at(15))).unwrap(),
            reason: None,
            specialist: None,
            room: None,
            ward_phone: None,
            expected_discharge: None,
        };
        let long_ago = at(1) - Duration::days(300);
        let items = vec![
            med("Omeprazol", "1x", long_ago, None),
            med("Apixaban", "2x", long_ago, None),
            med("Apixaban", "2x", long_ago, None),
            med("Metoprolol", "1x", long_ago, Some(at(11))),
            med("Metoprolol", "2x", at(11), None),
            med("Furosemide", "1x", at(12), None),
            med("Diclofenac", "3x", long_ago, Some(at(12))),
            med(
                "Amoxicilline",
                "3x",
                long_ago,
                Some(long_ago + Duration::days(7)),
            ),
        ];
        let rows = rows(&items, Some(&admission), at(20));
        let seen: Vec<(&str, Status, Option<&str>)> = rows
            .iter()
            .map(|r| (r.medication.name.as_str(), r.status, r.was))
            .collect();
        assert_eq!(
            seen,
            vec![
                ("Furosemide", Status::Started, None),
                ("Metoprolol", Status::Changed, Some("1x")),
                ("Diclofenac", Status::Stopped, None),
                ("Apixaban", Status::InUse, None),
                ("Omeprazol", Status::InUse, None),
                ("Amoxicilline", Status::StoppedBefore, None),
            ]
        );
        // Without an admission: in use or stopped, duplicates still once.
        let rows = rows_without(&items);
        assert_eq!(
            rows.iter()
                .filter(|r| r.medication.name == "Apixaban")
                .count(),
            1
        );
        assert!(
            rows.iter()
                .all(|r| matches!(r.status, Status::InUse | Status::StoppedBefore))
        );
    }

    fn rows_without(items: &[Medication]) -> Vec<Row<'_>> {
        rows(items, None, at(20))
    }
}
