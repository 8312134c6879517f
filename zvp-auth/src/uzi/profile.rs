//! Steps 7 and 9 of the validation: the authentication certificate's profile, and the Subject
//! ID's agreement with the rest of the certificate. Pure reading of a parsed certificate.

use zvp_core::CardType;

use super::certificate::{OtherNameValue, UziCertificate};
use super::error::{AuthProfileDefect, SanInconsistency, UziError};
use super::san::SubjectId;
use super::{Environment, ISSUING_CAS, authentication_policy, oid};

/// Step 7: key usage, EKU and policy of an authentication certificate. Returns the environment
/// whose authentication policy the certificate carries.
pub(super) fn check_authentication_profile(
    cert: &UziCertificate,
    card_type: CardType,
) -> Result<Environment, UziError> {
    let defect = UziError::NotAuthenticationCertificate;
    let Some(key_usage) = &cert.key_usage else {
        return Err(defect(AuthProfileDefect::KeyUsageMissing));
    };
    if !key_usage.contains(&"digitalSignature") {
        return Err(defect(AuthProfileDefect::NoDigitalSignature));
    }
    // The profile is digitalSignature only: nonRepudiation marks the signature certificate,
    // key/dataEncipherment the encryption certificate, keyCertSign a CA.
    if let Some(other) = key_usage.iter().find(|ku| **ku != "digitalSignature") {
        return Err(defect(AuthProfileDefect::ForbiddenKeyUsage(other)));
    }
    let client_auth = oid::CLIENT_AUTH.to_string();
    if !cert
        .extended_key_usage
        .as_ref()
        .is_some_and(|eku| eku.contains(&client_auth))
    {
        return Err(defect(AuthProfileDefect::NoClientAuth));
    }
    [Environment::Production, Environment::Test]
        .into_iter()
        .find(|&env| authentication_policy(env, card_type).is_some_and(|p| cert.has_policy(p)))
        .ok_or(defect(AuthProfileDefect::NoAuthenticationPolicy))
}

/// Step 9: the Subject ID agrees with the subject, the issuer and the UPN.
pub(super) fn check_consistency(
    cert: &UziCertificate,
    id: &SubjectId,
    environment: Environment,
) -> Result<(), SanInconsistency> {
    let Some(serial_number) = &cert.subject.serial_number else {
        return Err(SanInconsistency::SerialNumberMissing);
    };
    if *serial_number != id.uzi_number.to_string() {
        return Err(SanInconsistency::UziNumberNotSerialNumber {
            san: id.uzi_number,
            serial_number: serial_number.clone(),
        });
    }
    let issuer_name = cert.issuer_common_name.clone().unwrap_or_default();
    let Some(issuer) = ISSUING_CAS.iter().find(|ca| ca.common_name == issuer_name) else {
        return Err(SanInconsistency::UnknownIssuingCa {
            issuer: issuer_name,
        });
    };
    if issuer.environment != environment {
        return Err(SanInconsistency::IssuerEnvironment {
            issuer: issuer.environment,
            certificate: environment,
        });
    }
    if id.ca_oid.to_string() != issuer.ca_oid {
        return Err(SanInconsistency::CaOidNotIssuer {
            san: id.ca_oid.to_string(),
            issuer: issuer.ca_oid.to_owned(),
        });
    }
    if id.card_type != issuer.card_type {
        return Err(SanInconsistency::CardTypeNotIssuer {
            san: id.card_type,
            issuer: issuer.card_type,
        });
    }
    let expected_upn = format!("{}@{}", id.uzi_number, id.subscriber);
    for upn in &cert.upn_values {
        // Step 9 runs after the UPN's encoding was checked: only UTF8Strings reach here.
        let OtherNameValue::Utf8String(text) = upn else {
            continue;
        };
        let text = text.clone();
        if text != expected_upn {
            return Err(SanInconsistency::UpnMismatch {
                upn: text,
                expected: expected_upn,
            });
        }
    }
    Ok(())
}
