//! The policy's laws restated independently of the engine, for property tests and fuzzing.

use chrono::{DateTime, Utc};
use zvp_auth::directory::AccountStatus;
use zvp_auth::policy::{Basis, Policy, Request, WorldFile};

/// Whether a permit's basis is true of the world, restated from the rules without the
/// engine's code: the account is active and matches the card, and the basis holds at `now`.
pub fn basis_holds(file: &WorldFile, request: &Request, basis: Basis, now: DateTime<Utc>) -> bool {
    let account = file.accounts.iter().find(|a| a.uzi == request.uzi);
    let Some(account) = account else { return false };
    if account.status != AccountStatus::Active {
        return false;
    }
    if request.card_agb.is_some() && request.card_agb != account.agb {
        return false;
    }
    if basis == Basis::Administrator {
        return request.action.is_administrative() && account.admin;
    }
    if request.action.is_administrative()
        || !Policy::default()
            .eligible_roles()
            .contains(&request.card_role)
    {
        return false;
    }
    let Some(patient) = request.action.patient() else {
        // Lists: the account itself is the basis.
        return basis == Basis::Own;
    };
    let gp = file
        .patients
        .iter()
        .find(|p| &p.id == patient)
        .and_then(|p| p.registered_gp_agb);
    match basis {
        Basis::Own => gp.is_some() && gp == account.agb,
        Basis::Practice => gp.is_some() && gp == account.practice_agb,
        Basis::Delegation { grantor, .. } => {
            gp == Some(grantor)
                && file.delegations.iter().any(|d| {
                    d.grantor_agb == grantor
                        && d.grantee_uzi == request.uzi
                        && d.from <= now
                        && d.until.is_none_or(|u| now < u)
                        && d.revoked_at.is_none_or(|r| now < r)
                })
        }
        Basis::Emergency { .. } => file.emergency_grants.iter().any(|g| {
            g.uzi == request.uzi
                && &g.patient == patient
                && g.granted_at <= now
                && now < g.expires_at
        }),
        Basis::Administrator => false,
    }
}
