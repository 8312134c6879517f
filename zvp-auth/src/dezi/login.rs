//! The start of a login: state, nonce and the PKCE verifier, and the authorize URL.

use aws_lc_rs::digest;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::DeziError;

/// What a query value keeps unescaped: RFC 3986's unreserved characters.
const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The secrets of one login, kept by the portal (in the browser's pre-login session) until
/// the callback, and the URL the browser is sent to.
#[derive(Clone, PartialEq, Eq)]
pub struct LoginRequest {
    /// `state`: the callback must bring it back.
    pub state: String,
    /// `nonce`: the id_token must carry it.
    pub nonce: String,
    /// The PKCE `code_verifier`, sent with the code to the token endpoint.
    pub code_verifier: String,
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest").finish_non_exhaustive()
    }
}

fn random_token() -> Result<String, DeziError> {
    let mut bytes = [0u8; 32];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| DeziError::PlatformUnreachable {
            detail: "no randomness for the login".to_owned(),
        })?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// The PKCE S256 challenge of a verifier: base64url(SHA-256(verifier)).
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()))
}

impl LoginRequest {
    /// A new login with 256 random bits each for state, nonce and verifier.
    ///
    /// # Errors
    ///
    /// When the system has no randomness (reported as `PlatformUnreachable`, the login
    /// cannot start).
    pub fn new() -> Result<Self, DeziError> {
        Ok(Self {
            state: random_token()?,
            nonce: random_token()?,
            code_verifier: random_token()?,
        })
    }

    /// The authorize URL: `response_type=code`, `scope=openid`, the client_id, the exact
    /// redirect URI, state, nonce and the S256 challenge.
    pub fn authorize_url(
        &self,
        authorization_endpoint: &str,
        client_id: &str,
        redirect_uri: &str,
    ) -> String {
        let challenge = pkce_challenge(&self.code_verifier);
        let params = [
            ("response_type", "code"),
            ("scope", "openid"),
            ("client_id", client_id),
            ("redirect_uri", redirect_uri),
            ("state", self.state.as_str()),
            ("nonce", self.nonce.as_str()),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        let query = params
            .iter()
            .map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, QUERY)))
            .collect::<Vec<_>>()
            .join("&");
        let sep = if authorization_endpoint.contains('?') {
            '&'
        } else {
            '?'
        };
        format!("{authorization_endpoint}{sep}{query}")
    }
}
