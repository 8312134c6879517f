//! Why a UZI certificate was refused: one variant per cause, each with a stable code and a
//! Dutch sentence for the practitioner.

use chrono::{DateTime, Utc};
use serde::Serialize;
use zvp_core::{CardType, RoleCode, UziNumber};

use super::san::SubjectIdError;

/// Why a UZI certificate does not yield a verified identity.
///
/// [`code`](Self::code) is a stable machine code for logs, the audit trail and the command
/// line; [`advice_nl`](Self::advice_nl) is the Dutch sentence the portal shows, telling the
/// practitioner what to do. `Display` gives a precise English description for operators.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UziError {
    /// No certificate was presented.
    #[error("no certificate was presented")]
    NoCertificate,
    /// More certificates were presented than any UZI chain has.
    #[error("{found} certificates presented, at most {max} are accepted")]
    ChainTooLong {
        /// How many were presented.
        found: usize,
        /// The bound, [`MAX_PRESENTED_CERTIFICATES`](super::MAX_PRESENTED_CERTIFICATES).
        max: usize,
    },
    /// A certificate is larger than any UZI certificate.
    #[error("a certificate of {found} bytes was presented, at most {max} are accepted")]
    CertificateTooLarge {
        /// Its size.
        found: usize,
        /// The bound, [`MAX_CERTIFICATE_SIZE`](super::MAX_CERTIFICATE_SIZE).
        max: usize,
    },
    /// The certificate is not a well-formed X.509 certificate.
    #[error("malformed certificate: {0}")]
    MalformedCertificate(String),
    /// The certificate's validity ended before `now`.
    #[error("the certificate expired at {not_after}")]
    Expired {
        /// The certificate's notAfter.
        not_after: DateTime<Utc>,
    },
    /// The certificate's validity starts after `now`.
    #[error("the certificate is not valid before {not_before}")]
    NotYetValid {
        /// The certificate's notBefore.
        not_before: DateTime<Utc>,
    },
    /// A CA certificate in the chain is outside its validity period.
    #[error("a certificate authority in the chain is expired or not yet valid")]
    CaNotValid,
    /// No chain leads from the certificate to a configured trust anchor.
    #[error("the certificate was not issued under a configured UZI trust anchor")]
    UntrustedIssuer,
    /// A signature in the chain does not verify.
    #[error("a signature in the chain does not verify")]
    BadSignature,
    /// The card or a CA on its path has an RSA key below PKIoverheid's minimum.
    #[error("an RSA key of {bits} bits, at least {min} are required")]
    RsaKeyTooSmall {
        /// The key's modulus size.
        bits: usize,
        /// The floor, [`MIN_RSA_BITS`](super::MIN_RSA_BITS).
        min: usize,
    },
    /// The card or a CA on its path has an EC key on a curve other than P-256, P-384, P-521.
    #[error("an EC key on curve {curve}, only P-256, P-384 and P-521 are accepted")]
    EcCurveNotAccepted {
        /// The curve's OID (or why there is none).
        curve: String,
    },
    /// The card or a CA on its path has a key that is neither RSA nor EC.
    #[error("a key of algorithm {algorithm}, only RSA and EC are accepted")]
    KeyAlgorithmNotAccepted {
        /// The key algorithm's OID.
        algorithm: String,
    },
    /// The card or a CA on its path is signed with SHA-1.
    #[error("a certificate in the chain is signed with SHA-1")]
    Sha1Signature,
    /// A signature in the chain uses an algorithm zvp does not accept.
    #[error("a signature in the chain uses an unsupported algorithm")]
    UnsupportedSignatureAlgorithm,
    /// The chain breaks a structural rule: basic constraints, path length, name constraints,
    /// an unknown critical extension, or EKU nesting.
    #[error("the chain is invalid: {0}")]
    ChainInvalid(String),
    /// Path building needed more work than the bounds allow.
    #[error("validating the chain needs more work than allowed: {0}")]
    TooMuchWork(String),
    /// The card certificate is on its issuer's revocation list. Revocation is checked for the
    /// card itself; the CAs above it come from the operator's configured intermediates, which
    /// path building prefers over any the client presents.
    #[error("the certificate is revoked")]
    Revoked,
    /// The revocation list for the issuer is past its nextUpdate.
    #[error("the revocation list is stale (next update was due at {next_update})")]
    CrlStale {
        /// The CRL's nextUpdate.
        next_update: DateTime<Utc>,
    },
    /// No configured revocation list covers the certificate's issuer.
    #[error("no revocation list for the issuer is configured, so revocation is unknown")]
    RevocationUnknown,
    /// A revocation list is malformed or its signature does not verify.
    #[error("a revocation list is invalid: {0}")]
    CrlInvalid(String),
    /// The certificate has no UZI Subject ID (SAN otherName 2.5.5.5).
    #[error("the certificate has no UZI subject id (SAN otherName 2.5.5.5)")]
    SanMissing,
    /// The UZI Subject ID is present but not well-formed.
    #[error("malformed UZI subject id: {0}")]
    SanMalformed(SanDefect),
    /// The certificate's card type is not accepted here.
    #[error("card type {card_type} is not accepted")]
    CardTypeNotAccepted {
        /// The card type found.
        card_type: CardType,
    },
    /// The certificate is not the authentication certificate of a UZI card.
    #[error("not an authentication certificate: {0}")]
    NotAuthenticationCertificate(AuthProfileDefect),
    /// A certificate of the UZI-register's TEST environment, where production is configured.
    #[error("a TEST certificate was presented to a production portal")]
    TestCertificateInProduction,
    /// A production certificate, where the TEST environment is configured.
    #[error("a production certificate was presented to a TEST portal")]
    ProductionCertificateInTest,
    /// The UZI Subject ID contradicts the rest of the certificate.
    #[error("inconsistent UZI subject id: {0}")]
    SanInconsistent(SanInconsistency),
    /// The role on the card is not among the eligible roles.
    #[error("role {role} is not eligible")]
    RoleNotEligible {
        /// The role on the card.
        role: RoleCode,
    },
}

/// What is wrong with a present UZI Subject ID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SanDefect {
    /// More than one 2.5.5.5 otherName.
    #[error("{found} subject ids, exactly one is allowed")]
    Duplicate {
        /// How many there were.
        found: usize,
    },
    /// The value is not an IA5String, as the UZI profile prescribes.
    #[error("the subject id is not an IA5String")]
    NotIa5String,
    /// The string does not parse.
    #[error(transparent)]
    Value(#[from] SubjectIdError),
    /// The UPN otherName is not a UTF8String.
    #[error("the UPN is not a UTF8String")]
    UpnNotUtf8String,
}

/// How the certificate fails the profile of a UZI authentication certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthProfileDefect {
    /// No key usage extension.
    #[error("no key usage")]
    KeyUsageMissing,
    /// Key usage without digitalSignature.
    #[error("key usage lacks digitalSignature")]
    NoDigitalSignature,
    /// Key usage with a purpose an authentication key never has (nonRepudiation marks the
    /// signature certificate, keyEncipherment the encryption certificate).
    #[error("key usage includes {0}")]
    ForbiddenKeyUsage(&'static str),
    /// No extended key usage clientAuth.
    #[error("extended key usage lacks clientAuth")]
    NoClientAuth,
    /// None of the UZI authentication certificate policies.
    #[error("no UZI authentication certificate policy")]
    NoAuthenticationPolicy,
}

/// How the UZI Subject ID contradicts the rest of the certificate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SanInconsistency {
    /// The subject serialNumber is missing.
    #[error("the subject has no serialNumber")]
    SerialNumberMissing,
    /// The UZI number is not the subject serialNumber.
    #[error("uzi number {san} differs from subject serialNumber {serial_number:?}")]
    UziNumberNotSerialNumber {
        /// The UZI number in the Subject ID.
        san: UziNumber,
        /// The subject's serialNumber.
        serial_number: String,
    },
    /// The issuing CA is not a known UZI issuing CA.
    #[error("the issuing ca {issuer:?} is not a known UZI issuing ca")]
    UnknownIssuingCa {
        /// The issuer's common name.
        issuer: String,
    },
    /// The CA OID is not that of the issuing CA.
    #[error("ca oid {san} is not that of the issuing ca ({issuer})")]
    CaOidNotIssuer {
        /// The CA OID in the Subject ID.
        san: String,
        /// The issuing CA's OID.
        issuer: String,
    },
    /// The card type is not the one the issuing CA issues.
    #[error("card type {san} is not the one the issuing ca issues ({issuer})")]
    CardTypeNotIssuer {
        /// The card type in the Subject ID.
        san: CardType,
        /// The issuing CA's card type.
        issuer: CardType,
    },
    /// The issuing CA belongs to another environment than the certificate's policy.
    #[error("the issuing ca is a {issuer:?} ca, the certificate a {certificate:?} certificate")]
    IssuerEnvironment {
        /// The issuing CA's environment.
        issuer: super::Environment,
        /// The environment of the certificate's policy.
        certificate: super::Environment,
    },
    /// The UPN is not `<uzi number>@<subscriber>`.
    #[error("upn {upn:?} is not {expected:?}")]
    UpnMismatch {
        /// The UPN found.
        upn: String,
        /// What it should be.
        expected: String,
    },
}

impl UziError {
    /// The stable machine code of the error, for logs, the audit trail and the command line.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::NoCertificate => "no-certificate",
            Self::ChainTooLong { .. } => "chain-too-long",
            Self::CertificateTooLarge { .. } => "certificate-too-large",
            Self::MalformedCertificate(_) => "malformed-certificate",
            Self::Expired { .. } => "expired",
            Self::NotYetValid { .. } => "not-yet-valid",
            Self::CaNotValid => "ca-not-valid",
            Self::UntrustedIssuer => "untrusted-issuer",
            Self::BadSignature => "bad-signature",
            Self::RsaKeyTooSmall { .. } => "rsa-key-too-small",
            Self::EcCurveNotAccepted { .. } => "ec-curve-not-accepted",
            Self::KeyAlgorithmNotAccepted { .. } => "key-algorithm-not-accepted",
            Self::Sha1Signature => "sha1-signature",
            Self::UnsupportedSignatureAlgorithm => "unsupported-signature-algorithm",
            Self::ChainInvalid(_) => "chain-invalid",
            Self::TooMuchWork(_) => "too-much-work",
            Self::Revoked => "revoked",
            Self::CrlStale { .. } => "crl-stale",
            Self::RevocationUnknown => "revocation-unknown",
            Self::CrlInvalid(_) => "crl-invalid",
            Self::SanMissing => "san-missing",
            Self::SanMalformed(_) => "san-malformed",
            Self::CardTypeNotAccepted { .. } => "card-type-not-accepted",
            Self::NotAuthenticationCertificate(_) => "not-authentication-certificate",
            Self::TestCertificateInProduction => "test-certificate-in-production",
            Self::ProductionCertificateInTest => "production-certificate-in-test",
            Self::SanInconsistent(_) => "san-inconsistent",
            Self::RoleNotEligible { .. } => "role-not-eligible",
        }
    }

    /// What the practitioner reads on the refusal page: what happened and what to do, in
    /// Dutch. The portal adds the hospital's contact details, the time and a reference number.
    pub const fn advice_nl(&self) -> &'static str {
        match self {
            Self::NoCertificate => {
                "Uw browser heeft geen UZI-pas aangeboden. Controleer of de pas in de kaartlezer \
                 zit en of de ZORG-ID- of SafeSign-software draait, en probeer het opnieuw."
            }
            Self::ChainTooLong { .. }
            | Self::CertificateTooLarge { .. }
            | Self::MalformedCertificate(_) => {
                "Het aangeboden certificaat is geen geldig UZI-certificaat. Kies bij het inloggen \
                 het certificaat van uw UZI-pas."
            }
            Self::Expired { .. } => {
                "Uw UZI-pas is verlopen. Vraag een nieuwe pas aan bij het UZI-register \
                 (uziregister.nl) en log daarna opnieuw in."
            }
            Self::NotYetValid { .. } => {
                "Uw UZI-pas is nog niet geldig. Probeer het opnieuw vanaf de ingangsdatum van de \
                 pas, of controleer of de datum en tijd van uw computer kloppen."
            }
            Self::CaNotValid
            | Self::UnsupportedSignatureAlgorithm
            | Self::ChainInvalid(_)
            | Self::TooMuchWork(_)
            | Self::CrlInvalid(_)
            | Self::RevocationUnknown => {
                "Uw UZI-pas kon nu niet worden gecontroleerd door een storing aan onze kant. \
                 Probeer het later opnieuw; lukt het dan nog niet, neem contact op met het \
                 ziekenhuis."
            }
            Self::CrlStale { .. } => {
                "De intrekkingslijst van het UZI-register is bij ons niet actueel, daardoor kan \
                 uw pas nu niet worden gecontroleerd. Probeer het later opnieuw; wij zijn op de \
                 hoogte gebracht."
            }
            Self::UntrustedIssuer => {
                "Het aangeboden certificaat is niet uitgegeven door het UZI-register. Log in met \
                 uw UZI-pas en kies het certificaat van die pas."
            }
            Self::BadSignature => {
                "Het aangeboden certificaat is beschadigd of vervalst en wordt niet geaccepteerd. \
                 Log in met uw eigen UZI-pas."
            }
            Self::RsaKeyTooSmall { .. } => {
                "De sleutel van uw UZI-pas, of van de uitgever ervan, is korter dan 2048 bits en \
                 daarmee te zwak volgens de eisen van PKIoverheid. Vraag een nieuwe pas aan bij \
                 het UZI-register (uziregister.nl)."
            }
            Self::EcCurveNotAccepted { .. } => {
                "De sleutel van uw UZI-pas, of van de uitgever ervan, gebruikt een elliptische \
                 curve die PKIoverheid niet toestaat (minimaal P-256). Vraag een nieuwe pas aan \
                 bij het UZI-register (uziregister.nl)."
            }
            Self::KeyAlgorithmNotAccepted { .. } => {
                "De sleutel van uw UZI-pas, of van de uitgever ervan, is van een soort die \
                 PKIoverheid niet kent. Log in met uw UZI-pas en kies het certificaat van die \
                 pas; lukt het dan niet, neem contact op met het UZI-register."
            }
            Self::Sha1Signature => {
                "Het certificaat van uw UZI-pas, of van de uitgever ervan, is ondertekend met het \
                 verouderde SHA-1-algoritme en wordt niet meer geaccepteerd. Vraag een nieuwe pas \
                 aan bij het UZI-register (uziregister.nl)."
            }
            Self::Revoked => {
                "Uw UZI-pas is ingetrokken of geblokkeerd. Heeft u de pas niet zelf laten \
                 blokkeren, neem dan direct contact op met het UZI-register en met het \
                 ziekenhuis."
            }
            Self::SanMissing | Self::SanMalformed(_) | Self::SanInconsistent(_) => {
                "De gegevens op uw UZI-pas kunnen niet worden gelezen. Neem contact op met het \
                 ziekenhuis en vermeld het referentienummer op deze pagina."
            }
            Self::CardTypeNotAccepted { .. } => {
                "Met dit type UZI-pas kunt u niet inloggen. Het portaal is voor zorgverleners met \
                 een UZI-zorgverlenerpas."
            }
            Self::NotAuthenticationCertificate(_) => {
                "U heeft het verkeerde certificaat van uw UZI-pas gekozen. Sluit de browser, \
                 open het portaal opnieuw en kies het authenticatiecertificaat van de pas."
            }
            Self::TestCertificateInProduction => {
                "U logt in met een TEST-pas van het UZI-register. Gebruik uw echte UZI-pas."
            }
            Self::ProductionCertificateInTest => {
                "Dit is een testomgeving: log in met een TEST-pas van het UZI-register, niet met \
                 uw echte UZI-pas."
            }
            Self::RoleNotEligible { .. } => {
                "Het portaal is alleen toegankelijk voor huisartsen, specialisten \
                 ouderengeneeskunde en artsen verstandelijk gehandicapten. Volgens uw UZI-pas \
                 heeft u een andere rol; huisartsen in opleiding komen niet in aanmerking. Staat \
                 uw specialisme niet op uw pas, neem dan contact op met het ziekenhuis."
            }
        }
    }
}

/// The command line's and the portal log's view of an error.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorReport {
    /// [`UziError::code`].
    pub error: &'static str,
    /// The English description.
    pub message: String,
    /// [`UziError::advice_nl`].
    pub advice_nl: &'static str,
}

impl From<&UziError> for ErrorReport {
    fn from(e: &UziError) -> Self {
        Self {
            error: e.code(),
            message: e.to_string(),
            advice_nl: e.advice_nl(),
        }
    }
}
