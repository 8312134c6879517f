//! The administrators' pages (hospital staff, N card, administrator account): account
//! requests and accounts, practices, delegations, the emergency review queue, audit reports
//! per patient and per practitioner, the periodic review report, and the audit log's status.
//! They never show patient data beyond what the audit log itself records; using the log is
//! logged (docs/audit.md, "Using the log is logged").

mod changes;
mod overview;
mod report;
mod review;

use axum::Router;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use maud::{Markup, html};
use serde::Deserialize;
use zvp_audit::event::{ActionCode, EventType, Subtype};
use zvp_auth::policy::{Action, Decision, Permit};

use crate::Portal;
use crate::caller::Caller;
use crate::layout::{csrf_field, html_response, page};
use crate::pages::policy_request;
use crate::refusal::{Refusal, refusal_page, refuse};
use crate::trail::AdminDetail;

/// The administrators' routes.
pub(crate) fn routes() -> Router<Portal> {
    Router::new()
        .route("/beheer", get(overview::overview))
        .route(
            "/beheer/account/{uzi}/praktijk",
            post(changes::change_practice),
        )
        .route(
            "/beheer/account/{uzi}/{action}",
            post(changes::account_action),
        )
        .route("/beheer/machtiging", post(changes::add_delegation))
        .route(
            "/beheer/machtiging/{id}/intrekken",
            post(changes::revoke_delegation),
        )
        .route("/beheer/noodprocedure/{id}", post(changes::review))
        .route("/beheer/audit", get(report::audit_report))
        .route("/beheer/review", get(review::review_page))
        .route("/beheer/review.csv", get(review::review_csv))
}

/// The permit for an administrator action, or the refusal page (recorded, as every refusal).
async fn permit(portal: &Portal, caller: &Caller, action: Action) -> Result<Permit, Response> {
    let Ok(world) = caller.world(portal, None).await else {
        return Err(refuse(portal, caller, &Refusal::Unavailable).await);
    };
    let request = policy_request(caller, action);
    match portal.0.policy.decide(&world, &request, portal.now()) {
        Decision::Permit(p) => Ok(p),
        Decision::Deny(_) | Decision::RequiresEmergencyProcedure => {
            Err(refuse(portal, caller, &Refusal::NotHere).await)
        }
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
        return Err(refuse(portal, caller, &Refusal::NotHere).await);
    }
    permit(portal, caller, action).await
}

/// The audit record of an administrator's change or look-up in the log, with what it changed
/// or looked up, before the change or the look-up (fail closed).
async fn log_admin(
    portal: &Portal,
    caller: &Caller,
    permit: &Permit,
    kind: (EventType, ActionCode, Subtype),
    detail: AdminDetail,
) -> Result<(), Response> {
    portal
        .record_admin(caller, kind, permit, detail)
        .await
        .map(|_| ())
        .map_err(|r| refusal_page(portal, &r, &caller.request_id))
}

fn admin_page(portal: &Portal, caller: &Caller, title: &str, body: Markup) -> Response {
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

/// A button that posts to `action` with the session's CSRF token.
fn button(caller: &Caller, action: &str, label: &str) -> Markup {
    html! {
        form.inline method="post" action=(action) {
            (csrf_field(&caller.session.csrf))
            button type="submit" { (label) }
        }
        " "
    }
}

/// The page for a form an administrator filled in wrongly.
fn form_error(portal: &Portal, caller: &Caller, message: &str) -> Response {
    let body = html! {
        h1 { "Niet gelukt" }
        p.flag role="alert" { (message) }
        p { a href="/beheer" { "Terug naar beheer" } }
    };
    let mut response = admin_page(portal, caller, "Niet gelukt", body);
    *response.status_mut() = StatusCode::BAD_REQUEST;
    response
}

/// A form with only a CSRF token.
#[derive(Debug, Deserialize)]
struct CsrfForm {
    csrf: String,
}
