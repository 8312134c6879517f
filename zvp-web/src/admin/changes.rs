//! The administrators' changes: account requests approved or rejected, accounts blocked and
//! unblocked, an account's practice, delegations added and revoked, and the verdicts on
//! emergency procedures. Each is authorized by the policy and recorded before it is made.

use axum::extract::{Form, Path, Query, State};
use axum::response::Response;
use chrono::NaiveDate;
use serde::Deserialize;
use zvp_audit::event::{ActionCode, Change, EventType, Subtype, Target};
use zvp_audit::report::REVIEW_PREFIX;
use zvp_auth::directory::{AccountStatus, DelegationId, GrantId, NewDelegation, ReviewVerdict};
use zvp_auth::policy::Action;
use zvp_core::{AgbCode, UziNumber};

use super::{CsrfForm, authorize, form_error, log_admin};
use crate::Portal;
use crate::caller::Caller;
use crate::layout::see_other;
use crate::ops::not_found;
use crate::refusal::{Refusal, refusal_page};
use crate::trail::AdminDetail;

/// The kind of record of a change to an account or delegation.
const CHANGED_U: (EventType, ActionCode, Subtype) = (
    EventType::SecurityRolesChanged,
    ActionCode::U,
    Subtype::Regular,
);

/// A change no form asks a reason for.
fn changed(change: Change) -> AdminDetail {
    AdminDetail::Change {
        change,
        reason: None,
    }
}

/// An account status as the record names it (the directory's own word for it).
fn status_code(status: AccountStatus) -> &'static str {
    match status {
        AccountStatus::Requested => "requested",
        AccountStatus::Active => "active",
        AccountStatus::Blocked => "blocked",
        AccountStatus::Rejected => "rejected",
    }
}

/// Approves, rejects, blocks or unblocks an account.
pub(super) async fn account_action(
    State(portal): State<Portal>,
    caller: Caller,
    Path((uzi, action)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let (policy_action, status) = match action.as_str() {
        "goedkeuren" => (Action::ApproveAccount, AccountStatus::Active),
        "afwijzen" => (Action::RejectAccount, AccountStatus::Rejected),
        "blokkeren" => (Action::BlockAccount, AccountStatus::Blocked),
        "deblokkeren" => (Action::BlockAccount, AccountStatus::Active),
        _ => return not_found().await,
    };
    let permit = match authorize(&portal, &caller, &form.csrf, policy_action).await {
        Ok(p) => p,
        Err(page) => return page,
    };
    let Ok(uzi) = uzi.parse::<UziNumber>() else {
        return not_found().await;
    };
    let account = match portal.0.directory.account(uzi).await {
        Ok(Some(account)) => account,
        Ok(None) => return not_found().await,
        Err(_) => return refusal_page(&portal, &Refusal::Unavailable, &caller.request_id),
    };
    let change = Change {
        target: Target::Account { uzi },
        field: "status".to_owned(),
        old: Some(status_code(account.status).to_owned()),
        new: Some(status_code(status).to_owned()),
    };
    if let Err(page) = log_admin(&portal, &caller, &permit, CHANGED_U, changed(change)).await {
        return page;
    }
    let result = if action == "deblokkeren" {
        // Unblocking counts as a fresh start for the dormant-account rule.
        let mut account = account;
        account.status = AccountStatus::Active;
        account.last_login = Some(portal.now());
        portal.0.directory.update_account(&account).await
    } else {
        portal.0.directory.set_status(uzi, status).await
    };
    match result {
        Ok(()) => see_other("/beheer"),
        Err(_) => refusal_page(&portal, &Refusal::Unavailable, &caller.request_id),
    }
}

/// The practice form's field.
#[derive(Debug, Deserialize)]
pub(super) struct PracticeForm {
    csrf: String,
    #[serde(default)]
    praktijk_agb: String,
}

/// Changes an account's practice: its patients then count as the practice's.
pub(super) async fn change_practice(
    State(portal): State<Portal>,
    caller: Caller,
    Path(uzi): Path<String>,
    Form(form): Form<PracticeForm>,
) -> Response {
    let permit = match authorize(&portal, &caller, &form.csrf, Action::ApproveAccount).await {
        Ok(p) => p,
        Err(page) => return page,
    };
    let Ok(uzi) = uzi.parse::<UziNumber>() else {
        return not_found().await;
    };
    let practice = form.praktijk_agb.trim();
    let practice_agb = if practice.is_empty() {
        None
    } else {
        match practice.parse::<AgbCode>() {
            Ok(agb) => Some(agb),
            Err(_) => {
                return form_error(&portal, &caller, "Een praktijk-AGB-code heeft 8 cijfers.");
            }
        }
    };
    let Ok(Some(mut account)) = portal.0.directory.account(uzi).await else {
        return not_found().await;
    };
    let change = Change {
        target: Target::Account { uzi },
        field: "practice_agb".to_owned(),
        old: account.practice_agb.map(|a| a.to_string()),
        new: practice_agb.map(|a| a.to_string()),
    };
    if let Err(page) = log_admin(&portal, &caller, &permit, CHANGED_U, changed(change)).await {
        return page;
    }
    account.practice_agb = practice_agb;
    match portal.0.directory.update_account(&account).await {
        Ok(()) => see_other("/beheer"),
        Err(_) => refusal_page(&portal, &Refusal::Unavailable, &caller.request_id),
    }
}

/// The delegation form's fields.
#[derive(Debug, Deserialize)]
pub(super) struct DelegationForm {
    csrf: String,
    van: String,
    aan: String,
    vanaf: String,
    #[serde(default)]
    tot: String,
}

/// Records a delegation a GP asked for.
pub(super) async fn add_delegation(
    State(portal): State<Portal>,
    caller: Caller,
    Form(form): Form<DelegationForm>,
) -> Response {
    let permit = match authorize(&portal, &caller, &form.csrf, Action::ManageDelegations).await {
        Ok(p) => p,
        Err(page) => return page,
    };
    let date = |s: &str| {
        NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|d| d.and_utc())
    };
    let (Ok(grantor), Ok(grantee), Some(from)) = (
        form.van.trim().parse::<AgbCode>(),
        form.aan.trim().parse::<UziNumber>(),
        date(&form.vanaf),
    ) else {
        return form_error(
            &portal,
            &caller,
            "Vul een geldige AGB-code (8 cijfers), een geldig UZI-nummer (9 cijfers) en een \
             begindatum in.",
        );
    };
    let until = if form.tot.trim().is_empty() {
        None
    } else {
        match date(&form.tot) {
            Some(d) => Some(d),
            None => return form_error(&portal, &caller, "De einddatum is geen datum."),
        }
    };
    let delegation =
        match NewDelegation::new(grantor, grantee, from, until, Some(caller.account.uzi)) {
            Ok(d) => d,
            Err(e) => {
                return form_error(&portal, &caller, &format!("Deze machtiging kan niet: {e}."));
            }
        };
    // Recorded before it is made, so without the id the directory will give it.
    let change = Change {
        target: Target::Delegation {
            id: None,
            grantor: Some(grantor),
            grantee: Some(grantee),
        },
        field: "delegation".to_owned(),
        old: None,
        new: Some(format!(
            "{} - {}",
            from.format("%Y-%m-%d"),
            until.map_or_else(|| "open".to_owned(), |u| u.format("%Y-%m-%d").to_string())
        )),
    };
    let kind = (
        EventType::SecurityRolesChanged,
        ActionCode::C,
        Subtype::Regular,
    );
    if let Err(page) = log_admin(&portal, &caller, &permit, kind, changed(change)).await {
        return page;
    }
    match portal.0.directory.add_delegation(delegation).await {
        Ok(_) => see_other("/beheer"),
        Err(_) => refusal_page(&portal, &Refusal::Unavailable, &caller.request_id),
    }
}

/// Revokes a delegation from now on.
pub(super) async fn revoke_delegation(
    State(portal): State<Portal>,
    caller: Caller,
    Path(id): Path<u64>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let permit = match authorize(&portal, &caller, &form.csrf, Action::ManageDelegations).await {
        Ok(p) => p,
        Err(page) => return page,
    };
    // The directory finds a delegation by grantor or grantee, not by id: the record names
    // the id, which the delegation table and the directory show with both.
    let change = Change {
        target: Target::Delegation {
            id: Some(id),
            grantor: None,
            grantee: None,
        },
        field: "revoked_at".to_owned(),
        old: None,
        new: Some(
            portal
                .now()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        ),
    };
    if let Err(page) = log_admin(&portal, &caller, &permit, CHANGED_U, changed(change)).await {
        return page;
    }
    match portal
        .0
        .directory
        .revoke_delegation(DelegationId(id), portal.now())
        .await
    {
        Ok(()) => see_other("/beheer"),
        Err(_) => not_found().await,
    }
}

/// The verdict in the review form's URL.
#[derive(Debug, Deserialize)]
pub(super) struct VerdictQuery {
    oordeel: String,
}

/// The verdict on an emergency procedure.
pub(super) async fn review(
    State(portal): State<Portal>,
    caller: Caller,
    Path(id): Path<u64>,
    Query(query): Query<VerdictQuery>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let permit = match authorize(&portal, &caller, &form.csrf, Action::ReviewEmergency).await {
        Ok(p) => p,
        Err(page) => return page,
    };
    let verdict = match query.oordeel.as_str() {
        "justified" => ReviewVerdict::Justified,
        "not-justified" => ReviewVerdict::NotJustified,
        "needs-follow-up" => ReviewVerdict::NeedsFollowUp,
        _ => return not_found().await,
    };
    let detail = AdminDetail::Change {
        change: Change {
            target: Target::EmergencyGrant { grant: id },
            field: "review".to_owned(),
            old: None,
            new: Some(query.oordeel.clone()),
        },
        reason: Some(format!("{REVIEW_PREFIX}{}", query.oordeel)),
    };
    let kind = (EventType::AuditLogUsed, ActionCode::U, Subtype::LogAccess);
    if let Err(page) = log_admin(&portal, &caller, &permit, kind, detail).await {
        return page;
    }
    match portal.0.directory.review_grant(GrantId(id), verdict).await {
        Ok(()) => see_other("/beheer"),
        Err(_) => not_found().await,
    }
}
