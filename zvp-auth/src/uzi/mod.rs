//! UZI-pas login: from a presented certificate chain to a [`VerifiedUziIdentity`].
//!
//! The UZI-pas is the Dutch care provider's smart card. Its authentication certificate names
//! the holder in a SAN otherName 2.5.5.5 (the *Subject ID*,
//! `<OID CA>-1-<UZI number>-<card type>-<subscriber>-<role>-<AGB>`); `docs/uzi.md` describes
//! the profile. This module
//!
//! - reads those fields ([`UziCertificate`], [`SubjectId`]) — pure parsing, for `inspect`;
//! - validates a chain into a [`VerifiedUziIdentity`] ([`UziValidator::validate`]), the only
//!   way to obtain one, with the time as a parameter;
//! - supplies the rustls client-certificate verifier for the portal's handshake
//!   ([`UziClientCertVerifier`]).
//!
//! # What `validate` checks, in order
//!
//! The order decides which error a practitioner sees when several apply; it puts first what
//! they can act on and what needs no trust in the certificate.
//!
//! 1. **Bounds**: at most [`MAX_PRESENTED_CERTIFICATES`], each at most
//!    [`MAX_CERTIFICATE_SIZE`] bytes (`chain-too-long`, `certificate-too-large`).
//! 2. **Parse** the leaf (`malformed-certificate`).
//! 3. **Validity** of the leaf at `now` (`expired`, `not-yet-valid`), before anything else, so
//!    an expired card says so whatever else is wrong with it.
//!    Then the **floors** of PKIoverheid for the card itself: an RSA key of at least
//!    [`MIN_RSA_BITS`] bits or an EC key on P-256/P-384/P-521, and no SHA-1 signature
//!    (`rsa-key-too-small`, `ec-curve-not-accepted`, `key-algorithm-not-accepted`,
//!    `sha1-signature`); the same floors for every CA on the path once it is built (step 4).
//! 4. **Chain** (rustls-webpki, the code rustls itself uses): a path from the leaf through the
//!    presented and the configured intermediates to a configured trust anchor of this
//!    environment, every signature (RSA PKCS#1 v1.5 and PSS with SHA-256/384/512, ECDSA
//!    P-256/P-384), every validity period, basic constraints and path length, name
//!    constraints, unknown critical extensions, EKU nesting (every CA's EKU, if present,
//!    allows clientAuth), and revocation from the configured CRLs (their signatures and
//!    freshness included) (`untrusted-issuer`, `bad-signature`, `revoked`, `crl-stale`,
//!    `revocation-unknown`, `chain-invalid`, ...).
//! 5. **Subject ID** present, unique, an IA5String, seven well-formed fields
//!    (`san-missing`, `san-malformed`).
//! 6. **Card type** accepted — Z by default (`card-type-not-accepted`).
//! 7. **Authentication certificate**: key usage digitalSignature without nonRepudiation,
//!    keyEncipherment, dataEncipherment or keyCertSign; EKU clientAuth; the UZI
//!    authentication policy (`not-authentication-certificate`). webpki checks none of these
//!    on an end entity.
//! 8. **Environment**: a TEST certificate never passes in production, nor a production one
//!    in TEST (`test-certificate-in-production`, `production-certificate-in-test`).
//! 9. **Consistency** of the Subject ID with the certificate: UZI number = subject
//!    serialNumber; CA OID and card type = those of the issuing CA; UPN, when present,
//!    = `<UZI number>@<subscriber>` (`san-inconsistent`).
//!
//! Whether the role may use the portal is the policy's decision; for callers that only need a
//! role check, [`VerifiedUziIdentity::require_role`] refuses with `role-not-eligible`.
//!
//! # One path per issuing CA
//!
//! Step 4 verifies three signatures for a card: its own, its issuing CA's and its domain
//! CA's. The last two are the same for every card of an issuing CA. Once webpki has verified
//! a whole path through configured intermediates, the validator keeps that issuing CA as an
//! anchor of its own, and the next card of that CA is verified against it: its signature,
//! validity and revocation by webpki, the validity of the CAs above it at `now` by the
//! validator. That is one signature a login instead of three. Paths with name constraints or
//! with a CA the client brought along are not kept, and a card the shortcut does not pass
//! takes the whole path, so a refusal always carries the whole path's error
//! ([`UziValidator::learned_issuing_cas`]).

mod certificate;
mod crl;
mod error;
pub(crate) mod floors;
mod identity;
mod profile;
mod san;
mod shortcut;
mod tls;
mod validate;

pub use certificate::{OtherNameValue, SubjectFields, UziCertificate};
pub use crl::{CrlError, CrlInfo, MAX_CRL_SIZE, check_crl, crl_info};
pub use error::{AuthProfileDefect, ErrorReport, SanDefect, SanInconsistency, UziError};
pub use floors::MIN_RSA_BITS;
pub use identity::VerifiedUziIdentity;
pub use san::{MAX_SUBJECT_ID_LEN, SubjectId, SubjectIdError};
pub use tls::UziClientCertVerifier;
pub use validate::{ConfigError, UziValidator};

use serde::Serialize;
use zvp_core::CardType;

/// The most certificates a client may present. A UZI chain is leaf, issuing CA, domain CA and
/// root (4); two spare places allow a cross-certificate during a CA change.
pub const MAX_PRESENTED_CERTIFICATES: usize = 6;

/// The largest certificate accepted, in bytes. Real UZI certificates are about 2 KB (RSA-4096
/// CAs and RSA-2048 cards with a handful of extensions); 16 KiB leaves room for larger keys
/// and extensions while bounding what an attacker can make the parser read.
pub const MAX_CERTIFICATE_SIZE: usize = 16 * 1024;

/// The most intermediates and trust anchors a validator may be configured with. The real
/// hierarchies have six issuing and domain CAs per environment; the bound keeps path building
/// (which tries candidates by name) small. rustls-webpki adds its own fixed budget: at most 100
/// signature checks and 200 path-building steps per validation, and 6 intermediates deep.
pub const MAX_CONFIGURED_CERTIFICATES: usize = 64;

/// The UZI-register environment a portal runs in, and a certificate comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Environment {
    /// The real UZI-register: real cards under the Staat der Nederlanden roots.
    Production,
    /// The UZI-register's TEST (acceptance) environment: TEST cards under the TEST Zorg CSP
    /// roots. Never accepted by a production portal.
    Test,
}

/// A UZI issuing CA: which CA OID its Subject IDs carry and which card type it issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IssuingCa {
    /// The CA's subject common name.
    pub common_name: &'static str,
    /// The OID-CA in its certificates' Subject IDs.
    pub ca_oid: &'static str,
    /// The card type it issues.
    pub card_type: CardType,
    /// Its environment.
    pub environment: Environment,
}

/// The UZI issuing CAs (docs/uzi.md, "CA hierarchies"). A certificate's issuer is looked up
/// here by common name once its chain to a configured anchor has been verified, so the name is authenticated.
/// The TEST CA for unnamed-employee (M) cards has no published OID and is absent.
pub const ISSUING_CAS: &[IssuingCa] = &[
    IssuingCa {
        common_name: "UZI-register Zorgverlener CA G3",
        ca_oid: "2.16.528.1.1003.1.3.5.5.2",
        card_type: CardType::CareProvider,
        environment: Environment::Production,
    },
    IssuingCa {
        common_name: "UZI-register Medewerker op naam CA G3",
        ca_oid: "2.16.528.1.1003.1.3.5.5.3",
        card_type: CardType::NamedEmployee,
        environment: Environment::Production,
    },
    IssuingCa {
        common_name: "UZI-register Medewerker niet op naam CA G3",
        ca_oid: "2.16.528.1.1003.1.3.5.5.4",
        card_type: CardType::UnnamedEmployee,
        environment: Environment::Production,
    },
    IssuingCa {
        common_name: "UZI-register Private Server CA G1",
        ca_oid: "2.16.528.1.1003.1.3.5.5.5",
        card_type: CardType::Server,
        environment: Environment::Production,
    },
    IssuingCa {
        common_name: "TEST UZI-register Zorgverlener CA G3",
        ca_oid: "2.16.528.1.1007.99.217",
        card_type: CardType::CareProvider,
        environment: Environment::Test,
    },
    IssuingCa {
        common_name: "TEST UZI-register Medewerker op naam CA G3",
        ca_oid: "2.16.528.1.1007.99.218",
        card_type: CardType::NamedEmployee,
        environment: Environment::Test,
    },
    IssuingCa {
        common_name: "TEST UZI-register Private Server CA G1",
        ca_oid: "2.16.528.1.1007.99.2110",
        card_type: CardType::Server,
        environment: Environment::Test,
    },
];

/// The certificate policy of a card's authentication certificate, per environment and card
/// type (docs/uzi.md, "The three certificates on a card"). Server certificates have none: they are not cards.
pub const fn authentication_policy(
    environment: Environment,
    card_type: CardType,
) -> Option<&'static str> {
    match (environment, card_type) {
        (Environment::Production, CardType::CareProvider | CardType::NamedEmployee) => {
            Some(oid::POLICY_AUTHENTICATION)
        }
        (Environment::Production, CardType::UnnamedEmployee) => Some(oid::POLICY_AUTHENTICATION_M),
        (Environment::Test, CardType::CareProvider | CardType::NamedEmployee) => {
            Some(oid::POLICY_TEST_AUTHENTICATION)
        }
        (_, CardType::Server) | (Environment::Test, CardType::UnnamedEmployee) => None,
    }
}

/// Object identifiers the UZI profile uses.
pub mod oid {
    use const_oid::ObjectIdentifier;

    /// The UZI Subject ID otherName.
    pub const UZI_SUBJECT_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.5.5");
    /// Microsoft's user principal name otherName.
    pub const MS_UPN: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.311.20.2.3");
    /// id-kp-clientAuth.
    pub const CLIENT_AUTH: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.2");
    /// Subject attribute CN.
    pub const COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
    /// Subject attribute SN.
    pub const SURNAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.4");
    /// Subject attribute serialNumber.
    pub const SERIAL_NUMBER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.5");
    /// Subject attribute C.
    pub const COUNTRY: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.6");
    /// Subject attribute O.
    pub const ORGANIZATION: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.10");
    /// Subject attribute title.
    pub const TITLE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.12");
    /// Subject attribute GN.
    pub const GIVEN_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.42");

    /// Production authentication certificate of a Z or N card.
    pub const POLICY_AUTHENTICATION: &str = "2.16.528.1.1003.1.2.5.1";
    /// Production signature (non-repudiation) certificate of a Z or N card.
    pub const POLICY_SIGNATURE: &str = "2.16.528.1.1003.1.2.5.2";
    /// Production encryption certificate of a Z or N card.
    pub const POLICY_ENCRYPTION: &str = "2.16.528.1.1003.1.2.5.3";
    /// Production authentication certificate of an M card.
    pub const POLICY_AUTHENTICATION_M: &str = "2.16.528.1.1003.1.2.5.4";
    /// Production encryption certificate of an M card.
    pub const POLICY_ENCRYPTION_M: &str = "2.16.528.1.1003.1.2.5.5";
    /// Production UZI server certificate (Private Server CA G1).
    pub const POLICY_SERVER: &str = "2.16.528.1.1003.1.2.8.6";
    /// TEST authentication certificate.
    pub const POLICY_TEST_AUTHENTICATION: &str = "2.16.528.1.1007.99.211";
    /// TEST signature certificate.
    pub const POLICY_TEST_SIGNATURE: &str = "2.16.528.1.1007.99.212";
    /// TEST encryption certificate.
    pub const POLICY_TEST_ENCRYPTION: &str = "2.16.528.1.1007.99.213";
    /// TEST server certificate.
    pub const POLICY_TEST_SERVER: &str = "2.16.528.1.1007.99.12";

    /// The prefix of every OID of the UZI-register's TEST environment.
    pub const TEST_ARC: &str = "2.16.528.1.1007.99.";
}
