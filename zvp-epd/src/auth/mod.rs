//! How the portal proves itself to the EPD's FHIR server: nothing, a static bearer token from a
//! file, OAuth 2.0 client credentials with a client secret, or SMART Backend Services
//! (client credentials with a signed JWT client assertion).
//!
//! Access tokens are kept until shortly before they expire. One refresh runs at a time, and the
//! requests that waited for it take its result, also when it failed; the next request after a
//! failure tries again. A 401 from the FHIR server drops the token that was refused, so one
//! new token is fetched and the request is tried once more. Secrets, assertions and tokens are
//! never part of an error, a log line or a `Debug` form.

mod assertion;
mod cache;

use std::path::PathBuf;

pub use assertion::{AssertionKey, KeyError};
pub use cache::TokenClock;
pub(crate) use cache::{Authenticator, TokenExchange};

/// A secret (client secret, token) that does not show itself in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret; surrounding whitespace (a file's final newline) is dropped.
    pub fn new(secret: impl AsRef<str>) -> Self {
        Self(secret.as_ref().trim().to_owned())
    }

    /// The secret itself, for the one place that sends it.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// How the portal authenticates to the EPD.
#[derive(Debug, Clone)]
pub enum EpdAuth {
    /// No authentication (a server on a closed network, or mutual TLS alone).
    None,
    /// `Authorization: Bearer <token>` with the token in this file, read again when the file
    /// changes (a sidecar that renews it).
    BearerFile(PathBuf),
    /// OAuth 2.0 client credentials, the client authenticated with HTTP Basic and a secret.
    ClientSecret {
        /// The token endpoint; `None`: from the FHIR server's
        /// `.well-known/smart-configuration`.
        token_url: Option<String>,
        /// The client id the authorization server knows the portal by.
        client_id: String,
        /// The client secret.
        secret: Secret,
        /// The scopes asked for, space-separated; `None`: the server's default.
        scope: Option<String>,
    },
    /// SMART Backend Services: client credentials with a `private_key_jwt` client assertion
    /// (RS384 or ES384, with `kid`, `jti` and an `exp` five minutes ahead).
    SmartBackend {
        /// The token endpoint; `None`: from the FHIR server's
        /// `.well-known/smart-configuration`.
        token_url: Option<String>,
        /// The client id the authorization server knows the portal by.
        client_id: String,
        /// The key that signs the assertions, and its `kid`.
        key: AssertionKey,
        /// The scopes asked for, space-separated (e.g. `system/Patient.rs system/Encounter.rs`).
        scope: Option<String>,
    },
}

/// Why the portal could not authenticate to the EPD.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The token endpoint, or the server's SMART configuration, could not be reached or
    /// answered with a server error.
    #[error("the token endpoint {url} cannot be reached: {detail}")]
    Unreachable {
        /// The URL asked.
        url: String,
        /// What went wrong (no secret in it).
        detail: String,
    },
    /// The TLS connection to the token endpoint failed: its certificate is not trusted or
    /// not for this host.
    #[error("the tls connection to the token endpoint {url} failed: {detail}")]
    Tls {
        /// The URL asked.
        url: String,
        /// The TLS error.
        detail: String,
    },
    /// The authorization server refused the portal's credentials or request (wrong client
    /// id, secret or key, an unknown `kid`, a scope it does not grant).
    #[error("the authorization server refused the portal (http {status}): {error}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The OAuth error code and description, as the server gave them.
        error: String,
    },
    /// The token endpoint's or SMART configuration's answer is not what OAuth prescribes.
    #[error("the authorization server's answer cannot be used: {0}")]
    Malformed(String),
    /// No token endpoint is configured and the FHIR server's SMART configuration names none.
    #[error("no token endpoint: none configured, and {0}")]
    NoTokenEndpoint(String),
    /// The bearer token file cannot be read or holds no token.
    #[error("the epd token file {path}: {detail}")]
    TokenFile {
        /// The file.
        path: String,
        /// Why it cannot be used.
        detail: String,
    },
    /// The FHIR server refused a token that was just issued.
    #[error("the epd refused the portal's access token (http 401) after a renewal")]
    TokenRejected,
    /// A client assertion could not be made.
    #[error("the client assertion cannot be signed: {0}")]
    Signing(String),
}
