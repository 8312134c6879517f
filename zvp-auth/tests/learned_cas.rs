//! The validator keeps an issuing CA whose path it verified as an anchor for its next cards
//! (`zvp_auth::uzi`, "One path per issuing CA"): the shortcut is taken, and it refuses
//! exactly what the whole path refuses.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation should panic"
)]

mod common;

use common::{now, pki};

use chrono::Duration;
use zvp_auth::testpki::{CardSpec, IssuedCertificate, KeyAlgorithm, TestPki};
use zvp_auth::uzi::{Environment, UziError, UziValidator};
use zvp_core::{CardType, RoleCode, UziNumber};

fn card(n: u32, edit: impl FnOnce(&mut CardSpec)) -> IssuedCertificate {
    let uzi = UziNumber::new(900_000_000 + n).unwrap();
    let mut spec = CardSpec::care_provider(uzi, RoleCode::GENERAL_PRACTITIONER, now());
    edit(&mut spec);
    pki().issue_card(&spec).unwrap().authentication
}

/// A validator that has verified one card's whole path, and so learned its issuing CA.
fn learned(validator: UziValidator) -> UziValidator {
    assert_eq!(validator.learned_issuing_cas(), 0);
    validator.validate(&card(1, |_| {}).chain(), now()).unwrap();
    assert_eq!(validator.learned_issuing_cas(), 1);
    validator
}

#[test]
fn the_next_card_of_a_learned_ca_validates_as_itself() {
    let validator = learned(pki().validator().unwrap().without_revocation_checking());
    let identity = validator.validate(&card(2, |_| {}).chain(), now()).unwrap();
    assert_eq!(identity.uzi_number(), UziNumber::new(900_000_002).unwrap());
    // Still one: the same issuing CA is not learned twice.
    assert_eq!(validator.learned_issuing_cas(), 1);
}

#[test]
fn a_learned_ca_still_refuses_a_revoked_card_and_a_forged_signature() {
    let revoked = card(3, |_| {});
    let crl = pki()
        .crl(
            CardType::CareProvider,
            &[&revoked],
            now() - Duration::hours(1),
            now() + Duration::hours(47),
        )
        .unwrap();
    let validator = learned(pki().validator().unwrap().with_crls([crl]).unwrap());
    assert_eq!(
        validator.validate(&revoked.chain(), now()).unwrap_err(),
        UziError::Revoked
    );
    let forged = card(4, |spec| spec.tamper_signature = true);
    assert_eq!(
        validator.validate(&forged.chain(), now()).unwrap_err(),
        UziError::BadSignature
    );
    let impostor = TestPki::generate(Environment::Test, KeyAlgorithm::EcdsaP256, now()).unwrap();
    let spec = CardSpec::care_provider(
        UziNumber::new(900_000_005).unwrap(),
        RoleCode::GENERAL_PRACTITIONER,
        now(),
    );
    let foreign = impostor.issue_card(&spec).unwrap().authentication;
    assert_eq!(
        validator.validate(&foreign.chain(), now()).unwrap_err(),
        UziError::BadSignature
    );
}

#[test]
fn a_learned_ca_is_refused_outside_the_validity_of_the_cas_above_the_card() {
    // The test PKI's CAs are valid from a year before `now` to ten years after it; these
    // cards outlast them on either side, so only the CAs' validity can refuse them.
    let validator = learned(pki().validator().unwrap().without_revocation_checking());
    let long = card(6, |spec| {
        spec.not_before = now() - Duration::days(3 * 365);
        spec.not_after = now() + Duration::days(20 * 365);
    });
    assert!(validator.validate(&long.chain(), now()).is_ok());
    let later = now() + Duration::days(11 * 365);
    assert_eq!(
        validator.validate(&long.chain(), later).unwrap_err(),
        UziError::CaNotValid
    );
    let earlier = now() - Duration::days(2 * 365);
    assert_eq!(
        validator.validate(&long.chain(), earlier).unwrap_err(),
        UziError::CaNotValid
    );
}

#[test]
fn a_path_through_a_ca_the_client_brought_is_not_learned() {
    // Only the root is configured: the card's chain brings its CAs along.
    let validator = UziValidator::new(Environment::Test, [pki().root()])
        .unwrap()
        .without_revocation_checking();
    validator.validate(&card(7, |_| {}).chain(), now()).unwrap();
    assert_eq!(validator.learned_issuing_cas(), 0);
}

#[test]
fn a_validator_configured_anew_has_learned_nothing() {
    // Learned without revocation, a CA must not be trusted as an anchor once revocation is
    // configured: its CRL-signing key usage was never checked on that path.
    let crl = || {
        pki()
            .crl(
                CardType::CareProvider,
                &[],
                now() - Duration::hours(1),
                now() + Duration::hours(47),
            )
            .unwrap()
    };
    let unchecked = || pki().validator().unwrap().without_revocation_checking();
    assert_eq!(
        learned(unchecked())
            .with_crls([crl()])
            .unwrap()
            .learned_issuing_cas(),
        0
    );
    let checked = || pki().validator().unwrap().with_crls([crl()]).unwrap();
    assert_eq!(
        learned(checked())
            .with_stale_crls_accepted()
            .learned_issuing_cas(),
        0
    );
    assert_eq!(
        learned(checked())
            .without_revocation_checking()
            .learned_issuing_cas(),
        0
    );
    let intermediates = pki().intermediates();
    assert_eq!(
        learned(unchecked())
            .with_intermediates(intermediates)
            .unwrap()
            .learned_issuing_cas(),
        0
    );
    assert_eq!(
        learned(unchecked())
            .with_accepted_card_types(&[CardType::CareProvider])
            .learned_issuing_cas(),
        0
    );
}
