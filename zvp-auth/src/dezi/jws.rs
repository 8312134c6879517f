//! Signed tokens (JWS compact): the header read before any key is chosen, and the RS256
//! signature checked by `jsonwebtoken` (over aws-lc-rs, the provider rustls uses here).
//!
//! Only the header is read here, to choose the key and to refuse an algorithm by name
//! (`none`, `HS256`) before any key is touched; `jsonwebtoken` then parses the token again
//! and verifies it with the algorithm fixed to RS256, so a header cannot choose it. Claims
//! are checked by the callers with the time as a parameter, never by the library's clock.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{DeziError, Token};

/// The longest token read, in bytes: a verklaring inside an envelope inside a JWE is a few
/// kilobytes; this bounds what a hostile platform can make the parser work on.
pub const MAX_TOKEN_BYTES: usize = 64 * 1024;

/// The longest signed revocation list read, in bytes. The list names every revoked
/// verklaring still within its validity, each entry about 100 bytes once encoded, so the
/// token limit would hold only some 600; 8 MiB holds about 80 000. The portal reads the list's
/// HTTP answer up to the same size.
pub const MAX_REVOCATION_LIST_BYTES: usize = 8 * 1024 * 1024;

/// The size limit of `which`: the revocation list has its own, every other token the token
/// limit.
const fn max_bytes(which: Token) -> usize {
    match which {
        Token::RevocationList => MAX_REVOCATION_LIST_BYTES,
        _ => MAX_TOKEN_BYTES,
    }
}

/// The header parameters that choose how a token is checked.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct JoseHeader {
    /// `alg`.
    pub alg: String,
    /// `enc` (JWE only).
    #[serde(default)]
    pub enc: Option<String>,
    /// `kid`.
    #[serde(default)]
    pub kid: Option<String>,
    /// `jku`.
    #[serde(default)]
    pub jku: Option<String>,
    /// `cty`.
    #[serde(default)]
    pub cty: Option<String>,
    /// `zip` (JWE only; never accepted).
    #[serde(default)]
    pub zip: Option<Value>,
    /// `crit`: no extension is understood, so any is refused.
    #[serde(default)]
    pub crit: Option<Value>,
}

/// The number of dot-separated parts of a compact token: 3 for a JWS, 5 for a JWE.
pub fn parts(token: &str) -> usize {
    token.split('.').count()
}

/// Reads the protected header of a compact JWS or JWE without trusting it.
///
/// # Errors
///
/// [`DeziError::Malformed`] for a token that is too long ([`MAX_TOKEN_BYTES`], for the
/// revocation list [`MAX_REVOCATION_LIST_BYTES`]), has no header, or whose header is not
/// base64url JSON with a string `alg`.
pub fn read_header(token: &str, which: Token) -> Result<JoseHeader, DeziError> {
    let malformed = |detail: &str| DeziError::Malformed {
        token: which,
        detail: detail.to_owned(),
    };
    if token.len() > max_bytes(which) {
        return Err(malformed("longer than any Dezi token"));
    }
    let first = token.split('.').next().unwrap_or_default();
    let bytes = URL_SAFE_NO_PAD
        .decode(first)
        .map_err(|_| malformed("the header is not base64url"))?;
    serde_json::from_slice(&bytes).map_err(|_| malformed("the header is not a JOSE header"))
}

/// Reads a JWK set, leaving out the keys this crate cannot use (an unknown `kty` or curve)
/// instead of refusing the whole set: a platform that publishes a new kind of key beside its
/// RSA keys must not stop every login.
///
/// # Errors
///
/// When the text is not a JSON object with a `keys` array.
pub fn parse_jwks(json: &[u8]) -> Result<JwkSet, serde_json::Error> {
    #[derive(Deserialize)]
    struct Loose {
        keys: Vec<Value>,
    }
    let loose: Loose = serde_json::from_slice(json)?;
    Ok(JwkSet {
        keys: loose
            .keys
            .into_iter()
            .filter_map(|k| serde_json::from_value(k).ok())
            .collect(),
    })
}

/// A JWS verified with RS256: its header and its claims.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The protected header.
    pub header: JoseHeader,
    /// The payload, a JSON object.
    pub claims: Map<String, Value>,
}

/// Whether a key entry may verify an RS256 signature: not published for encryption (`use`),
/// not bound to another algorithm (`alg`), and `verify` among its operations (`key_ops`) when
/// it lists them. An RSA key registered for `RSA-OAEP` is the platform's encryption key, and
/// a signature it "verifies" was never meant as one.
fn signs_rs256(jwk: &jsonwebtoken::jwk::Jwk) -> bool {
    use jsonwebtoken::jwk::{KeyAlgorithm, KeyOperations, PublicKeyUse};
    let common = &jwk.common;
    !matches!(common.public_key_use, Some(PublicKeyUse::Encryption))
        && common
            .key_algorithm
            .as_ref()
            .is_none_or(|alg| *alg == KeyAlgorithm::RS256)
        && common
            .key_operations
            .as_ref()
            .is_none_or(|ops| ops.contains(&KeyOperations::Verify))
}

/// Verifies a compact JWS signed with RS256 by a key of `keys`, chosen by `kid` (or the only
/// key when the token names none) among the keys that may verify RS256 (see
/// [`parse_jwks`]; a key whose `use`, `alg` or `key_ops` says otherwise is not used). Checks
/// no claims.
///
/// # Errors
///
/// `Malformed`, `AlgorithmNotAccepted` (anything but RS256, `none` and HS256 included),
/// `CriticalHeader`, `UnknownKey` (the caller may fetch the keys again once), `BadSignature`.
pub fn verify_rs256(token: &str, which: Token, keys: &JwkSet) -> Result<Verified, DeziError> {
    let header = read_header(token, which)?;
    if parts(token) != 3 {
        return Err(DeziError::Malformed {
            token: which,
            detail: "not a compact JWS (three parts)".to_owned(),
        });
    }
    if header.alg != "RS256" {
        return Err(DeziError::AlgorithmNotAccepted {
            token: which,
            alg: header.alg,
        });
    }
    if header.crit.is_some() {
        return Err(DeziError::CriticalHeader { token: which });
    }
    let unknown = || DeziError::UnknownKey {
        token: which,
        kid: header.kid.clone(),
    };
    let jwk = match &header.kid {
        Some(kid) => keys.find(kid),
        None => match keys.keys.as_slice() {
            [only] => Some(only),
            _ => None,
        },
    }
    .filter(|jwk| signs_rs256(jwk))
    .ok_or_else(unknown)?;
    // An RSA key only: a symmetric "key" made of the public key is how the HS256 downgrade
    // works, and this never builds one.
    let AlgorithmParameters::RSA(rsa) = &jwk.algorithm else {
        return Err(unknown());
    };
    let key = DecodingKey::from_rsa_components(&rsa.n, &rsa.e).map_err(|_| unknown())?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.leeway = 0;
    let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation).map_err(
        |e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature
            | jsonwebtoken::errors::ErrorKind::InvalidRsaKey(_) => {
                DeziError::BadSignature { token: which }
            }
            other => DeziError::Malformed {
                token: which,
                detail: format!("{other:?}"),
            },
        },
    )?;
    Ok(Verified {
        header,
        claims: data.claims,
    })
}
