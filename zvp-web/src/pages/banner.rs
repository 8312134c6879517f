//! What tells a GP at a glance whom they are looking at and why the patient is in hospital:
//! the patient banner on every patient page and printout (name, date of birth with age, sex,
//! BSN), and the admission summary (reason, treating specialist, ward and room with the
//! ward's phone, admission date and length of stay, expected discharge).

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use maud::{Markup, html};
use zvp_core::{Admission, Gender, Patient};
use zvp_epd::EpdError;

use crate::layout::{amsterdam, dutch_date, dutch_time};

/// Age in whole years on `today`: the birthday counts from its day on; someone born on
/// 29 February has their birthday on 1 March in other years.
pub(crate) fn age_on(birth: NaiveDate, today: NaiveDate) -> i32 {
    let years = today.year() - birth.year();
    let had_birthday = (today.month(), today.day()) >= (birth.month(), birth.day());
    if had_birthday { years } else { years - 1 }.max(0)
}

/// The patient's sex in the words of the banner.
pub(crate) const fn sex(gender: Gender) -> &'static str {
    match gender {
        Gender::Female => "vrouw",
        Gender::Male => "man",
        Gender::Other => "anders",
        Gender::Unknown => "geslacht onbekend",
    }
}

/// The banner: the name as the page's heading, and beside it what tells two patients of the
/// same name apart; below, the admission it names (the current one, or else the latest). It
/// is printed with the page.
pub(crate) fn banner(
    patient: &Patient,
    admission: Option<&Admission>,
    now: DateTime<Utc>,
) -> Markup {
    let today = amsterdam(now).date();
    html! {
        section.banner aria-label="Patiënt" {
            h1 { (patient.name.to_string()) }
            p.identity {
                span { "geb. " (dutch_date(patient.birth_date))
                    " (" (age_on(patient.birth_date, today)) " jaar)" }
                " · " span { (sex(patient.gender)) }
                " · " span {
                    "BSN "
                    (patient.bsn.map_or_else(|| "onbekend".to_owned(), |b| b.to_string()))
                }
            }
            @if let Some(a) = admission { (admission_line(a, now)) }
        }
    }
}

/// One line naming an admission: since when (or from when to when), where, and why.
fn admission_line(a: &Admission, now: DateTime<Utc>) -> Markup {
    html! {
        p.admission-line {
            @match a.discharged_at() {
                None => {
                    strong { "Opgenomen" } " sinds " (dutch_date(amsterdam(a.admitted_at()).date()))
                    " (" (days(length_of_stay(a, now))) ")"
                }
                Some(end) => {
                    strong { "Laatste opname" } " " (dutch_date(amsterdam(a.admitted_at()).date()))
                    " tot " (dutch_date(amsterdam(end).date()))
                }
            }
            @if !a.specialism.is_empty() { " · " (a.specialism) }
            @if !a.ward.is_empty() { ", " (super::patient_list::ward_only(&a.ward, &a.specialism)) }
            @if let Some(reason) = &a.reason { " · " (reason) }
        }
    }
}

/// A section's read together with the patient's admissions, which the banner names: both
/// in one round trip. Admissions the EPD does not give leave the banner without its line;
/// only the section's own failure fails the page.
pub(crate) async fn with_admissions<T>(
    read: impl Future<Output = Result<T, EpdError>>,
    admissions: impl Future<Output = Result<Vec<Admission>, EpdError>>,
) -> Result<(T, Vec<Admission>), EpdError> {
    let (read, admissions) = tokio::join!(read, admissions);
    Ok((read?, admissions.unwrap_or_default()))
}

/// The admission the banner names: the current one, or else the latest.
pub(crate) fn current_or_latest(admissions: &[Admission]) -> Option<&Admission> {
    admissions
        .iter()
        .filter(|a| a.discharged_at().is_none())
        .max_by_key(|a| a.admitted_at())
        .or_else(|| admissions.iter().max_by_key(|a| a.admitted_at()))
}

/// Nights in hospital from admission to `until`, counted in Dutch local dates.
pub(crate) fn length_of_stay(admission: &Admission, until: DateTime<Utc>) -> i64 {
    let end = admission.discharged_at().unwrap_or(until);
    (amsterdam(end).date() - amsterdam(admission.admitted_at()).date())
        .num_days()
        .max(0)
}

fn days(n: i64) -> String {
    if n == 1 {
        "1 dag".to_owned()
    } else {
        format!("{n} dagen")
    }
}

/// The admission summary, a definition list a GP reads top to bottom.
pub(crate) fn admission_summary(admission: &Admission, now: DateTime<Utc>) -> Markup {
    let not_recorded = || html! { span.muted { "niet vastgelegd" } };
    let stay = length_of_stay(admission, now);
    html! {
        section.admission aria-labelledby="opname" {
            h2 #opname {
                @if admission.discharged_at().is_none() { "Huidige opname" }
                @else { "Laatste opname (ontslagen)" }
            }
            dl.summary {
                dt { "Reden van opname" }
                dd { @match &admission.reason { Some(r) => (r), None => (not_recorded()) } }
                dt { "Behandelaar" }
                dd {
                    @match &admission.specialist { Some(s) => (s), None => (not_recorded()) }
                    @if !admission.specialism.is_empty() { ", " (admission.specialism) }
                }
                dt { "Afdeling" }
                dd {
                    (admission.ward)
                    @if let Some(room) = &admission.room { ", " (room) }
                    @if let Some(phone) = &admission.ward_phone {
                        br; "Telefoon afdeling: "
                        a href={ "tel:" (phone.replace(' ', "")) } { (phone) }
                    }
                }
                dt { "Opgenomen" }
                dd { (dutch_time(admission.admitted_at())) " (" (days(stay)) ")" }
                @if let Some(end) = admission.discharged_at() {
                    dt { "Ontslagen" }
                    dd { (dutch_time(end)) }
                } @else {
                    dt { "Verwacht ontslag" }
                    dd {
                        @match admission.expected_discharge {
                            Some(d) => (dutch_date(d)),
                            None => (not_recorded()),
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

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn age_counts_from_the_birthday_on() {
        assert_eq!(age_on(date("1950-11-25"), date("2026-11-24")), 75);
        assert_eq!(age_on(date("1950-11-25"), date("2026-11-25")), 76);
        assert_eq!(age_on(date("2000-02-29"), date("2026-02-28")), 25);
        assert_eq!(age_on(date("2000-02-29"), date("2026-03-01")), 26);
        assert_eq!(age_on(date("2027-01-01"), date("2026-11-25")), 0);
    }
}
