//! My delegations: whose patients I may see, and who may see mine (administrators record
//! them; the practitioner reads them here).

use std::collections::HashMap;

use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use zvp_auth::directory::{Account, Delegation};
use zvp_core::{AgbCode, UziNumber};

use super::caller_page;
use crate::Portal;
use crate::caller::Caller;
use crate::layout::dutch_date;
use crate::refusal::{Refusal, refuse};

/// My delegations: whose patients I may see, and who may see mine.
pub(crate) async fn delegations(State(portal): State<Portal>, caller: Caller) -> Response {
    let now = portal.now();
    let directory = &portal.0.directory;
    let Ok(to_me) = caller.delegations(&portal).await else {
        return refuse(&portal, &caller, &Refusal::Unavailable).await;
    };
    let from_me = match caller.account.agb {
        Some(agb) => match directory.delegations_from(agb).await {
            Ok(d) => d,
            Err(_) => return refuse(&portal, &caller, &Refusal::Unavailable).await,
        },
        None => Vec::new(),
    };
    let accounts = directory.accounts().await.unwrap_or_default();
    let by_agb: HashMap<AgbCode, &Account> =
        accounts.iter().filter_map(|a| Some((a.agb?, a))).collect();
    let by_uzi: HashMap<UziNumber, &Account> = accounts.iter().map(|a| (a.uzi, a)).collect();
    let to_me: Vec<(String, &Delegation)> = to_me
        .iter()
        .map(|d| {
            let name = by_agb.get(&d.grantor).map_or("", |a| a.name.as_str());
            (format!("{name} (AGB {})", d.grantor), d)
        })
        .collect();
    let from_me: Vec<(String, &Delegation)> = from_me
        .iter()
        .map(|d| {
            let name = by_uzi.get(&d.grantee).map_or("", |a| a.name.as_str());
            (format!("{name} (UZI {})", d.grantee), d)
        })
        .collect();
    let settings = portal.settings();
    let body = html! {
        h1 { "Machtigingen" }
        h2 { "Patiënten van collega's die ik mag inzien" }
        (table("Huisarts", &to_me, now))
        h2 { "Collega's die mijn patiënten mogen inzien" }
        (table("Collega", &from_me, now))
        p.notice {
            "Een machtiging aanvragen, verlengen of intrekken? Neem contact op met "
            (settings.contact_name) " (" (settings.contact_email) ")."
        }
    };
    caller_page(&portal, &caller, "Machtigingen", body)
}

fn table(column: &str, rows: &[(String, &Delegation)], now: DateTime<Utc>) -> Markup {
    if rows.is_empty() {
        return html! { p.muted.empty { "Geen machtigingen." } };
    }
    html! {
        table {
            thead { tr { th { (column) } th { "Periode" } th { "Status" } } }
            tbody {
                @for (who, d) in rows {
                    tr { td { (who) } td { (period(d)) } td { (state(d, now)) } }
                }
            }
        }
    }
}

/// A delegation's period, in words.
pub(crate) fn period(d: &Delegation) -> String {
    format!(
        "{} – {}",
        dutch_date(d.from.date_naive()),
        d.until
            .map_or_else(|| "onbepaald".to_owned(), |u| dutch_date(u.date_naive()))
    )
}

fn state(d: &Delegation, now: DateTime<Utc>) -> &'static str {
    if d.revoked_at.is_some_and(|r| r <= now) {
        "ingetrokken"
    } else if d.in_force(now) {
        "actief"
    } else if d.from > now {
        "toekomstig"
    } else {
        "verlopen"
    }
}
