//! *Mijn account*: what the portal knows of the logged-in practitioner (from their account
//! and card), and their e-mail notifications: an address and the kinds of event they want a
//! mail about. The mail itself says only that there is news (`zvp_notify::mail`).

use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;
use zvp_notify::EventKind;
use zvp_notify::mail::{EmailAddress, MailPreferences};

use super::{caller_page, caller_page_with, csrf_refused, role_text};
use crate::Portal;
use crate::caller::Caller;
use crate::layout::{csrf_field, dutch_time};
use crate::refusal::{Refusal, refuse};

/// The page's title and heading.
const TITLE: &str = "Mijn account";

/// The kinds on the form, with their field names.
const KINDS: [(EventKind, &str); 3] = [
    (EventKind::Admission, "opname"),
    (EventKind::Discharge, "ontslag"),
    (EventKind::Letter, "brief"),
];

/// What the e-mail form shows: the address and the kinds ticked, as saved or as typed.
struct Shown<'a> {
    address: &'a str,
    kinds: Vec<EventKind>,
    error: Option<&'a str>,
}

/// Whether the caller is told of events at all: a practitioner's account (with an AGB code)
/// in a portal that keeps notifications.
fn notified(portal: &Portal, caller: &Caller) -> bool {
    portal.0.notify.is_some() && !caller.account.admin && caller.account.agb.is_some()
}

/// The Mijn account page.
pub(crate) async fn my_account(State(portal): State<Portal>, caller: Caller) -> Response {
    let email = match &portal.0.notify {
        Some(store) if notified(&portal, &caller) => {
            let Ok(preferences) = store.preferences(caller.account.uzi).await else {
                return refuse(&portal, &caller, &Refusal::Unavailable).await;
            };
            let address = preferences
                .as_ref()
                .map(|p| p.address.to_string())
                .unwrap_or_default();
            let kinds = preferences
                .map(|p| p.kinds.into_iter().collect())
                .unwrap_or_default();
            email_form(
                &caller,
                &Shown {
                    address: &address,
                    kinds,
                    error: None,
                },
            )
        }
        _ => html! {
            h2 #email { "Meldingen per e-mail" }
            p { "Dit portaal verstuurt geen meldingen." }
        },
    };
    let dezi = dezi_section(&portal, &caller).await;
    caller_page(&portal, &caller, TITLE, account_page(&caller, email, dezi))
}

/// Dezi login, where the portal offers it: the Dezi number linked to the account, or how to
/// link it (a Dezi login while the UZI-pas is in the reader).
async fn dezi_section(portal: &Portal, caller: &Caller) -> Markup {
    if portal.0.dezi.is_none() || caller.account.admin {
        return html! {};
    }
    let linked = portal.0.directory.dezi_of(caller.account.uzi).await;
    html! {
        h2 #dezi { "Inloggen met Dezi" }
        @match linked {
            Ok(Some(number)) => p {
                "Uw Dezi-nummer " strong { (number) } " is aan dit account gekoppeld: u kunt ook                  zonder UZI-pas inloggen, met Dezi."
            },
            Ok(None) => {
                p {
                    "Koppel uw Dezi-nummer om ook zonder UZI-pas in te loggen: log één keer in                      met Dezi terwijl uw UZI-pas in de kaartlezer zit. Het portaal koppelt ze                      als naam en rol op beide overeenkomen."
                }
                p { a href="/dezi/inloggen" { "Dezi-nummer koppelen" } }
            },
            Err(_) => p { "Of er een Dezi-nummer is gekoppeld, kan nu niet worden gelezen." },
        }
    }
}

/// The page around the e-mail form: the account's details.
fn account_page(caller: &Caller, email: Markup, dezi: Markup) -> Markup {
    let account = &caller.account;
    html! {
        h1 { (TITLE) }
        dl.gegevens {
            dt { "Naam" } dd { (account.name) }
            dt { "UZI-nummer" } dd { (account.uzi) }
            dt { "Rol" } dd { (role_text(account.role)) }
            @if let Some(agb) = account.agb {
                dt { "AGB-code" } dd { (agb) }
            }
            @if let Some(practice) = account.practice_agb {
                dt { "AGB-code praktijk" } dd { (practice) }
            }
            @if let Some(name) = &account.contact.practice_name {
                dt { "Praktijk" } dd { (name) }
            }
            @if let Some(login) = account.last_login {
                dt { "Laatst aangemeld" } dd { (dutch_time(login)) }
            }
        }
        p.muted {
            "Kloppen deze gegevens niet? Neem contact op met de beheerder van het portaal."
        }
        (email)
        (dezi)
    }
}

/// The form of the e-mail notifications.
fn email_form(caller: &Caller, shown: &Shown<'_>) -> Markup {
    html! {
        h2 #email { "Meldingen per e-mail" }
        p {
            "Wilt u een e-mail ontvangen als er nieuwe informatie is over uw patiënten? De "
            "e-mail bevat geen patiëntgegevens, alleen dat er nieuws is en hoeveel. U leest de "
            "meldingen zelf onder " a href="/meldingen" { "Meldingen" } "."
        }
        @if let Some(error) = shown.error {
            p.fout #email-fout role="alert" { (error) }
        }
        // The portal checks the address itself and says in Dutch what is wrong, keeping what
        // was filled in; the browser's own check would speak the browser's language.
        form method="post" action="/account/meldingen" novalidate {
            (csrf_field(&caller.session.csrf))
            label for="adres" { "E-mailadres" }
            input #adres type="email" name="adres" value=(shown.address) autocomplete="email"
                aria-describedby=[shown.error.map(|_| "email-fout")];
            fieldset {
                legend { "Stuur een e-mail bij" }
                @for (kind, name) in KINDS {
                    label {
                        input type="checkbox" name=(name) value="ja"
                            checked[shown.kinds.contains(&kind)];
                        " " (kind.dutch())
                    }
                }
            }
            p.muted { "Geen e-mailadres en geen vinkjes: u ontvangt geen e-mail." }
            button type="submit" { "Opslaan" }
        }
    }
}

/// The e-mail form as posted.
#[derive(Debug, Deserialize)]
pub(crate) struct EmailForm {
    csrf: String,
    #[serde(default)]
    adres: String,
    #[serde(default)]
    opname: Option<String>,
    #[serde(default)]
    ontslag: Option<String>,
    #[serde(default)]
    brief: Option<String>,
}

impl EmailForm {
    fn kinds(&self) -> Vec<EventKind> {
        KINDS
            .into_iter()
            .filter(|(kind, _)| match kind {
                EventKind::Admission => self.opname.is_some(),
                EventKind::Discharge => self.ontslag.is_some(),
                EventKind::Letter => self.brief.is_some(),
            })
            .map(|(kind, _)| kind)
            .collect()
    }
}

/// Saves the e-mail notifications: no kinds and no address turn them off; an address that is
/// not one is refused with the form again, as it was filled in.
pub(crate) async fn save_email(
    State(portal): State<Portal>,
    caller: Caller,
    Form(form): Form<EmailForm>,
) -> Response {
    if !caller.session.csrf_ok(&form.csrf) {
        return csrf_refused(&portal, &caller);
    }
    let Some(store) = portal
        .0
        .notify
        .as_ref()
        .filter(|_| notified(&portal, &caller))
    else {
        return refuse(&portal, &caller, &Refusal::NotHere).await;
    };
    let kinds = form.kinds();
    let address = form.adres.trim();
    let preferences = if address.is_empty() {
        if !kinds.is_empty() {
            return email_refused(&portal, &caller, &form, "Vul een e-mailadres in.").await;
        }
        None
    } else {
        match address.parse::<EmailAddress>() {
            Ok(address) => Some(MailPreferences {
                address,
                kinds: kinds.into_iter().collect(),
            }),
            Err(_) => {
                return email_refused(
                    &portal,
                    &caller,
                    &form,
                    "Dit is geen geldig e-mailadres. Vul een adres in zoals naam@praktijk.nl.",
                )
                .await;
            }
        }
    };
    match store
        .set_preferences(caller.account.uzi, preferences.as_ref())
        .await
    {
        Ok(()) => crate::layout::see_other("/account#email"),
        Err(_) => refuse(&portal, &caller, &Refusal::Unavailable).await,
    }
}

/// The page again, the form with what was typed and ticked and why it was refused.
async fn email_refused(portal: &Portal, caller: &Caller, form: &EmailForm, why: &str) -> Response {
    let shown = Shown {
        address: &form.adres,
        kinds: form.kinds(),
        error: Some(why),
    };
    caller_page_with(
        portal,
        caller,
        StatusCode::BAD_REQUEST,
        TITLE,
        account_page(
            caller,
            email_form(caller, &shown),
            dezi_section(portal, caller).await,
        ),
    )
}
