//! The administrators' pages (hospital staff, N card, administrator account): account
//! requests and accounts, practices, delegations, the emergency review queue, audit reports
//! per patient and per practitioner, and the audit log's status. They never show patient data
//! beyond what the audit log itself records; using the log is logged (docs/audit.md, "Using
//! the log is logged").

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use chrono::{NaiveDate, Utc};
use serde::Deserialize;
use zvp_audit::event::{ActionCode, EventType, Subtype};
use zvp_audit::report::{self, Period};
use zvp_auth::directory::{AccountStatus, DelegationId, GrantId, NewDelegation, ReviewVerdict};
use zvp_auth::policy::{Action, Decision, Permit, Request};
use zvp_core::{AgbCode, Bsn, UziNumber};

use super::html::Html;
use super::layout::{dutch_date, dutch_time, html_response, page, see_other};
use super::{Caller, Portal, Refusal, refusal_page};

/// The administrators' routes.
pub(crate) fn routes() -> Router<Portal> {
    Router::new()
        .route("/beheer", get(overview))
        .route("/beheer/account/{uzi}/praktijk", post(change_practice))
        .route("/beheer/account/{uzi}/{action}", post(account_action))
        .route("/beheer/machtiging", post(add_delegation))
        .route("/beheer/machtiging/{id}/intrekken", post(revoke_delegation))
        .route("/beheer/noodprocedure/{id}", post(review))
        .route("/beheer/audit", get(audit_report))
}

/// The permit for an administrator action, or the refusal page.
async fn permit(portal: &Portal, caller: &Caller, action: Action) -> Result<Permit, Response> {
    let refuse = |r: Refusal| {
        super::log_refusal(
            &caller.request_id,
            "admin",
            Some(&caller.account.uzi.to_string()),
        );
        refusal_page(portal, &r, &caller.request_id)
    };
    let world = caller
        .world(portal, None)
        .await
        .map_err(|_| refuse(Refusal::Unavailable))?;
    let request = Request {
        uzi: caller.identity.uzi_number(),
        card_agb: caller.identity.agb(),
        card_role: caller.identity.role(),
        action,
    };
    match portal.0.policy.decide(&world, &request, portal.now()) {
        Decision::Permit(p) => Ok(p),
        _ => Err(refuse(Refusal::NotHere)),
    }
}

/// An administrator's change: the form's CSRF token must be the session's, then the permit.
async fn authorize(
    portal: &Portal,
    caller: &Caller,
    csrf: &str,
    action: Action,
) -> Result<Permit, Response> {
    if !caller.session.csrf_ok(csrf) {
        return Err(refusal_page(portal, &Refusal::NotHere, &caller.request_id));
    }
    permit(portal, caller, action).await
}

/// The audit record of an administrator's change, before the change (fail closed).
async fn log_change(
    portal: &Portal,
    caller: &Caller,
    permit: &Permit,
    event: EventType,
    action: ActionCode,
    subtype: Subtype,
) -> Result<(), Response> {
    portal
        .record(caller, event, action, subtype, permit, None)
        .await
        .map(|_| ())
        .map_err(|r| refusal_page(portal, &r, &caller.request_id))
}

fn admin_page(portal: &Portal, caller: &Caller, title: &str, body: &Html) -> Response {
    html_response(
        StatusCode::OK,
        page(
            &portal.settings().hospital,
            title,
            Some(&caller.viewer()),
            portal.now(),
            body,
        ),
    )
}

fn csrf_field(h: &mut Html, caller: &Caller) {
    h.markup("<input type=\"hidden\" name=\"csrf\" value=\"")
        .text(&caller.session.csrf)
        .markup("\">");
}

fn button(h: &mut Html, caller: &Caller, action: &str, label: &str) {
    h.markup("<form class=\"inline\" method=\"post\" action=\"")
        .text(action)
        .markup("\">");
    csrf_field(h, caller);
    h.markup("<button type=\"submit\">")
        .text(label)
        .markup("</button></form> ");
}

/// The overview: requests, accounts, delegations, the review queue, reports.
async fn overview(State(portal): State<Portal>, caller: Caller) -> Response {
    if let Err(page) = permit(&portal, &caller, Action::ApproveAccount).await {
        return page;
    }
    let directory = &portal.0.directory;
    let (Ok(accounts), Ok(queue)) = (
        directory.accounts().await,
        directory.unreviewed_grants().await,
    ) else {
        return refusal_page(&portal, &Refusal::Unavailable, &caller.request_id);
    };
    let now = portal.now();
    let mut h = Html::new();
    h.markup("<h1>Beheer</h1><h2>Accountaanvragen</h2>");
    let requested: Vec<_> = accounts
        .iter()
        .filter(|a| a.status == AccountStatus::Requested)
        .collect();
    if requested.is_empty() {
        h.markup("<p class=\"muted\">Geen openstaande aanvragen.</p>");
    } else {
        h.markup("<table><thead><tr><th>Naam</th><th>UZI</th><th>AGB</th><th>Praktijk</th><th>Contact</th><th>Beroep</th><th>Aangevraagd</th><th></th></tr></thead><tbody>");
        for a in requested {
            h.markup("<tr><td>")
                .text(&a.name)
                .markup("</td><td>")
                .display(a.uzi)
                .markup("</td><td>")
                .text(&a.agb.map(|x| x.to_string()).unwrap_or_default())
                .markup("</td><td>")
                .text(a.contact.practice_name.as_deref().unwrap_or(""))
                .markup(" ")
                .text(
                    &a.practice_agb
                        .map(|x| format!("(AGB {x})"))
                        .unwrap_or_default(),
                )
                .markup("</td><td>")
                .text(a.contact.email.as_deref().unwrap_or(""))
                .markup("<br>")
                .text(a.contact.phone.as_deref().unwrap_or(""))
                .markup("</td><td>")
                .display(a.role)
                .markup("</td><td>")
                .text(&dutch_time(a.created_at))
                .markup("</td><td>");
            button(
                &mut h,
                &caller,
                &format!("/beheer/account/{}/goedkeuren", a.uzi),
                "Goedkeuren",
            );
            button(
                &mut h,
                &caller,
                &format!("/beheer/account/{}/afwijzen", a.uzi),
                "Afwijzen",
            );
            h.markup("</td></tr>");
        }
        h.markup("</tbody></table>");
    }
    h.markup("<h2>Accounts</h2><table><thead><tr><th>Naam</th><th>UZI</th><th>AGB</th><th>Praktijk-AGB</th><th>Status</th><th>Laatst ingelogd</th><th></th></tr></thead><tbody>");
    for a in accounts
        .iter()
        .filter(|a| a.status != AccountStatus::Requested)
    {
        h.markup("<tr><td>")
            .text(&a.name)
            .markup(if a.admin {
                " <span class=\"muted\">(beheerder)</span>"
            } else {
                ""
            })
            .markup("</td><td>")
            .display(a.uzi)
            .markup("</td><td>")
            .text(&a.agb.map(|x| x.to_string()).unwrap_or_default())
            .markup("</td><td>");
        if a.admin {
            h.markup("—");
        } else {
            h.markup("<form class=\"inline\" method=\"post\" action=\"/beheer/account/")
                .display(a.uzi)
                .markup("/praktijk\">");
            csrf_field(&mut h, &caller);
            h.markup("<input type=\"text\" name=\"praktijk_agb\" maxlength=\"8\" size=\"8\" aria-label=\"Praktijk-AGB\" value=\"")
                .text(&a.practice_agb.map(|x| x.to_string()).unwrap_or_default())
                .markup("\"> <button type=\"submit\">Wijzig</button></form>");
        }
        h.markup("</td><td>")
            .text(match a.status {
                AccountStatus::Active => "actief",
                AccountStatus::Blocked => "geblokkeerd",
                AccountStatus::Rejected => "afgewezen",
                AccountStatus::Requested => "aangevraagd",
            })
            .markup("</td><td>")
            .text(
                &a.last_login
                    .map(dutch_time)
                    .unwrap_or_else(|| "nooit".to_owned()),
            )
            .markup("</td><td>");
        match a.status {
            AccountStatus::Active if a.uzi != caller.account.uzi => {
                button(
                    &mut h,
                    &caller,
                    &format!("/beheer/account/{}/blokkeren", a.uzi),
                    "Blokkeren",
                );
            }
            AccountStatus::Blocked => {
                button(
                    &mut h,
                    &caller,
                    &format!("/beheer/account/{}/deblokkeren", a.uzi),
                    "Deblokkeren",
                );
            }
            _ => {}
        }
        h.markup("</td></tr>");
    }
    h.markup("</tbody></table><h2>Machtigingen</h2><table><thead><tr><th>Van (huisarts)</th><th>Aan (collega)</th><th>Periode</th><th></th></tr></thead><tbody>");
    for a in accounts.iter().filter(|a| a.agb.is_some()) {
        let Some(agb) = a.agb else { continue };
        for d in directory.delegations_from(agb).await.unwrap_or_default() {
            h.markup("<tr><td>")
                .text(&a.name)
                .markup(" (AGB ")
                .display(d.grantor)
                .markup(")</td><td>UZI ")
                .display(d.grantee)
                .markup("</td><td>")
                .text(&dutch_date(d.from.date_naive()))
                .markup(" – ")
                .text(
                    &d.until
                        .map(|u| dutch_date(u.date_naive()))
                        .unwrap_or_else(|| "onbepaald".to_owned()),
                )
                .markup("</td><td>");
            if d.revoked_at.is_some() {
                h.markup("ingetrokken");
            } else {
                button(
                    &mut h,
                    &caller,
                    &format!("/beheer/machtiging/{}/intrekken", d.id.0),
                    "Intrekken",
                );
            }
            h.markup("</td></tr>");
        }
    }
    h.markup("</tbody></table><form method=\"post\" action=\"/beheer/machtiging\">");
    csrf_field(&mut h, &caller);
    h.markup("<fieldset><legend>Nieuwe machtiging (op verzoek van de huisarts)</legend>")
        .markup("<label for=\"van\">AGB-code van de huisarts</label><input type=\"text\" id=\"van\" name=\"van\" required maxlength=\"8\">")
        .markup("<label for=\"aan\">UZI-nummer van de collega</label><input type=\"text\" id=\"aan\" name=\"aan\" required maxlength=\"9\">")
        .markup("<label for=\"vanaf\">Vanaf</label><input type=\"date\" id=\"vanaf\" name=\"vanaf\" required>")
        .markup("<label for=\"tot\">Tot (leeg: onbepaald)</label><input type=\"date\" id=\"tot\" name=\"tot\">")
        .markup("<br><button type=\"submit\">Machtiging vastleggen</button></fieldset></form>");
    h.markup("<h2>Noodprocedures te beoordelen</h2>");
    if queue.is_empty() {
        h.markup("<p class=\"muted\">Niets te beoordelen.</p>");
    } else {
        h.markup("<table><thead><tr><th>Wanneer</th><th>Zorgverlener</th><th>Patiënt</th><th>Reden</th><th>Oordeel</th></tr></thead><tbody>");
        for g in &queue {
            h.markup("<tr><td>")
                .text(&dutch_time(g.granted_at))
                .markup("</td><td>UZI ")
                .display(g.practitioner)
                .markup("</td><td>")
                .text(g.patient.as_str())
                .markup("</td><td>")
                .text(g.reason_category.code())
                .markup(": ")
                .text(&g.reason)
                .markup("</td><td>");
            for (code, label) in [
                ("justified", "Terecht"),
                ("not-justified", "Onterecht"),
                ("needs-follow-up", "Navragen"),
            ] {
                button(
                    &mut h,
                    &caller,
                    &format!("/beheer/noodprocedure/{}?oordeel={code}", g.id.0),
                    label,
                );
            }
            h.markup("</td></tr>");
        }
        h.markup("</tbody></table>");
    }
    let size = portal.0.audit.size().await;
    h.markup("<h2>Auditlog</h2><p>")
        .text(&match size {
            Ok(n) => format!("{n} vastleggingen, laatst gecontroleerd {}", dutch_time(now)),
            Err(_) => "Het auditlog is niet bereikbaar: het portaal toont geen patiëntgegevens tot dit is opgelost.".to_owned(),
        })
        .markup("</p><form method=\"get\" action=\"/beheer/audit\"><label for=\"bsn\">Inzageoverzicht voor een patiënt (BSN)</label><input type=\"text\" id=\"bsn\" name=\"bsn\" maxlength=\"9\">")
        .markup("<button type=\"submit\">Toon</button></form><form method=\"get\" action=\"/beheer/audit\"><label for=\"uzi\">Gebruik door een zorgverlener (UZI-nummer)</label><input type=\"text\" id=\"uzi\" name=\"uzi\" maxlength=\"9\">")
        .markup("<button type=\"submit\">Toon</button></form>");
    let _ = Utc::now;
    admin_page(&portal, &caller, "Beheer", &h)
}

/// The CSRF form.
#[derive(Debug, Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn account_action(
    State(portal): State<Portal>,
    caller: Caller,
    Path((uzi, action)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let (policy_action, status) = match action.as_str() {
        "goedkeuren" => (Action::ApproveAccount, AccountStatus::Active),
        "afwijzen" => (Action::RejectAccount, AccountStatus::Rejected),
        "blokkeren" => (Action::BlockAccount, AccountStatus::Blocked),
        "deblokkeren" => (Action::BlockAccount, AccountStatus::Active),
        _ => return super::not_found().await,
    };
    let permit = match authorize(&portal, &caller, &form.csrf, policy_action).await {
        Ok(p) => p,
        Err(page) => return page,
    };
    let Ok(uzi) = uzi.parse::<UziNumber>() else {
        return super::not_found().await;
    };
    if let Err(page) = log_change(
        &portal,
        &caller,
        &permit,
        EventType::SecurityRolesChanged,
        ActionCode::U,
        Subtype::Regular,
    )
    .await
    {
        return page;
    }
    let result = match (action.as_str(), portal.0.directory.account(uzi).await) {
        ("deblokkeren", Ok(Some(mut account))) => {
            // Unblocking counts as a fresh start for the dormant-account rule.
            account.status = AccountStatus::Active;
            account.last_login = Some(portal.now());
            portal.0.directory.update_account(&account).await
        }
        (_, Ok(Some(_))) => portal.0.directory.set_status(uzi, status).await,
        _ => return super::not_found().await,
    };
    match result {
        Ok(()) => see_other("/beheer"),
        Err(_) => refusal_page(&portal, &Refusal::Unavailable, &caller.request_id),
    }
}

/// The practice form's field.
#[derive(Debug, Deserialize)]
struct PracticeForm {
    csrf: String,
    #[serde(default)]
    praktijk_agb: String,
}

/// Changes an account's practice: its patients then count as the practice's.
async fn change_practice(
    State(portal): State<Portal>,
    caller: Caller,
    Path(uzi): Path<String>,
    Form(form): Form<PracticeForm>,
) -> Response {
    let permit = match authorize(&portal, &caller, &form.csrf, Action::ApproveAccount).await {
        Ok(p) => p,
        Err(page) => return page,
    };
    let Ok(uzi) = uzi.parse::<UziNumber>() else {
        return super::not_found().await;
    };
    let practice = form.praktijk_agb.trim();
    let practice_agb = if practice.is_empty() {
        None
    } else {
        match practice.parse::<AgbCode>() {
            Ok(agb) => Some(agb),
            Err(_) => {
                return form_error(&portal, &caller, "Een praktijk-AGB-code heeft 8 cijfers.");
            }
        }
    };
    let Ok(Some(mut account)) = portal.0.directory.account(uzi).await else {
        return super::not_found().await;
    };
    if let Err(page) = log_change(
        &portal,
        &caller,
        &permit,
        EventType::SecurityRolesChanged,
        ActionCode::U,
        Subtype::Regular,
    )
    .await
    {
        return page;
    }
    account.practice_agb = practice_agb;
    match portal.0.directory.update_account(&account).await {
        Ok(()) => see_other("/beheer"),
        Err(_) => refusal_page(&portal, &Refusal::Unavailable, &caller.request_id),
    }
}

/// The delegation form's fields.
#[derive(Debug, Deserialize)]
struct DelegationForm {
    csrf: String,
    van: String,
    aan: String,
    vanaf: String,
    #[serde(default)]
    tot: String,
}

async fn add_delegation(
    State(portal): State<Portal>,
    caller: Caller,
    Form(form): Form<DelegationForm>,
) -> Response {
    let permit = match authorize(&portal, &caller, &form.csrf, Action::ManageDelegations).await {
        Ok(p) => p,
        Err(page) => return page,
    };
    let date = |s: &str| {
        NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|d| d.and_utc())
    };
    let (Ok(grantor), Ok(grantee), Some(from)) = (
        form.van.trim().parse::<AgbCode>(),
        form.aan.trim().parse::<UziNumber>(),
        date(&form.vanaf),
    ) else {
        return form_error(
            &portal,
            &caller,
            "Vul een geldige AGB-code (8 cijfers), een geldig UZI-nummer (9 cijfers) en een begindatum in.",
        );
    };
    let until = if form.tot.trim().is_empty() {
        None
    } else {
        match date(&form.tot) {
            Some(d) => Some(d),
            None => return form_error(&portal, &caller, "De einddatum is geen datum."),
        }
    };
    let delegation =
        match NewDelegation::new(grantor, grantee, from, until, Some(caller.account.uzi)) {
            Ok(d) => d,
            Err(e) => {
                return form_error(&portal, &caller, &format!("Deze machtiging kan niet: {e}."));
            }
        };
    if let Err(page) = log_change(
        &portal,
        &caller,
        &permit,
        EventType::SecurityRolesChanged,
        ActionCode::C,
        Subtype::Regular,
    )
    .await
    {
        return page;
    }
    match portal.0.directory.add_delegation(delegation).await {
        Ok(_) => see_other("/beheer"),
        Err(_) => refusal_page(&portal, &Refusal::Unavailable, &caller.request_id),
    }
}

fn form_error(portal: &Portal, caller: &Caller, message: &str) -> Response {
    let mut h = Html::new();
    h.markup("<h1>Niet gelukt</h1><p class=\"flag\" role=\"alert\">")
        .text(message)
        .markup("</p><p><a href=\"/beheer\">Terug naar beheer</a></p>");
    let mut response = admin_page(portal, caller, "Niet gelukt", &h);
    *response.status_mut() = StatusCode::BAD_REQUEST;
    response
}

async fn revoke_delegation(
    State(portal): State<Portal>,
    caller: Caller,
    Path(id): Path<u64>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let permit = match authorize(&portal, &caller, &form.csrf, Action::ManageDelegations).await {
        Ok(p) => p,
        Err(page) => return page,
    };
    if let Err(page) = log_change(
        &portal,
        &caller,
        &permit,
        EventType::SecurityRolesChanged,
        ActionCode::U,
        Subtype::Regular,
    )
    .await
    {
        return page;
    }
    match portal
        .0
        .directory
        .revoke_delegation(DelegationId(id), portal.now())
        .await
    {
        Ok(()) => see_other("/beheer"),
        Err(_) => super::not_found().await,
    }
}

/// The verdict in the review form's URL.
#[derive(Debug, Deserialize)]
struct VerdictQuery {
    oordeel: String,
}

async fn review(
    State(portal): State<Portal>,
    caller: Caller,
    Path(id): Path<u64>,
    Query(query): Query<VerdictQuery>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let permit = match authorize(&portal, &caller, &form.csrf, Action::ReviewEmergency).await {
        Ok(p) => p,
        Err(page) => return page,
    };
    let verdict = match query.oordeel.as_str() {
        "justified" => ReviewVerdict::Justified,
        "not-justified" => ReviewVerdict::NotJustified,
        "needs-follow-up" => ReviewVerdict::NeedsFollowUp,
        _ => return super::not_found().await,
    };
    if let Err(page) = log_change(
        &portal,
        &caller,
        &permit,
        EventType::AuditLogUsed,
        ActionCode::U,
        Subtype::LogAccess,
    )
    .await
    {
        return page;
    }
    match portal.0.directory.review_grant(GrantId(id), verdict).await {
        Ok(()) => see_other("/beheer"),
        Err(_) => super::not_found().await,
    }
}

/// Whose report, over which period, from which record on.
#[derive(Debug, Deserialize)]
struct ReportQuery {
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
async fn audit_report(
    State(portal): State<Portal>,
    caller: Caller,
    Query(query): Query<ReportQuery>,
) -> Response {
    let permit = match permit(&portal, &caller, Action::ReadAudit).await {
        Ok(p) => p,
        Err(page) => return page,
    };
    enum Subject {
        Patient(Bsn),
        Practitioner(UziNumber),
    }
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
    if let Err(page) = log_change(
        &portal,
        &caller,
        &permit,
        EventType::AuditLogUsed,
        ActionCode::R,
        Subtype::LogAccess,
    )
    .await
    {
        return page;
    }
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
    let start_of = |d: NaiveDate| d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    let report_query = report::ReportQuery {
        subject: match subject {
            Subject::Patient(bsn) => report::Subject::Patient(bsn),
            Subject::Practitioner(uzi) => report::Subject::Practitioner(uzi),
        },
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
    let period = format!("{} tot en met {}", dutch_date(from), dutch_date(to));
    let (title, next) = match subject {
        Subject::Patient(bsn) => (
            format!("Inzage in het dossier van BSN {bsn}"),
            format!("bsn={bsn}"),
        ),
        Subject::Practitioner(uzi) => (format!("Gebruik door UZI {uzi}"), format!("uzi={uzi}")),
    };
    let rows: Vec<&(u64, zvp_audit::event::AuditEvent)> = page.events.iter().collect();
    let mut h = Html::new();
    h.markup("<h1>").text(&title).markup("</h1><table><thead><tr><th>Tijdstip</th><th>Wie</th><th>Wat</th><th>Grondslag</th><th>Reden</th></tr></thead><tbody>");
    for (_, e) in &rows {
        h.markup("<tr><td>")
            .text(&dutch_time(e.recorded))
            .markup("</td><td>")
            .text(&e.user.name)
            .markup(" (UZI ")
            .display(e.user.uzi)
            .markup(")</td><td>")
            .text(
                &e.part
                    .as_ref()
                    .map(|p| p.section.code().into_owned())
                    .unwrap_or_else(|| format!("{:?}", e.event_type)),
            )
            .markup("</td><td>")
            .text(match &e.basis {
                Some(zvp_audit::event::Basis::Own) => "eigen patiënt",
                Some(zvp_audit::event::Basis::Practice) => "praktijk",
                Some(zvp_audit::event::Basis::Delegation { .. }) => "machtiging",
                Some(zvp_audit::event::Basis::Emergency { .. }) => "noodprocedure",
                Some(zvp_audit::event::Basis::Administrator) => "beheer",
                None => "",
            })
            .markup("</td><td>")
            .text(e.reason.as_deref().unwrap_or(""))
            .markup("</td></tr>");
    }
    h.markup("</tbody></table><p class=\"muted\">")
        .display(rows.len())
        .markup(" vastleggingen, ")
        .text(&period)
        .markup(".</p>");
    if page.more
        && let Some((last, _)) = page.events.last()
    {
        h.markup("<p>")
            .link(
                &format!("/beheer/audit?{next}&van={from}&tot={to}&na={last}"),
                "Volgende vastleggingen",
            )
            .markup("</p>");
    }
    h.markup("<form method=\"get\" action=\"/beheer/audit\"><input type=\"hidden\" name=\"")
        .text(next.split('=').next().unwrap_or("bsn"))
        .markup("\" value=\"")
        .text(next.split('=').nth(1).unwrap_or(""))
        .markup("\"><label for=\"van\">Van</label><input type=\"date\" id=\"van\" name=\"van\" value=\"")
        .text(&from.to_string())
        .markup("\"><label for=\"tot\">Tot en met</label><input type=\"date\" id=\"tot\" name=\"tot\" value=\"")
        .text(&to.to_string())
        .markup("\"><button type=\"submit\">Andere periode</button></form>");
    admin_page(&portal, &caller, &title, &h)
}
