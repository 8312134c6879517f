//! The account: the terms of use (at the first login and when they change), the account
//! request filled in from the card, and the way on after a session ended.

use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;
use zvp_auth::directory::{Account, AccountStatus, Contact};
use zvp_core::AgbCode;

use super::{FORM_EXPIRED, caller_page, csrf_refused, form_expired};
use crate::Portal;
use crate::auth::{Identity, PeerAddress, RequestId, SessionId};
use crate::caller::Caller;
use crate::layout::{csrf_field, html_response, page, see_other};
use crate::ops::not_found;
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

/// The account request form, filled in from the card.
pub(crate) async fn request_form(State(portal): State<Portal>, parts: Parts) -> Response {
    request_page(&portal, &parts, None, None).await
}

/// The card's holder, from the middleware (no account needed: that is what they request).
/// An account is requested with a UZI-pas: a Dezi login reaches the portal only linked to an
/// account that exists.
fn card_holder(parts: &Parts) -> Option<std::sync::Arc<zvp_auth::uzi::VerifiedUziIdentity>> {
    match parts.extensions.get::<Identity>()? {
        Identity::Card(card) => Some(std::sync::Arc::clone(card)),
        Identity::Dezi(_) => None,
    }
}

/// The account request's CSRF token: `<expiry>.<HMAC-SHA256>` over the card's certificate
/// hash and the expiry (Unix seconds), under the portal's request key. A card without an
/// account gets no session (docs/security.md, "Sessions"), so the token is kept in nothing
/// but itself: it is good for this certificate only, until the expiry.
fn request_token(portal: &Portal, certificate: &str, expires: i64) -> String {
    let tag = aws_lc_rs::hmac::sign(
        &portal.0.request_key,
        format!("account-request|{certificate}|{expires}").as_bytes(),
    );
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("{expires}.{hex}")
}

/// Whether `token` is a request token for `certificate` that has not expired at `now`.
fn request_token_ok(portal: &Portal, certificate: &str, token: &str, now: i64) -> bool {
    let Some((expires, hex)) = token.split_once('.') else {
        return false;
    };
    let Ok(expires) = expires.parse::<i64>() else {
        return false;
    };
    let tag: Option<Vec<u8>> = (hex.len() == 64)
        .then(|| {
            (0..32)
                .map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
                .collect()
        })
        .flatten();
    let Some(tag) = tag else {
        return false;
    };
    let message = format!("account-request|{certificate}|{expires}");
    now < expires
        && aws_lc_rs::hmac::verify(&portal.0.request_key, message.as_bytes(), &tag).is_ok()
}

fn card_name(identity: &zvp_auth::uzi::VerifiedUziIdentity) -> String {
    [identity.given_name(), identity.surname()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ")
}

async fn request_page(
    portal: &Portal,
    parts: &Parts,
    error: Option<&str>,
    kept: Option<&RequestForm>,
) -> Response {
    // What was typed stays after an error: the GP corrects one field, not all four.
    let field = |f: fn(&RequestForm) -> &str| kept.map_or("", f).to_owned();
    let Some(identity) = card_holder(parts) else {
        return not_found().await;
    };
    let card = &identity;
    let minutes = i64::from(portal.settings().idle_timeout_minutes);
    let expires = (portal.now() + chrono::Duration::minutes(minutes)).timestamp();
    let token = request_token(portal, card.certificate_sha256(), expires);
    let body = html! {
        @if let Some(error) = error { p.flag role="alert" { (error) } }
        h1 { "Account aanvragen" }
        p { "Uw gegevens zijn overgenomen van uw UZI-pas, zodat UZI-nummer en AGB-code kloppen." }
        form method="post" action="/account/aanvragen" {
            (csrf_field(&token))
            dl {
                dt { "Naam" } dd { (card_name(&identity)) }
                dt { "UZI-nummer" } dd { (card.uzi_number().to_string()) }
                dt { "Persoonlijke AGB-code" }
                dd { (card.agb().map_or_else(|| "niet op de pas".to_owned(), |a| a.to_string())) }
                dt { "Beroep" } dd { (super::role_text(card.role())) }
            }
            label for="praktijk_agb" { "AGB-code van de praktijk (8 cijfers, optioneel)" }
            input type="text" id="praktijk_agb" name="praktijk_agb" maxlength="8"
                inputmode="numeric" value=(field(|f| &f.praktijk_agb));
            label for="praktijk" { "Naam van de praktijk" }
            input type="text" id="praktijk" name="praktijk" maxlength="100" required
                value=(field(|f| &f.praktijk));
            label for="email" { "E-mailadres" }
            input type="email" id="email" name="email" maxlength="254" required
                value=(field(|f| &f.email));
            label for="telefoon" { "Telefoonnummer" }
            input type="text" id="telefoon" name="telefoon" maxlength="20" inputmode="tel" required
                value=(field(|f| &f.telefoon));
            br;
            button type="submit" { "Aanvragen" }
        }
    };
    anonymous_page(portal, body)
}

/// A page for a card without an account (no header with a name, no menu).
fn anonymous_page(portal: &Portal, body: Markup) -> Response {
    html_response(
        StatusCode::OK,
        page(
            &portal.settings().hospital,
            "Account aanvragen",
            None,
            portal.now(),
            body,
        ),
    )
}

/// The account request's fields.
#[derive(Debug, Deserialize)]
pub(crate) struct RequestForm {
    csrf: String,
    #[serde(default)]
    praktijk_agb: String,
    #[serde(default)]
    praktijk: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    telefoon: String,
}

/// The contact fields of an account request, checked: a practice name of at most 100
/// characters, an e-mail address with one `@` and a dot after it, a phone number of digits,
/// spaces, `+` and `-` (at most 20).
fn contact_of(form: &RequestForm) -> Option<Contact> {
    let practice = form.praktijk.trim();
    let email = form.email.trim();
    let phone = form.telefoon.trim();
    let email_ok = email.len() <= 254
        && email.split_once('@').is_some_and(|(user, host)| {
            !user.is_empty() && host.contains('.') && !host.contains('@')
        });
    let phone_ok = (6..=20).contains(&phone.len())
        && phone
            .bytes()
            .all(|b| b.is_ascii_digit() || b" +-".contains(&b));
    let practice_ok = !practice.is_empty() && practice.chars().count() <= 100;
    (email_ok && phone_ok && practice_ok).then(|| Contact {
        practice_name: Some(practice.to_owned()),
        email: Some(email.to_owned()),
        phone: Some(phone.to_owned()),
    })
}

/// Files an account request; the administrators' queue shows it.
pub(crate) async fn request_account(
    State(portal): State<Portal>,
    parts: Parts,
    Form(form): Form<RequestForm>,
) -> Response {
    let Some(identity) = card_holder(&parts) else {
        return not_found().await;
    };
    let now = portal.now().timestamp();
    if !request_token_ok(&portal, identity.certificate_sha256(), &form.csrf, now) {
        return not_found().await;
    }
    let practice = form.praktijk_agb.trim();
    let practice_agb = if practice.is_empty() {
        None
    } else {
        match practice.parse::<AgbCode>() {
            Ok(agb) => Some(agb),
            Err(_) => {
                let error = Some("Een praktijk-AGB-code heeft 8 cijfers.");
                return request_page(&portal, &parts, error, Some(&form)).await;
            }
        }
    };
    let Some(contact) = contact_of(&form) else {
        let error =
            Some("Vul de naam van de praktijk, een geldig e-mailadres en een telefoonnummer in.");
        return request_page(&portal, &parts, error, Some(&form)).await;
    };
    let card = &identity;
    let body = match portal.0.directory.account(card.uzi_number()).await {
        Ok(Some(_)) => html! {
            h1 { "Er is al een account" }
            p { "Voor dit UZI-nummer bestaat al een account of aanvraag." }
        },
        Ok(None) => {
            let account = Account {
                uzi: card.uzi_number(),
                agb: card.agb(),
                name: card_name(&identity),
                role: card.role(),
                practice_agb,
                status: AccountStatus::Requested,
                created_at: portal.now(),
                last_login: None,
                accepted_terms: None,
                admin: false,
                contact,
            };
            if portal.0.directory.create_account(&account).await.is_err() {
                return refusal_page(&portal, &Refusal::Unavailable, "account-request");
            }
            html! {
                h1 { "Aanvraag ontvangen" }
                p {
                    "Het ziekenhuis beoordeelt uw aanvraag. U krijgt bericht zodra uw account is \
                     geactiveerd."
                }
            }
        }
        Err(_) => return refusal_page(&portal, &Refusal::Unavailable, "account-request"),
    };
    anonymous_page(&portal, body)
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
