//! `/dezi/inloggen` and `/dezi/callback`, and the Dezi side of every request's
//! authentication.

use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, FromRequestParts as _, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use zvp_audit::event::DeziMeans;
use zvp_auth::dezi::{DeziError, LoginRequest, VerifiedDeziIdentity};
use zvp_core::UziNumber;

use super::pages::{self, NotLinked};
use super::{DeziSession, LOGIN_COOKIE, PENDING_COOKIE, REQUEST_COOKIE, sha256_hex};
use crate::Portal;
use crate::auth::{Identity, NewSession, PeerAddress, RequestId, random_hex};
use crate::caller::Caller;
use crate::ops::not_found;
use crate::pages::request::{DeziApplicant, RequestForm, Requester, file_request, request_page};
use crate::refusal::{Refusal, deny_refusal, log_refusal, refusal_page};
use crate::session::{self, named_cookie};

/// How long a login may take between the start and the callback.
const LOGIN_MINUTES: i64 = 10;

/// The longest OAuth `error` kept from a callback: it is the platform's (or anyone's) text.
const MAX_ERROR_CHARS: usize = 64;

/// The Dezi routes; they answer 404 when the portal has no Dezi login.
pub(crate) fn routes() -> Router<Portal> {
    Router::new()
        .route("/dezi/inloggen", get(start))
        .route("/dezi/callback", get(callback))
        .route("/dezi/account", get(request_form).post(request_account))
}

/// How long a Dezi login without an account may take to fill in the account request.
const REQUEST_MINUTES: i64 = 30;

/// The Dezi login without an account that the callback sealed in the browser, if any.
fn applicant(portal: &Portal, parts: &Parts) -> Option<DeziApplicant> {
    portal.0.dezi.as_ref()?;
    let sealed = named_cookie(&parts.headers, REQUEST_COOKIE)?;
    portal
        .0
        .cookie_key
        .open(REQUEST_COOKIE, &sealed, portal.now())
}

/// The account request form of a Dezi login without an account.
async fn request_form(State(portal): State<Portal>, parts: Parts) -> Response {
    match applicant(&portal, &parts) {
        Some(applicant) => request_page(&portal, &Requester::Dezi(applicant), None, None),
        None => not_found().await,
    }
}

/// Files the account request of a Dezi login without an account.
async fn request_account(
    State(portal): State<Portal>,
    parts: Parts,
    Form(form): Form<RequestForm>,
) -> Response {
    let Some(applicant) = applicant(&portal, &parts) else {
        return not_found().await;
    };
    if !crate::origin::allowed(&parts, portal.0.public_origin.as_deref()) {
        return crate::origin::refused_page(&portal, "dezi-account");
    }
    file_request(&portal, &Requester::Dezi(applicant), &form).await
}

/// A login's secrets, as the browser keeps them (sealed) until the callback.
#[derive(Serialize, Deserialize)]
struct Pending {
    state: String,
    nonce: String,
    code_verifier: String,
}

fn set_cookie(response: &mut Response, cookie: &str) {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// Starts a login: the secrets in a sealed cookie, and the browser to the platform. The
/// cookie is `SameSite=Lax`: the callback is a navigation from the platform's site.
async fn start(State(portal): State<Portal>) -> Response {
    let Some(dezi) = &portal.0.dezi else {
        return not_found().await;
    };
    let now = portal.now();
    let request_id = random_hex(8).unwrap_or_else(|_| "dezi-start".to_owned());
    let (login, url) = match dezi.platform.start() {
        Ok(started) => started,
        Err(e) => return pages::refusal_page(&portal, &e, &request_id),
    };
    let pending = Pending {
        state: login.state,
        nonce: login.nonce,
        code_verifier: login.code_verifier,
    };
    let until = now + chrono::Duration::minutes(LOGIN_MINUTES);
    let Ok(sealed) = portal.0.cookie_key.seal(PENDING_COOKIE, &pending, until) else {
        return refusal_page(&portal, &Refusal::Unavailable, &request_id);
    };
    let mut response = crate::layout::see_other(&url);
    set_cookie(
        &mut response,
        &format!(
            "{PENDING_COOKIE}={sealed}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age={}",
            LOGIN_MINUTES * 60
        ),
    );
    response
}

/// The callback's query.
#[derive(Deserialize)]
struct Callback {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
}

/// Completes a login and starts its session, or says why not.
async fn callback(
    State(portal): State<Portal>,
    Query(query): Query<Callback>,
    mut parts: Parts,
) -> Response {
    let Some(dezi) = portal.0.dezi.clone() else {
        return not_found().await;
    };
    let now = portal.now();
    let Ok(request_id) = random_hex(8) else {
        return refusal_page(&portal, &Refusal::Unavailable, "rng-failed");
    };
    let ip = parts.extensions.get::<PeerAddress>().map(|p| p.0.ip());
    let pending: Option<Pending> = named_cookie(&parts.headers, PENDING_COOKIE)
        .and_then(|sealed| portal.0.cookie_key.open(PENDING_COOKIE, &sealed, now));
    // Each callback with a login's secrets costs a call to the platform and an audit record:
    // bounded per address, as a card's requests are (not behind a proxy, whose one address
    // carries every user).
    let direct = ip.is_some_and(|ip| !portal.0.proxy.trusted.contains(&ip));
    if pending.is_some()
        && direct
        && let Some(page) =
            crate::auth::throttled(&portal, &format!("dezi-callback|{ip:?}"), &request_id)
    {
        return page;
    }
    let verified = match (pending, query) {
        (Some(_), Callback { error: Some(e), .. }) => Err(DeziError::AuthorizationDenied {
            error: e.chars().take(MAX_ERROR_CHARS).collect(),
        }),
        (
            Some(p),
            Callback {
                state: Some(state),
                code: Some(code),
                ..
            },
        ) => {
            let login = LoginRequest {
                state: p.state,
                nonce: p.nonce,
                code_verifier: p.code_verifier,
            };
            let eligible = portal.0.policy.eligible_roles();
            dezi.platform
                .complete(&login, &state, &code, eligible, now)
                .await
        }
        // A callback with the login's secrets but without its state or code.
        (Some(_), _) => Err(DeziError::StateMismatch),
        // No login started in this browser: nothing to complete, and nothing to record (no
        // one presented anything, and anyone can ask this URL).
        (None, _) => {
            let error = DeziError::StateMismatch;
            log_refusal(&request_id, &error.code(), None);
            return forget_pending(pages::refusal_page(&portal, &error, &request_id));
        }
    };
    let who = match verified {
        Ok(who) => who,
        Err(e) => {
            let code = e.code();
            log_refusal(&request_id, &code, None);
            if let Err(r) = portal
                .record_refused_dezi(None, ip, &request_id, &code)
                .await
            {
                return refusal_page(&portal, &r, &request_id);
            }
            return forget_pending(pages::refusal_page(&portal, &e, &request_id));
        }
    };
    let uzi = match linked_account(&portal, &parts, &who, ip, &request_id).await {
        Ok(uzi) => uzi,
        Err(page) => return forget_pending(page),
    };
    let mut login = DeziSession::new(&who, uzi);
    // The session starts as a card's does: the policy admits the account, the login is in the
    // audit log, and only then is there a session (the `Caller` extractor).
    let slot = NewSession::default();
    parts
        .extensions
        .insert(Identity::Dezi(Arc::new(login.clone())));
    parts.extensions.insert(slot.clone());
    parts.extensions.insert(RequestId(request_id.clone()));
    let admitted = Caller::from_request_parts(&mut parts, &portal).await;
    let Some(cookie) = slot.take() else {
        return forget_pending(match admitted {
            Err(page) => page,
            Ok(_) => refusal_page(&portal, &Refusal::Unavailable, &request_id),
        });
    };
    login.session = sha256_hex(cookie.as_bytes());
    let hours = i64::from(portal.settings().absolute_timeout_hours);
    let until = now + chrono::Duration::hours(hours);
    let Ok(sealed) = portal.0.cookie_key.seal(LOGIN_COOKIE, &login, until) else {
        return refusal_page(&portal, &Refusal::Unavailable, &request_id);
    };
    let mut response = forget_pending(pages::signed_in_page(&portal));
    session::set_cookie(&mut response, &cookie);
    set_cookie(
        &mut response,
        &format!("{LOGIN_COOKIE}={sealed}; Path=/; Secure; HttpOnly; SameSite=Strict"),
    );
    response
}

/// The response with the login's secrets removed from the browser: a callback is used once.
fn forget_pending(mut response: Response) -> Response {
    set_cookie(
        &mut response,
        &format!("{PENDING_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0"),
    );
    response
}

/// The page of a Dezi login without an account to enter. Without a link at all, and with a
/// Dezi number of the register's nine digits, it offers the account request, the login sealed
/// in the browser for it.
fn not_linked(
    portal: &Portal,
    why: NotLinked,
    who: &VerifiedDeziIdentity,
    request_id: &str,
) -> Response {
    let applicant = who
        .dezi_number()
        .as_str()
        .parse::<UziNumber>()
        .ok()
        .filter(|_| why == NotLinked::NoLink)
        .map(|uzi| DeziApplicant {
            uzi,
            dezi_number: who.dezi_number().to_string(),
            name: who.display_name(),
            role: who.role(),
        });
    let until = portal.now() + chrono::Duration::minutes(REQUEST_MINUTES);
    let sealed = applicant
        .as_ref()
        .and_then(|a| portal.0.cookie_key.seal(REQUEST_COOKIE, a, until).ok());
    let mut page = pages::not_linked_page(portal, why, sealed.is_some(), request_id);
    if let Some(sealed) = sealed {
        set_cookie(
            &mut page,
            &format!(
                "{REQUEST_COOKIE}={sealed}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={}",
                REQUEST_MINUTES * 60
            ),
        );
    }
    page
}

fn means(who: &VerifiedDeziIdentity) -> DeziMeans {
    DeziMeans {
        verklaring_id: who.verklaring_id().to_owned(),
        dezi_number: who.dezi_number().to_string(),
    }
}

/// The account the login's Dezi number is linked to; or, when none is and the browser
/// presents a valid UZI-pas whose account the policy admits with the same role, that
/// account, linked now (once). Every refusal is recorded before its page.
async fn linked_account(
    portal: &Portal,
    parts: &Parts,
    who: &VerifiedDeziIdentity,
    ip: Option<IpAddr>,
    request_id: &str,
) -> Result<UziNumber, Response> {
    let directory = &portal.0.directory;
    let unavailable = || refusal_page(portal, &Refusal::Unavailable, request_id);
    match directory.dezi_account(who.dezi_number()).await {
        Ok(Some(uzi)) => return Ok(uzi),
        Ok(None) => {}
        Err(_) => return Err(unavailable()),
    }
    let refuse = async |why: NotLinked| {
        log_refusal(request_id, why.code(), None);
        match portal
            .record_refused_dezi(Some(means(who)), ip, request_id, why.code())
            .await
        {
            Ok(_) => not_linked(portal, why, who, request_id),
            Err(r) => refusal_page(portal, &r, request_id),
        }
    };
    let Some(chain) = crate::auth::client_certificate(portal, parts).filter(|c| !c.is_empty())
    else {
        return Err(refuse(NotLinked::NoLink).await);
    };
    let now = portal.now();
    let card = match portal.validator().validate(&chain, now) {
        Ok(card) => card,
        Err(e) => {
            log_refusal(request_id, e.code(), None);
            let leaf = chain.first().map(AsRef::as_ref);
            return Err(
                match portal
                    .record_refused_card(leaf, ip, request_id, e.code())
                    .await
                {
                    Ok(_) => refusal_page(portal, &Refusal::Certificate(e), request_id),
                    Err(r) => refusal_page(portal, &r, request_id),
                },
            );
        }
    };
    let card = Identity::Card(Arc::new(card));
    let uzi = card.uzi_number();
    let Ok(account) = directory.account(uzi).await else {
        return Err(unavailable());
    };
    let mut world = zvp_auth::policy::World::new();
    if let Some(account) = account.clone() {
        world.add_account(account);
    }
    if let Err(reason) = portal.0.policy.admit(&world, uzi, card.agb(), card.role()) {
        let refusal = deny_refusal(reason);
        log_refusal(request_id, refusal.code(), Some(&uzi.to_string()));
        return Err(
            match portal
                .record_login(&card, account.as_ref(), ip, request_id, Some(&refusal))
                .await
            {
                Ok(_) => refusal_page(portal, &refusal, request_id),
                Err(r) => refusal_page(portal, &r, request_id),
            },
        );
    }
    if card.role() != who.role() {
        return Err(refuse(NotLinked::RoleDiffers).await);
    }
    // The card in the reader may be a colleague's: the link is made only for the same person.
    let card_surname = card.card().and_then(|c| c.surname()).map(name_key);
    let dezi_surname = name_key(&format!("{} {}", who.prefix().unwrap_or(""), who.surname()));
    if card_surname.is_none_or(|s| s.is_empty() || s != dezi_surname) {
        return Err(refuse(NotLinked::NameDiffers).await);
    }
    match directory.dezi_of(uzi).await {
        Ok(None) => {}
        Ok(Some(_)) => return Err(refuse(NotLinked::LinkedElsewhere).await),
        Err(_) => return Err(unavailable()),
    }
    // The link is in the audit log before it is made.
    if let Err(r) = portal
        .record_dezi_link(&card, means(who), ip, request_id)
        .await
    {
        return Err(refusal_page(portal, &r, request_id));
    }
    match directory.link_dezi(uzi, who.dezi_number(), now).await {
        Ok(()) => Ok(uzi),
        Err(zvp_auth::directory::StoreError::DeziLinked { .. }) => {
            Err(refuse(NotLinked::LinkedElsewhere).await)
        }
        Err(_) => Err(unavailable()),
    }
}

/// A surname as the card and the verklaring are compared: letters and digits only, lower
/// case (the card's SN holds the prefixes with the name, the verklaring has them apart).
fn name_key(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The Dezi login of a request without a card: the sealed login of its cookie, when the
/// portal has Dezi login, the portal sealed it, it has not ended, and it belongs to the
/// session the request continues; with that session's cookie.
pub(crate) fn session_identity(
    portal: &Portal,
    parts: &Parts,
    now: DateTime<Utc>,
) -> Option<(Arc<DeziSession>, String)> {
    portal.0.dezi.as_ref()?;
    let sealed = named_cookie(&parts.headers, LOGIN_COOKIE)?;
    let login: DeziSession = portal.0.cookie_key.open(LOGIN_COOKIE, &sealed, now)?;
    let cookie = session::cookie_value(&parts.headers)?;
    login.belongs_to(&cookie).then(|| (Arc::new(login), cookie))
}

/// Whether the verklaring of a Dezi session is still in force by the signed revocation list.
/// A revoked one ends the session, recorded before the page that says so; a list that is
/// missing or stale refuses the request (fail closed) and keeps the session.
pub(crate) async fn still_in_force(
    portal: &Portal,
    (login, cookie): (&Arc<DeziSession>, &str),
    ip: Option<IpAddr>,
    request_id: &str,
) -> Result<(), Response> {
    let Some(dezi) = &portal.0.dezi else {
        return Err(refusal_page(portal, &Refusal::Unavailable, request_id));
    };
    let now = portal.now();
    let Err(e) = portal
        .0
        .revocations
        .check(&login.verklaring_id, now, dezi.revocation_grace)
    else {
        return Ok(());
    };
    let code = e.code();
    log_refusal(request_id, &code, Some(&login.uzi.to_string()));
    if !matches!(e, DeziError::Revoked { .. }) {
        return Err(pages::refusal_page(portal, &e, request_id));
    }
    let identity = Identity::Dezi(Arc::clone(login));
    if let Err(r) = portal
        .record_session_end(&identity, ip, request_id, "session-dezi-revoked")
        .await
    {
        return Err(refusal_page(portal, &r, request_id));
    }
    let mut ended = match portal.0.sessions.end(cookie).await {
        Ok(()) => pages::refusal_page(portal, &e, request_id),
        Err(_) => refusal_page(portal, &Refusal::Unavailable, request_id),
    };
    session::clear_cookie(&mut ended);
    Err(ended)
}
