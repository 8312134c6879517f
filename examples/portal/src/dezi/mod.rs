//! Dezi login's HTTP side: discovery, the platform's keys (cached; an unknown `kid` fetches
//! them once more, for key rotation), the keys at an allowed `jku`, the token exchange, the
//! userinfo, and the verklaring's status (the status endpoint or the signed list).
//!
//! Every check of what comes back is `zvp_auth::dezi`'s, with the time as a parameter; this
//! module only fetches.

mod http;
mod service;

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use tokio::sync::RwLock;
use zvp_auth::dezi::{
    self, DecryptionKey, DeziError, DeziSettings, IdToken, JwkSet, LoginRequest, RevocationList,
    VerifiedDeziIdentity,
};
use zvp_core::RoleCode;

pub use http::{Answer, MAX_ANSWER_BYTES, Wire, WireError};
pub use service::{DeziService, spawn_refresh};

/// The platform's endpoints, from `/.well-known/openid-configuration`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Discovery {
    /// `issuer`: must be the configured issuer exactly.
    pub issuer: String,
    /// `authorization_endpoint`.
    pub authorization_endpoint: String,
    /// `token_endpoint`.
    pub token_endpoint: String,
    /// `userinfo_endpoint`.
    pub userinfo_endpoint: String,
    /// `jwks_uri`.
    pub jwks_uri: String,
}

/// A relying party of one Dezi platform.
#[derive(Debug)]
pub struct DeziClient {
    wire: Wire,
    settings: DeziSettings,
    redirect_uri: String,
    decryption_key: Option<DecryptionKey>,
    discovery: Discovery,
    platform_keys: RwLock<JwkSet>,
    jku_keys: RwLock<HashMap<String, JwkSet>>,
    revocation_list_url: String,
}

fn json<T: for<'de> Deserialize<'de>>(answer: &Answer, what: &str) -> Result<T, DeziError> {
    if answer.status != hyper::StatusCode::OK {
        return Err(DeziError::PlatformAnswer {
            detail: format!("{what} answered HTTP {}", answer.status.as_u16()),
        });
    }
    serde_json::from_slice(&answer.body).map_err(|e| DeziError::PlatformAnswer {
        detail: format!("{what} is not the expected JSON: {e}"),
    })
}

/// A JWK set, leaving out keys of kinds zvp cannot use.
fn jwks(answer: &Answer, what: &str) -> Result<JwkSet, DeziError> {
    if answer.status != hyper::StatusCode::OK {
        return Err(DeziError::PlatformAnswer {
            detail: format!("{what} answered HTTP {}", answer.status.as_u16()),
        });
    }
    dezi::jws::parse_jwks(&answer.body).map_err(|e| DeziError::PlatformAnswer {
        detail: format!("{what} is not a JWK set: {e}"),
    })
}

fn text(answer: &Answer, what: &str) -> Result<String, DeziError> {
    if answer.status != hyper::StatusCode::OK {
        return Err(DeziError::PlatformAnswer {
            detail: format!("{what} answered HTTP {}", answer.status.as_u16()),
        });
    }
    String::from_utf8(answer.body.to_vec()).map_err(|_| DeziError::PlatformAnswer {
        detail: format!("{what} is not text"),
    })
}

/// The token endpoint's answer.
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    id_token: Option<String>,
    error: Option<String>,
}

/// What `DeziClient::connect` needs besides the pure settings.
#[derive(Debug)]
pub struct Connection {
    /// The exact redirect URI registered with Dezi.
    pub redirect_uri: String,
    /// The userinfo decryption key (none: only signed userinfo, acceptance).
    pub decryption_key: Option<DecryptionKey>,
    /// Where the signed revocation list is; default `{issuer}/revocatiecontrole/v1`.
    pub revocation_list_url: Option<String>,
    /// The trust anchors for the platform's TLS certificate (PEM); none: the system's.
    pub anchors_pem: Option<Vec<u8>>,
    /// The deadline of each request.
    pub timeout: Duration,
}

impl DeziClient {
    /// Discovers the platform at `settings.issuer` and fetches its keys.
    ///
    /// # Errors
    ///
    /// `PlatformUnreachable`, `PlatformAnswer` (also for a discovery document of another
    /// issuer).
    pub async fn connect(
        settings: DeziSettings,
        connection: Connection,
    ) -> Result<Self, DeziError> {
        let wire =
            Wire::new(connection.anchors_pem.as_deref(), connection.timeout).map_err(|e| {
                DeziError::PlatformUnreachable {
                    detail: e.to_string(),
                }
            })?;
        let issuer = settings.issuer.trim_end_matches('/');
        let answer = wire
            .get(&format!("{issuer}/.well-known/openid-configuration"), None)
            .await?;
        let discovery: Discovery = json(&answer, "discovery")?;
        if discovery.issuer != settings.issuer {
            return Err(DeziError::PlatformAnswer {
                detail: format!("discovery names issuer {:?}", discovery.issuer),
            });
        }
        let keys = jwks(&wire.get(&discovery.jwks_uri, None).await?, "jwks_uri")?;
        Ok(Self {
            revocation_list_url: connection
                .revocation_list_url
                .unwrap_or_else(|| format!("{issuer}/revocatiecontrole/v1")),
            wire,
            redirect_uri: connection.redirect_uri,
            decryption_key: connection.decryption_key,
            discovery,
            platform_keys: RwLock::new(keys),
            jku_keys: RwLock::new(HashMap::new()),
            settings,
        })
    }

    /// The settings.
    pub fn settings(&self) -> &DeziSettings {
        &self.settings
    }

    /// The discovered endpoints.
    pub fn discovery(&self) -> &Discovery {
        &self.discovery
    }

    /// A new login and the URL to send the browser to.
    ///
    /// # Errors
    ///
    /// When the system has no randomness.
    pub fn start(&self) -> Result<(LoginRequest, String), DeziError> {
        let login = LoginRequest::new()?;
        let url = login.authorize_url(
            &self.discovery.authorization_endpoint,
            &self.settings.client_id,
            &self.redirect_uri,
        );
        Ok((login, url))
    }

    /// Runs `check` with the platform's keys; on `UnknownKey`, fetches them once more (the
    /// platform rotated them) and runs it again.
    async fn with_platform_keys<T>(
        &self,
        check: impl Fn(&JwkSet) -> Result<T, DeziError>,
    ) -> Result<T, DeziError> {
        let first = check(&*self.platform_keys.read().await);
        match first {
            Err(DeziError::UnknownKey { .. }) => {
                let fresh = jwks(
                    &self.wire.get(&self.discovery.jwks_uri, None).await?,
                    "jwks_uri",
                )?;
                let result = check(&fresh);
                *self.platform_keys.write().await = fresh;
                result
            }
            other => other,
        }
    }

    /// The same for the keys at an allowed `jku`, fetched the first time they are needed.
    async fn with_jku_keys<T>(
        &self,
        jku: &str,
        check: impl Fn(&JwkSet) -> Result<T, DeziError>,
    ) -> Result<T, DeziError> {
        let cached = self.jku_keys.read().await.get(jku).map(&check);
        match cached {
            Some(Err(DeziError::UnknownKey { .. })) | None => {
                let fresh = jwks(&self.wire.get(jku, None).await?, "the jku")?;
                let result = check(&fresh);
                self.jku_keys.write().await.insert(jku.to_owned(), fresh);
                result
            }
            Some(done) => done,
        }
    }

    /// Completes a login from its callback: the state, the token exchange, the id_token, the
    /// userinfo, the envelope, the verklaring (its keys from the allowed `jku`, its role among
    /// `eligible`) and its status at the platform, all at `now`.
    ///
    /// # Errors
    ///
    /// [`DeziError`], the first check that fails; `RoleNotEligible` for a role outside
    /// `eligible`.
    pub async fn complete(
        &self,
        pending: &LoginRequest,
        state: &str,
        code: &str,
        eligible: &[RoleCode],
        now: DateTime<Utc>,
    ) -> Result<VerifiedDeziIdentity, DeziError> {
        if !constant_time_eq(pending.state.as_bytes(), state.as_bytes()) {
            return Err(DeziError::StateMismatch);
        }
        let answer = self
            .wire
            .post_form(
                &self.discovery.token_endpoint,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", code),
                    ("redirect_uri", &self.redirect_uri),
                    ("client_id", &self.settings.client_id),
                    ("code_verifier", &pending.code_verifier),
                ],
            )
            .await?;
        let tokens: TokenAnswer =
            serde_json::from_slice(&answer.body).map_err(|_| DeziError::PlatformAnswer {
                detail: format!(
                    "the token endpoint answered HTTP {}",
                    answer.status.as_u16()
                ),
            })?;
        if let Some(error) = tokens.error {
            return Err(DeziError::CodeRefused { error });
        }
        let (Some(access_token), Some(id_token)) = (tokens.access_token, tokens.id_token) else {
            return Err(DeziError::PlatformAnswer {
                detail: "the token answer lacks the access_token or id_token".to_owned(),
            });
        };
        let id: IdToken = self
            .with_platform_keys(|keys| {
                dezi::validate_id_token(&id_token, keys, &self.settings, Some(&pending.nonce), now)
            })
            .await?;
        let userinfo = text(
            &self
                .wire
                .get(&self.discovery.userinfo_endpoint, Some(&access_token))
                .await?,
            "userinfo",
        )?;
        let envelope_jws =
            dezi::open_userinfo(&userinfo, self.decryption_key.as_ref(), &self.settings)?;
        let envelope = self
            .with_platform_keys(|keys| {
                dezi::validate_envelope(&envelope_jws, keys, &self.settings, now)
            })
            .await?;
        let jku = dezi::verklaring_key_url(&envelope.verklaring, &self.settings)?;
        let who = self
            .with_jku_keys(&jku, |keys| {
                dezi::validate_verklaring(
                    &envelope,
                    (&jku, keys),
                    &id,
                    eligible,
                    &self.settings,
                    now,
                )
            })
            .await?;
        self.check_status(&who).await?;
        Ok(who)
    }

    /// Asks the platform's status endpoint, `{issuer}/status/v1/verklaring/{id}`, whether the
    /// verklaring is still in force. The URL the verklaring names is not followed: the
    /// answer is unsigned, so only the configured platform (over its trust anchors) may give
    /// it, never a host the verklaring chooses.
    ///
    /// # Errors
    ///
    /// `Revoked`, `PlatformUnreachable`, `PlatformAnswer`.
    pub async fn check_status(&self, who: &VerifiedDeziIdentity) -> Result<(), DeziError> {
        let id = who.verklaring_id();
        let url = format!(
            "{}/status/v1/verklaring/{}",
            self.settings.issuer.trim_end_matches('/'),
            percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC)
        );
        let answer = self.wire.get(&url, None).await?;
        dezi::status_answer(answer.status.as_u16(), &answer.body, id)
    }

    /// Fetches the signed revocation list (up to [`dezi::jws::MAX_REVOCATION_LIST_BYTES`])
    /// and verifies it with the platform's keys only, whatever `jku` it names.
    ///
    /// # Errors
    ///
    /// `PlatformUnreachable`, `PlatformAnswer`, `IssuerMismatch` and the JWS errors.
    pub async fn revocation_list(&self) -> Result<RevocationList, DeziError> {
        let list = text(
            &self
                .wire
                .get_up_to(
                    &self.revocation_list_url,
                    dezi::jws::MAX_REVOCATION_LIST_BYTES,
                )
                .await?,
            "the revocation list",
        )?;
        self.with_platform_keys(|keys| dezi::verify_revocation_list(&list, keys, &self.settings))
            .await
    }
}

/// Compares secrets without leaking where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}
