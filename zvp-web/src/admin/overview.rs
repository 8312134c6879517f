//! The administrators' overview: account requests, accounts with their practice, delegations
//! with the form for a new one, the emergency review queue, and the audit log's status with
//! the report forms.

use axum::extract::State;
use axum::response::Response;
use maud::{Markup, html};
use zvp_auth::directory::{Account, AccountStatus, Delegation, DirectoryStore, EmergencyGrant};
use zvp_auth::policy::Action;

use super::{admin_page, button, permit};
use crate::Portal;
use crate::caller::Caller;
use crate::layout::{csrf_field, dutch_time};
use crate::pages::delegations::period;
use crate::refusal::{Refusal, refusal_page};

/// The overview: requests, accounts, delegations, the review queue, reports.
pub(super) async fn overview(State(portal): State<Portal>, caller: Caller) -> Response {
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
    let delegations = delegations(directory.as_ref(), &accounts).await;
    let audit_status = match portal.0.audit.size().await {
        Ok(n) => format!(
            "{n} vastleggingen, laatst gecontroleerd {}",
            dutch_time(portal.now())
        ),
        Err(_) => "Het auditlog is niet bereikbaar: het portaal toont geen patiëntgegevens tot \
                   dit is opgelost."
            .to_owned(),
    };
    let body = html! {
        h1 { "Beheer" }
        h2 { "Accountaanvragen" }
        (requests(&caller, &accounts))
        h2 { "Accounts" }
        (account_table(&caller, &accounts))
        h2 { "Machtigingen" }
        (delegation_table(&caller, &delegations, &accounts))
        h2 { "Noodprocedures te beoordelen" }
        (review_queue(&caller, &queue, &accounts))
        h2 { "Auditlog" }
        p { (audit_status) }
        p { a href="/beheer/review" { "Controlerapport van de afgelopen maand" } }
        form method="get" action="/beheer/audit" {
            label for="bsn" { "Inzageoverzicht voor een patiënt (BSN)" }
            input type="text" id="bsn" name="bsn" maxlength="9";
            button type="submit" { "Toon" }
        }
        form method="get" action="/beheer/audit" {
            label for="uzi" { "Gebruik door een zorgverlener (UZI-nummer)" }
            input type="text" id="uzi" name="uzi" maxlength="9";
            button type="submit" { "Toon" }
        }
        (crate::pages::notices::outbox_status(&portal).await)
    };
    admin_page(&portal, &caller, "Beheer", body)
}

fn requests(caller: &Caller, accounts: &[Account]) -> Markup {
    let requested: Vec<&Account> = accounts
        .iter()
        .filter(|a| a.status == AccountStatus::Requested)
        .collect();
    html! {
        @if requested.is_empty() {
            p.muted { "Geen openstaande aanvragen." }
        } @else {
            table {
                thead {
                    tr {
                        th { "Naam" } th { "UZI" } th { "AGB" } th { "Praktijk" } th { "Contact" }
                        th { "Beroep" } th { "Aangevraagd" } th {}
                    }
                }
                tbody {
                    @for a in requested {
                        tr {
                            td { (a.name) }
                            td { (a.uzi.to_string()) }
                            td { (a.agb.map(|x| x.to_string()).unwrap_or_default()) }
                            td {
                                (a.contact.practice_name.as_deref().unwrap_or("")) " "
                                (a.practice_agb.map(|x| format!("(AGB {x})")).unwrap_or_default())
                            }
                            td {
                                (a.contact.email.as_deref().unwrap_or("")) br;
                                (a.contact.phone.as_deref().unwrap_or(""))
                            }
                            td { (crate::pages::role_text(a.role)) }
                            td { (dutch_time(a.created_at)) }
                            td {
                                @let account = format!("/beheer/account/{}", a.uzi);
                                (button(caller, &format!("{account}/goedkeuren"), "Goedkeuren"))
                                (button(caller, &format!("{account}/afwijzen"), "Afwijzen"))
                            }
                        }
                    }
                }
            }
        }
    }
}

fn account_table(caller: &Caller, accounts: &[Account]) -> Markup {
    html! {
        table {
            thead {
                tr {
                    th { "Naam" } th { "UZI" } th { "AGB" } th { "Praktijk-AGB" } th { "Status" }
                    th { "Laatst ingelogd" } th {}
                }
            }
            tbody {
                @for a in accounts.iter().filter(|a| a.status != AccountStatus::Requested) {
                    tr {
                        td {
                            (a.name)
                            @if a.admin { " " span.muted { "(beheerder)" } }
                        }
                        td { (a.uzi.to_string()) }
                        td { (a.agb.map(|x| x.to_string()).unwrap_or_default()) }
                        td {
                            @if a.admin {
                                "—"
                            } @else {
                                @let action = format!("/beheer/account/{}/praktijk", a.uzi);
                                form.inline method="post" action=(action) {
                                    (csrf_field(&caller.session.csrf))
                                    input type="text" name="praktijk_agb" maxlength="8" size="8"
                                        aria-label="Praktijk-AGB"
                                        value=(a.practice_agb.map(|x| x.to_string())
                                            .unwrap_or_default());
                                    " "
                                    button type="submit" { "Wijzig" }
                                }
                            }
                        }
                        td { (status_text(a.status)) }
                        td { (a.last_login.map_or_else(|| "nooit".to_owned(), dutch_time)) }
                        td {
                            @match a.status {
                                AccountStatus::Active if a.uzi != caller.account.uzi => {
                                    @let action = format!("/beheer/account/{}/blokkeren", a.uzi);
                                    (button(caller, &action, "Blokkeren"))
                                }
                                AccountStatus::Blocked => {
                                    @let action = format!("/beheer/account/{}/deblokkeren", a.uzi);
                                    (button(caller, &action, "Deblokkeren"))
                                }
                                _ => {}
                            }
                        }
                    }
                }
            }
        }
    }
}

fn status_text(status: AccountStatus) -> &'static str {
    match status {
        AccountStatus::Active => "actief",
        AccountStatus::Blocked => "geblokkeerd",
        AccountStatus::Rejected => "afgewezen",
        AccountStatus::Requested => "aangevraagd",
    }
}

/// Every GP's delegations, with the GP's name.
async fn delegations<'a>(
    directory: &dyn DirectoryStore,
    accounts: &'a [Account],
) -> Vec<(&'a str, Delegation)> {
    let mut all = Vec::new();
    for a in accounts {
        let Some(agb) = a.agb else { continue };
        for d in directory.delegations_from(agb).await.unwrap_or_default() {
            all.push((a.name.as_str(), d));
        }
    }
    all
}

/// A practitioner as the administration names them: the name from the directory beside the
/// UZI number, or the number alone for one without an account.
fn practitioner(accounts: &[Account], uzi: zvp_core::UziNumber) -> String {
    accounts.iter().find(|a| a.uzi == uzi).map_or_else(
        || format!("UZI {uzi}"),
        |a| format!("{} (UZI {uzi})", a.name),
    )
}

fn delegation_table(
    caller: &Caller,
    delegations: &[(&str, Delegation)],
    accounts: &[Account],
) -> Markup {
    html! {
        @if delegations.is_empty() {
            p.muted.empty { "Geen machtigingen." }
        } @else {
        table {
            thead { tr { th { "Van (huisarts)" } th { "Aan (collega)" } th { "Periode" } th { span.sr-only { "Intrekken" } } } }
            tbody {
                @for (name, d) in delegations {
                    tr {
                        td { (name) " (AGB " (d.grantor.to_string()) ")" }
                        td { (practitioner(accounts, d.grantee)) }
                        td { (period(d)) }
                        td {
                            @if d.revoked_at.is_some() {
                                "ingetrokken"
                            } @else {
                                @let action = format!("/beheer/machtiging/{}/intrekken", d.id.0);
                                (button(caller, &action, "Intrekken"))
                            }
                        }
                    }
                }
            }
        }
        }
        form method="post" action="/beheer/machtiging" {
            (csrf_field(&caller.session.csrf))
            fieldset {
                legend { "Nieuwe machtiging (op verzoek van de huisarts)" }
                label for="van" { "AGB-code van de huisarts" }
                input type="text" id="van" name="van" required maxlength="8";
                label for="aan" { "UZI-nummer van de collega" }
                input type="text" id="aan" name="aan" required maxlength="9";
                label for="vanaf" { "Vanaf" }
                input type="date" id="vanaf" name="vanaf" required;
                label for="tot" { "Tot (leeg: onbepaald)" }
                input type="date" id="tot" name="tot";
                br;
                button type="submit" { "Machtiging vastleggen" }
            }
        }
    }
}

fn review_queue(caller: &Caller, queue: &[EmergencyGrant], accounts: &[Account]) -> Markup {
    html! {
        @if queue.is_empty() {
            p.muted { "Niets te beoordelen." }
        } @else {
            table {
                thead {
                    tr {
                        th { "Wanneer" }
                        th { "Zorgverlener" }
                        th { "Patiënt" }
                        th { "Reden" }
                        th { "Oordeel" }
                    }
                }
                tbody {
                    @for g in queue {
                        tr {
                            td { (dutch_time(g.granted_at)) }
                            td { (practitioner(accounts, g.practitioner)) }
                            td { (g.patient.as_str()) }
                            td {
                                (crate::pages::start::reason_text(g.reason_category)) ": " (g.reason)
                            }
                            td {
                                @for (code, label) in [
                                    ("justified", "Terecht"),
                                    ("not-justified", "Onterecht"),
                                    ("needs-follow-up", "Navragen"),
                                ] {
                                    @let action =
                                        format!("/beheer/noodprocedure/{}?oordeel={code}", g.id.0);
                                    (button(caller, &action, label))
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
