//! The validator: configuration (trust anchors, intermediates, CRLs, accepted card types) and
//! the checks that turn a chain into a [`VerifiedUziIdentity`].

use std::time::Duration;

use chrono::{DateTime, Utc};
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, TrustAnchor, UnixTime};
use webpki::{
    BorrowedCertRevocationList, CertRevocationList, EndEntityCert, ExpirationPolicy,
    ExtendedKeyUsageValidator, KeyPurposeIdIter, RevocationCheckDepth, RevocationOptionsBuilder,
    UnknownStatusPolicy, VerifiedPath,
};
use x509_cert::der::Decode;
use x509_cert::ext::pkix::ExtendedKeyUsage;
use zvp_core::CardType;

use super::certificate::{OtherNameValue, UziCertificate};
use super::error::{SanDefect, UziError};
use super::identity::VerifiedUziIdentity;
use super::profile::{check_authentication_profile, check_consistency};
use super::shortcut::Shortcuts;
use super::{Environment, MAX_CONFIGURED_CERTIFICATES, MAX_PRESENTED_CERTIFICATES, oid};

/// Why a validator could not be configured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No trust anchor was given: nothing could ever validate.
    #[error("no trust anchors configured")]
    NoAnchors,
    /// More anchors and intermediates than [`MAX_CONFIGURED_CERTIFICATES`].
    #[error("{found} certificates configured, at most {MAX_CONFIGURED_CERTIFICATES} are allowed")]
    TooManyCertificates {
        /// How many were configured.
        found: usize,
    },
    /// A trust anchor is not a usable certificate.
    #[error("trust anchor {index}: {reason}")]
    InvalidAnchor {
        /// Its position in the list given.
        index: usize,
        /// What is wrong.
        reason: String,
    },
    /// An intermediate is not a well-formed certificate.
    #[error("intermediate {index}: {reason}")]
    InvalidIntermediate {
        /// Its position in the list given.
        index: usize,
        /// What is wrong.
        reason: String,
    },
    /// A CRL is not a well-formed, supported revocation list.
    #[error("crl {index}: {reason}")]
    InvalidCrl {
        /// Its position in the list given.
        index: usize,
        /// What is wrong.
        reason: String,
    },
}

/// How revocation is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Revocation {
    /// The leaf's issuer must have a configured CRL; `stale_allowed` says whether a CRL past
    /// its nextUpdate still counts.
    Required { stale_allowed: bool },
    /// No revocation checking: only for tests and demos without CRLs.
    Disabled,
}

/// Validates UZI certificate chains for one environment.
///
/// Built from the trust anchors of one environment (production or TEST, never both), plus
/// intermediates and CRLs. By default revocation is required (a leaf whose issuer has no
/// configured CRL is refused with `revocation-unknown`, a stale CRL with `crl-stale`) and only
/// Z cards (zorgverlenerpassen) are accepted.
///
/// ```no_run
/// # fn load(_: &str) -> Vec<rustls_pki_types::CertificateDer<'static>> { vec![] }
/// # fn crls() -> Vec<rustls_pki_types::CertificateRevocationListDer<'static>> { vec![] }
/// use zvp_auth::uzi::{Environment, UziValidator};
///
/// let validator = UziValidator::new(Environment::Production, load("roots.pem"))?
///     .with_intermediates(load("uzi-cas.pem"))?
///     .with_crls(crls())?;
/// let presented = load("client-chain.pem");
/// let identity = validator.validate(&presented, std::time::SystemTime::now().into())?;
/// println!("UZI number {}", identity.uzi_number());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct UziValidator {
    environment: Environment,
    // INVARIANT: not empty; anchors.len() + intermediates.len() <= MAX_CONFIGURED_CERTIFICATES.
    anchors: Vec<TrustAnchor<'static>>,
    intermediates: Vec<CertificateDer<'static>>,
    // INVARIANT: same length as `intermediates`; entry i says whether intermediate i's EKU
    // (if present) allows clientAuth, worked out once when it was configured.
    intermediates_allow_client_auth: Vec<bool>,
    crls: Vec<CertRevocationList<'static>>,
    revocation: Revocation,
    accepted_card_types: Vec<CardType>,
    /// Configured issuing CAs whose path webpki has verified, as anchors for their next cards.
    shortcuts: Shortcuts,
}

impl UziValidator {
    /// A validator for `environment` that trusts `anchors` (root certificates, DER).
    ///
    /// # Errors
    ///
    /// [`ConfigError::NoAnchors`], [`ConfigError::TooManyCertificates`], or
    /// [`ConfigError::InvalidAnchor`] when a certificate cannot serve as an anchor.
    pub fn new(
        environment: Environment,
        anchors: impl IntoIterator<Item = CertificateDer<'static>>,
    ) -> Result<Self, ConfigError> {
        let anchors = anchors
            .into_iter()
            .enumerate()
            .map(|(index, der)| {
                webpki::anchor_from_trusted_cert(&der)
                    .map(|a| a.to_owned())
                    .map_err(|e| ConfigError::InvalidAnchor {
                        index,
                        reason: format!("{e:?}"),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if anchors.is_empty() {
            return Err(ConfigError::NoAnchors);
        }
        let validator = Self {
            environment,
            anchors,
            intermediates: Vec::new(),
            intermediates_allow_client_auth: Vec::new(),
            crls: Vec::new(),
            revocation: Revocation::Required {
                stale_allowed: false,
            },
            accepted_card_types: vec![CardType::CareProvider],
            shortcuts: Shortcuts::default(),
        };
        validator.check_size()
    }

    /// Adds intermediate CA certificates (DER) to build chains with, besides those the client
    /// presents. Browsers usually send only the card's certificate, so configure the UZI
    /// issuing and domain CAs here.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidIntermediate`] for a certificate that does not parse, and
    /// [`ConfigError::TooManyCertificates`].
    pub fn with_intermediates(
        mut self,
        intermediates: impl IntoIterator<Item = CertificateDer<'static>>,
    ) -> Result<Self, ConfigError> {
        for (index, der) in intermediates.into_iter().enumerate() {
            let invalid = |reason: String| ConfigError::InvalidIntermediate { index, reason };
            UziCertificate::from_der(&der).map_err(|e| invalid(e.to_string()))?;
            let allows = allows_client_auth(&der).map_err(|e| invalid(e.to_string()))?;
            self.intermediates.push(der);
            self.intermediates_allow_client_auth.push(allows);
        }
        self.shortcuts = Shortcuts::default();
        self.check_size()
    }

    /// Adds certificate revocation lists (DER). Their signatures are checked against the
    /// issuing CA when a chain is validated.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidCrl`] for a list that does not parse or uses an unsupported
    /// feature (delta CRLs, indirect CRLs).
    pub fn with_crls(
        mut self,
        crls: impl IntoIterator<Item = CertificateRevocationListDer<'static>>,
    ) -> Result<Self, ConfigError> {
        for (index, der) in crls.into_iter().enumerate() {
            let crl = BorrowedCertRevocationList::from_der(&der)
                .and_then(|crl| crl.to_owned())
                .map_err(|e| ConfigError::InvalidCrl {
                    index,
                    reason: format!("{e:?}"),
                })?;
            self.crls.push(CertRevocationList::Owned(crl));
        }
        self.shortcuts = Shortcuts::default();
        Ok(self)
    }

    /// Accepts CRLs past their nextUpdate instead of failing closed. The UZI-register
    /// publishes hourly with a 48-hour nextUpdate, so a stale CRL means the portal's refresh
    /// is broken; accepting it trades safety for availability and should be a deliberate,
    /// temporary choice.
    #[must_use]
    pub fn with_stale_crls_accepted(mut self) -> Self {
        self.revocation = Revocation::Required {
            stale_allowed: true,
        };
        self.shortcuts = Shortcuts::default();
        self
    }

    /// Turns revocation checking off. For tests and demos without CRLs only: a production
    /// portal must check revocation (the UZI CPS obliges relying parties to).
    #[must_use]
    pub fn without_revocation_checking(mut self) -> Self {
        self.revocation = Revocation::Disabled;
        self.shortcuts = Shortcuts::default();
        self
    }

    /// Sets the accepted card types (default: only Z). A portal that lets administrators log
    /// in with a medewerkerpas op naam accepts N too, and refuses N for other accounts.
    #[must_use]
    pub fn with_accepted_card_types(mut self, card_types: &[CardType]) -> Self {
        self.accepted_card_types = card_types.to_vec();
        self.shortcuts = Shortcuts::default();
        self
    }

    /// How many configured issuing CAs cards are now verified against directly, their path to
    /// an anchor having been verified once (see the module documentation, "One path per
    /// issuing CA"). For an operator's metrics, and to show the shortcut is taken.
    pub fn learned_issuing_cas(&self) -> usize {
        self.shortcuts.len()
    }

    /// The environment this validator serves.
    pub const fn environment(&self) -> Environment {
        self.environment
    }

    /// The subjects (DER) of the configured anchors and intermediates: the CA names a TLS
    /// server sends as acceptable issuers, so the browser offers only UZI cards.
    pub fn ca_subjects(&self) -> Vec<Vec<u8>> {
        let anchors = self.anchors.iter().map(|a| a.subject.as_ref().to_vec());
        let intermediates = self.intermediates.iter().filter_map(|der| {
            EndEntityCert::try_from(der)
                .ok()
                .map(|c| subject_content(&c))
        });
        anchors.chain(intermediates).collect()
    }

    /// Validates a presented chain (leaf first, DER) at `now` into a verified identity. See
    /// the [module documentation](super) for the checks and their order.
    ///
    /// # Errors
    ///
    /// The first check that fails, as a [`UziError`].
    pub fn validate(
        &self,
        chain: &[CertificateDer<'_>],
        now: DateTime<Utc>,
    ) -> Result<VerifiedUziIdentity, UziError> {
        // 1. Bounds.
        let [leaf_der, presented_intermediates @ ..] = chain else {
            return Err(UziError::NoCertificate);
        };
        if chain.len() > MAX_PRESENTED_CERTIFICATES {
            return Err(UziError::ChainTooLong {
                found: chain.len(),
                max: MAX_PRESENTED_CERTIFICATES,
            });
        }
        // 2. Parse (also bounds the leaf's size).
        let cert = UziCertificate::from_der(leaf_der)?;
        for der in presented_intermediates {
            if der.len() > super::MAX_CERTIFICATE_SIZE {
                return Err(UziError::CertificateTooLarge {
                    found: der.len(),
                    max: super::MAX_CERTIFICATE_SIZE,
                });
            }
        }
        // 3. Validity of the leaf.
        if now > cert.not_after {
            return Err(UziError::Expired {
                not_after: cert.not_after,
            });
        }
        if now < cert.not_before {
            return Err(UziError::NotYetValid {
                not_before: cert.not_before,
            });
        }
        // 3b. PKIoverheid's key and algorithm floors for the card (webpki never judges the
        // card's own key, which verifies no signature on the path).
        super::floors::check(leaf_der)?;
        // 4. Chain, signatures, revocation; the floors for the CAs on the path.
        self.verify_chain(leaf_der, presented_intermediates, now)?;
        // 5. Subject ID.
        let id = cert.subject_id()?;
        // 6. Card type.
        if !self.accepted_card_types.contains(&id.card_type) {
            return Err(UziError::CardTypeNotAccepted {
                card_type: id.card_type,
            });
        }
        // 7. Authentication certificate profile; 8. environment.
        let environment = check_authentication_profile(&cert, id.card_type)?;
        match (self.environment, environment) {
            (Environment::Production, Environment::Test) => {
                return Err(UziError::TestCertificateInProduction);
            }
            (Environment::Test, Environment::Production) => {
                return Err(UziError::ProductionCertificateInTest);
            }
            _ => {}
        }
        // 9. Consistency.
        if cert
            .upn_values
            .iter()
            .any(|upn| !matches!(upn, OtherNameValue::Utf8String(_)))
        {
            return Err(UziError::SanMalformed(SanDefect::UpnNotUtf8String));
        }
        check_consistency(&cert, &id, environment).map_err(UziError::SanInconsistent)?;

        Ok(VerifiedUziIdentity {
            uzi_number: id.uzi_number,
            card_type: id.card_type,
            subscriber: id.subscriber,
            role: id.role,
            agb: id.agb,
            common_name: cert.subject.common_name,
            given_name: cert.subject.given_name,
            surname: cert.subject.surname,
            title: cert.subject.title,
            organization: cert.subject.organization,
            environment,
            issuer: cert.issuer_common_name.unwrap_or_default(),
            serial: cert.serial,
            certificate_sha256: sha256_hex(leaf_der),
            not_after: cert.not_after,
            verified_at: now,
        })
    }

    /// Step 4: path building, signatures, validity of the CAs, constraints, EKU nesting and
    /// revocation, by rustls-webpki.
    fn verify_chain(
        &self,
        leaf: &CertificateDer<'_>,
        presented: &[CertificateDer<'_>],
        now: DateTime<Utc>,
    ) -> Result<(), UziError> {
        let end_entity = EndEntityCert::try_from(leaf)
            .map_err(|e| UziError::MalformedCertificate(format!("{e:?}")))?;
        // Configured intermediates first: path building tries candidates in this order, so a
        // chain the operator vetted wins over one the client brings along.
        let intermediates: Vec<CertificateDer<'_>> = self
            .intermediates
            .iter()
            .chain(presented)
            .map(|der| CertificateDer::from(der.as_ref()))
            .collect();
        let crl_refs: Vec<&CertRevocationList<'_>> = self.crls.iter().collect();
        let revocation = match self.revocation {
            Revocation::Disabled => None,
            Revocation::Required { stale_allowed } => {
                let Ok(builder) = RevocationOptionsBuilder::new(&crl_refs) else {
                    // No CRL at all: nothing can be known about revocation.
                    return Err(UziError::RevocationUnknown);
                };
                Some(
                    builder
                        // The card's revocation only. The shortcut (`shortcut.rs`) relies on this:
                        // on a learned CA's path, no CA's revocation is checked either way.
                        .with_depth(RevocationCheckDepth::EndEntity)
                        .with_status_policy(UnknownStatusPolicy::Deny)
                        .with_expiration_policy(if stale_allowed {
                            ExpirationPolicy::Ignore
                        } else {
                            ExpirationPolicy::Enforce
                        })
                        .build(),
                )
            }
        };
        let seconds = u64::try_from(now.timestamp()).unwrap_or(0);
        let time = UnixTime::since_unix_epoch(Duration::from_secs(seconds));
        // A card of an issuing CA whose path was verified before: its signature, validity and
        // revocation against that CA, the CAs' validity at `now` here. Anything else, and any
        // failure, takes the whole path below (see `shortcut`).
        let learned = self.shortcuts.anchors();
        if !learned.is_empty() {
            let short = end_entity.verify_for_usage(
                webpki::ALL_VERIFICATION_ALGS,
                &learned,
                &[],
                time,
                AnyWellFormedEku,
                revocation,
                None,
            );
            if let Ok(path) = short
                && self.shortcuts.valid_at(path.anchor(), now)
            {
                return Ok(());
            }
        }
        let path = end_entity
            .verify_for_usage(
                webpki::ALL_VERIFICATION_ALGS,
                &self.anchors,
                &intermediates,
                time,
                AnyWellFormedEku,
                revocation,
                None,
            )
            .map_err(|e| match map_webpki_error(e) {
                // A CA signed with SHA-1 fails path building on the algorithm: name the cause.
                UziError::UnsupportedSignatureAlgorithm
                    if super::floors::any_sha1_signed(intermediates.iter().map(|c| c.as_ref())) =>
                {
                    UziError::Sha1Signature
                }
                other => other,
            })?;
        for ca in path.intermediate_certificates() {
            super::floors::check(ca.der().as_ref())?;
        }
        self.check_eku_nesting(&path)?;
        self.shortcuts.learn(&path, &self.intermediates);
        Ok(())
    }

    /// EKU nesting: every CA on the path whose EKU extension is present must allow
    /// clientAuth, as rustls-webpki would require with `KeyUsage::client_auth()`. Configured
    /// intermediates were checked once when configured; presented ones are read here.
    fn check_eku_nesting(&self, path: &VerifiedPath<'_>) -> Result<(), UziError> {
        for ca in path.intermediate_certificates() {
            let der = ca.der();
            let configured = self
                .intermediates
                .iter()
                .zip(&self.intermediates_allow_client_auth)
                .find(|(c, _)| c.as_ref() == der.as_ref())
                .map(|(_, allows)| *allows);
            let allows = match configured {
                Some(allows) => allows,
                None => allows_client_auth(&der)
                    .map_err(|e| UziError::MalformedCertificate(e.to_string()))?,
            };
            if !allows {
                return Err(UziError::ChainInvalid(
                    "a certificate authority on the path may not issue client certificates (eku)"
                        .to_owned(),
                ));
            }
        }
        Ok(())
    }

    /// Keeps the configuration within [`MAX_CONFIGURED_CERTIFICATES`].
    fn check_size(self) -> Result<Self, ConfigError> {
        let found = self.anchors.len() + self.intermediates.len();
        if found > MAX_CONFIGURED_CERTIFICATES {
            return Err(ConfigError::TooManyCertificates { found });
        }
        Ok(self)
    }
}

/// Lets webpki build the path whatever the leaf's EKU says: the leaf's EKU is judged in step
/// 7, where a wrong certificate gets its own error. A malformed EKU is still an error.
struct AnyWellFormedEku;

impl ExtendedKeyUsageValidator for AnyWellFormedEku {
    fn validate(&self, iter: KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        for purpose in iter {
            purpose?;
        }
        Ok(())
    }
}

/// Whether a CA certificate's EKU, if it has one, allows clientAuth.
fn allows_client_auth(der: &[u8]) -> Result<bool, x509_cert::der::Error> {
    let cert = x509_cert::Certificate::from_der(der)?;
    let eku = cert.tbs_certificate().get_extension::<ExtendedKeyUsage>()?;
    Ok(eku.is_none_or(|(_, eku)| eku.0.contains(&oid::CLIENT_AUTH)))
}

/// Maps rustls-webpki's verdict to the UZI error a practitioner and an operator can use.
fn map_webpki_error(e: webpki::Error) -> UziError {
    use webpki::Error as E;
    match e {
        E::UnknownIssuer => UziError::UntrustedIssuer,
        E::InvalidSignatureForPublicKey => UziError::BadSignature,
        E::UnsupportedSignatureAlgorithmContext(_)
        | E::UnsupportedSignatureAlgorithmForPublicKeyContext(_)
        | E::SignatureAlgorithmMismatch => UziError::UnsupportedSignatureAlgorithm,
        E::CertExpired { .. } | E::CertNotValidYet { .. } => UziError::CaNotValid,
        E::CertRevoked => UziError::Revoked,
        E::CrlExpired { next_update, .. } => UziError::CrlStale {
            next_update: unix_to_chrono(next_update),
        },
        E::UnknownRevocationStatus => UziError::RevocationUnknown,
        E::InvalidCrlSignatureForPublicKey
        | E::UnsupportedCrlSignatureAlgorithmContext(_)
        | E::UnsupportedCrlSignatureAlgorithmForPublicKeyContext(_)
        | E::IssuerNotCrlSigner
        | E::UnsupportedCrlVersion
        | E::UnsupportedDeltaCrl
        | E::UnsupportedIndirectCrl
        | E::UnsupportedRevocationReason
        | E::UnsupportedRevocationReasonsPartitioning
        | E::UnsupportedCrlIssuingDistributionPoint
        | E::InvalidCrlNumber => UziError::CrlInvalid(format!("{e:?}")),
        E::MaximumSignatureChecksExceeded
        | E::MaximumPathBuildCallsExceeded
        | E::MaximumPathDepthExceeded
        | E::MaximumNameConstraintComparisonsExceeded => UziError::TooMuchWork(format!("{e:?}")),
        E::BadDer
        | E::BadDerTime
        | E::TrailingData(_)
        | E::MalformedExtensions
        | E::ExtensionValueInvalid
        | E::InvalidSerialNumber
        | E::UnsupportedCertVersion
        | E::InvalidCertValidity
        | E::EmptyEkuExtension => UziError::MalformedCertificate(format!("{e:?}")),
        other => UziError::ChainInvalid(format!("{other:?}")),
    }
}

/// webpki's time as chrono.
fn unix_to_chrono(t: UnixTime) -> DateTime<Utc> {
    i64::try_from(t.as_secs())
        .ok()
        .and_then(|s| DateTime::from_timestamp(s, 0))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The subject of a certificate, as the content of its Name (what rustls's
/// `DistinguishedName::in_sequence` wraps).
fn subject_content(cert: &EndEntityCert<'_>) -> Vec<u8> {
    // EndEntityCert derefs to webpki's Cert, whose subject() is the Name's content.
    cert.subject().to_vec()
}

/// SHA-256 of `bytes`, lower-case hex.
fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes).as_ref())
}
