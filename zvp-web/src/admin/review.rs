//! The periodic review report for the security officer: emergency accesses with their
//! verdicts, refusals per practitioner, searches without a following view, unusual volumes and
//! the log's own check, over a period (default: the last month), as a printable page and as
//! CSV. Making it is recorded in the log first, like every look-up in the log.

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{Months, NaiveDate};
use maud::{Markup, html};
use serde::Deserialize;
use zvp_audit::event::{ActionCode, EventType, Query as LookUp, QueryOutcome, Subtype};
use zvp_audit::render::review::to_csv;
use zvp_audit::report::Period;
use zvp_audit::report::review::{LogCheck, ReviewReport, ReviewRules, review};
use zvp_auth::policy::Action;

use super::{admin_page, form_error, log_admin, permit};
use crate::Portal;
use crate::caller::Caller;
use crate::layout::{dutch_date, dutch_time};
use crate::refusal::{Refusal, refusal_page};
use crate::trail::AdminDetail;

/// The period asked for, as on the audit report page.
#[derive(Debug, Deserialize)]
pub(super) struct ReviewQuery {
    /// The first day, `YYYY-MM-DD` (default: a month before today).
    #[serde(default)]
    van: Option<String>,
    /// The last day, inclusive (default: today).
    #[serde(default)]
    tot: Option<String>,
}

/// The review report as a page.
pub(super) async fn review_page(
    State(portal): State<Portal>,
    caller: Caller,
    Query(query): Query<ReviewQuery>,
) -> Response {
    let (report, from, to) = match make(&portal, &caller, &query).await {
        Ok(made) => made,
        Err(page) => return page,
    };
    let csv = format!("/beheer/review.csv?van={from}&tot={to}");
    let body = html! {
        h1 { "Controlerapport auditlog" }
        p {
            "Periode " (dutch_date(from)) " tot en met " (dutch_date(to)) ", opgesteld "
            (dutch_time(report.made)) ": " (report.events) " vastleggingen gelezen."
        }
        p { a href=(csv) download { "Download als CSV" } }
        (sections(&report))
        form method="get" action="/beheer/review" {
            label for="van" { "Van" }
            input type="date" id="van" name="van" value=(from.to_string());
            label for="tot" { "Tot en met" }
            input type="date" id="tot" name="tot" value=(to.to_string());
            button type="submit" { "Andere periode" }
        }
    };
    admin_page(&portal, &caller, "Controlerapport auditlog", body)
}

/// The review report as a CSV download.
pub(super) async fn review_csv(
    State(portal): State<Portal>,
    caller: Caller,
    Query(query): Query<ReviewQuery>,
) -> Response {
    let (report, from, to) = match make(&portal, &caller, &query).await {
        Ok(made) => made,
        Err(page) => return page,
    };
    let disposition = format!("attachment; filename=\"controlerapport-{from}-{to}.csv\"");
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        to_csv(&report),
    )
        .into_response()
}

/// The permit, the period, the record of the look-up, then the report; or the page to send
/// instead.
async fn make(
    portal: &Portal,
    caller: &Caller,
    query: &ReviewQuery,
) -> Result<(ReviewReport, NaiveDate, NaiveDate), Response> {
    let permit = permit(portal, caller, Action::ReadAudit).await?;
    let now = portal.now();
    let today = now.date_naive();
    let day = |text: &Option<String>, default: NaiveDate| {
        text.as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map_or(Ok(default), str::parse::<NaiveDate>)
    };
    let month_ago = today.checked_sub_months(Months::new(1)).unwrap_or(today);
    let (Ok(from), Ok(to)) = (day(&query.van, month_ago), day(&query.tot, today)) else {
        return Err(form_error(
            portal,
            caller,
            "Geef de periode als datums (jjjj-mm-dd).",
        ));
    };
    // The look-up is recorded before the log is read: a look-up naming no patient and no
    // practitioner is the review report.
    let looked_up = LookUp {
        from: Some(from),
        to: Some(to),
        ..LookUp::default()
    };
    let kind = (EventType::AuditLogUsed, ActionCode::R, Subtype::LogAccess);
    log_admin(
        portal,
        caller,
        &permit,
        kind,
        AdminDetail::LookUp(looked_up),
    )
    .await?;
    let start_of = |d: NaiveDate| d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    let period = Period {
        from: start_of(from),
        to: start_of(to + chrono::Duration::days(1)),
    };
    let rules = ReviewRules::default();
    // The reads that follow a search at the end of the period come after it.
    let read = Period {
        from: period.from,
        to: period.to.map(|t| t + rules.search_window),
    };
    let audit = &portal.0.audit;
    let unavailable = || refusal_page(portal, &Refusal::Unavailable, &caller.request_id);
    let events = audit.period_events(read).await.map_err(|_| unavailable())?;
    // The cheap check (docs/audit.md, "The review report"): what the log found when it was
    // opened and has found since, and the last checkpoint this instance signed; the full
    // `zvp-portal audit verify` reads every record and is the operator's.
    let log = LogCheck {
        records: audit.size().await.ok(),
        last_checkpoint: portal.0.last_checkpoint.lock().ok().and_then(|l| *l),
        problem: audit.refusing().map(|e| e.to_string()),
    };
    Ok((review(&events, period, now, rules, log), from, to))
}

fn sections(report: &ReviewReport) -> Markup {
    html! {
        h2 { "Noodprocedures" }
        @if report.emergencies.is_empty() {
            p.muted { "Geen noodprocedures in deze periode." }
        } @else {
            table {
                thead { tr {
                    th { "Tijdstip" } th { "Zorgverlener" } th { "BSN patiënt" }
                    th { "Reden" } th { "Toelichting" } th { "Oordeel" }
                } }
                tbody {
                    @for e in &report.emergencies {
                        tr {
                            td { (dutch_time(e.recorded)) }
                            td { (e.name) " (UZI " (e.uzi.map(|u| u.to_string()).unwrap_or_default()) ")" }
                            td { (e.bsn.map(|b| b.to_string()).unwrap_or_default()) }
                            td { (e.category) }
                            td { (e.reason) }
                            td { (e.verdict.as_deref().map_or("nog niet beoordeeld", verdict)) }
                        }
                    }
                }
            }
        }
        h2 { "Weigeringen per zorgverlener" }
        @if report.refusals.is_empty() {
            p.muted { "Geen weigeringen in deze periode." }
        } @else {
            table {
                thead { tr { th { "Zorgverlener" } th { "Code" } th { "Aantal" } } }
                tbody {
                    @for r in &report.refusals {
                        @for (code, count) in &r.by_code {
                            tr {
                                td {
                                    (r.name.as_deref().unwrap_or("geweigerde pas, niet geverifieerd"))
                                    " (UZI " (r.uzi) ")"
                                }
                                td { (code) }
                                td { (count) }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Zoekacties zonder inzage" }
        p.muted {
            "Een patiënt gevonden, maar het dossier niet binnen 30 minuten geopend."
            @if report.pending_searches > 0 {
                " " (report.pending_searches) " recente zoekacties zijn nog niet te beoordelen."
            }
        }
        @if report.unfollowed.is_empty() {
            p.muted.empty { "Geen zoekacties zonder inzage in deze periode." }
        } @else {
            table {
                thead { tr {
                    th { "Tijdstip" } th { "Zorgverlener" } th { "BSN patiënt" } th { "Uitkomst" }
                } }
                tbody {
                    @for u in &report.unfollowed {
                        tr {
                            td { (dutch_time(u.recorded)) }
                            td { (u.name) " (UZI " (u.uzi) ")" }
                            td { (u.bsn.map(|b| b.to_string()).unwrap_or_default()) }
                            td { (if u.outcome == QueryOutcome::EmergencyOffered {
                                "alleen via noodprocedure"
                            } else {
                                "gevonden"
                            }) }
                        }
                    }
                }
            }
        }
        (volumes(report))
        (log_check(&report.log))
    }
}

fn volumes(report: &ReviewReport) -> Markup {
    html! {
        h2 { "Ongebruikelijke aantallen" }
        p.muted {
            "Mediaan: " (report.median_patients) " verschillende patiënten per zorgverlener."
        }
        @if report.volumes.is_empty() && report.anomalies.is_empty() {
            p.muted { "Niets ongebruikelijks in deze periode." }
        } @else {
            table {
                thead { tr { th { "Zorgverlener" } th { "Regel" } th { "Aantal" } } }
                tbody {
                    @for v in &report.volumes {
                        tr {
                            td { (v.name) " (UZI " (v.uzi) ")" }
                            td { "veel verschillende patiënten" }
                            td { (v.patients) }
                        }
                    }
                    @for a in &report.anomalies {
                        tr { td { "UZI " (a.uzi) } td { (a.rule) } td { (a.count) } }
                    }
                }
            }
        }
    }
}

fn log_check(log: &LogCheck) -> Markup {
    html! {
        h2 { "Controle van het auditlog" }
        table {
            tbody {
                tr {
                    th scope="row" { "Vastleggingen" }
                    td { (log.records.map_or("onbekend: het log antwoordt niet".to_owned(), |n| n.to_string())) }
                }
                tr {
                    th scope="row" { "Laatste getekende controlepunt" }
                    td {
                        @match log.last_checkpoint {
                            Some((size, at)) => { (size) " vastleggingen, " (dutch_time(at)) },
                            None => "geen sinds de start van deze instantie",
                        }
                    }
                }
                tr {
                    th scope="row" { "Uitkomst" }
                    td {
                        @if log.verifies() {
                            "In orde: het log is bij het openen gecontroleerd tot zijn laatste \
                             controlepunt en weigert niets."
                        } @else {
                            strong { "Niet in orde" }
                            @if let Some(problem) = &log.problem { ": " (problem) }
                        }
                    }
                }
            }
        }
    }
}

fn verdict(code: &str) -> &str {
    match code {
        "justified" => "terecht",
        "not-justified" => "onterecht",
        "needs-follow-up" => "vervolg nodig",
        other => other,
    }
}
