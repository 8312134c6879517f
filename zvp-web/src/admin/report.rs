//! The audit report: who looked at a patient's record, or what a practitioner did, over a
//! period, a page at a time. Using the log is logged first.

use axum::extract::{Query, State};
use axum::response::Response;
use chrono::NaiveDate;
use maud::html;
use serde::Deserialize;
use zvp_audit::event::{
    ActionCode, AuditEvent, Basis, EventType, Query as LookUp, QueryOutcome, Subtype,
};
use zvp_audit::report::{self, Period, Subject};
use zvp_auth::policy::Action;
use zvp_core::{Bsn, RecordSection, UziNumber};

use super::{admin_page, form_error, log_admin, permit};
use crate::Portal;
use crate::caller::Caller;
use crate::layout::{dutch_date, dutch_time, see_other};
use crate::refusal::{Refusal, refusal_page};
use crate::trail::AdminDetail;

/// Whose report, over which period, from which record on.
#[derive(Debug, Deserialize)]
pub(super) struct ReportQuery {
    #[serde(default)]
    bsn: Option<String>,
    #[serde(default)]
    uzi: Option<String>,
    /// The first day, `YYYY-MM-DD` (default: [`REPORT_DAYS`] ago).
    #[serde(default)]
    van: Option<String>,
    /// The last day, inclusive (default: today).
    #[serde(default)]
    tot: Option<String>,
    /// After this record (the previous page's last).
    #[serde(default)]
    na: Option<u64>,
}

/// The period a report covers unless asked otherwise, in days back from today.
const REPORT_DAYS: i64 = 90;

/// The most records on one report page.
const REPORT_PAGE: usize = 500;

/// An audit report: who looked at a patient's record, or what a practitioner did. Using
/// the log is logged first.
pub(super) async fn audit_report(
    State(portal): State<Portal>,
    caller: Caller,
    Query(query): Query<ReportQuery>,
) -> Response {
    let permit = match permit(&portal, &caller, Action::ReadAudit).await {
        Ok(p) => p,
        Err(page) => return page,
    };
    let subject = match (
        query.bsn.as_deref().map(str::trim),
        query.uzi.as_deref().map(str::trim),
    ) {
        (Some(b), _) if !b.is_empty() => match b.parse::<Bsn>() {
            Ok(bsn) => Subject::Patient(bsn),
            Err(_) => return form_error(&portal, &caller, "Dit is geen geldig BSN."),
        },
        (_, Some(u)) if !u.is_empty() => match u.parse::<UziNumber>() {
            Ok(uzi) => Subject::Practitioner(uzi),
            Err(_) => return form_error(&portal, &caller, "Dit is geen geldig UZI-nummer."),
        },
        _ => return see_other("/beheer"),
    };
    let today = portal.now().date_naive();
    let day = |text: &Option<String>, default: NaiveDate| {
        text.as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map_or(Ok(default), str::parse::<NaiveDate>)
    };
    let (Ok(from), Ok(to)) = (
        day(&query.van, today - chrono::Duration::days(REPORT_DAYS)),
        day(&query.tot, today),
    ) else {
        return form_error(&portal, &caller, "Geef de periode als datums (jjjj-mm-dd).");
    };
    // The look-up is recorded before the log is read: whose report, over which period.
    let looked_up = LookUp {
        bsn: match subject {
            Subject::Patient(bsn) => Some(bsn),
            Subject::Practitioner(_) => None,
        },
        uzi: match subject {
            Subject::Practitioner(uzi) => Some(uzi),
            Subject::Patient(_) => None,
        },
        from: Some(from),
        to: Some(to),
        ..LookUp::default()
    };
    let kind = (EventType::AuditLogUsed, ActionCode::R, Subtype::LogAccess);
    if let Err(page) = log_admin(
        &portal,
        &caller,
        &permit,
        kind,
        AdminDetail::LookUp(looked_up),
    )
    .await
    {
        return page;
    }
    let start_of = |d: NaiveDate| d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    let by_practitioner = matches!(subject, Subject::Practitioner(_));
    let (title, field, value) = match &subject {
        Subject::Patient(bsn) => (
            format!("Inzage in het dossier van BSN {bsn}"),
            "bsn",
            bsn.to_string(),
        ),
        Subject::Practitioner(uzi) => {
            // The practitioner by name where the directory has an account for the number.
            let name = match portal.0.directory.account(*uzi).await {
                Ok(Some(account)) => format!("{} (UZI {uzi})", account.name),
                _ => format!("UZI {uzi}"),
            };
            (format!("Gebruik door {name}"), "uzi", uzi.to_string())
        }
    };
    let report_query = report::ReportQuery {
        subject,
        period: Period {
            from: start_of(from),
            to: start_of(to + chrono::Duration::days(1)),
        },
        limit: REPORT_PAGE,
        after: query.na,
    };
    let Ok(page) = portal.0.audit.report(&report_query).await else {
        return refusal_page(&portal, &Refusal::Unavailable, &caller.request_id);
    };
    let next =
        page.events.last().filter(|_| page.more).map(|(last, _)| {
            format!("/beheer/audit?{field}={value}&van={from}&tot={to}&na={last}")
        });
    let body = html! {
        h1 { (title) }
        @if page.events.is_empty() {
            p.empty { "Geen vastleggingen in deze periode." }
        }
        table {
            thead {
                tr {
                    th { "Tijdstip" }
                    th { "Wie" }
                    @if by_practitioner { th { "Patiënt" } }
                    th { "Wat" }
                    th { "Grondslag" }
                    th { "Reden" }
                }
            }
            tbody {
                @for (_, e) in &page.events {
                    tr {
                        td { (dutch_time(e.recorded)) }
                        td { (who(e)) }
                        @if by_practitioner { td { (patient_text(e)) } }
                        td { (what(e)) }
                        td { (basis_text(e.basis.as_ref())) }
                        td { (e.reason.as_deref().unwrap_or("")) }
                    }
                }
            }
        }
        p.muted {
            (page.events.len()) " vastleggingen, "
            (dutch_date(from)) " tot en met " (dutch_date(to)) "."
        }
        @if let Some(next) = next {
            p { a href=(next) { "Volgende vastleggingen" } }
        }
        form method="get" action="/beheer/audit" {
            input type="hidden" name=(field) value=(value);
            label for="van" { "Van" }
            input type="date" id="van" name="van" value=(from.to_string());
            label for="tot" { "Tot en met" }
            input type="date" id="tot" name="tot" value=(to.to_string());
            button type="submit" { "Andere periode" }
        }
    };
    admin_page(&portal, &caller, &title, body)
}

/// Who acted: the user, or for a refused card the UZI number it claimed (not verified).
fn who(e: &AuditEvent) -> String {
    match (&e.user, e.card.as_ref().and_then(|c| c.uzi)) {
        (Some(user), _) => format!("{} (UZI {})", user.name, user.uzi),
        (None, Some(uzi)) => format!("geweigerde pas (UZI {uzi}, niet geverifieerd)"),
        (None, None) => "geweigerde pas".to_owned(),
    }
}

/// What a record is of, in Dutch: the part of the record read, or the kind of event with
/// what it searched for, what it changed, or how it ended.
fn what(e: &AuditEvent) -> String {
    if let Some(part) = &e.part {
        let mut text = section_text(part.section);
        if let Some(item) = &part.item {
            text.push_str(&format!(" ({item})"));
        }
        return text;
    }
    let mut text = event_text(e.event_type).to_owned();
    if let Some(outcome) = e.query.as_ref().and_then(|q| q.outcome) {
        text.push_str(&format!(" ({})", query_outcome_text(outcome)));
    }
    // A notification mail's record counts the news it told of: said in words, not as stored.
    let mailed = e
        .change
        .as_ref()
        .filter(|_| e.event_type == EventType::Notification);
    if let Some(counts) =
        mailed.and_then(|c| zvp_notify::mail::parse_counts(c.new.as_deref()?).ok())
    {
        let told: Vec<String> = counts
            .iter()
            .map(|(kind, n)| format!("{} × {n}", kind.dutch().to_lowercase()))
            .collect();
        text.push_str(&format!(": {}", told.join(", ")));
    } else if let Some(change) = &e.change {
        text.push_str(&format!(
            ": {} {} → {}",
            change.field,
            change.old.as_deref().unwrap_or("-"),
            change.new.as_deref().unwrap_or("-")
        ));
    }
    text
}

/// A record section as the portal's tabs name it.
fn section_text(section: RecordSection) -> String {
    use crate::pages::patient::DOSSIER;
    use crate::pages::results::RESULTS;
    match section {
        RecordSection::AdmittedList => "Lijst opgenomen patiënten".to_owned(),
        RecordSection::DischargedList => "Lijst ontslagen patiënten".to_owned(),
        RecordSection::PatientSearch => "Zoeken op BSN".to_owned(),
        RecordSection::PatientDetails => "Patiëntgegevens".to_owned(),
        RecordSection::CareMoments => "Zorgmomenten en opname".to_owned(),
        RecordSection::Dossier(d) => DOSSIER
            .iter()
            .find(|(_, _, s)| *s == d)
            .map_or_else(|| d.code().to_owned(), |(_, label, _)| (*label).to_owned()),
        RecordSection::Results(c) => RESULTS.iter().find(|(_, _, s)| *s == c).map_or_else(
            || c.code().to_owned(),
            |(_, label, _)| format!("Uitslagen {}", label.to_lowercase()),
        ),
        RecordSection::Document => "Document".to_owned(),
    }
}

/// The kind of event, in Dutch.
const fn event_text(event: EventType) -> &'static str {
    match event {
        EventType::PatientRecord => "Inzage dossier",
        EventType::Query => "Zoekactie",
        EventType::Login => "Aanmelding",
        EventType::Logout => "Afmelding",
        EventType::SecurityAlert => "Beveiligingsmelding",
        EventType::SecurityRolesChanged => "Wijziging van rechten",
        EventType::AuditLogUsed => "Raadpleging auditlog",
        EventType::Notification => "E-mailbericht verstuurd",
    }
}

/// How a search ended, in Dutch.
const fn query_outcome_text(outcome: QueryOutcome) -> &'static str {
    match outcome {
        QueryOutcome::Found => "gevonden",
        QueryOutcome::NotFound => "niet gevonden",
        QueryOutcome::Refused => "geweigerd",
        QueryOutcome::EmergencyOffered => "noodprocedure aangeboden",
        QueryOutcome::Invalid => "ongeldige invoer",
        QueryOutcome::Failed => "mislukt",
    }
}

/// The patient a record is about: the BSN, or the EPD's id without one.
fn patient_text(e: &AuditEvent) -> String {
    e.patient.as_ref().map_or_else(String::new, |p| {
        p.bsn
            .map_or_else(|| p.id.to_string(), |bsn| format!("BSN {bsn}"))
    })
}

fn basis_text(basis: Option<&Basis>) -> &'static str {
    match basis {
        Some(Basis::Own) => "eigen patiënt",
        Some(Basis::Practice) => "praktijk",
        Some(Basis::Delegation { .. }) => "machtiging",
        Some(Basis::Emergency { .. }) => "noodprocedure",
        Some(Basis::Administrator) => "beheer",
        None => "",
    }
}
