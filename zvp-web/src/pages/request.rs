//! The account request: filled in from the UZI-pas, or from a Dezi login whose number is not
//! yet any account's. The administrators' queue shows it either way.

use std::sync::Arc;

use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use maud::{Markup, html};
use serde::{Deserialize, Serialize};
use zvp_auth::directory::{Account, AccountStatus, Contact};
use zvp_auth::uzi::VerifiedUziIdentity;
use zvp_core::{AgbCode, RoleCode, UziNumber};

use crate::Portal;
use crate::auth::Identity;
use crate::layout::{csrf_field, html_response, page};
use crate::ops::not_found;
use crate::refusal::{Refusal, refusal_page};

/// Who asks for an account: the holder of a valid UZI-pas, or a practitioner whose Dezi login
/// succeeded (the login's name, role and Dezi number, sealed in the browser by the callback).
pub(crate) enum Requester {
    /// The card's holder.
    Card(Arc<VerifiedUziIdentity>),
    /// A Dezi login without an account.
    Dezi(DeziApplicant),
}

/// What a Dezi login brings to an account request. The Dezi number is the practitioner's
/// number in the register that issues UZI numbers too (the nine digits of a UZI number), and
/// becomes the account's key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DeziApplicant {
    pub(crate) uzi: UziNumber,
    pub(crate) dezi_number: String,
    pub(crate) name: String,
    pub(crate) role: RoleCode,
}

impl Requester {
    fn uzi(&self) -> UziNumber {
        match self {
            Self::Card(card) => card.uzi_number(),
            Self::Dezi(d) => d.uzi,
        }
    }

    fn name(&self) -> String {
        match self {
            Self::Card(card) => [card.given_name(), card.surname()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" "),
            Self::Dezi(d) => d.name.clone(),
        }
    }

    fn role(&self) -> RoleCode {
        match self {
            Self::Card(card) => card.role(),
            Self::Dezi(d) => d.role,
        }
    }

    /// What the form's token is bound to: the card's certificate, or the Dezi number.
    fn binding(&self) -> String {
        match self {
            Self::Card(card) => card.certificate_sha256().to_owned(),
            Self::Dezi(d) => format!("dezi:{}", d.dezi_number),
        }
    }

    fn action(&self) -> &'static str {
        match self {
            Self::Card(_) => "/account/aanvragen",
            Self::Dezi(_) => "/dezi/account",
        }
    }
}

/// The card's holder, from the middleware (no account needed: that is what they request).
fn card_holder(parts: &Parts) -> Option<Requester> {
    match parts.extensions.get::<Identity>()? {
        Identity::Card(card) => Some(Requester::Card(Arc::clone(card))),
        Identity::Dezi(_) => None,
    }
}

/// The account request form, filled in from the card.
pub(crate) async fn request_form(State(portal): State<Portal>, parts: Parts) -> Response {
    match card_holder(&parts) {
        Some(requester) => request_page(&portal, &requester, None, None),
        None => not_found().await,
    }
}

/// Files a card's account request.
pub(crate) async fn request_account(
    State(portal): State<Portal>,
    parts: Parts,
    Form(form): Form<RequestForm>,
) -> Response {
    match card_holder(&parts) {
        Some(requester) => file_request(&portal, &requester, &form).await,
        None => not_found().await,
    }
}

/// The account request's CSRF token: `<expiry>.<HMAC-SHA256>` over what the requester is bound
/// to and the expiry (Unix seconds), under the portal's request key. A requester without an
/// account gets no session (docs/security.md, "Sessions"), so the token is kept in nothing but
/// itself: it is good for this card (or Dezi number) only, until the expiry.
fn request_token(portal: &Portal, binding: &str, expires: i64) -> String {
    let tag = aws_lc_rs::hmac::sign(
        &portal.0.request_key,
        format!("account-request|{binding}|{expires}").as_bytes(),
    );
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("{expires}.{hex}")
}

/// Whether `token` is a request token for `binding` that has not expired at `now`.
fn request_token_ok(portal: &Portal, binding: &str, token: &str, now: i64) -> bool {
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
    let message = format!("account-request|{binding}|{expires}");
    now < expires
        && aws_lc_rs::hmac::verify(&portal.0.request_key, message.as_bytes(), &tag).is_ok()
}

/// The form, filled in from the means; what was typed stays after an error.
pub(crate) fn request_page(
    portal: &Portal,
    requester: &Requester,
    error: Option<&str>,
    kept: Option<&RequestForm>,
) -> Response {
    let field = |f: fn(&RequestForm) -> &str| kept.map_or("", f).to_owned();
    let minutes = i64::from(portal.settings().idle_timeout_minutes);
    let expires = (portal.now() + chrono::Duration::minutes(minutes)).timestamp();
    let token = request_token(portal, &requester.binding(), expires);
    let body = html! {
        @if let Some(error) = error { p.flag role="alert" { (error) } }
        h1 { "Account aanvragen" }
        @match requester {
            Requester::Card(_) => p {
                "Uw gegevens zijn overgenomen van uw UZI-pas, zodat UZI-nummer en AGB-code kloppen."
            },
            Requester::Dezi(_) => p {
                "Uw gegevens zijn overgenomen van uw Dezi-verklaring. Een Dezi-verklaring noemt \
                 geen AGB-code: vul uw persoonlijke AGB-code in; het ziekenhuis controleert die \
                 voordat uw account wordt geactiveerd."
            },
        }
        form method="post" action=(requester.action()) {
            (csrf_field(&token))
            dl {
                dt { "Naam" } dd { (requester.name()) }
                @match requester {
                    Requester::Card(card) => {
                        dt { "UZI-nummer" } dd { (card.uzi_number().to_string()) }
                        dt { "Persoonlijke AGB-code" }
                        dd { (card.agb().map_or_else(|| "niet op de pas".to_owned(), |a| a.to_string())) }
                    }
                    Requester::Dezi(d) => {
                        dt { "Dezi-nummer" } dd { (d.dezi_number) }
                    }
                }
                dt { "Beroep" } dd { (super::role_text(requester.role())) }
            }
            @if matches!(requester, Requester::Dezi(_)) {
                label for="agb" { "Uw persoonlijke AGB-code (8 cijfers)" }
                input type="text" id="agb" name="agb" maxlength="8" inputmode="numeric" required
                    value=(field(|f| &f.agb));
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

/// A page for a requester without an account (no header with a name, no menu).
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
    /// The personal AGB code: asked only of a Dezi requester (a card carries it).
    #[serde(default)]
    agb: String,
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

/// Files an account request of `requester`: a requested account, and for a Dezi requester its
/// Dezi number linked to it.
pub(crate) async fn file_request(
    portal: &Portal,
    requester: &Requester,
    form: &RequestForm,
) -> Response {
    let now = portal.now();
    if !request_token_ok(portal, &requester.binding(), &form.csrf, now.timestamp()) {
        return not_found().await;
    }
    let retry = |error: &str| request_page(portal, requester, Some(error), Some(form));
    let agb = match requester {
        Requester::Card(card) => card.agb(),
        Requester::Dezi(_) => match form.agb.trim().parse::<AgbCode>() {
            Ok(agb) => Some(agb),
            Err(_) => return retry("Uw persoonlijke AGB-code heeft 8 cijfers."),
        },
    };
    let practice = form.praktijk_agb.trim();
    let practice_agb = if practice.is_empty() {
        None
    } else {
        match practice.parse::<AgbCode>() {
            Ok(agb) => Some(agb),
            Err(_) => return retry("Een praktijk-AGB-code heeft 8 cijfers."),
        }
    };
    let Some(contact) = contact_of(form) else {
        return retry(
            "Vul de naam van de praktijk, een geldig e-mailadres en een telefoonnummer in.",
        );
    };
    let directory = &portal.0.directory;
    let body = match directory.account(requester.uzi()).await {
        Ok(Some(_)) => html! {
            h1 { "Er is al een account" }
            p { "Voor dit UZI-nummer bestaat al een account of aanvraag." }
        },
        Ok(None) => {
            let account = Account {
                uzi: requester.uzi(),
                agb,
                name: requester.name(),
                role: requester.role(),
                practice_agb,
                status: AccountStatus::Requested,
                created_at: now,
                last_login: None,
                previous_login: None,
                accepted_terms: None,
                admin: false,
                contact,
            };
            if directory.create_account(&account).await.is_err() {
                return refusal_page(portal, &Refusal::Unavailable, "account-request");
            }
            if let Requester::Dezi(d) = requester {
                let linked = match d.dezi_number.parse() {
                    Ok(number) => directory.link_dezi(d.uzi, &number, now).await.is_ok(),
                    Err(_) => false,
                };
                if !linked {
                    return refusal_page(portal, &Refusal::Unavailable, "account-request");
                }
            }
            html! {
                h1 { "Aanvraag ontvangen" }
                p {
                    "Het ziekenhuis beoordeelt uw aanvraag. U krijgt bericht zodra uw account is \
                     geactiveerd."
                }
            }
        }
        Err(_) => return refusal_page(portal, &Refusal::Unavailable, "account-request"),
    };
    anonymous_page(portal, body)
}
