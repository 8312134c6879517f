//! Reading the UZI fields out of a certificate (x509-cert), without judging them.

use chrono::{DateTime, Utc};
use const_oid::ObjectIdentifier;
use serde::Serialize;
use x509_cert::Certificate;
use x509_cert::der::asn1::{Ia5String, Utf8StringRef};
use x509_cert::der::{Decode, Tag, Tagged};
use x509_cert::ext::pkix::certpolicy::CertificatePolicies;
use x509_cert::ext::pkix::name::{DirectoryString, GeneralName};
use x509_cert::ext::pkix::{
    BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectAltName,
};
use x509_cert::name::Name;

use super::MAX_CERTIFICATE_SIZE;
use super::error::{SanDefect, UziError};
use super::oid;
use super::san::SubjectId;

/// The fields of a certificate that the UZI profile is about, read but not yet judged.
///
/// [`UziCertificate::from_der`] fails only when the DER is not a certificate; a missing or
/// malformed Subject ID is reported by [`subject_id`](Self::subject_id), so that `inspect` can
/// show everything else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UziCertificate {
    /// The certificate's serial number, in hex.
    pub serial: String,
    /// Subject attributes.
    pub subject: SubjectFields,
    /// The issuer's common name.
    pub issuer_common_name: Option<String>,
    /// Start of validity.
    pub not_before: DateTime<Utc>,
    /// End of validity.
    pub not_after: DateTime<Utc>,
    /// Whether basic constraints mark it as a CA.
    pub is_ca: bool,
    /// Whether subject and issuer are the same name (a root, typically).
    pub self_issued: bool,
    /// Key usage purposes (RFC 5280 names), `None` without the extension.
    pub key_usage: Option<Vec<&'static str>>,
    /// Extended key usage OIDs, `None` without the extension.
    pub extended_key_usage: Option<Vec<String>>,
    /// Certificate policy OIDs (empty without the extension).
    pub policies: Vec<String>,
    /// The raw 2.5.5.5 otherName values, in order.
    pub subject_id_values: Vec<OtherNameValue>,
    /// The UPN otherName (1.3.6.1.4.1.311.20.2.3) values, in order.
    pub upn_values: Vec<OtherNameValue>,
    /// How many otherNames of other types the SAN has (tolerated and ignored).
    pub other_names_ignored: usize,
}

/// Subject attributes of a UZI certificate (docs/uzi.md, "The three certificates on a card").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SubjectFields {
    /// CN: first names, prefixes and birth name.
    pub common_name: Option<String>,
    /// GN: first names.
    pub given_name: Option<String>,
    /// SN: prefixes and birth name.
    pub surname: Option<String>,
    /// title: the form of address, e.g. `Arts` (free text; authorization uses the role code).
    pub title: Option<String>,
    /// O: the subscriber's name.
    pub organization: Option<String>,
    /// C: the country.
    pub country: Option<String>,
    /// serialNumber: the UZI number. `Err` text when the attribute occurs more than once.
    pub serial_number: Option<String>,
}

/// An otherName value and how it was encoded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "encoding", content = "value", rename_all = "snake_case")]
pub enum OtherNameValue {
    /// An IA5String, as the UZI profile prescribes for the Subject ID.
    Ia5String(String),
    /// A UTF8String, as the UZI profile prescribes for the UPN.
    Utf8String(String),
    /// Anything else: only its tag is kept.
    Other(String),
}

impl UziCertificate {
    /// Reads a DER certificate.
    ///
    /// # Errors
    ///
    /// [`UziError::CertificateTooLarge`] beyond [`MAX_CERTIFICATE_SIZE`], and
    /// [`UziError::MalformedCertificate`] when it is not a well-formed X.509 certificate or an
    /// extension the UZI profile uses does not decode.
    pub fn from_der(der: &[u8]) -> Result<Self, UziError> {
        if der.len() > MAX_CERTIFICATE_SIZE {
            return Err(UziError::CertificateTooLarge {
                found: der.len(),
                max: MAX_CERTIFICATE_SIZE,
            });
        }
        let malformed = |what: &str, e: x509_cert::der::Error| {
            UziError::MalformedCertificate(format!("{what}: {e}"))
        };
        let cert = Certificate::from_der(der).map_err(|e| malformed("certificate", e))?;
        let tbs = cert.tbs_certificate();

        let key_usage = tbs
            .get_extension::<KeyUsage>()
            .map_err(|e| malformed("key usage", e))?
            .map(|(_, ku)| key_usage_names(ku));
        let extended_key_usage = tbs
            .get_extension::<ExtendedKeyUsage>()
            .map_err(|e| malformed("extended key usage", e))?
            .map(|(_, eku)| eku.0.iter().map(ToString::to_string).collect());
        let policies = tbs
            .get_extension::<CertificatePolicies>()
            .map_err(|e| malformed("certificate policies", e))?
            .map(|(_, p)| {
                p.0.iter()
                    .map(|i| i.policy_identifier.to_string())
                    .collect()
            })
            .unwrap_or_default();
        let is_ca = tbs
            .get_extension::<BasicConstraints>()
            .map_err(|e| malformed("basic constraints", e))?
            .is_some_and(|(_, bc)| bc.ca);
        let san = tbs
            .get_extension::<SubjectAltName>()
            .map_err(|e| malformed("subject alternative name", e))?;

        let mut subject_id_values = Vec::new();
        let mut upn_values = Vec::new();
        let mut other_names_ignored = 0;
        for name in san.iter().flat_map(|(_, san)| san.0.iter()) {
            let GeneralName::OtherName(other) = name else {
                continue;
            };
            if other.type_id == oid::UZI_SUBJECT_ID {
                subject_id_values.push(other_name_value(&other.value));
            } else if other.type_id == oid::MS_UPN {
                upn_values.push(other_name_value(&other.value));
            } else {
                other_names_ignored += 1;
            }
        }

        Ok(Self {
            serial: hex::encode(tbs.serial_number().as_bytes()),
            subject: subject_fields(tbs.subject()).map_err(|e| malformed("subject", e))?,
            issuer_common_name: attribute(tbs.issuer(), oid::COMMON_NAME)
                .map_err(|e| malformed("issuer", e))?,
            not_before: to_chrono(tbs.validity().not_before.to_unix_duration())?,
            not_after: to_chrono(tbs.validity().not_after.to_unix_duration())?,
            is_ca,
            self_issued: tbs.subject() == tbs.issuer(),
            key_usage,
            extended_key_usage,
            policies,
            subject_id_values,
            upn_values,
            other_names_ignored,
        })
    }

    /// The UZI Subject ID: exactly one 2.5.5.5 otherName, an IA5String that parses.
    ///
    /// # Errors
    ///
    /// [`UziError::SanMissing`] without one; [`UziError::SanMalformed`] when there are several,
    /// it is not an IA5String, or it does not parse.
    pub fn subject_id(&self) -> Result<SubjectId, UziError> {
        let value = match self.subject_id_values.as_slice() {
            [] => return Err(UziError::SanMissing),
            [value] => value,
            values => {
                return Err(UziError::SanMalformed(SanDefect::Duplicate {
                    found: values.len(),
                }));
            }
        };
        let OtherNameValue::Ia5String(text) = value else {
            return Err(UziError::SanMalformed(SanDefect::NotIa5String));
        };
        text.parse()
            .map_err(|e| UziError::SanMalformed(SanDefect::Value(e)))
    }

    /// Whether the certificate carries `policy` (dotted OID).
    pub fn has_policy(&self, policy: &str) -> bool {
        self.policies.iter().any(|p| p == policy)
    }
}

/// Reads the subject attributes the UZI profile defines.
fn subject_fields(name: &Name) -> Result<SubjectFields, x509_cert::der::Error> {
    Ok(SubjectFields {
        common_name: attribute(name, oid::COMMON_NAME)?,
        given_name: attribute(name, oid::GIVEN_NAME)?,
        surname: attribute(name, oid::SURNAME)?,
        title: attribute(name, oid::TITLE)?,
        organization: attribute(name, oid::ORGANIZATION)?,
        country: attribute(name, oid::COUNTRY)?,
        serial_number: attribute(name, oid::SERIAL_NUMBER)?,
    })
}

/// The value of an attribute that must occur at most once, as text.
fn attribute(name: &Name, oid: ObjectIdentifier) -> Result<Option<String>, x509_cert::der::Error> {
    let mut values = name.iter().filter(|atv| atv.oid == oid);
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        // Two serialNumbers (or two CNs) would make "the" value ambiguous.
        return Err(x509_cert::der::ErrorKind::Failed.into());
    }
    let text = DirectoryString::try_from(&first.value)?;
    Ok(Some(text.value().into_owned()))
}

/// An otherName value with its encoding.
fn other_name_value(value: &x509_cert::der::Any) -> OtherNameValue {
    match value.tag() {
        Tag::Ia5String => value
            .decode_as::<Ia5String>()
            .map(|s| OtherNameValue::Ia5String(s.to_string()))
            .unwrap_or_else(|_| OtherNameValue::Other("invalid IA5String".to_owned())),
        Tag::Utf8String => value
            .decode_as::<Utf8StringRef<'_>>()
            .map(|s| OtherNameValue::Utf8String(s.as_str().to_owned()))
            .unwrap_or_else(|_| OtherNameValue::Other("invalid UTF8String".to_owned())),
        tag => OtherNameValue::Other(tag.to_string()),
    }
}

/// The RFC 5280 names of the key usage bits that are set.
fn key_usage_names(ku: KeyUsage) -> Vec<&'static str> {
    [
        (KeyUsages::DigitalSignature, "digitalSignature"),
        (KeyUsages::NonRepudiation, "nonRepudiation"),
        (KeyUsages::KeyEncipherment, "keyEncipherment"),
        (KeyUsages::DataEncipherment, "dataEncipherment"),
        (KeyUsages::KeyAgreement, "keyAgreement"),
        (KeyUsages::KeyCertSign, "keyCertSign"),
        (KeyUsages::CRLSign, "cRLSign"),
        (KeyUsages::EncipherOnly, "encipherOnly"),
        (KeyUsages::DecipherOnly, "decipherOnly"),
    ]
    .into_iter()
    .filter(|(bit, _)| ku.0.contains(*bit))
    .map(|(_, name)| name)
    .collect()
}

/// A certificate time as chrono.
fn to_chrono(since_epoch: std::time::Duration) -> Result<DateTime<Utc>, UziError> {
    i64::try_from(since_epoch.as_secs())
        .ok()
        .and_then(|secs| DateTime::from_timestamp(secs, 0))
        .ok_or_else(|| UziError::MalformedCertificate("validity: time out of range".to_owned()))
}
