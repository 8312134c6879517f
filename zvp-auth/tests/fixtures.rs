//! The real certificates of the UZI-register in `fixtures/uzi/`, with the outcomes
//! its README states a correct validator gives.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

use std::path::PathBuf;

use chrono::{DateTime, TimeZone, Utc};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use zvp_auth::uzi::{AuthProfileDefect, Environment, UziError, UziValidator};
use zvp_core::{CardType, RoleCode};

fn fixture(path: &str) -> CertificateDer<'static> {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/uzi")
        .join(path);
    CertificateDer::from_pem_file(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

/// The TEST environment as a portal configures it: revocation required.
fn test_validator_requiring_revocation() -> UziValidator {
    UziValidator::new(
        Environment::Test,
        [fixture("test/test-zorg-csp-root-ca-g3.pem")],
    )
    .unwrap()
    .with_intermediates([
        fixture("test/test-zorg-csp-level-2-persoon-ca-g3.pem"),
        fixture("test/test-uzi-register-zorgverlener-ca-g3.pem"),
        fixture("test/test-uzi-register-medewerker-op-naam-ca-g3.pem"),
    ])
    .unwrap()
}

/// The fixtures come without CRLs.
fn test_validator() -> UziValidator {
    test_validator_requiring_revocation().without_revocation_checking()
}

fn production_validator() -> UziValidator {
    UziValidator::new(
        Environment::Production,
        [fixture("prod/staat-der-nederlanden-root-ca-g3.pem")],
    )
    .unwrap()
    .with_intermediates([
        fixture("prod/staat-der-nederlanden-organisatie-persoon-ca-g3.pem"),
        fixture("prod/uzi-register-zorgverlener-ca-g3-2017.pem"),
        fixture("prod/uzi-register-zorgverlener-ca-g3-2019.pem"),
        fixture("prod/uzi-register-medewerker-op-naam-ca-g3-2017.pem"),
        fixture("prod/uzi-register-medewerker-op-naam-ca-g3-2019.pem"),
    ])
    .unwrap()
    .without_revocation_checking()
}

fn z_card_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2019, 1, 1, 0, 0, 0).unwrap()
}

fn n_card_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2022, 1, 1, 0, 0, 0).unwrap()
}

const Z_AUTH: &str = "test/cards/z-900016528-authenticatie.pem";
const Z_SIGN: &str = "test/cards/z-900016528-handtekening.pem";
const Z_ENCR: &str = "test/cards/z-900016528-vertrouwelijkheid.pem";
const N_SIGN: &str = "test/cards/n-900021219-handtekening.pem";

#[test]
fn real_test_authentication_certificate_validates_with_its_identity() {
    let id = test_validator()
        .validate(&[fixture(Z_AUTH)], z_card_time())
        .unwrap();
    assert_eq!(id.uzi_number().to_string(), "900016528");
    assert_eq!(id.card_type(), CardType::CareProvider);
    assert_eq!(id.subscriber().to_string(), "90000382");
    assert_eq!(id.role(), RoleCode::PHYSICIAN);
    assert_eq!(id.agb(), None);
    assert_eq!(id.environment(), Environment::Test);
    assert_eq!(id.issuer(), "TEST UZI-register Zorgverlener CA G3");
    assert_eq!(id.given_name(), Some("Jan"));
    assert_eq!(id.title(), Some("Arts"));
    // As `openssl x509 -outform DER | sha256sum` and `openssl x509 -serial` give them, in
    // lower case: a session is bound to the fingerprint, and the audit log names the card by
    // it, so its spelling may not change between releases.
    assert_eq!(
        id.certificate_sha256(),
        "4fac462ab8c9faa50334cf2797fd271ba58c57c0ea1500625ac3f7c067e7e7a0"
    );
    assert_eq!(id.serial(), "102eeae84e94db65");
}

#[test]
fn real_test_card_role_is_not_eligible_by_default_but_admitted_when_configured() {
    let id = test_validator()
        .validate(&[fixture(Z_AUTH)], z_card_time())
        .unwrap();
    let err = id
        .require_role(&RoleCode::PRIMARY_CARE_PHYSICIANS)
        .unwrap_err();
    assert_eq!(
        err,
        UziError::RoleNotEligible {
            role: RoleCode::PHYSICIAN
        }
    );
    assert_eq!(err.code(), "role-not-eligible");
    assert_eq!(id.require_role(&[RoleCode::PHYSICIAN]), Ok(()));
}

#[test]
fn signature_and_encryption_certificates_are_not_authentication_certificates() {
    let v = test_validator();
    assert_eq!(
        v.validate(&[fixture(Z_SIGN)], z_card_time()).unwrap_err(),
        // Key usage nonRepudiation only.
        UziError::NotAuthenticationCertificate(AuthProfileDefect::NoDigitalSignature)
    );
    assert_eq!(
        v.validate(&[fixture(Z_ENCR)], z_card_time()).unwrap_err(),
        // Key usage keyEncipherment and dataEncipherment.
        UziError::NotAuthenticationCertificate(AuthProfileDefect::NoDigitalSignature)
    );
}

#[test]
fn employee_signature_certificate_is_refused() {
    let err = test_validator()
        .validate(&[fixture(N_SIGN)], n_card_time())
        .unwrap_err();
    assert_eq!(
        err,
        UziError::CardTypeNotAccepted {
            card_type: CardType::NamedEmployee
        }
    );
    // Where administrators may use N cards, it is still the wrong certificate of the card.
    let err = test_validator()
        .with_accepted_card_types(&[CardType::CareProvider, CardType::NamedEmployee])
        .validate(&[fixture(N_SIGN)], n_card_time())
        .unwrap_err();
    assert_eq!(err.code(), "not-authentication-certificate");
}

#[test]
fn test_certificates_are_untrusted_under_production_anchors() {
    let v = production_validator();
    for (card, at) in [
        (Z_AUTH, z_card_time()),
        (Z_SIGN, z_card_time()),
        (Z_ENCR, z_card_time()),
        (N_SIGN, n_card_time()),
    ] {
        assert_eq!(
            v.validate(&[fixture(card)], at).unwrap_err(),
            UziError::UntrustedIssuer,
            "{card}"
        );
    }
}

#[test]
fn every_fixture_is_expired_today() {
    let now = DateTime::<Utc>::from(std::time::SystemTime::now());
    for v in [test_validator(), production_validator()] {
        for card in [Z_AUTH, Z_SIGN, Z_ENCR, N_SIGN] {
            let err = v.validate(&[fixture(card)], now).unwrap_err();
            assert!(matches!(err, UziError::Expired { .. }), "{card}: {err:?}");
            assert_eq!(err.code(), "expired");
        }
    }
}

#[test]
fn test_anchors_configured_as_production_still_refuse_test_cards() {
    // A misconfiguration: the TEST root given to a production validator.
    let v = UziValidator::new(
        Environment::Production,
        [fixture("test/test-zorg-csp-root-ca-g3.pem")],
    )
    .unwrap()
    .with_intermediates([
        fixture("test/test-zorg-csp-level-2-persoon-ca-g3.pem"),
        fixture("test/test-uzi-register-zorgverlener-ca-g3.pem"),
    ])
    .unwrap()
    .without_revocation_checking();
    assert_eq!(
        v.validate(&[fixture(Z_AUTH)], z_card_time()).unwrap_err(),
        UziError::TestCertificateInProduction
    );
}

#[test]
fn presented_intermediates_are_used_for_the_chain() {
    let v = UziValidator::new(
        Environment::Test,
        [fixture("test/test-zorg-csp-root-ca-g3.pem")],
    )
    .unwrap()
    .without_revocation_checking();
    assert_eq!(
        v.validate(&[fixture(Z_AUTH)], z_card_time()).unwrap_err(),
        UziError::UntrustedIssuer
    );
    let chain = [
        fixture(Z_AUTH),
        fixture("test/test-uzi-register-zorgverlener-ca-g3.pem"),
        fixture("test/test-zorg-csp-level-2-persoon-ca-g3.pem"),
    ];
    assert!(v.validate(&chain, z_card_time()).is_ok());
}

#[test]
fn revocation_is_required_by_default() {
    assert_eq!(
        test_validator_requiring_revocation()
            .validate(&[fixture(Z_AUTH)], z_card_time())
            .unwrap_err(),
        UziError::RevocationUnknown
    );
}
