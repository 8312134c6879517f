//! The SMART Backend Services client assertion: a JWT signed with the portal's key, that the
//! authorization server checks against the public key (JWKS) registered for the client.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

use super::AuthError;

/// How long an assertion is valid: SMART allows at most five minutes.
const LIFETIME: Duration = Duration::from_secs(300);

/// Why an assertion key cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The PEM text is neither an RSA key nor a P-384 EC key (PKCS#8).
    #[error(
        "the assertion key is neither an RSA key (RS384) nor a P-384 key (ES384) in PKCS#8 PEM"
    )]
    Unsupported,
    /// The `kid` is empty.
    #[error("the assertion key needs a key id (kid), as registered in the client's JWKS")]
    NoKeyId,
}

/// A private key that signs client assertions, with its algorithm (RS384 for RSA, ES384 for
/// P-384) and its `kid`. Made only from a key that has signed a test assertion.
#[derive(Clone)]
pub struct AssertionKey {
    algorithm: Algorithm,
    kid: String,
    key: EncodingKey,
}

impl std::fmt::Debug for AssertionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssertionKey")
            .field("algorithm", &self.algorithm)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    jti: &'a str,
    iat: u64,
    exp: u64,
}

impl AssertionKey {
    /// The key in `pem` (PKCS#8; RSA or P-384), known to the authorization server as `kid`.
    ///
    /// # Errors
    ///
    /// [`KeyError`] for another kind of key, or an empty `kid`.
    pub fn from_pem(pem: &[u8], kid: impl Into<String>) -> Result<Self, KeyError> {
        let kid = kid.into();
        if kid.trim().is_empty() {
            return Err(KeyError::NoKeyId);
        }
        let candidates = [
            (Algorithm::ES384, EncodingKey::from_ec_pem(pem)),
            (Algorithm::RS384, EncodingKey::from_rsa_pem(pem)),
        ];
        for (algorithm, key) in candidates {
            let Ok(key) = key else { continue };
            let candidate = Self {
                algorithm,
                kid: kid.clone(),
                key,
            };
            // A P-256 key parses as EC too; only signing tells it is not P-384.
            if candidate
                .sign("test", "https://test.invalid/token", "test", 0)
                .is_ok()
            {
                return Ok(candidate);
            }
        }
        Err(KeyError::Unsupported)
    }

    /// The JWS algorithm: `RS384` or `ES384`.
    pub fn algorithm(&self) -> &'static str {
        match self.algorithm {
            Algorithm::RS384 => "RS384",
            _ => "ES384",
        }
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// An assertion for `client_id` at the token endpoint `audience`, unique by `jti`, issued
    /// at `now` (seconds since the epoch).
    fn sign(
        &self,
        client_id: &str,
        audience: &str,
        jti: &str,
        now: u64,
    ) -> Result<String, AuthError> {
        let mut header = Header::new(self.algorithm);
        header.kid = Some(self.kid.clone());
        header.typ = Some("JWT".to_owned());
        let claims = Claims {
            iss: client_id,
            sub: client_id,
            aud: audience,
            jti,
            iat: now,
            exp: now + LIFETIME.as_secs(),
        };
        jsonwebtoken::encode(&header, &claims, &self.key)
            .map_err(|e| AuthError::Signing(e.to_string()))
    }

    /// An assertion for `client_id` at the token endpoint `audience`, issued now with a fresh
    /// random `jti`.
    pub(crate) fn assertion(&self, client_id: &str, audience: &str) -> Result<String, AuthError> {
        use aws_lc_rs::rand::SecureRandom as _;
        let mut jti = [0u8; 16];
        aws_lc_rs::rand::SystemRandom::new()
            .fill(&mut jti)
            .map_err(|_| AuthError::Signing("no random jti".to_owned()))?;
        let jti: String = jti.iter().map(|b| format!("{b:02x}")).collect();
        // The assertion is checked against the authorization server's clock, so it carries
        // the real time, whatever clock the token cache is given.
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|_| AuthError::Signing("the system clock is before 1970".to_owned()))?
            .as_secs();
        self.sign(client_id, audience, &jti, now)
    }
}
