//! Checking a revocation list before it is put to use: that the validator can read it, that one
//! of the configured CAs issued and signed it, and that it is current and not older than the one
//! it would replace.
//!
//! rustls-webpki verifies a CRL's signature only while it validates a chain, and refuses the
//! login when it is bad (`crl-invalid`). A downloaded list is checked here first, so a badly
//! signed, truncated or replayed one never replaces a good one.

use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use chrono::{DateTime, Utc};
use rustls_pki_types::CertificateDer;
use webpki::BorrowedCertRevocationList;
use x509_cert::der::asn1::{AnyRef, ObjectIdentifier};
use x509_cert::der::{Decode as _, Encode as _, Reader as _, SliceReader};
use x509_cert::spki::SubjectPublicKeyInfoOwned;

/// The largest CRL accepted, in bytes. The UZI-register's largest lists are a few hundred KiB;
/// the bound keeps a misbehaving server from filling memory or disk.
pub const MAX_CRL_SIZE: usize = 8 * 1024 * 1024;

/// Why a CRL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CrlError {
    /// Larger than [`MAX_CRL_SIZE`].
    #[error("the CRL has {size} bytes, at most {MAX_CRL_SIZE} are accepted")]
    TooLarge {
        /// Its size.
        size: usize,
    },
    /// Not a well-formed CRL the validator supports (truncated, not DER, a delta CRL, ...).
    #[error("malformed CRL: {0}")]
    Malformed(String),
    /// No configured anchor or intermediate has the CRL's issuer as its subject.
    #[error("the CRL's issuer {issuer} is not a configured CA")]
    UnknownIssuer {
        /// The issuer's name (RFC 4514).
        issuer: String,
    },
    /// The issuer's key or the signature algorithm is not one the portal verifies.
    #[error("unsupported signature algorithm {0}")]
    UnsupportedAlgorithm(String),
    /// The signature does not verify with the issuing CA's key.
    #[error("the CRL's signature does not verify with the key of {issuer}")]
    BadSignature {
        /// The issuer's name (RFC 4514).
        issuer: String,
    },
    /// Its nextUpdate has passed: using it would refuse every login of its issuer.
    #[error("the CRL's nextUpdate {next_update} has passed")]
    Expired {
        /// Its nextUpdate.
        next_update: DateTime<Utc>,
    },
    /// Issued before the CRL it would replace (a replayed old list could hide a revocation).
    #[error("the CRL was issued at {this_update}, before the one in use ({current})")]
    Older {
        /// Its thisUpdate.
        this_update: DateTime<Utc>,
        /// The thisUpdate of the CRL in use.
        current: DateTime<Utc>,
    },
}

/// What a checked CRL says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrlInfo {
    /// The issuing CA's name (RFC 4514).
    pub issuer: String,
    /// When it was issued.
    pub this_update: DateTime<Utc>,
    /// When the next one is due; after it the list is stale.
    pub next_update: Option<DateTime<Utc>>,
}

/// Reads a CRL's issuer and dates without checking its signature: for the list already in use
/// (webpki checks its signature at every validation).
///
/// # Errors
///
/// [`CrlError::TooLarge`] or [`CrlError::Malformed`].
pub fn crl_info(der: &[u8]) -> Result<CrlInfo, CrlError> {
    Ok(parse(der)?.0)
}

/// Checks a CRL (DER) before use: webpki can read it, `issuers` (the configured anchors and
/// intermediates) hold its issuer, the issuer's key verifies its signature, its nextUpdate has
/// not passed at `now`, and it is not older than `current` (the thisUpdate of the list it
/// replaces, if any).
///
/// # Errors
///
/// The first [`CrlError`] that applies, in that order.
pub fn check_crl(
    der: &[u8],
    issuers: &[CertificateDer<'_>],
    now: DateTime<Utc>,
    current: Option<DateTime<Utc>>,
) -> Result<CrlInfo, CrlError> {
    let (info, issuer_der, crl) = parse(der)?;
    let issuer_cert = issuers
        .iter()
        .filter_map(|der| x509_cert::Certificate::from_der(der).ok())
        .find(|cert| {
            cert.tbs_certificate()
                .subject()
                .to_der()
                .is_ok_and(|subject| subject == issuer_der)
        })
        .ok_or_else(|| CrlError::UnknownIssuer {
            issuer: info.issuer.clone(),
        })?;
    let spki = issuer_cert.tbs_certificate().subject_public_key_info();
    let algorithm = verification_algorithm(crl.signature_algorithm.oid, spki)?;
    let tbs = signed_part(der)?;
    let signature = crl
        .signature
        .as_bytes()
        .ok_or_else(|| CrlError::Malformed("the signature has unused bits".to_owned()))?;
    UnparsedPublicKey::new(algorithm, spki.subject_public_key.raw_bytes())
        .verify(tbs, signature)
        .map_err(|_| CrlError::BadSignature {
            issuer: info.issuer.clone(),
        })?;
    if let Some(next_update) = info.next_update
        && next_update <= now
    {
        return Err(CrlError::Expired { next_update });
    }
    if let Some(current) = current
        && info.this_update < current
    {
        return Err(CrlError::Older {
            this_update: info.this_update,
            current,
        });
    }
    Ok(info)
}

/// The CRL parsed twice: by webpki (what the validator will do with it) and by x509-cert (for
/// its fields); its info and its issuer's name (DER).
fn parse(der: &[u8]) -> Result<(CrlInfo, Vec<u8>, x509_cert::crl::CertificateList), CrlError> {
    if der.len() > MAX_CRL_SIZE {
        return Err(CrlError::TooLarge { size: der.len() });
    }
    BorrowedCertRevocationList::from_der(der).map_err(|e| CrlError::Malformed(format!("{e:?}")))?;
    let crl = x509_cert::crl::CertificateList::from_der(der)
        .map_err(|e| CrlError::Malformed(e.to_string()))?;
    let tbs = &crl.tbs_cert_list;
    let issuer_der = tbs
        .issuer
        .to_der()
        .map_err(|e| CrlError::Malformed(e.to_string()))?;
    let time = |t: x509_cert::time::Time| {
        i64::try_from(t.to_unix_duration().as_secs())
            .ok()
            .and_then(|secs| DateTime::from_timestamp(secs, 0))
            .ok_or_else(|| CrlError::Malformed("a time out of range".to_owned()))
    };
    let info = CrlInfo {
        issuer: tbs.issuer.to_string(),
        this_update: time(tbs.this_update)?,
        next_update: tbs.next_update.map(time).transpose()?,
    };
    Ok((info, issuer_der, crl))
}

/// The bytes the signature covers: the tbsCertList exactly as received.
fn signed_part(der: &[u8]) -> Result<&[u8], CrlError> {
    let malformed = |e: x509_cert::der::Error| CrlError::Malformed(e.to_string());
    let mut outer = SliceReader::new(der).map_err(malformed)?;
    let header = x509_cert::der::Header::decode(&mut outer).map_err(malformed)?;
    let start = usize::try_from(outer.position())
        .map_err(|_| CrlError::Malformed("offset out of range".to_owned()))?;
    let tbs = AnyRef::decode(&mut outer).map_err(malformed)?;
    let end = usize::try_from(outer.position())
        .map_err(|_| CrlError::Malformed("offset out of range".to_owned()))?;
    let _ = (header, tbs);
    der.get(start..end)
        .ok_or_else(|| CrlError::Malformed("tbsCertList out of range".to_owned()))
}

const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const SHA384_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const SHA512_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");

/// The algorithm for a signature of `oid` by the key `spki`: RSA PKCS#1 v1.5 with SHA-2 (as the
/// UZI-register signs) and ECDSA on P-256/P-384 (as the test PKI may). SHA-1 and RSA-PSS are
/// refused as unsupported rather than guessed at.
fn verification_algorithm(
    oid: ObjectIdentifier,
    spki: &SubjectPublicKeyInfoOwned,
) -> Result<&'static dyn VerificationAlgorithm, CrlError> {
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
    Ok(match (oid, curve) {
        (o, _) if o == SHA256_WITH_RSA => &signature::RSA_PKCS1_2048_8192_SHA256,
        (o, _) if o == SHA384_WITH_RSA => &signature::RSA_PKCS1_2048_8192_SHA384,
        (o, _) if o == SHA512_WITH_RSA => &signature::RSA_PKCS1_2048_8192_SHA512,
        (o, Some(c)) if o == ECDSA_SHA256 && c == P256 => &signature::ECDSA_P256_SHA256_ASN1,
        (o, Some(c)) if o == ECDSA_SHA256 && c == P384 => &signature::ECDSA_P384_SHA256_ASN1,
        (o, Some(c)) if o == ECDSA_SHA384 && c == P256 => &signature::ECDSA_P256_SHA384_ASN1,
        (o, Some(c)) if o == ECDSA_SHA384 && c == P384 => &signature::ECDSA_P384_SHA384_ASN1,
        (o, _) => return Err(CrlError::UnsupportedAlgorithm(o.to_string())),
    })
}
