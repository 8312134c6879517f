//! The practitioner's pages, a module per family: the start page, the patient page, the
//! dossier, results and lab history, documents, search and the emergency procedure,
//! delegations, the account (terms of use, account request, *Mijn account*) and *Meldingen*.
//! Each is described in docs/architecture.md, "What the portal shows".
//!
//! Every patient page follows the same path (`crate::access`): read the patient's registered
//! GP from the EPD now, decide with the policy for each section the page renders, write the
//! audit records, then show the data.

pub(crate) mod account;
pub(crate) mod banner;
pub(crate) mod cumulative;
pub(crate) mod delegations;
pub(crate) mod documents;
pub(crate) mod dossier;
pub(crate) mod lists;
pub(crate) mod medication;
pub(crate) mod my_account;
pub(crate) mod notices;
pub(crate) mod patient;
pub(crate) mod patient_list;
pub(crate) mod request;
pub(crate) mod results;
pub(crate) mod search;
pub(crate) mod start;

use std::collections::HashMap;

use axum::Router;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use maud::{Markup, html};
use zvp_auth::policy::{Action, Basis, Request};
use zvp_core::AgbCode;
use zvp_epd::RequestContext;

use crate::Portal;
use crate::caller::Caller;
use crate::layout::{html_response, page};

/// The practitioners' routes.
pub(crate) fn routes() -> Router<Portal> {
    Router::new()
        .route("/", get(start::start))
        .route("/zoeken", get(search::search_form).post(search::search))
        .route("/patient/{id}", get(patient::patient))
        .route("/patient/{id}/dossier/{section}", get(dossier::dossier))
        .route("/patient/{id}/uitslagen/{category}", get(results::results))
        .route("/patient/{id}/lab/{code}", get(results::lab_history))
        .route(
            "/patient/{id}/document/{document}",
            get(documents::document),
        )
        .route(
            "/patient/{id}/document/{document}/pdf",
            get(documents::document_pdf),
        )
        .route("/patient/{id}/noodprocedure", post(search::emergency))
        .route("/machtigingen", get(delegations::delegations))
        .route(
            "/voorwaarden",
            get(account::terms).post(account::accept_terms),
        )
        .route(
            "/account/aanvragen",
            get(request::request_form).post(request::request_account),
        )
        .route("/sessie/nieuw", get(account::new_session))
        .route("/afmelden", post(account::logout))
        .route("/meldingen", get(notices::notices))
        .route("/meldingen/{seq}/gelezen", post(notices::mark_read))
        .route("/account", get(my_account::my_account))
        .route("/account/meldingen", post(my_account::save_email))
}

/// The page of a logged-in caller.
pub(crate) fn caller_page(portal: &Portal, caller: &Caller, title: &str, body: Markup) -> Response {
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

/// The caller's page with another status.
pub(crate) fn caller_page_with(
    portal: &Portal,
    caller: &Caller,
    status: StatusCode,
    title: &str,
    body: Markup,
) -> Response {
    let mut response = caller_page(portal, caller, title, body);
    *response.status_mut() = status;
    response
}

/// The EPD's context of the caller's request (its id, for the EPD's own log).
pub(crate) fn ctx(caller: &Caller) -> RequestContext {
    RequestContext {
        request_id: caller.request_id.clone(),
    }
}

/// The policy's request for the caller's card and `action`.
pub(crate) fn policy_request(caller: &Caller, action: Action) -> Request {
    Request {
        uzi: caller.identity.uzi_number(),
        card_agb: caller.identity.agb(),
        card_role: caller.identity.role(),
        action,
    }
}

/// The page for a patient id the hospital does not know.
pub(crate) fn patient_not_found(portal: &Portal, caller: &Caller) -> Response {
    let body = html! {
        h1 { "Patiënt niet gevonden" }
        p {
            "Het ziekenhuis kent deze patiënt niet (meer). "
            a href="/zoeken" { "Zoek een patiënt" }
            " op BSN en geboortedatum."
        }
    };
    caller_page_with(
        portal,
        caller,
        StatusCode::NOT_FOUND,
        "Patiënt niet gevonden",
        body,
    )
}

/// The title of the page for a form whose CSRF token is not the session's.
pub(crate) const FORM_EXPIRED: &str = "Formulier verlopen";

/// That page's body.
pub(crate) fn form_expired() -> Markup {
    html! {
        h1 { (FORM_EXPIRED) }
        p {
            "Het formulier is verlopen of niet vanuit het portaal verstuurd. Ga terug, vernieuw \
             de pagina en probeer het opnieuw."
        }
    }
}

/// The page for a form whose CSRF token is not the session's.
pub(crate) fn csrf_refused(portal: &Portal, caller: &Caller) -> Response {
    caller_page_with(
        portal,
        caller,
        StatusCode::FORBIDDEN,
        FORM_EXPIRED,
        form_expired(),
    )
}

/// How a patient may be seen, in words.
pub(crate) fn basis_text(basis: Basis, names: &HashMap<AgbCode, String>) -> String {
    match basis {
        Basis::Own => "Eigen patiënt".to_owned(),
        Basis::Practice => "Patiënt van uw praktijk".to_owned(),
        Basis::Delegation { grantor, .. } => format!(
            "Gemachtigd door {}",
            names
                .get(&grantor)
                .cloned()
                .unwrap_or_else(|| format!("AGB {grantor}"))
        ),
        Basis::Emergency { .. } => "Noodprocedure".to_owned(),
        Basis::Administrator => "Beheer".to_owned(),
    }
}

/// A role as people name it, with its code for the helpdesk: `Huisarts (01.015)`, `Arts
/// (01.000)`; the bare code only for a code the register's table does not have.
pub(crate) fn role_text(role: zvp_core::RoleCode) -> String {
    match role.specialism_name().or_else(|| role.profession_name()) {
        Some(name) => format!("{name} ({role})"),
        None => role.to_string(),
    }
}

/// GP names by AGB code, from the directory (for "gemachtigd door …").
pub(crate) async fn gp_names(portal: &Portal) -> HashMap<AgbCode, String> {
    portal
        .0
        .directory
        .accounts()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter_map(|a| Some((a.agb?, a.name)))
        .collect()
}
