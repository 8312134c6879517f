//! The account: the terms of use (at the first login and when they change), the way on after
//! a session ended, and the logout. The account request is [`super::request`].

use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use maud::html;
use serde::Deserialize;

use super::{FORM_EXPIRED, caller_page, csrf_refused, form_expired};
use crate::Portal;
use crate::auth::{Identity, PeerAddress, RequestId, SessionId};
use crate::caller::Caller;
use crate::layout::{csrf_field, html_response, page, see_other};
use crate::refusal::{Refusal, refusal_page, refuse};
use crate::session::{Ended, Session, ended_page};

/// The terms of use.
pub(crate) async fn terms(State(portal): State<Portal>, caller: Caller) -> Response {
    let body = html! {
        h1 { "Gebruiksvoorwaarden" }
        ol {
            li {
                "U gebruikt het portaal alleen voor de zorg aan uw eigen patiënten, of via een \
                 machtiging of de noodprocedure."
            }
            li { "U deelt uw UZI-pas en pincode met niemand en meldt verlies of diefstal direct." }
            li {
                "Elk gebruik wordt vastgelegd (NEN 7513) en periodiek gecontroleerd; inzage via de \
                 noodprocedure wordt altijd beoordeeld."
            }
            li { "U bewaart geen gegevens uit het portaal buiten uw eigen dossiervoering." }
        }
        form method="post" action="/voorwaarden" {
            (csrf_field(&caller.session.csrf))
            button type="submit" { "Ik ga akkoord" }
        }
    };
    caller_page(&portal, &caller, "Gebruiksvoorwaarden", body)
}

/// A form with only a CSRF token.
#[derive(Debug, Deserialize)]
pub(crate) struct CsrfForm {
    csrf: String,
}

/// Accepting the terms of use.
pub(crate) async fn accept_terms(
    State(portal): State<Portal>,
    caller: Caller,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !caller.session.csrf_ok(&form.csrf) {
        return csrf_refused(&portal, &caller);
    }
    let mut account = caller.account.clone();
    account.accepted_terms = Some(portal.settings().terms_version);
    if portal.0.directory.update_account(&account).await.is_err() {
        return refuse(&portal, &caller, &Refusal::Unavailable).await;
    }
    see_other("/")
}

/// After a session ended: go on (a new session starts at the first page of an admitted
/// account).
pub(crate) async fn new_session() -> Response {
    see_other("/")
}

/// The logout: the session ends in the store, the cookie is cleared, and the user reads that
/// they are logged out.
pub(crate) async fn logout(
    State(portal): State<Portal>,
    parts: Parts,
    Form(form): Form<CsrfForm>,
) -> Response {
    let now = portal.now();
    let (Some(session), Some(SessionId(id))) = (
        parts.extensions.get::<Session>(),
        parts.extensions.get::<SessionId>(),
    ) else {
        // No session to end: the browser is logged out already.
        return ended_page(&portal, Ended::LoggedOut, now);
    };
    if !session.csrf_ok(&form.csrf) {
        let hospital = &portal.settings().hospital;
        let page = page(hospital, FORM_EXPIRED, None, now, form_expired());
        return html_response(StatusCode::FORBIDDEN, page);
    }
    // The logout is in the audit log before the session ends.
    let request_id = parts
        .extensions
        .get::<RequestId>()
        .map_or("logout", |r| r.0.as_str());
    if let Some(identity) = parts.extensions.get::<Identity>() {
        let ip = parts.extensions.get::<PeerAddress>().map(|p| p.0.ip());
        let recorded = portal
            .record_session_end(identity, ip, request_id, "logout")
            .await;
        if let Err(refusal) = recorded {
            return refusal_page(&portal, &refusal, request_id);
        }
    }
    if portal.0.sessions.end(id).await.is_err() {
        return refusal_page(&portal, &Refusal::Unavailable, request_id);
    }
    ended_page(&portal, Ended::LoggedOut, now)
}
