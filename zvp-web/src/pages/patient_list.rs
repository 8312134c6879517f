//! The start page's lists as a GP scans them: newest admission first, a name search over
//! what the GP may see, counts per group, and only the columns that tell rows apart.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use maud::{Markup, html};
use zvp_auth::policy::Basis;
use zvp_core::{AgbCode, PatientId};
use zvp_epd::ListedPatient;

use super::basis_text;
use crate::layout::{DutchDate, DutchTime, path_segment};

/// A listed patient the caller may see, with the basis they may see them on.
pub(crate) type Row<'a> = (&'a ListedPatient, Basis);

/// The longest name search taken into account, in characters.
pub(crate) const MAX_SEARCH: usize = 60;

/// The name search as typed, trimmed and bounded; `None` when empty.
pub(crate) fn search_term(raw: Option<&str>) -> Option<String> {
    let term: String = raw?.trim().chars().take(MAX_SEARCH).collect();
    (!term.is_empty()).then_some(term)
}

/// Whether the patient's name contains every word of `term`, in any case: `boer` finds
/// "J. de Boer", `jan boer` finds Jan de Boer.
pub(crate) fn name_matches(l: &ListedPatient, term: &str) -> bool {
    let name = &l.patient.name;
    let haystack = format!(
        "{} {} {} {}",
        name.given_names().unwrap_or(""),
        name.prefix().unwrap_or(""),
        name.family_name(),
        name
    )
    .to_lowercase();
    term.to_lowercase()
        .split_whitespace()
        .all(|word| haystack.contains(word))
}

/// Newest first: admitted by admission, discharged by discharge (then admission).
pub(crate) fn sort_newest_first(rows: &mut [Row<'_>]) {
    rows.sort_by_key(|(l, _)| {
        std::cmp::Reverse((l.admission.discharged_at(), l.admission.admitted_at()))
    });
}

/// When a row became news: its discharge in the discharged list, its admission otherwise.
fn news_at(l: &ListedPatient) -> DateTime<Utc> {
    l.admission
        .discharged_at()
        .unwrap_or_else(|| l.admission.admitted_at())
}

/// Whether a row is new since `since` (the caller's previous login; none: nothing is).
pub(crate) fn is_new(l: &ListedPatient, since: Option<DateTime<Utc>>) -> bool {
    since.is_some_and(|since| news_at(l) > since)
}

/// How many rows are shown through a delegation.
pub(crate) fn delegated(rows: &[Row<'_>]) -> usize {
    rows.iter()
        .filter(|(_, b)| matches!(b, Basis::Delegation { .. }))
        .count()
}

/// The ward without a leading specialism it repeats (`Cardiologie, Afdeling C2` under
/// Cardiologie is `Afdeling C2`); the specialism is its own column.
pub(crate) fn ward_only<'a>(ward: &'a str, specialism: &str) -> &'a str {
    ward.strip_prefix(specialism)
        .and_then(|rest| rest.strip_prefix(','))
        .map_or(ward, str::trim)
}

/// A list as a table. The "Patiënt van" column is there only when the rows differ in it;
/// otherwise a line above the table says it once. Rows new since `since` are marked.
pub(crate) fn table(
    rows: &[Row<'_>],
    names: &HashMap<AgbCode, String>,
    letters: Option<&HashSet<PatientId>>,
    since: Option<DateTime<Utc>>,
    empty: &str,
) -> Markup {
    let discharged = letters.is_some();
    let Some(&(_, first)) = rows.first() else {
        return html! { p.muted.empty { (empty) } };
    };
    let mixed = rows.iter().any(|(_, b)| *b != first);
    html! {
        @if !mixed {
            p.basis { "Alle patiënten in deze lijst: " (basis_text(first, names)) "." }
        }
        div.scroll {
            table.patients {
                thead {
                    tr {
                        th scope="col" { "Naam" }
                        th scope="col" { "Geboren" }
                        th scope="col" { "Specialisme en afdeling" }
                        th scope="col" { "Reden van opname" }
                        th scope="col" { "Opgenomen" }
                        @if discharged { th scope="col" { "Ontslagen" } }
                        @if mixed { th scope="col" { "Patiënt van" } }
                    }
                }
                tbody {
                    @for (l, basis) in rows {
                        @let a = &l.admission;
                        tr {
                            td {
                                a href={ "/patient/" (path_segment(l.patient.id.as_str())) } {
                                    (l.patient.name)
                                }
                                @if is_new(l, since) { " " span.new-flag { "nieuw" } }
                            }
                            td { (DutchDate(l.patient.birth_date)) }
                            td {
                                (a.specialism)
                                @if !a.ward.is_empty() {
                                    br; span.muted { (ward_only(&a.ward, &a.specialism)) }
                                }
                            }
                            td { (a.reason.as_deref().unwrap_or("")) }
                            td { (DutchTime(a.admitted_at())) }
                            @if discharged {
                                td {
                                    @if let Some(at) = a.discharged_at() { (DutchTime(at)) }
                                    @if letters.is_some_and(|set| set.contains(&l.patient.id)) {
                                        br; span.letter-flag { "ontslagbrief beschikbaar" }
                                    }
                                }
                            }
                            @if mixed { td { (basis_text(*basis, names)) } }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_specialism_is_left_out_of_the_ward() {
        assert_eq!(
            ward_only("Cardiologie, Afdeling C2", "Cardiologie"),
            "Afdeling C2"
        );
        assert_eq!(ward_only("4 noord", "Cardiologie"), "4 noord");
        assert_eq!(ward_only("Cardiologie", "Cardiologie"), "Cardiologie");
    }

    #[test]
    fn a_search_term_is_trimmed_bounded_and_may_be_empty() {
        assert_eq!(search_term(None), None);
        assert_eq!(search_term(Some("  ")), None);
        assert_eq!(search_term(Some(" boer ")).as_deref(), Some("boer"));
        assert_eq!(
            search_term(Some(&"x".repeat(100))).map(|t| t.len()),
            Some(MAX_SEARCH)
        );
    }
}
