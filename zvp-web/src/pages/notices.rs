//! *Meldingen*: the admissions, discharges and new letters the notifier found for the
//! caller's own patients, their practice's, and those of GPs who delegated to them (events
//! within the delegation's period). Showing an event is a disclosure: the list's permit, and
//! one audit record per event, written before the page is sent.

use axum::Form;
use axum::extract::{Path, State};
use axum::response::Response;
use chrono::{DateTime, Utc};
use maud::html;
use serde::Deserialize;
use zvp_auth::policy::{Basis, ListScope};
use zvp_notify::{Coverage, EventKind, NotifyStore, StoreError};

use super::lists::{Lists, lists};
use super::{caller_page, csrf_refused};
use crate::Portal;
use crate::caller::Caller;
use crate::disclosure::Disclosure;
use crate::layout::{csrf_field, dutch_time, path_segment, see_other};
use crate::refusal::{Refusal, refuse};

/// The most events the page lists.
const SHOWN: usize = 100;

/// What the caller's events cover ([`zvp_notify::find::coverage`]), with the delegations to
/// them as the directory says in this request.
async fn coverage(
    portal: &Portal,
    caller: &Caller,
    now: DateTime<Utc>,
) -> Result<Vec<Coverage>, zvp_auth::directory::StoreError> {
    let delegations = caller.delegations(portal).await?;
    Ok(zvp_notify::find::coverage(
        &caller.account,
        delegations,
        now,
    ))
}

/// The caller's unread events, for the header; `None` when the portal keeps no notifications,
/// the account is an administrator's, or the count cannot be had (the page itself says why).
/// One count in the store: the delegations it needs are read once per request, for the
/// policy's decisions on the page as well.
pub(crate) async fn unread(portal: &Portal, caller: &Caller, now: DateTime<Utc>) -> Option<u64> {
    let store = portal.0.notify.as_ref()?;
    let account = &caller.account;
    if account.admin || account.agb.is_none() {
        return None;
    }
    let coverage = coverage(portal, caller, now).await.ok()?;
    store.unread(&coverage, account.uzi).await.ok()
}

/// The e-mail queue on the administrators' overview: how many mails wait, how many failed,
/// since when, the last error, how many were sent. Nothing when the portal keeps no
/// notifications.
pub(crate) async fn outbox_status(portal: &Portal) -> maud::Markup {
    let Some(store) = store(portal) else {
        return html! {};
    };
    html! {
        h2 { "Meldingen per e-mail" }
        @match store.outbox().await {
            Ok(state) => {
                p.outbox {
                    (state.sent) " verstuurd, " (state.pending) " in de wachtrij"
                    @if state.failing > 0 {
                        ", waarvan " strong { (state.failing) " mislukt en opnieuw te proberen" }
                    }
                    "."
                    @if let Some(oldest) = state.oldest {
                        " Wacht sinds " (dutch_time(oldest)) "."
                    }
                }
                @if let Some(error) = &state.last_error {
                    p.fout role="status" { "Laatste fout van de mailserver: " (error) }
                }
            }
            Err(_) => p.fout role="status" { "De meldingen zijn niet bereikbaar." },
        }
    }
}

/// The store, or the page that says notifications are off.
fn store(portal: &Portal) -> Option<&std::sync::Arc<dyn NotifyStore>> {
    portal.0.notify.as_ref()
}

/// The Meldingen page.
pub(crate) async fn notices(State(portal): State<Portal>, caller: Caller) -> Response {
    let now = portal.now();
    let Some(store) = store(&portal) else {
        let body = html! {
            h1 { "Meldingen" }
            p { "Dit portaal verstuurt geen meldingen." }
        };
        return caller_page(&portal, &caller, "Meldingen", body);
    };
    let Lists {
        scope,
        admitted,
        discharged,
    } = match lists(&portal, &caller).await {
        Ok(lists) => lists,
        Err(page) => return page,
    };
    let Ok(coverage) = coverage(&portal, &caller, now).await else {
        return refuse(&portal, &caller, &Refusal::Unavailable).await;
    };
    // Only what the policy's scope (now) allows: a delegation that ended shows nothing more.
    let coverage: Vec<Coverage> = coverage
        .into_iter()
        .filter(|c| scope.iter().any(|s| s.agb == c.gp))
        .collect();
    let Ok(events) = store.events(&coverage, caller.account.uzi, SHOWN).await else {
        return refuse(&portal, &caller, &Refusal::Unavailable).await;
    };
    let basis_of = |gp| ListScope::basis_for(&scope, Some(gp), false);
    let shown: Vec<(&zvp_notify::Seen, Basis)> = events
        .iter()
        .filter_map(|e| Some((e, basis_of(e.recorded.event.gp)?)))
        .collect();
    // Audit before disclosure: one record per event shown, under the list it belongs to.
    let disclosures = shown
        .iter()
        .map(|(e, basis)| Disclosure {
            permit: match e.recorded.event.kind {
                EventKind::Admission => &admitted,
                EventKind::Discharge | EventKind::Letter => &discharged,
            },
            basis: *basis,
            patient: &e.recorded.event.patient,
            bsn: None,
            item: Some(format!("melding:{}", e.recorded.event.key)),
            reason: None,
        })
        .collect();
    if let Err(r) = portal.disclose_all(&caller, disclosures).await {
        return refuse(&portal, &caller, &r).await;
    }
    let body = html! {
        h1 { "Meldingen" }
        @if shown.is_empty() {
            p { "Er zijn geen meldingen." }
        } @else {
            table {
                thead { tr { th { "Melding" } th { "Wanneer" } th { "Patiënt" } th { "Status" } } }
                tbody {
                    @for (e, _) in &shown {
                        @let event = &e.recorded.event;
                        tr.melding {
                            td { (event.kind.dutch()) }
                            td { (dutch_time(event.at)) }
                            td {
                                a href={ "/patient/" (path_segment(event.patient.as_str())) } {
                                    "Bekijk patiënt"
                                }
                            }
                            td {
                                @if e.read_at.is_some() {
                                    "Gelezen"
                                } @else {
                                    strong { "Nieuw" } " "
                                    form.inline method="post"
                                        action={ "/meldingen/" (e.recorded.seq) "/gelezen" } {
                                        (csrf_field(&caller.session.csrf))
                                        button type="submit" { "Markeer als gelezen" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    let body = html! {
        (body)
        p {
            "Een e-mail als er nieuwe meldingen zijn (zonder patiëntgegevens) stelt u in onder "
            a href="/account#email" { "Mijn account" } "."
        }
    };
    caller_page(&portal, &caller, "Meldingen", body)
}

/// A form with only a CSRF token.
#[derive(Debug, Deserialize)]
pub(crate) struct ReadForm {
    csrf: String,
}

/// Marks one of the caller's events read.
pub(crate) async fn mark_read(
    State(portal): State<Portal>,
    caller: Caller,
    Path(seq): Path<u64>,
    Form(form): Form<ReadForm>,
) -> Response {
    if !caller.session.csrf_ok(&form.csrf) {
        return csrf_refused(&portal, &caller);
    }
    let now = portal.now();
    let Some(store) = store(&portal) else {
        return refuse(&portal, &caller, &Refusal::NotHere).await;
    };
    let Ok(coverage) = coverage(&portal, &caller, now).await else {
        return refuse(&portal, &caller, &Refusal::Unavailable).await;
    };
    // Only an event the caller could see: another's event is not theirs to mark.
    match store.event(seq).await {
        Ok(Some(r)) if coverage.iter().any(|c| c.covers(&r.event)) => {}
        Ok(_) => return refuse(&portal, &caller, &Refusal::NotHere).await,
        Err(_) => return refuse(&portal, &caller, &Refusal::Unavailable).await,
    }
    match store.mark_read(caller.account.uzi, seq, now).await {
        Ok(()) => see_other("/meldingen"),
        Err(StoreError::NoSuchEvent(_)) => refuse(&portal, &caller, &Refusal::NotHere).await,
        Err(_) => refuse(&portal, &caller, &Refusal::Unavailable).await,
    }
}
