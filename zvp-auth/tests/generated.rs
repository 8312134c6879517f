//! Cards of every kind from the test PKI, each with the exact outcome of validation.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

mod common;

use common::{now, pki};

use chrono::Duration;
use proptest::prelude::*;
use zvp_auth::testpki::{CardSpec, IssuedCertificate, KeyAlgorithm, PkiOptions, TestPki};
use zvp_auth::uzi::{
    AuthProfileDefect, Environment, SanDefect, SanInconsistency, SubjectIdError, UziError,
    UziValidator,
};
use zvp_core::{CardType, RoleCode, UziNumber};

fn validator() -> UziValidator {
    pki().validator().unwrap().without_revocation_checking()
}

fn uzi(n: u32) -> UziNumber {
    UziNumber::new(n).unwrap()
}

fn gp() -> CardSpec {
    CardSpec::care_provider(uzi(900_000_001), RoleCode::GENERAL_PRACTITIONER, now())
}

fn auth(spec: &CardSpec) -> IssuedCertificate {
    pki().issue_card(spec).unwrap().authentication
}

fn validate(spec: &CardSpec) -> Result<zvp_auth::uzi::VerifiedUziIdentity, UziError> {
    validator().validate(&auth(spec).chain(), now())
}

#[test]
fn every_role_is_validated_and_reported() {
    let roles = [
        "01.015", "01.004", "01.047", "01.056", "01.000", "02.000", "17.075", "30.076",
    ];
    for role in roles {
        let role: RoleCode = role.parse().unwrap();
        let spec = CardSpec::care_provider(uzi(900_000_002), role, now());
        let id = validate(&spec).unwrap();
        assert_eq!(id.role(), role);
        assert_eq!(id.uzi_number(), uzi(900_000_002));
        assert_eq!(id.agb().map(|a| a.to_string()).as_deref(), Some("01012345"));
        let eligible = RoleCode::PRIMARY_CARE_PHYSICIANS.contains(&role);
        assert_eq!(
            id.require_role(&RoleCode::PRIMARY_CARE_PHYSICIANS).is_ok(),
            eligible
        );
    }
}

#[test]
fn gp_in_training_and_dentist_are_not_eligible() {
    for role in [RoleCode::PHYSICIAN, "02.000".parse().unwrap()] {
        let id = validate(&CardSpec::care_provider(uzi(900_000_003), role, now())).unwrap();
        assert_eq!(
            id.require_role(&RoleCode::PRIMARY_CARE_PHYSICIANS),
            Err(UziError::RoleNotEligible { role })
        );
    }
}

#[test]
fn employee_and_server_cards_are_refused_by_default() {
    for card_type in [
        CardType::NamedEmployee,
        CardType::UnnamedEmployee,
        CardType::Server,
    ] {
        let spec = CardSpec::employee(card_type, uzi(900_000_004), now());
        assert_eq!(
            validate(&spec).unwrap_err(),
            UziError::CardTypeNotAccepted { card_type },
            "{card_type:?}"
        );
    }
}

#[test]
fn named_employee_card_is_accepted_where_configured() {
    let spec = CardSpec::employee(CardType::NamedEmployee, uzi(900_000_005), now());
    let id = validator()
        .with_accepted_card_types(&[CardType::CareProvider, CardType::NamedEmployee])
        .validate(&auth(&spec).chain(), now())
        .unwrap();
    assert_eq!(id.card_type(), CardType::NamedEmployee);
    assert_eq!(id.role(), RoleCode::NONE);
}

#[test]
fn signature_and_encryption_certificates_of_a_generated_card_are_refused() {
    let card = pki().issue_card(&gp()).unwrap();
    let v = validator();
    assert_eq!(
        v.validate(&card.signature.unwrap().chain(), now())
            .unwrap_err(),
        UziError::NotAuthenticationCertificate(AuthProfileDefect::NoDigitalSignature)
    );
    assert_eq!(
        v.validate(&card.encryption.unwrap().chain(), now())
            .unwrap_err(),
        UziError::NotAuthenticationCertificate(AuthProfileDefect::NoDigitalSignature)
    );
}

#[test]
fn expired_and_not_yet_valid_cards_are_refused() {
    let mut spec = gp();
    spec.not_before = now() - Duration::days(4 * 365);
    spec.not_after = now() - Duration::seconds(1);
    assert_eq!(
        validate(&spec).unwrap_err(),
        UziError::Expired {
            not_after: spec.not_after
        }
    );
    let mut spec = gp();
    spec.not_before = now() + Duration::days(1);
    assert_eq!(
        validate(&spec).unwrap_err(),
        UziError::NotYetValid {
            not_before: spec.not_before
        }
    );
}

#[test]
fn card_of_an_unknown_hierarchy_is_untrusted() {
    // Its issuing CA's name ("UZI-register Zorgverlener CA G3") is no CA of the TEST validator.
    let other = TestPki::generate(Environment::Production, KeyAlgorithm::EcdsaP256, now()).unwrap();
    let card = other.issue_card(&gp()).unwrap();
    assert_eq!(
        validator()
            .validate(&card.authentication.chain(), now())
            .unwrap_err(),
        UziError::UntrustedIssuer
    );
}

#[test]
fn card_signed_by_an_impostor_ca_of_the_same_name_has_a_bad_signature() {
    let impostor = TestPki::generate(Environment::Test, KeyAlgorithm::EcdsaP256, now()).unwrap();
    let card = impostor.issue_card(&gp()).unwrap();
    assert_eq!(
        validator()
            .validate(&card.authentication.chain(), now())
            .unwrap_err(),
        UziError::BadSignature
    );
}

#[test]
fn card_issued_by_the_wrong_uzi_ca_is_inconsistent() {
    let mut spec = gp();
    spec.issuer_override = Some(CardType::NamedEmployee);
    assert_eq!(
        validate(&spec).unwrap_err(),
        UziError::SanInconsistent(SanInconsistency::CaOidNotIssuer {
            san: "2.16.528.1.1007.99.217".to_owned(),
            issuer: "2.16.528.1.1007.99.218".to_owned(),
        })
    );
}

#[test]
fn tampered_signature_is_refused() {
    let mut spec = gp();
    spec.tamper_signature = true;
    assert_eq!(validate(&spec).unwrap_err(), UziError::BadSignature);
}

#[test]
fn revoked_card_is_refused_and_others_pass() {
    let revoked = auth(&gp());
    let good = auth(&gp());
    let crl = pki()
        .crl(
            CardType::CareProvider,
            &[&revoked],
            now() - Duration::hours(1),
            now() + Duration::hours(47),
        )
        .unwrap();
    let v = pki().validator().unwrap().with_crls([crl]).unwrap();
    assert_eq!(
        v.validate(&revoked.chain(), now()).unwrap_err(),
        UziError::Revoked
    );
    assert!(v.validate(&good.chain(), now()).is_ok());
}

#[test]
fn stale_crl_fails_closed_unless_accepted() {
    let card = auth(&gp());
    let next_update = now() - Duration::hours(1);
    let crl = pki()
        .crl(
            CardType::CareProvider,
            &[],
            now() - Duration::hours(49),
            next_update,
        )
        .unwrap();
    let v = pki().validator().unwrap().with_crls([crl.clone()]).unwrap();
    assert_eq!(
        v.validate(&card.chain(), now()).unwrap_err(),
        UziError::CrlStale { next_update }
    );
    let lenient = pki()
        .validator()
        .unwrap()
        .with_crls([crl])
        .unwrap()
        .with_stale_crls_accepted();
    assert!(lenient.validate(&card.chain(), now()).is_ok());
}

#[test]
fn crl_of_another_ca_leaves_revocation_unknown() {
    let card = auth(&gp());
    let crl = pki()
        .crl(
            CardType::NamedEmployee,
            &[],
            now() - Duration::hours(1),
            now() + Duration::hours(47),
        )
        .unwrap();
    let v = pki().validator().unwrap().with_crls([crl]).unwrap();
    assert_eq!(
        v.validate(&card.chain(), now()).unwrap_err(),
        UziError::RevocationUnknown
    );
}

#[test]
fn crl_signed_by_another_hierarchy_is_not_trusted() {
    let other = TestPki::generate(Environment::Test, KeyAlgorithm::EcdsaP256, now()).unwrap();
    let card = auth(&gp());
    // Same issuer name, other key: the CRL's signature does not verify.
    let forged = other
        .crl(
            CardType::CareProvider,
            &[],
            now() - Duration::hours(1),
            now() + Duration::hours(47),
        )
        .unwrap();
    let v = pki().validator().unwrap().with_crls([forged]).unwrap();
    assert_eq!(
        v.validate(&card.chain(), now()).unwrap_err(),
        UziError::CrlInvalid("InvalidCrlSignatureForPublicKey".to_owned())
    );
}

fn with_subject_id(s: &str) -> CardSpec {
    let mut spec = gp();
    spec.subject_id_override = Some(s.to_owned());
    spec
}

const GOOD_SAN: &str = "2.16.528.1.1007.99.217-1-900000001-Z-90000382-01.015-01012345";

#[test]
fn the_good_subject_id_is_the_one_the_spec_writes() {
    assert_eq!(gp().subject_id(Environment::Test), GOOD_SAN);
    assert!(validate(&with_subject_id(GOOD_SAN)).is_ok());
}

#[test]
fn subject_id_with_six_or_eight_fields_is_malformed() {
    let six = "2.16.528.1.1007.99.217-1-900000001-Z-90000382-01.015";
    assert_eq!(
        validate(&with_subject_id(six)).unwrap_err(),
        UziError::SanMalformed(SanDefect::Value(SubjectIdError::FieldCount { found: 6 }))
    );
    let eight = format!("{GOOD_SAN}-0");
    assert_eq!(
        validate(&with_subject_id(&eight)).unwrap_err(),
        UziError::SanMalformed(SanDefect::Value(SubjectIdError::FieldCount { found: 8 }))
    );
}

#[test]
fn subject_id_with_wrong_version_is_malformed() {
    let s = GOOD_SAN.replacen("-1-", "-2-", 1);
    assert_eq!(
        validate(&with_subject_id(&s)).unwrap_err(),
        UziError::SanMalformed(SanDefect::Value(SubjectIdError::Version {
            found: "2".to_owned()
        }))
    );
}

#[test]
fn subject_id_with_an_eight_digit_uzi_number_is_malformed() {
    let s = GOOD_SAN.replacen("900000001", "90000001", 1);
    assert_eq!(
        validate(&with_subject_id(&s)).unwrap_err().code(),
        "san-malformed"
    );
}

#[test]
fn uzi_number_other_than_the_serial_number_is_inconsistent() {
    let mut spec = gp();
    spec.serial_number_override = Some("900000009".to_owned());
    assert_eq!(
        validate(&spec).unwrap_err(),
        UziError::SanInconsistent(SanInconsistency::UziNumberNotSerialNumber {
            san: uzi(900_000_001),
            serial_number: "900000009".to_owned()
        })
    );
}

#[test]
fn ca_oid_of_another_ca_is_inconsistent() {
    let s = GOOD_SAN.replacen("99.217", "99.218", 1);
    assert_eq!(
        validate(&with_subject_id(&s)).unwrap_err(),
        UziError::SanInconsistent(SanInconsistency::CaOidNotIssuer {
            san: "2.16.528.1.1007.99.218".to_owned(),
            issuer: "2.16.528.1.1007.99.217".to_owned()
        })
    );
}

#[test]
fn upn_other_than_uzi_at_subscriber_is_inconsistent() {
    let mut spec = gp();
    spec.upn_override = Some("900000001@90000383".to_owned());
    assert_eq!(
        validate(&spec).unwrap_err(),
        UziError::SanInconsistent(SanInconsistency::UpnMismatch {
            upn: "900000001@90000383".to_owned(),
            expected: "900000001@90000382".to_owned()
        })
    );
}

#[test]
fn missing_or_utf8_subject_id_is_refused() {
    let mut spec = gp();
    spec.without_subject_id = true;
    assert_eq!(validate(&spec).unwrap_err(), UziError::SanMissing);
    let mut spec = gp();
    spec.subject_id_as_utf8 = true;
    assert_eq!(
        validate(&spec).unwrap_err(),
        UziError::SanMalformed(SanDefect::NotIa5String)
    );
}

#[test]
fn test_card_is_refused_by_a_production_validator() {
    let v = UziValidator::new(Environment::Production, [pki().root()])
        .unwrap()
        .with_intermediates(pki().intermediates())
        .unwrap()
        .without_revocation_checking();
    assert_eq!(
        v.validate(&auth(&gp()).chain(), now()).unwrap_err(),
        UziError::TestCertificateInProduction
    );
}

#[test]
fn production_card_is_refused_by_a_test_validator() {
    let prod = TestPki::generate(Environment::Production, KeyAlgorithm::EcdsaP256, now()).unwrap();
    let card = prod.issue_card(&gp()).unwrap();
    let as_prod = prod.validator().unwrap().without_revocation_checking();
    assert!(
        as_prod
            .validate(&card.authentication.chain(), now())
            .is_ok()
    );
    let as_test = UziValidator::new(Environment::Test, [prod.root()])
        .unwrap()
        .with_intermediates(prod.intermediates())
        .unwrap()
        .without_revocation_checking();
    assert_eq!(
        as_test
            .validate(&card.authentication.chain(), now())
            .unwrap_err(),
        UziError::ProductionCertificateInTest
    );
}

#[test]
fn ecdsa_p384_hierarchy_validates() {
    let p384 = TestPki::generate(Environment::Test, KeyAlgorithm::EcdsaP384, now()).unwrap();
    let card = p384.issue_card(&gp()).unwrap();
    let v = p384.validator().unwrap().without_revocation_checking();
    assert_eq!(
        v.validate(&card.authentication.chain(), now())
            .unwrap()
            .uzi_number(),
        uzi(900_000_001)
    );
}

#[test]
fn bounds_are_enforced() {
    let v = validator();
    assert_eq!(v.validate(&[], now()).unwrap_err(), UziError::NoCertificate);
    let card = auth(&gp());
    let long: Vec<_> = std::iter::repeat_n(card.der.clone(), 7).collect();
    assert_eq!(
        v.validate(&long, now()).unwrap_err(),
        UziError::ChainTooLong { found: 7, max: 6 }
    );
    let huge = rustls_pki_types::CertificateDer::from(vec![0x30; 20_000]);
    assert_eq!(
        v.validate(&[huge], now()).unwrap_err(),
        UziError::CertificateTooLarge {
            found: 20_000,
            max: 16 * 1024
        }
    );
    let garbage = rustls_pki_types::CertificateDer::from(b"not a certificate".to_vec());
    assert_eq!(
        v.validate(&[garbage], now()).unwrap_err().code(),
        "malformed-certificate"
    );
}

/// A syntactically broken value for one of the seven fields.
fn corrupt_field() -> impl Strategy<Value = (usize, String)> {
    prop_oneof![
        (
            Just(0usize),
            prop_oneof![
                "2\\.16\\.528\\.1\\.1007\\.99\\.(2[0-9][0-9]|3[0-9]{2})",
                "[a-z.]{1,10}",
                Just(String::new())
            ]
        ),
        (Just(1), "[02-9]|1[0-9]|[a-z]"),
        (
            Just(2),
            prop_oneof!["[0-9]{1,8}", "[0-9]{10,12}", "[0-9]{8}[A-Z]"]
        ),
        (Just(3), "[A-LO-RT-Y]|[ZNMS]{2}|z"),
        (
            Just(4),
            prop_oneof!["[0-9]{1,7}", "[0-9]{9,10}", "[0-9]{7}x"]
        ),
        (
            Just(5),
            prop_oneof![
                "[0-9]{2}[0-9]{3}",
                "[0-9]\\.[0-9]{3}",
                "00\\.[0-9]{2}[1-9]",
                "[0-9]{2}\\.[0-9]{2}x"
            ]
        ),
        (Just(6), prop_oneof!["[0-9]{1,7}", "[0-9]{9}", "[0-9]{7}-"]),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any single-field corruption of a valid Subject ID is refused as malformed or
    /// inconsistent, never accepted.
    #[test]
    fn single_field_corruption_is_refused((index, value) in corrupt_field()) {
        let mut fields: Vec<String> = GOOD_SAN.split('-').map(str::to_owned).collect();
        prop_assume!(fields[index] != value);
        fields[index] = value;
        let err = validate(&with_subject_id(&fields.join("-"))).unwrap_err();
        prop_assert!(
            matches!(err.code(), "san-malformed" | "san-inconsistent"),
            "{err:?}"
        );
    }
}

#[test]
fn issuing_ca_that_may_not_issue_client_certificates_breaks_the_chain() {
    let options = PkiOptions {
        issuing_cas_without_client_auth: true,
    };
    let pki =
        TestPki::generate_with(Environment::Test, KeyAlgorithm::EcdsaP256, now(), options).unwrap();
    let card = pki.issue_card(&gp()).unwrap().authentication;
    let v = pki.validator().unwrap().without_revocation_checking();
    assert_eq!(
        v.validate(&card.chain(), now()).unwrap_err().code(),
        "chain-invalid"
    );
    // The same when the CA is presented rather than configured.
    let v = UziValidator::new(Environment::Test, [pki.root()])
        .unwrap()
        .without_revocation_checking();
    assert_eq!(
        v.validate(&card.chain(), now()).unwrap_err().code(),
        "chain-invalid"
    );
}

#[test]
fn too_many_configured_certificates_are_refused() {
    let many = std::iter::repeat_n(pki().issuing_ca(CardType::CareProvider), 64);
    assert_eq!(
        pki()
            .validator()
            .unwrap()
            .with_intermediates(many)
            .unwrap_err(),
        zvp_auth::uzi::ConfigError::TooManyCertificates { found: 1 + 5 + 64 }
    );
}

#[test]
fn authentication_key_usage_is_digital_signature_only() {
    let mut spec = gp();
    spec.extra_key_agreement = true;
    assert_eq!(
        validate(&spec).unwrap_err(),
        UziError::NotAuthenticationCertificate(AuthProfileDefect::ForbiddenKeyUsage(
            "keyAgreement"
        ))
    );
}

#[test]
fn upn_must_be_a_utf8_string() {
    let mut spec = gp();
    spec.upn_as_ia5 = true;
    assert_eq!(
        validate(&spec).unwrap_err(),
        UziError::SanMalformed(SanDefect::UpnNotUtf8String)
    );
}
