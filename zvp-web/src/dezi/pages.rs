//! The pages of Dezi login: how to log in without a card, what went wrong with a Dezi login
//! (as clear as the UZI-pas refusals), and the step into the portal after the platform.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use maud::{DOCTYPE, html};
use zvp_auth::dezi::DeziError;

use crate::Portal;
use crate::layout::{html_response, page};
use crate::refusal::help;

/// The way in for a browser that presents no card: the UZI-pas, or Dezi where the portal
/// offers it. Nothing of the portal is shown before one of them succeeds.
pub(crate) fn no_card_page(portal: &Portal, request_id: &str) -> Response {
    let settings = portal.settings();
    let body = html! {
        section.refusal {
            h1 { "Plaats uw UZI-pas" }
            h2 { "Inloggen met UZI-pas" }
            p {
                "Uw browser heeft geen UZI-pas aangeboden. Plaats de pas in de kaartlezer, \
                 controleer of de ZORG-ID- of SafeSign-software draait, en kies het \
                 certificaat van uw pas als de browser erom vraagt."
            }
            p { a href="/" { "Opnieuw proberen met mijn UZI-pas" } }
            @if portal.0.dezi.is_some() {
                h2 { "Inloggen met Dezi" }
                p {
                    "Heeft u een Dezi-verklaring, dan kunt u ook zonder pas inloggen. Uw \
                     Dezi-nummer moet dan aan uw account gekoppeld zijn: log daarvoor één keer \
                     in met Dezi terwijl uw UZI-pas in de kaartlezer zit."
                }
                p { a href="/dezi/inloggen" { "Inloggen met Dezi" } }
            }
            (help(portal, request_id, zvp_auth::uzi::UziError::NoCertificate.code()))
        }
    };
    html_response(
        StatusCode::FORBIDDEN,
        page(
            &settings.hospital,
            "Plaats uw UZI-pas",
            None,
            portal.now(),
            body,
        ),
    )
}

/// The status of a Dezi refusal: the platform failing is an outage, the rest a refusal.
fn status(error: &DeziError) -> StatusCode {
    match error {
        DeziError::PlatformUnreachable { .. }
        | DeziError::PlatformAnswer { .. }
        | DeziError::RevocationListStale { .. } => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::FORBIDDEN,
    }
}

/// A Dezi login that did not succeed, or a Dezi session that cannot go on: what happened and
/// what to do, in the words of [`DeziError::advice_nl`].
pub(crate) fn refusal_page(portal: &Portal, error: &DeziError, request_id: &str) -> Response {
    let title = "Inloggen met Dezi is niet gelukt";
    let body = html! {
        section.refusal {
            h1 { (title) }
            p { (error.advice_nl()) }
            p { a href="/" { "Terug naar inloggen" } }
            (help(portal, request_id, &error.code()))
        }
    };
    html_response(
        status(error),
        page(&portal.settings().hospital, title, None, portal.now(), body),
    )
}

/// Why a verified Dezi login has no account to enter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NotLinked {
    /// No account has this Dezi number, and no UZI-pas came with the login to link it.
    NoLink,
    /// The UZI-pas that came with the login has another role than the verklaring.
    RoleDiffers,
    /// The UZI-pas that came with the login names another person than the verklaring.
    NameDiffers,
    /// The account of that UZI-pas has another Dezi number linked already.
    LinkedElsewhere,
}

impl NotLinked {
    /// The audit record's and the page's code.
    pub(crate) const fn code(self) -> &'static str {
        match self {
            Self::NoLink => "dezi-not-linked",
            Self::RoleDiffers => "dezi-role-differs",
            Self::NameDiffers => "dezi-name-differs",
            Self::LinkedElsewhere => "dezi-linked-elsewhere",
        }
    }

    fn advice(self) -> &'static str {
        match self {
            Self::NoLink => {
                "Uw Dezi-login is gelukt, maar uw Dezi-nummer is nog niet aan een account van \
                 dit portaal gekoppeld. Koppel het één keer: plaats uw UZI-pas in de \
                 kaartlezer en log opnieuw in met Dezi. Daarna kunt u ook zonder pas \
                 inloggen."
            }
            Self::RoleDiffers => {
                "Uw Dezi-verklaring noemt een andere rol dan uw UZI-pas. Het portaal koppelt \
                 ze daarom niet. Neem contact op met het ziekenhuis."
            }
            Self::NameDiffers => {
                "De naam op uw UZI-pas is een andere dan die in uw Dezi-verklaring. Het portaal \
                 koppelt ze daarom niet: zat er de pas van een collega in de kaartlezer? Neem \
                 anders contact op met het ziekenhuis."
            }
            Self::LinkedElsewhere => {
                "Aan uw account is al een ander Dezi-nummer gekoppeld, of dit Dezi-nummer \
                 hoort al bij een ander account. Neem contact op met het ziekenhuis om de \
                 koppeling te laten nakijken."
            }
        }
    }
}

/// The page of a Dezi login without an account to enter.
pub(crate) fn not_linked_page(
    portal: &Portal,
    why: NotLinked,
    may_request: bool,
    request_id: &str,
) -> Response {
    let title = "Uw Dezi-nummer is niet gekoppeld";
    let body = html! {
        section.refusal {
            h1 { (title) }
            p { (why.advice()) }
            @if may_request {
                p {
                    "Heeft u geen UZI-pas, vraag dan een account aan met uw Dezi-login: "
                    a href="/dezi/account" { "Account aanvragen met Dezi" }
                }
            }
            p { a href="/" { "Terug naar inloggen" } }
            (help(portal, request_id, why.code()))
        }
    };
    html_response(
        StatusCode::FORBIDDEN,
        page(&portal.settings().hospital, title, None, portal.now(), body),
    )
}

/// The step from the callback into the portal. The browser came from the platform, another
/// site, and a `SameSite=Strict` session cookie is not sent on a redirect of that navigation;
/// a refresh from this page of the portal's own is a navigation of the portal's site, and is.
pub(crate) fn signed_in_page(portal: &Portal) -> Response {
    let hospital = &portal.settings().hospital;
    let markup = html! {
        (DOCTYPE)
        html lang="nl" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta http-equiv="refresh" content="0; url=/";
                title { "Ingelogd — Zorgverlenersportaal " (hospital) }
                link rel="stylesheet" href="/static/portal.css";
            }
            body {
                main {
                    h1 { "U bent ingelogd met Dezi" }
                    p { a href="/" { "Verder naar het portaal" } }
                }
            }
        }
    };
    let mut response = html_response(StatusCode::OK, markup.into_string());
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
