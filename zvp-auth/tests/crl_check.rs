//! A CRL is checked before use: well formed, issued and signed by a configured CA, current, and
//! not older than the one it replaces.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

use std::sync::OnceLock;

use chrono::{DateTime, Duration, TimeZone, Utc};
use rustls_pki_types::CertificateDer;
use zvp_auth::testpki::{KeyAlgorithm, TestPki};
use zvp_auth::uzi::{CrlError, Environment, check_crl, crl_info};
use zvp_core::CardType;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 8, 0, 0).unwrap()
}

fn pki(algorithm: KeyAlgorithm) -> &'static TestPki {
    static EC: OnceLock<TestPki> = OnceLock::new();
    static RSA: OnceLock<TestPki> = OnceLock::new();
    let cell = match algorithm {
        KeyAlgorithm::RsaLikeUzi => &RSA,
        _ => &EC,
    };
    cell.get_or_init(|| TestPki::generate(Environment::Test, algorithm, now()).unwrap())
}

fn issuers(pki: &TestPki) -> Vec<CertificateDer<'static>> {
    let mut all = vec![pki.root()];
    all.extend(pki.intermediates());
    all
}

fn crl(pki: &TestPki, this_update: DateTime<Utc>) -> Vec<u8> {
    pki.crl(
        CardType::CareProvider,
        &[],
        this_update,
        this_update + Duration::hours(48),
    )
    .unwrap()
    .as_ref()
    .to_vec()
}

#[test]
fn a_good_crl_passes_with_its_dates_for_rsa_and_ecdsa() {
    for algorithm in [KeyAlgorithm::EcdsaP256, KeyAlgorithm::RsaLikeUzi] {
        let pki = pki(algorithm);
        let der = crl(pki, now() - Duration::hours(1));
        let info = check_crl(&der, &issuers(pki), now(), None).unwrap();
        assert_eq!(info.this_update, now() - Duration::hours(1));
        assert_eq!(info.next_update, Some(now() + Duration::hours(47)));
        assert!(info.issuer.contains("Zorgverlener"), "{}", info.issuer);
        assert_eq!(crl_info(&der).unwrap(), info);
    }
}

#[test]
fn a_flipped_signature_bit_is_a_bad_signature() {
    for algorithm in [KeyAlgorithm::EcdsaP256, KeyAlgorithm::RsaLikeUzi] {
        let pki = pki(algorithm);
        let mut der = crl(pki, now());
        *der.last_mut().unwrap() ^= 0x01;
        let err = check_crl(&der, &issuers(pki), now(), None).unwrap_err();
        assert!(matches!(err, CrlError::BadSignature { .. }), "{err:?}");
    }
}

#[test]
fn a_crl_of_the_same_name_from_another_key_is_a_bad_signature() {
    let other = TestPki::generate(Environment::Test, KeyAlgorithm::EcdsaP256, now()).unwrap();
    let der = crl(&other, now());
    let err = check_crl(&der, &issuers(pki(KeyAlgorithm::EcdsaP256)), now(), None).unwrap_err();
    assert!(matches!(err, CrlError::BadSignature { .. }), "{err:?}");
}

#[test]
fn webpki_takes_a_badly_signed_crl_into_a_validator_so_the_fetch_must_refuse_it() {
    let pki = pki(KeyAlgorithm::EcdsaP256);
    let mut der = crl(pki, now());
    *der.last_mut().unwrap() ^= 0x01;
    // Configuration parses only; the signature is checked at the first login, which then fails.
    assert!(pki.validator().unwrap().with_crls([der.into()]).is_ok());
}

#[test]
fn a_truncated_crl_is_malformed() {
    let pki = pki(KeyAlgorithm::EcdsaP256);
    let der = crl(pki, now());
    for cut in [0, 1, der.len() / 2, der.len() - 1] {
        let err = check_crl(&der[..cut], &issuers(pki), now(), None).unwrap_err();
        assert!(matches!(err, CrlError::Malformed(_)), "{cut}: {err:?}");
    }
}

#[test]
fn a_crl_of_an_unconfigured_ca_is_refused() {
    let pki = pki(KeyAlgorithm::EcdsaP256);
    let der = crl(pki, now());
    let err = check_crl(&der, &[pki.root()], now(), None).unwrap_err();
    assert!(matches!(err, CrlError::UnknownIssuer { .. }), "{err:?}");
}

#[test]
fn an_expired_or_older_crl_is_refused() {
    let pki = pki(KeyAlgorithm::EcdsaP256);
    let der = crl(pki, now() - Duration::hours(49));
    assert_eq!(
        check_crl(&der, &issuers(pki), now(), None),
        Err(CrlError::Expired {
            next_update: now() - Duration::hours(1)
        })
    );
    let der = crl(pki, now() - Duration::hours(2));
    assert_eq!(
        check_crl(&der, &issuers(pki), now(), Some(now())),
        Err(CrlError::Older {
            this_update: now() - Duration::hours(2),
            current: now()
        })
    );
    // The same list again is not older: fetching an unchanged CRL is fine.
    assert!(check_crl(&der, &issuers(pki), now(), Some(now() - Duration::hours(2))).is_ok());
}

#[test]
fn an_oversized_crl_is_refused_before_parsing() {
    let der = vec![0u8; zvp_auth::uzi::MAX_CRL_SIZE + 1];
    assert_eq!(
        crl_info(&der),
        Err(CrlError::TooLarge {
            size: zvp_auth::uzi::MAX_CRL_SIZE + 1
        })
    );
}
