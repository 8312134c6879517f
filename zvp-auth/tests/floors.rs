//! PKIoverheid's key and algorithm floors (issue 21): a card that chains correctly to the
//! UZI roots is still refused with an RSA key below 2048 bits, an EC key on a curve below
//! P-256, or a SHA-1 signature, each with its own code and advice.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

use std::collections::HashSet;
use std::sync::OnceLock;

use chrono::{DateTime, TimeZone, Utc};
use zvp_auth::testpki::{CardSpec, KeyAlgorithm, TestPki, WeakKey};
use zvp_auth::uzi::{Environment, UziError};
use zvp_core::{RoleCode, UziNumber};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).unwrap()
}

fn pki(algorithm: KeyAlgorithm) -> &'static TestPki {
    static EC: OnceLock<TestPki> = OnceLock::new();
    static RSA: OnceLock<TestPki> = OnceLock::new();
    let cell = if algorithm == KeyAlgorithm::RsaLikeUzi {
        &RSA
    } else {
        &EC
    };
    cell.get_or_init(|| TestPki::generate(Environment::Test, algorithm, now()).unwrap())
}

fn validate(
    algorithm: KeyAlgorithm,
    weak_key: Option<WeakKey>,
    sha1: bool,
) -> Result<(), UziError> {
    let pki = pki(algorithm);
    let mut spec = CardSpec::care_provider(
        UziNumber::new(900_000_001).unwrap(),
        RoleCode::GENERAL_PRACTITIONER,
        now(),
    );
    spec.weak_key = weak_key;
    spec.sha1_signature = sha1;
    let card = pki.issue_card(&spec).unwrap().authentication;
    let validator = pki.validator().unwrap().without_revocation_checking();
    validator.validate(&card.chain(), now()).map(|_| ())
}

#[test]
fn an_rsa_1024_card_is_refused() {
    for algorithm in [KeyAlgorithm::EcdsaP256, KeyAlgorithm::RsaLikeUzi] {
        assert_eq!(
            validate(algorithm, Some(WeakKey::Rsa1024), false),
            Err(UziError::RsaKeyTooSmall {
                bits: 1024,
                min: 2048
            }),
            "{algorithm:?}"
        );
    }
}

#[test]
fn a_card_on_p192_is_refused() {
    assert_eq!(
        validate(KeyAlgorithm::EcdsaP256, Some(WeakKey::EcP192), false),
        Err(UziError::EcCurveNotAccepted {
            curve: "1.2.840.10045.3.1.1".to_owned()
        })
    );
}

#[test]
fn a_card_signed_with_sha1_is_refused() {
    for algorithm in [KeyAlgorithm::EcdsaP256, KeyAlgorithm::RsaLikeUzi] {
        assert_eq!(
            validate(algorithm, None, true),
            Err(UziError::Sha1Signature),
            "{algorithm:?}"
        );
    }
}

#[test]
fn cards_at_the_floors_pass() {
    for algorithm in [KeyAlgorithm::EcdsaP256, KeyAlgorithm::RsaLikeUzi] {
        assert_eq!(validate(algorithm, None, false), Ok(()), "{algorithm:?}");
    }
}

#[test]
fn each_floor_has_its_own_code_and_advice() {
    let errors = [
        UziError::RsaKeyTooSmall {
            bits: 1024,
            min: 2048,
        },
        UziError::EcCurveNotAccepted {
            curve: String::new(),
        },
        UziError::KeyAlgorithmNotAccepted {
            algorithm: String::new(),
        },
        UziError::Sha1Signature,
        UziError::UnsupportedSignatureAlgorithm,
    ];
    let codes: HashSet<_> = errors.iter().map(UziError::code).collect();
    let advice: HashSet<_> = errors.iter().map(UziError::advice_nl).collect();
    assert_eq!((codes.len(), advice.len()), (5, 5));
}
