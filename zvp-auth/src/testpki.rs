//! A UZI-like test PKI that mints cards of every kind (feature `test-pki`).
//!
//! For tests, benches, fuzzing and the demo — never for production. It builds a hierarchy
//! shaped like the UZI-register's: a root, a domain CA, and one issuing CA per card type
//! (Zorgverlener CA for Z, Medewerker op naam CA for N, Medewerker niet op naam CA for M, and
//! a Server CA for S, all under the one domain CA for simplicity). The issuing CAs carry the
//! common names of the real ones for the chosen [`Environment`], so that the validator's table
//! of issuing CAs ([`crate::uzi::ISSUING_CAS`]) applies; their organisation is
//! `zvp testpki`, and root and domain CA have names of their own, so nothing here can be
//! mistaken for the real register.
//!
//! A card comes with the certificates a real pass has (docs/uzi.md, "The three certificates
//! on a card"): authentication (key usage digitalSignature, EKU clientAuth, the
//! authentication policy, SAN with UPN and Subject ID), signature (nonRepudiation) and encryption (key/dataEncipherment); an M card has no
//! signature certificate and an S "card" is one server certificate. [`CardSpec`] can break any
//! part of the profile for negative tests. CRLs with revoked serials, and a TLS server
//! certificate for the portal under a separate root, complete it.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use zvp_auth::testpki::{CardSpec, KeyAlgorithm, TestPki};
//! use zvp_auth::uzi::Environment;
//! use zvp_core::RoleCode;
//!
//! let now = Utc.with_ymd_and_hms(2026, 11, 25, 8, 0, 0).unwrap();
//! let pki = TestPki::generate(Environment::Test, KeyAlgorithm::EcdsaP256, now)?;
//! let card = pki.issue_card(&CardSpec::care_provider(
//!     "900000001".parse()?, RoleCode::GENERAL_PRACTITIONER, now,
//! ))?;
//! let identity = pki.validator()?.without_revocation_checking()
//!     .validate(&card.authentication.chain(), now)?;
//! assert_eq!(identity.role(), RoleCode::GENERAL_PRACTITIONER);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Duration, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CustomExtension, DnType,
    DnValue, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose,
    RevocationReason, RevokedCertParams, RsaKeySize, SerialNumber,
};
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, PrivatePkcs8KeyDer};
use x509_cert::der::asn1::{Ia5String, ObjectIdentifier};
use x509_cert::der::{Any, Encode};
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::certpolicy::{CertificatePolicies, PolicyInformation};
use x509_cert::ext::pkix::name::{GeneralName, OtherName};
use zvp_core::{AgbCode, CardType, RoleCode, Ura, UziNumber};

mod weak;

use crate::uzi::{ConfigError, Environment, ISSUING_CAS, UziValidator, authentication_policy, oid};

/// Why the test PKI could not make something.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestPkiError {
    /// rcgen refused the parameters or failed to sign.
    #[error("test pki: {0}")]
    Rcgen(#[from] rcgen::Error),
    /// An extension could not be DER-encoded.
    #[error("test pki: encoding an extension: {0}")]
    Der(#[from] x509_cert::der::Error),
    /// A time is outside what a certificate can carry.
    #[error("test pki: time out of range")]
    Time,
    /// PKCS#12 encoding failed.
    #[error("test pki: pkcs#12: {0}")]
    Pkcs12(#[from] p12_keystore::error::Error),
}

/// The key type of the hierarchy and its cards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// ECDSA P-256 with SHA-256 everywhere: fast, for most tests.
    EcdsaP256,
    /// ECDSA P-384 with SHA-384 everywhere.
    EcdsaP384,
    /// As the real UZI hierarchy: RSA-4096 CAs and RSA-2048 cards, PKCS#1 v1.5 with SHA-256.
    /// Key generation takes seconds in a debug build.
    RsaLikeUzi,
}

/// The certificates a card carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CertificateKind {
    /// Authenticiteit: for logging in (TLS client authentication).
    Authentication,
    /// Handtekening: for qualified signatures (non-repudiation).
    Signature,
    /// Vertrouwelijkheid: for encryption.
    Encryption,
    /// A server certificate (S).
    Server,
}

/// What to put on a card. Start from [`CardSpec::care_provider`] or [`CardSpec::employee`]
/// and change fields; the `*_override` fields break the profile on purpose.
#[derive(Debug, Clone)]
pub struct CardSpec {
    /// The card type (and so the issuing CA, unless [`issuer_override`](Self::issuer_override)).
    pub card_type: CardType,
    /// The holder's UZI number (subject serialNumber and Subject ID).
    pub uzi_number: UziNumber,
    /// The subscriber (URA).
    pub subscriber: Ura,
    /// The role code.
    pub role: RoleCode,
    /// The AGB code; `None` writes `00000000`.
    pub agb: Option<AgbCode>,
    /// First names (GN).
    pub given_name: String,
    /// Prefixes and birth name (SN).
    pub surname: String,
    /// The title attribute (Z cards).
    pub title: Option<String>,
    /// The subscriber's name (O).
    pub organization: String,
    /// Start of validity.
    pub not_before: DateTime<Utc>,
    /// End of validity.
    pub not_after: DateTime<Utc>,
    /// Write exactly this Subject ID string instead of the one built from the fields.
    pub subject_id_override: Option<String>,
    /// Write the Subject ID as a UTF8String instead of an IA5String.
    pub subject_id_as_utf8: bool,
    /// Leave the Subject ID out.
    pub without_subject_id: bool,
    /// Write this subject serialNumber instead of the UZI number.
    pub serial_number_override: Option<String>,
    /// Write this UPN instead of `<uzi>@<subscriber>` on the authentication certificate.
    pub upn_override: Option<String>,
    /// Write the UPN as an IA5String instead of a UTF8String.
    pub upn_as_ia5: bool,
    /// Add keyAgreement to the authentication certificate's key usage.
    pub extra_key_agreement: bool,
    /// Issue from the CA of this card type instead of the card's own.
    pub issuer_override: Option<CardType>,
    /// Flip a bit in the signature of every certificate of the card.
    pub tamper_signature: bool,
    /// Put this key below PKIoverheid's floors in the card's certificates instead of the
    /// generated one (the certificates are still properly signed by the issuing CA; the key
    /// has no private half, see [`WeakKey`]).
    pub weak_key: Option<WeakKey>,
    /// Label the card's certificates as signed with SHA-1 (see [`WeakKey`] for why only the
    /// label).
    pub sha1_signature: bool,
}

/// A card key below PKIoverheid's floors. Neither rcgen nor aws-lc-rs makes RSA keys below
/// 2048 bits, keys on small curves, or SHA-1 signatures, so the test PKI writes such a key's
/// public half into the certificate and signs it again with the issuing CA: a correctly
/// chained certificate whose holder could not use it for TLS, which is all a validator test
/// needs. A SHA-1 signature is only a label over the CA's usual signature: every verifier
/// refuses on the label before it reads the signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeakKey {
    /// An RSA key with a 1024-bit modulus.
    Rsa1024,
    /// An EC key on P-192 (secp192r1).
    EcP192,
}

impl CardSpec {
    /// A zorgverlenerpas (Z) valid from a month before `now` for three years, subscriber
    /// `90000382`, AGB `01012345`, holder "Jan de Vries".
    pub fn care_provider(uzi_number: UziNumber, role: RoleCode, now: DateTime<Utc>) -> Self {
        Self {
            card_type: CardType::CareProvider,
            uzi_number,
            subscriber: DEFAULT_SUBSCRIBER,
            role,
            agb: Some(DEFAULT_AGB),
            given_name: "Jan".to_owned(),
            surname: "de Vries".to_owned(),
            title: Some("Huisarts".to_owned()),
            organization: "Huisartsenpraktijk De Linde".to_owned(),
            not_before: now - Duration::days(30),
            not_after: now + Duration::days(3 * 365),
            subject_id_override: None,
            subject_id_as_utf8: false,
            without_subject_id: false,
            serial_number_override: None,
            upn_override: None,
            upn_as_ia5: false,
            extra_key_agreement: false,
            issuer_override: None,
            tamper_signature: false,
            weak_key: None,
            sha1_signature: false,
        }
    }

    /// An employee card (N or M) or a server certificate (S): role `00.000`, no AGB.
    pub fn employee(card_type: CardType, uzi_number: UziNumber, now: DateTime<Utc>) -> Self {
        Self {
            card_type,
            role: RoleCode::NONE,
            agb: None,
            title: None,
            ..Self::care_provider(uzi_number, RoleCode::NONE, now)
        }
    }

    /// The Subject ID string the card will carry.
    pub fn subject_id(&self, environment: Environment) -> String {
        if let Some(s) = &self.subject_id_override {
            return s.clone();
        }
        let ca_oid = issuing_ca_oid(environment, self.card_type);
        let agb = self
            .agb
            .map_or_else(|| AgbCode::ABSENT.to_owned(), |a| a.to_string());
        format!(
            "{ca_oid}-1-{}-{}-{}-{}-{agb}",
            self.uzi_number, self.card_type, self.subscriber, self.role
        )
    }
}

/// The subscriber of [`CardSpec::care_provider`]: the URA of the real TEST cards.
pub const DEFAULT_SUBSCRIBER: Ura = match Ura::new(90_000_382) {
    Some(ura) => ura,
    None => unreachable!(),
};

/// The AGB code of [`CardSpec::care_provider`].
pub const DEFAULT_AGB: AgbCode = match AgbCode::new(1_012_345) {
    Some(agb) => agb,
    None => unreachable!(),
};

/// A certificate with its private key and the CAs above it.
#[derive(Debug, Clone)]
pub struct IssuedCertificate {
    /// The certificate.
    pub der: CertificateDer<'static>,
    /// Its private key, PKCS#8 DER.
    pub key_pkcs8: Vec<u8>,
    /// The CAs from its issuer up to, not including, the root.
    pub intermediates: Vec<CertificateDer<'static>>,
    /// Its serial number, as the CRL names it.
    pub serial: u64,
}

impl IssuedCertificate {
    /// The certificate followed by its intermediates: what a client presents.
    pub fn chain(&self) -> Vec<CertificateDer<'static>> {
        std::iter::once(self.der.clone())
            .chain(self.intermediates.iter().cloned())
            .collect()
    }

    /// The private key for rustls.
    pub fn private_key(&self) -> PrivatePkcs8KeyDer<'static> {
        PrivatePkcs8KeyDer::from(self.key_pkcs8.clone())
    }

    /// The certificate as PEM.
    pub fn cert_pem(&self) -> String {
        pem("CERTIFICATE", &self.der)
    }

    /// The certificate and its intermediates as PEM (what `certPath` of a browser test needs).
    pub fn chain_pem(&self) -> String {
        certificates_pem(&self.chain())
    }

    /// The private key as PKCS#8 PEM.
    pub fn key_pem(&self) -> String {
        pem("PRIVATE KEY", &self.key_pkcs8)
    }

    /// The certificate, its intermediates and its key as PKCS#12 (PBES2 with AES-256 and
    /// PBKDF2-SHA256), for importing the card into a browser or operating system.
    ///
    /// # Errors
    ///
    /// [`TestPkiError::Pkcs12`] when encoding fails.
    pub fn pkcs12(&self, alias: &str, password: &str) -> Result<Vec<u8>, TestPkiError> {
        use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, PrivateKey, PrivateKeyChain};
        let p12 = TestPkiError::Pkcs12;
        let key = PrivateKey::from_der(&self.key_pkcs8).map_err(p12)?;
        let certs = self
            .chain()
            .iter()
            .map(|der| Certificate::from_der(der))
            .collect::<Result<Vec<_>, _>>()
            .map_err(p12)?;
        let mut store = KeyStore::new();
        store.add_entry(
            alias,
            KeyStoreEntry::PrivateKeyChain(PrivateKeyChain::new(
                self.serial.to_be_bytes().to_vec(),
                key,
                certs,
            )),
        );
        store.writer(password).write().map_err(p12)
    }
}

/// Ways to break a generated hierarchy on purpose.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PkiOptions {
    /// Leave clientAuth out of the issuing CAs' extended key usage, so that EKU nesting fails
    /// for every card.
    pub issuing_cas_without_client_auth: bool,
}

/// The certificates of one card.
#[derive(Debug, Clone)]
pub struct Card {
    /// The authentication certificate (for S: the server certificate).
    pub authentication: IssuedCertificate,
    /// The signature certificate (Z and N cards).
    pub signature: Option<IssuedCertificate>,
    /// The encryption certificate (Z, N and M cards).
    pub encryption: Option<IssuedCertificate>,
}

/// One CA of the hierarchy.
#[derive(Debug)]
struct Ca {
    params: CertificateParams,
    key: KeyPair,
    der: CertificateDer<'static>,
}

/// The test PKI: a root, a domain CA, an issuing CA per card type, and a separate TLS root.
#[derive(Debug)]
pub struct TestPki {
    environment: Environment,
    algorithm: KeyAlgorithm,
    root: Ca,
    domain: Ca,
    issuing: Vec<(CardType, Ca)>,
    tls_root: Ca,
    next_serial: AtomicU64,
}

impl TestPki {
    /// Generates the hierarchy, valid from a year before `now` for ten years.
    ///
    /// # Errors
    ///
    /// [`TestPkiError`] when key generation or signing fails.
    pub fn generate(
        environment: Environment,
        algorithm: KeyAlgorithm,
        now: DateTime<Utc>,
    ) -> Result<Self, TestPkiError> {
        Self::generate_with(environment, algorithm, now, PkiOptions::default())
    }

    /// Generates the hierarchy with `options` that break it on purpose.
    ///
    /// # Errors
    ///
    /// [`TestPkiError`] when key generation or signing fails.
    pub fn generate_with(
        environment: Environment,
        algorithm: KeyAlgorithm,
        now: DateTime<Utc>,
        options: PkiOptions,
    ) -> Result<Self, TestPkiError> {
        let maker = CaMaker {
            algorithm,
            validity: (now - Duration::days(365), now + Duration::days(10 * 365)),
            serials: AtomicU64::new(1),
        };
        let test = if environment == Environment::Test {
            "TEST "
        } else {
            ""
        };
        let root = maker.make(&format!("zvp testpki {test}Root CA"), None, &[], true)?;
        let domain = maker.make(
            &format!("zvp testpki {test}Organisatie Persoon CA"),
            Some((&root, 1)),
            &[],
            true,
        )?;
        let mut issuing = Vec::new();
        for card_type in CardType::ALL {
            let ca = maker.make(
                &issuing_ca_name(environment, card_type),
                Some((&domain, 0)),
                &card_policies(environment, card_type),
                !options.issuing_cas_without_client_auth,
            )?;
            issuing.push((card_type, ca));
        }
        let tls_root = maker.make("zvp testpki TLS Root CA", None, &[], true)?;
        Ok(Self {
            environment,
            algorithm,
            root,
            domain,
            issuing,
            tls_root,
            next_serial: maker.serials,
        })
    }

    /// The environment the hierarchy imitates.
    pub const fn environment(&self) -> Environment {
        self.environment
    }

    /// The root certificate: the trust anchor.
    pub fn root(&self) -> CertificateDer<'static> {
        self.root.der.clone()
    }

    /// The domain CA and every issuing CA: the intermediates a portal configures.
    pub fn intermediates(&self) -> Vec<CertificateDer<'static>> {
        std::iter::once(self.domain.der.clone())
            .chain(self.issuing.iter().map(|(_, ca)| ca.der.clone()))
            .collect()
    }

    /// The issuing CA certificate of `card_type`.
    pub fn issuing_ca(&self, card_type: CardType) -> CertificateDer<'static> {
        self.issuer_of(card_type).der.clone()
    }

    /// The root of the separate hierarchy for the portal's own TLS server certificate.
    pub fn tls_root(&self) -> CertificateDer<'static> {
        self.tls_root.der.clone()
    }

    /// A validator for this hierarchy: its root as anchor, its CAs as intermediates, its
    /// environment. Revocation stays required; add CRLs or turn it off.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] — not expected for a generated hierarchy.
    pub fn validator(&self) -> Result<UziValidator, ConfigError> {
        UziValidator::new(self.environment, [self.root()])?.with_intermediates(self.intermediates())
    }

    /// Issues the certificates of a card.
    ///
    /// # Errors
    ///
    /// [`TestPkiError`] when signing or encoding fails.
    pub fn issue_card(&self, spec: &CardSpec) -> Result<Card, TestPkiError> {
        let issue = |kind| self.issue(spec, kind);
        Ok(match spec.card_type {
            CardType::CareProvider | CardType::NamedEmployee => Card {
                authentication: issue(CertificateKind::Authentication)?,
                signature: Some(issue(CertificateKind::Signature)?),
                encryption: Some(issue(CertificateKind::Encryption)?),
            },
            CardType::UnnamedEmployee => Card {
                authentication: issue(CertificateKind::Authentication)?,
                signature: None,
                encryption: Some(issue(CertificateKind::Encryption)?),
            },
            CardType::Server => Card {
                authentication: issue(CertificateKind::Server)?,
                signature: None,
                encryption: None,
            },
        })
    }

    /// A CRL of `card_type`'s issuing CA that revokes `revoked`, issued at `this_update` and
    /// due again at `next_update`.
    ///
    /// # Errors
    ///
    /// [`TestPkiError`] when `next_update` is not after `this_update` or signing fails.
    pub fn crl(
        &self,
        card_type: CardType,
        revoked: &[&IssuedCertificate],
        this_update: DateTime<Utc>,
        next_update: DateTime<Utc>,
    ) -> Result<CertificateRevocationListDer<'static>, TestPkiError> {
        let ca = self.issuer_of(card_type);
        let params = CertificateRevocationListParams {
            this_update: to_time(this_update)?,
            next_update: to_time(next_update)?,
            crl_number: SerialNumber::from(self.serial()),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|cert| {
                    Ok(RevokedCertParams {
                        serial_number: SerialNumber::from(cert.serial),
                        revocation_time: to_time(this_update)?,
                        reason_code: Some(RevocationReason::KeyCompromise),
                        invalidity_date: None,
                    })
                })
                .collect::<Result<_, TestPkiError>>()?,
            key_identifier_method: KeyIdMethod::Sha256,
        };
        let crl = params.signed_by(&Issuer::from_params(&ca.params, &ca.key))?;
        Ok(CertificateRevocationListDer::from(crl.der().to_vec()))
    }

    /// A TLS server certificate for the portal itself, for `dns_names`, under
    /// [`tls_root`](Self::tls_root).
    ///
    /// # Errors
    ///
    /// [`TestPkiError`] when signing fails.
    pub fn issue_tls_server(
        &self,
        dns_names: &[&str],
        now: DateTime<Utc>,
    ) -> Result<IssuedCertificate, TestPkiError> {
        let mut params = CertificateParams::new(
            dns_names
                .iter()
                .map(|n| (*n).to_owned())
                .collect::<Vec<_>>(),
        )?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(
            DnType::CommonName,
            dns_names.first().copied().unwrap_or("localhost"),
        );
        params.not_before = to_time(now - Duration::days(1))?;
        params.not_after = to_time(now + Duration::days(365))?;
        params.serial_number = Some(SerialNumber::from(self.serial()));
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        // Like a public server certificate, it names where its revocation list would be (the
        // test hierarchy publishes none; TLS scanners expect the pointer).
        params.crl_distribution_points = vec![rcgen::CrlDistributionPoint {
            uris: vec!["http://crl.zvp-testpki.invalid/tls-root.crl".to_owned()],
        }];
        // The portal's own server key is always ECDSA P-256: browsers and rustls handle it
        // well, and it is not part of the UZI profile.
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let cert = params.signed_by(
            &key,
            &Issuer::from_params(&self.tls_root.params, &self.tls_root.key),
        )?;
        Ok(IssuedCertificate {
            der: cert.der().clone(),
            key_pkcs8: key.serialize_der(),
            intermediates: Vec::new(),
            serial: self.serial(),
        })
    }

    /// Issues one certificate of a card.
    fn issue(
        &self,
        spec: &CardSpec,
        kind: CertificateKind,
    ) -> Result<IssuedCertificate, TestPkiError> {
        let issuer_type = spec.issuer_override.unwrap_or(spec.card_type);
        let ca = self.issuer_of(issuer_type);
        let serial = self.serial();

        let mut params = CertificateParams::default();
        params.not_before = to_time(spec.not_before)?;
        params.not_after = to_time(spec.not_after)?;
        params.serial_number = Some(SerialNumber::from(serial));
        params.is_ca = IsCa::ExplicitNoCa;
        params.use_authority_key_identifier_extension = true;
        params.distinguished_name = subject(spec);

        let (mut key_usages, ekus, policy) = profile(self.environment, spec.card_type, kind);
        if spec.extra_key_agreement && kind == CertificateKind::Authentication {
            key_usages.push(KeyUsagePurpose::KeyAgreement);
        }
        params.key_usages = key_usages;
        params.extended_key_usages = ekus;
        let mut policies = CustomExtension::from_oid_content(
            &arcs("2.5.29.32"),
            encode(&CertificatePolicies(vec![PolicyInformation {
                policy_identifier: oid_of(policy)?,
                policy_qualifiers: None,
            }]))?,
        );
        policies.set_criticality(false);

        let mut names = Vec::new();
        if kind == CertificateKind::Authentication {
            let upn = spec
                .upn_override
                .clone()
                .unwrap_or_else(|| format!("{}@{}", spec.uzi_number, spec.subscriber));
            let value = if spec.upn_as_ia5 {
                Ia5String::new(&upn).and_then(|s| Any::encode_from(&s))
            } else {
                Any::encode_from(&upn)
            }
            .map_err(der_error)?;
            names.push(other_name(oid::MS_UPN, value));
        }
        let subject_id = spec.subject_id(self.environment);
        let subject_id_value = if spec.subject_id_as_utf8 {
            Any::encode_from(&subject_id)
        } else {
            Ia5String::new(&subject_id).and_then(|s| Any::encode_from(&s))
        }
        .map_err(der_error)?;
        if !spec.without_subject_id {
            names.push(other_name(oid::UZI_SUBJECT_ID, subject_id_value));
        }
        if kind == CertificateKind::Server {
            let host = Ia5String::new("zvp-test-server.example").map_err(der_error)?;
            names.push(GeneralName::DnsName(host));
        }
        let san =
            CustomExtension::from_oid_content(&arcs("2.5.29.17"), encode(&SubjectAltName(names))?);
        params.custom_extensions = vec![policies, san];

        let key = self.algorithm.card_key()?;
        let cert = params.signed_by(&key, &Issuer::from_params(&ca.params, &ca.key))?;
        let mut der = cert.der().to_vec();
        if spec.weak_key.is_some() || spec.sha1_signature {
            der = weak::resign(&der, spec.weak_key, spec.sha1_signature, &ca.key)?;
        }
        if spec.tamper_signature {
            // The signature BIT STRING ends the certificate: flipping the last byte breaks it.
            if let Some(last) = der.last_mut() {
                *last ^= 0x01;
            }
        }
        Ok(IssuedCertificate {
            der: CertificateDer::from(der),
            key_pkcs8: key.serialize_der(),
            intermediates: vec![ca.der.clone(), self.domain.der.clone()],
            serial,
        })
    }

    /// The issuing CA of a card type.
    fn issuer_of(&self, card_type: CardType) -> &Ca {
        // INVARIANT: `issuing` has an entry for every card type (see `generate`).
        self.issuing
            .iter()
            .find(|(t, _)| *t == card_type)
            .map_or(&self.domain, |(_, ca)| ca)
    }

    /// The next serial number.
    fn serial(&self) -> u64 {
        self.next_serial.fetch_add(1, Ordering::Relaxed)
    }
}

/// Makes the CAs of one hierarchy: same key type, validity and serial counter.
struct CaMaker {
    algorithm: KeyAlgorithm,
    validity: (DateTime<Utc>, DateTime<Utc>),
    serials: AtomicU64,
}

impl CaMaker {
    /// Makes a CA signed by `parent` with the given path length (self-signed without one).
    /// Subordinate CAs get an EKU list like the real UZI CAs', with or without clientAuth.
    fn make(
        &self,
        common_name: &str,
        parent: Option<(&Ca, u8)>,
        policies: &[&str],
        client_auth: bool,
    ) -> Result<Ca, TestPkiError> {
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::CountryName, "NL");
        params
            .distinguished_name
            .push(DnType::OrganizationName, "zvp testpki");
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.not_before = to_time(self.validity.0)?;
        params.not_after = to_time(self.validity.1)?;
        params.serial_number = Some(SerialNumber::from(
            self.serials.fetch_add(1, Ordering::Relaxed),
        ));
        params.is_ca = IsCa::Ca(match parent {
            Some((_, path_len)) => BasicConstraints::Constrained(path_len),
            None => BasicConstraints::Unconstrained,
        });
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.use_authority_key_identifier_extension = parent.is_some();
        if parent.is_some() {
            // As the real UZI CAs: an EKU list that allows what their cards do.
            params.extended_key_usages = [
                client_auth.then_some(ExtendedKeyUsagePurpose::ClientAuth),
                Some(ExtendedKeyUsagePurpose::ServerAuth),
                Some(ExtendedKeyUsagePurpose::EmailProtection),
                Some(ExtendedKeyUsagePurpose::Other(arcs(DOCUMENT_SIGNING))),
                Some(ExtendedKeyUsagePurpose::Other(arcs(ENCRYPTING_FILE_SYSTEM))),
                Some(ExtendedKeyUsagePurpose::OcspSigning),
            ]
            .into_iter()
            .flatten()
            .collect();
        }
        if !policies.is_empty() {
            let info = policies
                .iter()
                .map(|p| {
                    Ok(PolicyInformation {
                        policy_identifier: oid_of(p)?,
                        policy_qualifiers: None,
                    })
                })
                .collect::<Result<Vec<_>, TestPkiError>>()?;
            params.custom_extensions = vec![CustomExtension::from_oid_content(
                &arcs("2.5.29.32"),
                encode(&CertificatePolicies(info))?,
            )];
        }
        let key = self.algorithm.ca_key()?;
        let cert = match parent {
            Some((parent, _)) => {
                params.signed_by(&key, &Issuer::from_params(&parent.params, &parent.key))?
            }
            None => params.self_signed(&key)?,
        };
        Ok(Ca {
            der: cert.der().clone(),
            params,
            key,
        })
    }
}

impl KeyAlgorithm {
    /// A key for a CA.
    fn ca_key(self) -> Result<KeyPair, rcgen::Error> {
        match self {
            Self::EcdsaP256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256),
            Self::EcdsaP384 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384),
            Self::RsaLikeUzi => {
                KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_4096)
            }
        }
    }

    /// A key for a card certificate.
    fn card_key(self) -> Result<KeyPair, rcgen::Error> {
        match self {
            Self::RsaLikeUzi => {
                KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, RsaKeySize::_2048)
            }
            other => other.ca_key(),
        }
    }
}

/// Microsoft Document Signing EKU, on UZI cards.
const DOCUMENT_SIGNING: &str = "1.3.6.1.4.1.311.10.3.12";
/// Microsoft Encrypting File System EKU, on UZI encryption certificates.
const ENCRYPTING_FILE_SYSTEM: &str = "1.3.6.1.4.1.311.10.3.4";

/// Key usages, EKUs and policy of a certificate kind (docs/uzi.md, "The three certificates on
/// a card").
fn profile(
    environment: Environment,
    card_type: CardType,
    kind: CertificateKind,
) -> (
    Vec<KeyUsagePurpose>,
    Vec<ExtendedKeyUsagePurpose>,
    &'static str,
) {
    let test = environment == Environment::Test;
    match kind {
        CertificateKind::Authentication => (
            vec![KeyUsagePurpose::DigitalSignature],
            vec![
                ExtendedKeyUsagePurpose::ClientAuth,
                ExtendedKeyUsagePurpose::EmailProtection,
                ExtendedKeyUsagePurpose::Other(arcs(DOCUMENT_SIGNING)),
            ],
            // The TEST environment publishes no M policy; the TEST Z/N one stands in.
            authentication_policy(environment, card_type)
                .unwrap_or(oid::POLICY_TEST_AUTHENTICATION),
        ),
        CertificateKind::Signature => (
            vec![KeyUsagePurpose::ContentCommitment],
            vec![
                ExtendedKeyUsagePurpose::EmailProtection,
                ExtendedKeyUsagePurpose::Other(arcs(DOCUMENT_SIGNING)),
            ],
            if test {
                oid::POLICY_TEST_SIGNATURE
            } else {
                oid::POLICY_SIGNATURE
            },
        ),
        CertificateKind::Encryption => (
            vec![
                KeyUsagePurpose::KeyEncipherment,
                KeyUsagePurpose::DataEncipherment,
            ],
            vec![
                ExtendedKeyUsagePurpose::EmailProtection,
                ExtendedKeyUsagePurpose::Other(arcs(ENCRYPTING_FILE_SYSTEM)),
            ],
            match (test, card_type) {
                (true, _) => oid::POLICY_TEST_ENCRYPTION,
                (false, CardType::UnnamedEmployee) => oid::POLICY_ENCRYPTION_M,
                (false, _) => oid::POLICY_ENCRYPTION,
            },
        ),
        CertificateKind::Server => (
            vec![
                KeyUsagePurpose::DigitalSignature,
                KeyUsagePurpose::KeyEncipherment,
            ],
            vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ],
            if test {
                oid::POLICY_TEST_SERVER
            } else {
                oid::POLICY_SERVER
            },
        ),
    }
}

/// The policies an issuing CA carries: those of the certificates it issues.
fn card_policies(environment: Environment, card_type: CardType) -> Vec<&'static str> {
    let kinds: &[CertificateKind] = match card_type {
        CardType::Server => &[CertificateKind::Server],
        CardType::UnnamedEmployee => {
            &[CertificateKind::Authentication, CertificateKind::Encryption]
        }
        _ => &[
            CertificateKind::Authentication,
            CertificateKind::Signature,
            CertificateKind::Encryption,
        ],
    };
    kinds
        .iter()
        .map(|&kind| profile(environment, card_type, kind).2)
        .collect()
}

/// The common name of the issuing CA for a card type: the real one where the register has it.
fn issuing_ca_name(environment: Environment, card_type: CardType) -> String {
    ISSUING_CAS
        .iter()
        .find(|ca| ca.environment == environment && ca.card_type == card_type)
        .map_or_else(
            || {
                let test = if environment == Environment::Test {
                    "TEST "
                } else {
                    ""
                };
                format!("{test}UZI-register Medewerker niet op naam CA G3")
            },
            |ca| ca.common_name.to_owned(),
        )
}

/// The OID-CA that cards of a type carry; a made-up one where the register publishes none
/// (TEST M cards), under the zvp-reserved arc `2.16.528.1.1007.99.9999`.
fn issuing_ca_oid(environment: Environment, card_type: CardType) -> &'static str {
    ISSUING_CAS
        .iter()
        .find(|ca| ca.environment == environment && ca.card_type == card_type)
        .map_or("2.16.528.1.1007.99.9999", |ca| ca.ca_oid)
}

/// The subject DN of a card certificate (docs/uzi.md, "The UZI subject ID").
fn subject(spec: &CardSpec) -> rcgen::DistinguishedName {
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(DnType::CountryName, "NL");
    dn.push(DnType::OrganizationName, spec.organization.as_str());
    if let Some(title) = &spec.title {
        dn.push(DnType::CustomDnType(arcs("2.5.4.12")), title.as_str());
    }
    let common_name = match spec.card_type {
        CardType::CareProvider | CardType::NamedEmployee => {
            dn.push(DnType::CustomDnType(arcs("2.5.4.4")), spec.surname.as_str());
            dn.push(
                DnType::CustomDnType(arcs("2.5.4.42")),
                spec.given_name.as_str(),
            );
            format!("{} {}", spec.given_name, spec.surname)
        }
        CardType::UnnamedEmployee => "doktersassistent".to_owned(),
        CardType::Server => "zvp-test-server.example".to_owned(),
    };
    dn.push(DnType::CommonName, common_name);
    let serial_number = spec
        .serial_number_override
        .clone()
        .unwrap_or_else(|| spec.uzi_number.to_string());
    let value = rcgen::string::PrintableString::try_from(serial_number.as_str())
        .map_or(DnValue::Utf8String(serial_number), DnValue::PrintableString);
    dn.push(DnType::CustomDnType(arcs("2.5.4.5")), value);
    dn
}

/// An otherName general name.
fn other_name(type_id: ObjectIdentifier, value: Any) -> GeneralName {
    GeneralName::OtherName(OtherName { type_id, value })
}

/// DER-encodes an extension value.
fn encode(value: &impl Encode) -> Result<Vec<u8>, TestPkiError> {
    value.to_der().map_err(der_error)
}

/// Wraps a der error.
fn der_error(e: x509_cert::der::Error) -> TestPkiError {
    TestPkiError::Der(e)
}

/// Parses a dotted OID.
fn oid_of(dotted: &str) -> Result<ObjectIdentifier, TestPkiError> {
    ObjectIdentifier::new(dotted).map_err(|e| TestPkiError::Der(e.into()))
}

/// The arcs of a dotted OID, as rcgen wants them. Only called with the constant OIDs above.
fn arcs(dotted: &str) -> Vec<u64> {
    dotted
        .split('.')
        .filter_map(|arc| arc.parse().ok())
        .collect()
}

/// A chrono time as rcgen's.
fn to_time(t: DateTime<Utc>) -> Result<time::OffsetDateTime, TestPkiError> {
    time::OffsetDateTime::from_unix_timestamp(t.timestamp()).map_err(|_| TestPkiError::Time)
}

/// Certificates as concatenated PEM.
pub fn certificates_pem(certs: &[CertificateDer<'_>]) -> String {
    certs.iter().map(|c| pem("CERTIFICATE", c)).collect()
}

/// PEM armour.
fn pem(label: &str, der: &[u8]) -> String {
    let mut out = format!("-----BEGIN {label}-----\n");
    let encoded = base64(der);
    for line in encoded.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    let _ = writeln!(out, "-----END {label}-----");
    out
}

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                let index = (n >> (18 - 6 * i)) & 0x3f;
                out.push(char::from(
                    ALPHABET.get(index as usize).copied().unwrap_or(b'A'),
                ));
            } else {
                out.push('=');
            }
        }
    }
    out
}
