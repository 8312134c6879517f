//! The audit report: who looked at a patient's record, or what a practitioner did, over a
//! period, a page at a time. Using the log is logged first.

use axum::extract::{Query, State};
use axum::response::Response;
use chrono::NaiveDate;
use maud::html;
use serde::Deserialize;
use zvp_audit::event::{ActionCode, AuditEvent, Basis, EventType, Query as LookUp, Subtype};
use zvp_audit::report::{self, Period, Subject};
use zvp_auth::policy::Action;
use zvp_core::{Bsn, UziNumber};

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
    let (title, field, value) = match &subject {
        Subject::Patient(bsn) => (
            format!("Inzage in het dossier van BSN {bsn}"),
            "bsn",
            bsn.to_string(),
        ),
        Subject::Practitioner(uzi) => (format!("Gebruik door UZI {uzi}"), "uzi", uzi.to_string()),
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
        table {
            thead {
                tr {
                    th { "Tijdstip" }
                    th { "Wie" }
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

/// What a record is of: the part of the record read, or the kind of event with what it
/// searched for, what it changed, or the code of its refusal.
fn what(e: &AuditEvent) -> String {
    if let Some(part) = &e.part {
        return part.section.code().into_owned();
    }
    let mut text = format!("{:?}", e.event_type);
    if let Some(outcome) = e.query.as_ref().and_then(|q| q.outcome) {
        text.push_str(&format!(" ({outcome:?})"));
    }
    if let Some(change) = &e.change {
        text.push_str(&format!(
            ": {} {} → {}",
            change.field,
            change.old.as_deref().unwrap_or("-"),
            change.new.as_deref().unwrap_or("-")
        ));
    }
    text
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
