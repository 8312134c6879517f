//! The laws of the policy engine over random worlds (see `zvp_policy_oracle::worlds`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

use proptest::prelude::*;
use zvp_auth::directory::AccountStatus;
use zvp_auth::policy::{Action, Basis, Decision, ListScope, Policy, Request, World};
use zvp_core::RecordSection;
use zvp_policy_oracle::laws::basis_holds;
use zvp_policy_oracle::worlds::{now, world_and_requests};

fn decide(world: &World, request: &Request) -> Decision {
    Policy::default().decide(world, request, now())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn no_permit_without_a_basis_that_holds((file, requests) in world_and_requests(20)) {
        let world = file.to_world().unwrap();
        for request in &requests {
            if let Decision::Permit(permit) = decide(&world, request) {
                prop_assert!(basis_holds(&file, request, permit.basis(), now()), "{request:?} {:?}", permit.basis());
                prop_assert_eq!(permit.uzi(), request.uzi);
                prop_assert_eq!(permit.action(), &request.action);
            }
        }
    }

    #[test]
    fn inactive_or_ineligible_accounts_never_get_a_permit((file, requests) in world_and_requests(20)) {
        let world = file.to_world().unwrap();
        for request in &requests {
            let account = file.accounts.iter().find(|a| a.uzi == request.uzi);
            let inactive = account.is_none_or(|a| a.status != AccountStatus::Active);
            let ineligible = !request.action.is_administrative()
                && !Policy::default().eligible_roles().contains(&request.card_role);
            if inactive || ineligible {
                prop_assert!(!matches!(decide(&world, request), Decision::Permit(_)), "{request:?}");
            }
        }
    }

    #[test]
    fn delegations_and_grants_not_in_force_change_nothing((mut file, requests) in world_and_requests(20)) {
        // Fix the ids, which default to positions, before removing entries.
        for (id, d) in (0u64..).zip(&mut file.delegations) {
            d.id = Some(id);
        }
        for (id, g) in (0u64..).zip(&mut file.emergency_grants) {
            g.id = Some(id);
        }
        let world = file.to_world().unwrap();
        let mut pruned = file.clone();
        pruned.delegations.retain(|d| {
            d.from <= now() && d.until.is_none_or(|u| now() < u) && d.revoked_at.is_none_or(|r| now() < r)
        });
        pruned.emergency_grants.retain(|g| g.granted_at <= now() && now() < g.expires_at);
        let pruned_world = pruned.to_world().unwrap();
        for request in &requests {
            prop_assert_eq!(decide(&world, request).to_json(), decide(&pruned_world, request).to_json());
        }
    }

    #[test]
    fn emergency_grants_are_per_patient((file, requests) in world_and_requests(20)) {
        let world = file.to_world().unwrap();
        for request in &requests {
            if let Decision::Permit(permit) = decide(&world, request)
                && let Basis::Emergency { .. } = permit.basis()
            {
                let patient = request.action.patient().unwrap();
                prop_assert!(file.emergency_grants.iter().any(|g| &g.patient == patient && g.uzi == request.uzi));
            }
        }
    }

    #[test]
    fn adding_a_delegation_never_removes_a_permit_and_removing_one_never_adds_one(
        (file, requests) in world_and_requests(20),
        index in any::<prop::sample::Index>(),
    ) {
        prop_assume!(!file.delegations.is_empty());
        let mut fewer = file.clone();
        fewer.delegations.remove(index.index(file.delegations.len()));
        let (more, less) = (file.to_world().unwrap(), fewer.to_world().unwrap());
        for request in &requests {
            let with = matches!(decide(&more, request), Decision::Permit(_));
            let without = matches!(decide(&less, request), Decision::Permit(_));
            prop_assert!(with || !without, "removing a delegation added a permit: {request:?}");
        }
    }

    #[test]
    fn decisions_are_deterministic_and_independent_of_order((file, requests) in world_and_requests(20)) {
        let world = file.to_world().unwrap();
        let mut reversed = file.clone();
        reversed.delegations.reverse();
        reversed.emergency_grants.reverse();
        reversed.accounts.reverse();
        reversed.patients.reverse();
        let reversed = reversed.to_world().unwrap();
        for request in &requests {
            let first = decide(&world, request);
            prop_assert_eq!(&first, &decide(&world, request));
            let other = decide(&reversed, request);
            // Ids may differ where several delegations or grants hold; the decision may not.
            prop_assert_eq!(first.code(), other.code());
            if let (Decision::Permit(a), Decision::Permit(b)) = (&first, &other) {
                prop_assert_eq!(a.basis().code(), b.basis().code());
            }
        }
    }

    /// The login (`admit`) refuses with the reason `decide` gives: a non-administrator what
    /// the lists refuse (rules 1, 2, 4), an administrator what reading the audit log refuses
    /// (rules 1, 2; rule 3 holds for them). So the Cedar differential, which checks `decide`,
    /// covers the login too.
    #[test]
    fn the_login_refuses_what_the_decisions_refuse((file, requests) in world_and_requests(20)) {
        let world = file.to_world().unwrap();
        for request in &requests {
            let admitted = Policy::default()
                .admit(&world, request.uzi, request.card_agb, request.card_role)
                .map(|account| account.admin);
            let admin = world.account(request.uzi).is_some_and(|a| a.admin);
            let action = if admin { Action::ReadAudit } else { Action::ListAdmitted };
            let decided = decide(&world, &Request { action, ..request.clone() });
            match (admitted, decided) {
                (Ok(_), Decision::Permit(_)) => {}
                (Err(a), Decision::Deny(d)) => prop_assert_eq!(a, d, "{:?}", request),
                (a, d) => prop_assert!(false, "admit {:?}, decide {:?}: {:?}", a, d, request),
            }
        }
    }

    /// The sections of one patient's record are decided alike: a view of any other section
    /// gets the same decision, and its permit names the section asked for.
    #[test]
    fn every_section_of_a_record_gets_the_same_decision((file, requests) in world_and_requests(10)) {
        let world = file.to_world().unwrap();
        for request in &requests {
            let Some(patient) = request.action.patient() else { continue };
            let decisions: Vec<Decision> = RecordSection::PATIENT_RECORD
                .into_iter()
                .map(|section| {
                    let view = Request {
                        action: Action::view_patient(patient.clone(), section).unwrap(),
                        ..request.clone()
                    };
                    decide(&world, &view)
                })
                .collect();
            for (section, decision) in RecordSection::PATIENT_RECORD.into_iter().zip(&decisions) {
                prop_assert_eq!(decision.to_json(), decisions[0].to_json(), "{} {:?}", section, request);
                if let Decision::Permit(permit) = decision {
                    prop_assert_eq!(permit.section(), Some(section));
                }
            }
        }
    }

    #[test]
    fn a_patient_is_listed_iff_viewing_details_is_permitted_without_emergency(
        (file, requests) in world_and_requests(10)
    ) {
        let world = file.to_world().unwrap();
        for request in &requests {
            let scope = Policy::default().list_scope(&world, request.uzi, request.card_agb, request.card_role, now());
            for patient in &file.patients {
                let view = Request {
                    action: Action::view_patient(patient.id.clone(), RecordSection::PatientDetails).unwrap(),
                    ..request.clone()
                };
                let viewable = matches!(
                    decide(&world, &view),
                    Decision::Permit(p) if !matches!(p.basis(), Basis::Emergency { .. })
                );
                let listed = scope.as_ref().is_ok_and(|scope| {
                    ListScope::basis_for(scope, patient.registered_gp_agb, patient.objection)
                        .is_some()
                });
                prop_assert_eq!(listed, viewable, "{:?} {:?}", view, scope);
            }
        }
    }
}
