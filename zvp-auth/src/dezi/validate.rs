//! The checks of each token of a Dezi login, with the time as a parameter.

use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::JwkSet;
use serde_json::{Map, Value};
use zvp_core::{RoleCode, Ura};

use super::identity::{DeziNumber, Loa, VerifiedDeziIdentity};
use super::jwe::{self, DecryptionKey};
use super::jws::{self, Verified};
use super::revocation::RevocationList;
use super::{DeziError, DeziSettings, Token};

type Claims = Map<String, Value>;

/// The detail of a time claim that, with the clock skew or grace, leaves chrono's range.
pub(super) const OUT_OF_RANGE: &str = "out of the range of dates";

fn string<'a>(claims: &'a Claims, token: Token, claim: &'static str) -> Result<&'a str, DeziError> {
    claims
        .get(claim)
        .and_then(Value::as_str)
        .ok_or(DeziError::MissingClaim { token, claim })
}

fn optional_string(claims: &Claims, claim: &str) -> Option<String> {
    claims.get(claim).and_then(Value::as_str).map(str::to_owned)
}

fn time(
    claims: &Claims,
    token: Token,
    claim: &'static str,
) -> Result<Option<DateTime<Utc>>, DeziError> {
    match claims.get(claim) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .and_then(|s| DateTime::from_timestamp(s, 0))
            .map(Some)
            .ok_or(DeziError::MissingClaim { token, claim }),
    }
}

/// `exp` required and after `now`; `nbf` and `iat`, when present, not after `now`; each with
/// the clock skew.
fn check_times(
    claims: &Claims,
    token: Token,
    settings: &DeziSettings,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, DeziError> {
    let exp = time(claims, token, "exp")?.ok_or(DeziError::MissingClaim {
        token,
        claim: "exp",
    })?;
    // A date at the end of chrono's range plus the skew does not exist: refused, so a
    // hostile token cannot make the check panic.
    let out_of_range = |claim| DeziError::InvalidClaim {
        token,
        claim,
        detail: OUT_OF_RANGE.to_owned(),
    };
    let latest = exp
        .checked_add_signed(settings.clock_skew)
        .ok_or_else(|| out_of_range("exp"))?;
    if latest <= now {
        return Err(DeziError::Expired { token, exp });
    }
    for claim in ["nbf", "iat"] {
        if let Some(nbf) = time(claims, token, claim)? {
            let earliest = nbf
                .checked_sub_signed(settings.clock_skew)
                .ok_or_else(|| out_of_range(claim))?;
            if earliest > now {
                return Err(DeziError::NotYetValid { token, nbf });
            }
        }
    }
    Ok(exp)
}

fn check_issuer(claims: &Claims, token: Token, accepted: &[&str]) -> Result<(), DeziError> {
    let iss = string(claims, token, "iss")?;
    if accepted.contains(&iss) {
        Ok(())
    } else {
        Err(DeziError::IssuerMismatch {
            token,
            found: iss.to_owned(),
        })
    }
}

/// The `aud` values: a string or an array of strings.
fn audiences(claims: &Claims, token: Token) -> Result<Vec<&str>, DeziError> {
    let missing = DeziError::MissingClaim {
        token,
        claim: "aud",
    };
    match claims.get("aud") {
        Some(Value::String(s)) => Ok(vec![s.as_str()]),
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|v| v.as_str().ok_or_else(|| missing.clone()))
            .collect(),
        _ => Err(missing),
    }
}

/// A verified id_token's content that the portal keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdToken {
    /// The pairwise `sub`.
    pub subject: String,
}

/// Checks the id_token: RS256 by a key of `keys` (the platform's `jwks_uri`), `iss`, `aud`
/// containing the client_id (and `azp` = client_id when there are several audiences or an
/// `azp`), `exp`, `nbf`/`iat`, and `nonce` equal to `nonce` when the login sent one.
///
/// # Errors
///
/// Any of the JWS errors of [`jws::verify_rs256`], `IssuerMismatch`, `AudienceMismatch`,
/// `Expired`, `NotYetValid`, `NonceMismatch`, `MissingClaim`.
pub fn validate_id_token(
    token: &str,
    keys: &JwkSet,
    settings: &DeziSettings,
    nonce: Option<&str>,
    now: DateTime<Utc>,
) -> Result<IdToken, DeziError> {
    let which = Token::IdToken;
    let Verified { claims, .. } = jws::verify_rs256(token, which, keys)?;
    check_issuer(&claims, which, &[settings.issuer.as_str()])?;
    let aud = audiences(&claims, which)?;
    if !aud.contains(&settings.client_id.as_str()) {
        return Err(DeziError::AudienceMismatch {
            token: which,
            found: aud.join(" "),
        });
    }
    let azp = optional_string(&claims, "azp");
    if (aud.len() > 1 || azp.is_some()) && azp.as_deref() != Some(settings.client_id.as_str()) {
        return Err(DeziError::AudienceMismatch {
            token: which,
            found: azp.unwrap_or_default(),
        });
    }
    check_times(&claims, which, settings, now)?;
    if let Some(expected) = nonce
        && claims.get("nonce").and_then(Value::as_str) != Some(expected)
    {
        return Err(DeziError::NonceMismatch);
    }
    Ok(IdToken {
        subject: string(&claims, which, "sub")?.to_owned(),
    })
}

/// Opens the userinfo answer to the signed envelope: decrypts a JWE with `key`; a plain JWS
/// only when [`DeziSettings::accept_signed_userinfo`] allows it.
///
/// # Errors
///
/// The errors of [`jwe::decrypt`]; `UserinfoNotEncrypted` for a JWS where only a JWE is
/// accepted; `NotForThisPortal` for a JWE when no key is configured; `Malformed` otherwise.
pub fn open_userinfo(
    body: &str,
    key: Option<&DecryptionKey>,
    settings: &DeziSettings,
) -> Result<String, DeziError> {
    let body = body.trim();
    match jws::parts(body) {
        5 => jwe::decrypt(body, key.ok_or(DeziError::NotForThisPortal)?),
        3 if settings.accept_signed_userinfo => Ok(body.to_owned()),
        3 => Err(DeziError::UserinfoNotEncrypted),
        _ => Err(DeziError::Malformed {
            token: Token::Userinfo,
            detail: "neither a compact JWE nor a compact JWS".to_owned(),
        }),
    }
}

/// A verified envelope: what binds the verklaring to this login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// `verklaring_id`.
    pub verklaring_id: String,
    /// The `verklaring` JWT, not yet checked.
    pub verklaring: String,
    /// `loa_authn`.
    pub loa: Loa,
    /// `json_schema`, if given.
    pub json_schema: Option<String>,
}

/// Checks the envelope: RS256 by a key of the platform's `keys`, `iss`, `aud` containing the
/// application's identifier, `exp`, the level of assurance, `verklaring_id` and `verklaring`.
///
/// # Errors
///
/// The JWS errors; `IssuerMismatch`, `AudienceMismatch`, `Expired`, `NotYetValid`,
/// `LoaTooLow`, `MissingClaim`.
pub fn validate_envelope(
    token: &str,
    keys: &JwkSet,
    settings: &DeziSettings,
    now: DateTime<Utc>,
) -> Result<Envelope, DeziError> {
    let which = Token::Envelope;
    let Verified { claims, .. } = jws::verify_rs256(token, which, keys)?;
    check_issuer(&claims, which, &[settings.issuer.as_str()])?;
    let aud = audiences(&claims, which)?;
    if !aud.contains(&settings.application_id.as_str()) {
        return Err(DeziError::AudienceMismatch {
            token: which,
            found: aud.join(" "),
        });
    }
    check_times(&claims, which, settings, now)?;
    let loa_text = string(&claims, which, "loa_authn")?;
    let loa = Loa::from_uri(loa_text)
        .filter(|l| *l >= settings.loa_floor)
        .ok_or_else(|| DeziError::LoaTooLow {
            found: loa_text.to_owned(),
        })?;
    Ok(Envelope {
        verklaring_id: string(&claims, which, "verklaring_id")?.to_owned(),
        verklaring: string(&claims, which, "verklaring")?.to_owned(),
        loa,
        json_schema: optional_string(&claims, "json_schema"),
    })
}

fn allowed_jku(jku: &str, settings: &DeziSettings) -> Result<String, DeziError> {
    if settings.jku_allow_list.iter().any(|a| a == jku) {
        Ok(jku.to_owned())
    } else {
        Err(DeziError::JkuNotAllowed {
            jku: jku.to_owned(),
        })
    }
}

/// The `jku` of the verklaring, once it is on the allow-list: only then may the portal fetch
/// it.
///
/// # Errors
///
/// `Malformed`, `JkuMissing`, `JkuNotAllowed`.
pub fn verklaring_key_url(verklaring: &str, settings: &DeziSettings) -> Result<String, DeziError> {
    let header = jws::read_header(verklaring, Token::Verklaring)?;
    let jku = header.jku.ok_or(DeziError::JkuMissing)?;
    allowed_jku(&jku, settings)
}

fn number_or_string(claims: &Claims, claim: &str) -> Option<String> {
    match claims.get(claim)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Checks the verklaring with the keys fetched from its allowed `jku` ([`verklaring_key_url`])
/// and binds it to `envelope` and `id_token`: the keys must be those of the verklaring's own
/// `jku` (`jku_keys` pairs the URL they were fetched from with them), RS256 by the key with
/// its `kid`, `iss`, `exp` and `nbf`, `verklaring_id` equal to the envelope's, the
/// revocation URL's name, the care identity, and the role among `eligible`: holding the
/// identity proves the role was checked.
///
/// # Errors
///
/// `JkuMissing`/`JkuNotAllowed` (checked again), `JkuKeysMismatch`, the JWS errors,
/// `IssuerMismatch`, `Expired`, `NotYetValid`, `VerklaringIdMismatch`, `StatusUriNotAccepted`,
/// `MissingClaim`, `InvalidClaim`, `RoleNotEligible`.
pub fn validate_verklaring(
    envelope: &Envelope,
    jku_keys: (&str, &JwkSet),
    id_token: &IdToken,
    eligible: &[RoleCode],
    settings: &DeziSettings,
    now: DateTime<Utc>,
) -> Result<VerifiedDeziIdentity, DeziError> {
    let which = Token::Verklaring;
    let token = envelope.verklaring.as_str();
    let jku = verklaring_key_url(token, settings)?;
    let (keys_from, keys) = jku_keys;
    // Keys of another allowed jku would let one eSeal holder sign for another.
    if keys_from != jku {
        return Err(DeziError::JkuKeysMismatch {
            jku,
            keys_from: keys_from.to_owned(),
        });
    }
    let Verified { claims, .. } = jws::verify_rs256(token, which, keys)?;
    let issuers: Vec<&str> = settings
        .verklaring_issuers
        .iter()
        .map(String::as_str)
        .collect();
    check_issuer(&claims, which, &issuers)?;
    let verklaring_expires = check_times(&claims, which, settings, now)?;
    let verklaring_id = string(&claims, which, "verklaring_id")?;
    if verklaring_id != envelope.verklaring_id {
        return Err(DeziError::VerklaringIdMismatch {
            envelope: envelope.verklaring_id.clone(),
            verklaring: verklaring_id.to_owned(),
        });
    }
    let revocation_uri = match optional_string(&claims, "revocatie_controle_uri") {
        Some(uri) => Some(uri),
        None => match optional_string(&claims, "status_uri") {
            Some(_) if !settings.accept_status_uri => return Err(DeziError::StatusUriNotAccepted),
            other => other,
        },
    };
    let invalid = |claim: &'static str, detail: String| DeziError::InvalidClaim {
        token: which,
        claim,
        detail,
    };
    let dezi_number: DeziNumber = number_or_string(&claims, "dezi_nummer")
        .ok_or(DeziError::MissingClaim {
            token: which,
            claim: "dezi_nummer",
        })?
        .parse()
        .map_err(|e: super::DeziNumberError| invalid("dezi_nummer", e.to_string()))?;
    let subscriber: Ura = number_or_string(&claims, "abonnee_nummer")
        .ok_or(DeziError::MissingClaim {
            token: which,
            claim: "abonnee_nummer",
        })?
        .parse()
        .map_err(|e: zvp_core::UraError| invalid("abonnee_nummer", e.to_string()))?;
    let role: RoleCode = string(&claims, which, "rol_code")?
        .parse()
        .map_err(|e: zvp_core::RoleCodeError| invalid("rol_code", e.to_string()))?;
    if !eligible.contains(&role) {
        return Err(DeziError::RoleNotEligible { role });
    }
    Ok(VerifiedDeziIdentity {
        dezi_number,
        initials: string(&claims, which, "voorletters")?.to_owned(),
        prefix: optional_string(&claims, "voorvoegsel").filter(|p| !p.is_empty()),
        surname: string(&claims, which, "achternaam")?.to_owned(),
        subscriber,
        subscriber_name: string(&claims, which, "abonnee_naam")?.to_owned(),
        role,
        role_name: optional_string(&claims, "rol_naam"),
        role_source: optional_string(&claims, "rol_code_bron"),
        verklaring_id: verklaring_id.to_owned(),
        revocation_uri,
        verklaring_expires,
        loa: envelope.loa,
        pairwise_subject: id_token.subject.clone(),
        verified_at: now,
    })
}

/// Verifies the signed revocation list (`application/jose`) with the platform's `keys` (its
/// `jwks_uri`) and reads it. A `jku` in the list's header is ignored: the eSeal keys it may
/// name sign verklaringen, and a holder of one must not be able to publish a list that
/// revokes nothing. `iss` must be the platform. The list may be up to
/// [`jws::MAX_REVOCATION_LIST_BYTES`] long.
///
/// # Errors
///
/// The JWS errors; `IssuerMismatch`; `MissingClaim` for a list without `iss`, `revocaties`
/// or `ververs_tijdstip`.
pub fn verify_revocation_list(
    token: &str,
    keys: &JwkSet,
    settings: &DeziSettings,
) -> Result<RevocationList, DeziError> {
    let which = Token::RevocationList;
    let Verified { claims, .. } = jws::verify_rs256(token.trim(), which, keys)?;
    check_issuer(&claims, which, &[settings.issuer.as_str()])?;
    RevocationList::from_claims(&claims)
}
