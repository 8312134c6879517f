//! The administrators' changes: account requests approved or rejected, accounts blocked and
//! unblocked, an account's practice, delegations added and revoked, and the verdicts on
//! emergency procedures. Each is authorized by the policy and recorded before it is made.

use axum::extract::{Form, Path, Query, State};
use axum::response::Response;
use chrono::NaiveDate;
use serde::Deserialize;
use zvp_audit::event::{ActionCode, EventType, Subtype};
use zvp_auth::directory::{AccountStatus, DelegationId, GrantId, NewDelegation, ReviewVerdict};
use zvp_auth::policy::Action;
use zvp_core::{AgbCode, UziNumber};

use super::{CsrfForm, authorize, form_error, log_change};
use crate::Portal;
use crate::caller::Caller;
use crate::layout::see_other;
use crate::ops::not_found;
use crate::refusal::{Refusal, refusal_page};

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
    if let Err(page) = log_change(
        &portal,
        &caller,
        &permit,
        EventType::SecurityRolesChanged,
        ActionCode::U,
        Subtype::Regular,
    )
    .await
    {
        return page;
    }
    let result = match (action.as_str(), portal.0.directory.account(uzi).await) {
        ("deblokkeren", Ok(Some(mut account))) => {
            // Unblocking counts as a fresh start for the dormant-account rule.
            account.status = AccountStatus::Active;
            account.last_login = Some(portal.now());
            portal.0.directory.update_account(&account).await
        }
        (_, Ok(Some(_))) => portal.0.directory.set_status(uzi, status).await,
        _ => return not_found().await,
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
    if let Err(page) = log_change(
        &portal,
        &caller,
        &permit,
        EventType::SecurityRolesChanged,
        ActionCode::U,
        Subtype::Regular,
    )
    .await
    {
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
    if let Err(page) = log_change(
        &portal,
        &caller,
        &permit,
        EventType::SecurityRolesChanged,
        ActionCode::C,
        Subtype::Regular,
    )
    .await
    {
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
    if let Err(page) = log_change(
        &portal,
        &caller,
        &permit,
        EventType::SecurityRolesChanged,
        ActionCode::U,
        Subtype::Regular,
    )
    .await
    {
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
    if let Err(page) = log_change(
        &portal,
        &caller,
        &permit,
        EventType::AuditLogUsed,
        ActionCode::U,
        Subtype::LogAccess,
    )
    .await
    {
        return page;
    }
    match portal.0.directory.review_grant(GrantId(id), verdict).await {
        Ok(()) => see_other("/beheer"),
        Err(_) => not_found().await,
    }
}
