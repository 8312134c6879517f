//! The start page: the caller's admitted and recently discharged patients, of their own,
//! their practice and the GPs who delegated to them, and notices of the emergency procedure
//! at their own patients.

use axum::extract::{Query, State};
use axum::response::Response;
use chrono::Duration;
use maud::{Markup, html};
use serde::Deserialize;
use std::collections::HashSet;
use zvp_auth::directory::ReasonCategory;
use zvp_auth::policy::{Basis, ListScope, Permit};

use zvp_core::{AgbCode, PatientId};
use zvp_epd::ListedPatient;

use super::lists::{Lists, lists};
use super::{caller_page, ctx, gp_names, patient_list};
use crate::Portal;
use crate::caller::Caller;
use crate::disclosure::Disclosure;
use crate::layout::{dutch_time, path_segment};
use crate::refusal::{epd_failed, refuse};

/// Query of the start page.
#[derive(Debug, Deserialize)]
pub(crate) struct StartQuery {
    /// `eigen`, `praktijk`, `gemachtigd` or absent (all).
    #[serde(default)]
    filter: Option<String>,
    /// A name search over the lists (`naam=boer`).
    #[serde(default)]
    naam: Option<String>,
}

/// The filters of the start page: their query value (none: all) and label.
const FILTERS: [(Option<&str>, &str); 4] = [
    (None, "alle"),
    (Some("eigen"), "eigen patiënten"),
    (Some("praktijk"), "praktijk"),
    (Some("gemachtigd"), "gemachtigd"),
];

/// The start page: admitted and recently discharged patients of the caller, their
/// practice and the GPs who delegated to them, each marked with whose patient it is.
pub(crate) async fn start(
    State(portal): State<Portal>,
    caller: Caller,
    Query(query): Query<StartQuery>,
) -> Response {
    let now = portal.now();
    let Lists {
        scope,
        admitted: admitted_permit,
        discharged: discharged_permit,
    } = match lists(&portal, &caller).await {
        Ok(lists) => lists,
        Err(page) => return page,
    };
    let scope: Vec<ListScope> = scope
        .into_iter()
        .filter(|s| match query.filter.as_deref() {
            Some("eigen") => s.basis == Basis::Own,
            Some("praktijk") => s.basis == Basis::Practice,
            Some("gemachtigd") => matches!(s.basis, Basis::Delegation { .. }),
            _ => true,
        })
        .collect();
    let agbs: Vec<AgbCode> = scope.iter().map(|s| s.agb).collect();
    let since = now - Duration::days(i64::from(portal.settings().discharged_days));
    let ctx = ctx(&caller);
    let (admitted, discharged) = match tokio::try_join!(
        portal.0.epd.admitted(&agbs, &ctx),
        portal.0.epd.discharged_since(&agbs, since, &ctx)
    ) {
        Ok(lists) => lists,
        Err(e) => return refuse(&portal, &caller, &epd_failed(&caller.request_id, &e)).await,
    };
    let basis_of = |l: &ListedPatient| {
        ListScope::basis_for(
            &scope,
            l.patient.registered_gp.as_ref().map(|g| g.agb),
            l.patient.sharing_objection.is_some(),
        )
    };
    let term = patient_list::search_term(query.naam.as_deref());
    let mut admitted = shown(&admitted, &basis_of, term.as_deref());
    let mut discharged = shown(&discharged, &basis_of, term.as_deref());
    patient_list::sort_newest_first(&mut admitted);
    patient_list::sort_newest_first(&mut discharged);
    // Audit before disclosure: one record per patient shown, all written before the page.
    let disclosures = disclosures(&admitted, &admitted_permit)
        .chain(disclosures(&discharged, &discharged_permit))
        .collect();
    if let Err(r) = portal.disclose_all(&caller, disclosures).await {
        return refuse(&portal, &caller, &r).await;
    }
    let letters = discharge_letters(&portal, &caller, &discharged).await;
    let names = gp_names(&portal).await;
    let notices = emergency_notices(&portal, &caller).await;
    let filter = FILTERS
        .iter()
        .find(|(value, _)| *value == query.filter.as_deref())
        .copied()
        .unwrap_or(FILTERS[0]);
    let days = portal.settings().discharged_days;
    let delegated = patient_list::delegated(&admitted) + patient_list::delegated(&discharged);
    let news_since = caller.account.previous_login;
    let fresh = admitted
        .iter()
        .chain(&discharged)
        .filter(|(l, _)| patient_list::is_new(l, news_since))
        .count();
    let none = if term.is_some() {
        "Geen patiënten met deze naam."
    } else {
        "Geen patiënten."
    };
    let body = html! {
        h1 { "Mijn patiënten" }
        (notices)
        nav.filters aria-label="Welke patiënten" {
            "Toon: "
            @for (value, label) in FILTERS {
                @let href = match value { Some(v) => format!("/?filter={v}"), None => "/".to_owned() };
                @if value == filter.0 {
                    a href=(href) aria-current="page" { strong { (label) } }
                } @else {
                    a href=(href) { (label) }
                }
                " "
            }
        }
        form.name-search method="get" action="/" role="search" {
            @if let Some(v) = filter.0 { input type="hidden" name="filter" value=(v); }
            label for="naam" { "Zoek in deze lijst op naam" }
            input #naam type="search" name="naam" maxlength=(patient_list::MAX_SEARCH)
                value=(term.as_deref().unwrap_or(""));
            " " button type="submit" { "Zoeken" }
        }
        p.active-filter {
            "Getoond: " strong { (filter.1) }
            @if let Some(t) = &term { ", naam bevat “" strong { (t) } "” (" a href=(filter.0.map_or_else(|| "/".to_owned(), |v| format!("/?filter={v}"))) { "wis zoekterm" } ")" }
            ". " (admitted.len()) " opgenomen, " (discharged.len()) " ontslagen"
            @if delegated > 0 { ", waarvan " (delegated) " via een machtiging" }
            "."
        }
        @if let Some(since) = news_since {
            p.since {
                @if fresh == 0 {
                    "Niemand opgenomen of ontslagen sinds uw vorige bezoek op " (dutch_time(since)) "."
                } @else {
                    (fresh) " nieuw sinds uw vorige bezoek op " (dutch_time(since))
                    ": opgenomen of ontslagen daarna, gemarkeerd met “nieuw”."
                }
            }
        }
        h2 { "Opgenomen (" (admitted.len()) ")" }
        (patient_list::table(&admitted, &names, None, news_since, none))
        h2 { "Ontslagen in de afgelopen " (days) " dagen (" (discharged.len()) ")" }
        (patient_list::table(&discharged, &names, Some(&letters), news_since, none))
        p.muted { "Gegevens van " (dutch_time(now)) ", direct uit het EPD van het ziekenhuis." }
    };
    caller_page(&portal, &caller, "Mijn patiënten", body)
}

/// The discharged patients whose discharge letter of that admission is in the EPD, asked
/// for all rows at once. A patient whose letters cannot be read now is not marked: the mark
/// says a letter is there, its absence promises nothing.
async fn discharge_letters(
    portal: &Portal,
    caller: &Caller,
    rows: &[(&ListedPatient, Basis)],
) -> HashSet<PatientId> {
    let ctx = ctx(caller);
    let epd = &portal.0.epd;
    let asks = rows.iter().map(|(l, _)| {
        let ctx = &ctx;
        async move {
            let letters = epd.letters(&l.patient.id, ctx).await.unwrap_or_default();
            let admitted_at = l.admission.admitted_at();
            letters
                .iter()
                .any(|letter| letter.concludes(admitted_at))
                .then(|| l.patient.id.clone())
        }
    });
    futures_util::future::join_all(asks)
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// The patients of a list the caller may see, each with its basis, kept to those whose name
/// matches `term`: a patient the search leaves out is not shown, and so not recorded.
fn shown<'a>(
    list: &'a [ListedPatient],
    basis_of: &dyn Fn(&ListedPatient) -> Option<Basis>,
    term: Option<&str>,
) -> Vec<(&'a ListedPatient, Basis)> {
    list.iter()
        .filter(|l| term.is_none_or(|t| patient_list::name_matches(l, t)))
        .filter_map(|l| Some((l, basis_of(l)?)))
        .collect()
}

/// The disclosures of a list: one per patient shown, under the list's permit.
fn disclosures<'a>(
    shown: &'a [(&'a ListedPatient, Basis)],
    permit: &'a Permit,
) -> impl Iterator<Item = Disclosure<'a>> {
    shown.iter().map(move |(l, basis)| Disclosure {
        permit,
        basis: *basis,
        patient: &l.patient.id,
        bsn: l.patient.bsn,
        item: None,
        reason: None,
    })
}

/// The most recent emergency grants looked at for notices on a start page.
const MAX_NOTICES: usize = 50;

/// Notices to the patient's own GP that a colleague used the emergency procedure: who,
/// when, the coded reason — never the free-text reason or any medical content. The link
/// opens the patient through the policy like any other.
async fn emergency_notices(portal: &Portal, caller: &Caller) -> Markup {
    let Some(own) = caller.account.agb else {
        return Markup::default();
    };
    let since = portal.now() - Duration::days(i64::from(portal.settings().discharged_days));
    let Ok(mut grants) = portal.0.directory.grants_since(since).await else {
        return Markup::default();
    };
    grants.retain(|g| g.practitioner != caller.account.uzi);
    grants.reverse();
    grants.truncate(MAX_NOTICES);
    let ctx = ctx(caller);
    let mut shown = Vec::new();
    for grant in grants {
        let Ok(patient) = portal.0.epd.patient(&grant.patient, &ctx).await else {
            continue;
        };
        if patient.registered_gp.as_ref().map(|g| g.agb) == Some(own) {
            shown.push(grant);
        }
    }
    if shown.is_empty() {
        return Markup::default();
    }
    let accounts = portal.0.directory.accounts().await.unwrap_or_default();
    let who = |g: &zvp_auth::directory::EmergencyGrant| {
        accounts
            .iter()
            .find(|a| a.uzi == g.practitioner)
            .map_or_else(
                || format!("UZI {}", g.practitioner),
                |a| format!("{} (UZI {})", a.name, a.uzi),
            )
    };
    html! {
        section.emergency aria-label="Meldingen" {
            h2 { "Noodprocedure bij uw patiënten" }
            ul {
                @for g in &shown {
                    li {
                        (dutch_time(g.granted_at)) ": " (who(g))
                        " opende via de noodprocedure het dossier van "
                        a href={ "/patient/" (path_segment(g.patient.as_str())) } {
                            "een van uw patiënten"
                        }
                        " (reden: " (reason_text(g.reason_category)) ")."
                    }
                }
            }
        }
    }
}

/// An emergency reason's category, in words.
pub(crate) fn reason_text(category: ReasonCategory) -> &'static str {
    match category {
        ReasonCategory::AcuteCare => "acute zorg",
        ReasonCategory::OutOfHours => "huisartsenpost",
        ReasonCategory::ContinuityOfCare => "continuïteit van zorg",
        ReasonCategory::Other => "anders",
    }
}
