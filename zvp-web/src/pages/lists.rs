//! The caller's patient lists: whose patients they may list now, and the permit of each list.
//! The start page and the notifications page list the same patients, so they ask the same way.

use axum::response::Response;
use zvp_auth::policy::{Action, Decision, DenyReason, ListScope, Permit};

use super::policy_request;
use crate::Portal;
use crate::caller::Caller;
use crate::layout::see_other;
use crate::refusal::{Refusal, deny_refusal, refuse};

/// What the caller may list now.
pub(crate) struct Lists {
    /// Whose patients: the caller's own, their practice's, and those of GPs who delegated to
    /// them, each with its basis.
    pub(crate) scope: Vec<ListScope>,
    /// The permit of the admitted list; its records name that list.
    pub(crate) admitted: Permit,
    /// The permit of the recently discharged list.
    pub(crate) discharged: Permit,
}

/// The caller's lists, or the page that refuses them (an administrator without a clinical
/// role is sent to the administration).
pub(crate) async fn lists(portal: &Portal, caller: &Caller) -> Result<Lists, Response> {
    let now = portal.now();
    let Ok(world) = caller.world(portal, None).await else {
        return Err(refuse(portal, caller, &Refusal::Unavailable).await);
    };
    let identity = &caller.identity;
    let scope = match portal.0.policy.list_scope(
        &world,
        identity.uzi_number(),
        identity.agb(),
        identity.role(),
        now,
    ) {
        Ok(scope) => scope,
        Err(DenyReason::RoleNotEligible) if caller.account.admin => {
            return Err(see_other("/beheer"));
        }
        Err(reason) => return Err(refuse(portal, caller, &deny_refusal(reason)).await),
    };
    // One permit per list: each list's records name the list its permit is for.
    let permit =
        |action: Action| match portal
            .0
            .policy
            .decide(&world, &policy_request(caller, action), now)
        {
            Decision::Permit(permit) => Some(permit),
            Decision::Deny(_) | Decision::RequiresEmergencyProcedure => None,
        };
    match (permit(Action::ListAdmitted), permit(Action::ListDischarged)) {
        (Some(admitted), Some(discharged)) => Ok(Lists {
            scope,
            admitted,
            discharged,
        }),
        _ => Err(refuse(portal, caller, &Refusal::NotHere).await),
    }
}
