//! The policy engine on arbitrary worlds and requests: never a panic, never a permit whose
//! basis does not hold, and listing agrees with viewing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zvp_auth::policy::{Decision, Policy};
use zvp_policy_oracle::laws::basis_holds;
use zvp_policy_oracle::worlds::{from_bytes, now};

fuzz_target!(|data: &[u8]| {
    let (file, requests) = from_bytes(data);
    let Ok(world) = file.to_world() else {
        // Duplicate keys are refused; that they are is checked in zvp-auth's tests.
        return;
    };
    let policy = Policy::default();
    for request in &requests {
        let decision = policy.decide(&world, request, now());
        if let Decision::Permit(permit) = &decision {
            assert!(
                basis_holds(&file, request, permit.basis(), now()),
                "permit without basis: {request:?} {:?}",
                permit.basis()
            );
        }
        assert_eq!(decision, policy.decide(&world, request, now()), "not deterministic");
    }
});
