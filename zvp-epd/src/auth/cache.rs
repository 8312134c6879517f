//! The access token the FHIR requests carry: fetched, kept until shortly before it expires,
//! renewed one attempt at a time.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use base64::Engine as _;
use bytes::Bytes;
use http::HeaderValue;
use serde::Deserialize;

use super::{AssertionKey, AuthError, EpdAuth, Secret};
use crate::EpdError;

/// The HTTP the token cache needs, given by the FHIR client (the same connections, TLS and
/// bounds).
#[async_trait]
pub(crate) trait TokenExchange: Send + Sync {
    /// A GET of a JSON document: its status and body, or why there is none.
    async fn get_json(&self, url: &str) -> Result<(u16, Bytes), EpdError>;
    /// A POST of a form: its status and body, or why there is none.
    async fn post_form(
        &self,
        url: &str,
        form: String,
        authorization: Option<HeaderValue>,
    ) -> Result<(u16, Bytes), EpdError>;
}

/// The authentication error for a token endpoint (or SMART configuration) at `url` that
/// could not be asked.
fn unreachable(url: &str, e: EpdError) -> AuthError {
    let url = url.to_owned();
    match e {
        EpdError::Tls(detail) => AuthError::Tls { url, detail },
        EpdError::Unavailable(detail) => AuthError::Unreachable { url, detail },
        other => AuthError::Unreachable {
            url,
            detail: other.to_string(),
        },
    }
}

/// A monotonic clock, for when a token must be renewed: `Instant::now` unless a test moves
/// time on.
#[derive(Clone)]
pub struct TokenClock(pub Arc<dyn Fn() -> Instant + Send + Sync>);

impl Default for TokenClock {
    fn default() -> Self {
        Self(Arc::new(Instant::now))
    }
}

impl std::fmt::Debug for TokenClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenClock")
    }
}

enum Credential {
    Secret(Secret),
    Key(AssertionKey),
}

enum Method {
    None,
    BearerFile(PathBuf),
    Exchange {
        token_url: Option<String>,
        client_id: String,
        credential: Credential,
        scope: Option<String>,
    },
}

#[derive(Clone)]
struct Token {
    header: HeaderValue,
    renew_at: Instant,
}

/// A token file as last read: when it was changed and how long it was.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Stamp(Option<SystemTime>, u64);

#[derive(Default)]
struct State {
    token: Option<Token>,
    stamp: Option<Stamp>,
    token_url: Option<String>,
    /// Attempts made so far, and the last one's error when it failed.
    attempts: u64,
    failed: Option<(u64, AuthError)>,
}

/// The authentication of one FHIR client.
pub(crate) struct Authenticator {
    method: Method,
    base: Arc<str>,
    clock: TokenClock,
    state: Mutex<State>,
    /// Held while a token is fetched.
    turn: tokio::sync::Mutex<()>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    token_type: String,
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct OAuthError {
    error: String,
    error_description: Option<String>,
}

#[derive(Deserialize)]
struct SmartConfiguration {
    token_endpoint: Option<String>,
}

/// How long a token lasts when the server does not say (RFC 6749 leaves it to the server).
const DEFAULT_LIFETIME: u64 = 300;

impl Authenticator {
    pub(crate) fn new(auth: &EpdAuth, base: Arc<str>, clock: TokenClock) -> Self {
        let method = match auth.clone() {
            EpdAuth::None => Method::None,
            EpdAuth::BearerFile(path) => Method::BearerFile(path),
            EpdAuth::ClientSecret {
                token_url,
                client_id,
                secret,
                scope,
            } => Method::Exchange {
                token_url,
                client_id,
                credential: Credential::Secret(secret),
                scope,
            },
            EpdAuth::SmartBackend {
                token_url,
                client_id,
                key,
                scope,
            } => Method::Exchange {
                token_url,
                client_id,
                credential: Credential::Key(key),
                scope,
            },
        };
        Self {
            method,
            base,
            clock,
            state: Mutex::new(State::default()),
            turn: tokio::sync::Mutex::new(()),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Nothing panics while the lock is held, so a poisoned one holds a whole value.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a refused token can be replaced by another.
    pub(crate) fn renewable(&self) -> bool {
        !matches!(self.method, Method::None)
    }

    /// The `Authorization` header for the next request, if any.
    pub(crate) async fn header(
        self: &Arc<Self>,
        http: &Arc<dyn TokenExchange>,
    ) -> Result<Option<HeaderValue>, AuthError> {
        match &self.method {
            Method::None => Ok(None),
            Method::BearerFile(path) => self.read_token_file(path).map(Some),
            Method::Exchange { .. } => self.exchanged(http).await.map(Some),
        }
    }

    /// The FHIR server refused `used` (401): it is not used again.
    pub(crate) fn refused(&self, used: Option<&HeaderValue>) {
        let mut state = self.state();
        if state.token.as_ref().map(|t| &t.header) == used {
            state.token = None;
            state.stamp = None;
        }
    }

    fn read_token_file(&self, path: &Path) -> Result<HeaderValue, AuthError> {
        let failed = |detail: String| AuthError::TokenFile {
            path: path.display().to_string(),
            detail,
        };
        // A stat per request: cheap, and a renewed file is used at once.
        let meta = std::fs::metadata(path).map_err(|e| failed(e.to_string()))?;
        let stamp = Stamp(meta.modified().ok(), meta.len());
        let mut state = self.state();
        if state.stamp == Some(stamp)
            && let Some(token) = &state.token
        {
            return Ok(token.header.clone());
        }
        let text = std::fs::read_to_string(path).map_err(|e| failed(e.to_string()))?;
        let token = Secret::new(text);
        if token.expose().is_empty() {
            return Err(failed("the file is empty".to_owned()));
        }
        let header = bearer(&token).map_err(|_| failed("not a valid token".to_owned()))?;
        state.stamp = Some(stamp);
        state.token = Some(Token {
            header: header.clone(),
            renew_at: (self.clock.0)(),
        });
        Ok(header)
    }

    fn current(&self, state: &State) -> Option<HeaderValue> {
        let now = (self.clock.0)();
        state
            .token
            .as_ref()
            .filter(|t| now < t.renew_at)
            .map(|t| t.header.clone())
    }

    async fn exchanged(
        self: &Arc<Self>,
        http: &Arc<dyn TokenExchange>,
    ) -> Result<HeaderValue, AuthError> {
        let asked = {
            let state = self.state();
            if let Some(header) = self.current(&state) {
                return Ok(header);
            }
            state.attempts
        };
        // The renewal runs as a task of its own: a request that gives up waiting (its page
        // failed elsewhere) does not cancel it halfway, which would leave a token issued
        // and lost, and the next request asking again.
        let (this, http) = (Arc::clone(self), Arc::clone(http));
        tokio::spawn(async move { this.in_turn(asked, &*http).await })
            .await
            .unwrap_or_else(|_| Err(AuthError::Signing("the token renewal ended".to_owned())))
    }

    /// One caller at a time: a token made meanwhile, the failure of the attempt this caller
    /// waited for, or a new attempt.
    async fn in_turn(
        &self,
        asked: u64,
        http: &dyn TokenExchange,
    ) -> Result<HeaderValue, AuthError> {
        let _turn = self.turn.lock().await;
        {
            let state = self.state();
            if let Some(header) = self.current(&state) {
                return Ok(header);
            }
            // An attempt ended while this request waited: its failure is this one's too.
            if let Some((attempt, e)) = &state.failed
                && *attempt > asked
            {
                return Err(e.clone());
            }
        }
        let result = self.fetch(http).await;
        let mut state = self.state();
        state.attempts += 1;
        match result {
            Ok(token) => {
                state.failed = None;
                state.token = Some(token.clone());
                Ok(token.header)
            }
            Err(e) => {
                state.failed = Some((state.attempts, e.clone()));
                Err(e)
            }
        }
    }

    async fn token_url(
        &self,
        http: &dyn TokenExchange,
        configured: Option<&String>,
    ) -> Result<String, AuthError> {
        if let Some(url) = configured {
            return Ok(url.clone());
        }
        if let Some(url) = self.state().token_url.clone() {
            return Ok(url);
        }
        let url = format!("{}/.well-known/smart-configuration", self.base);
        let (status, body) = http
            .get_json(&url)
            .await
            .map_err(|e| unreachable(&url, e))?;
        if status != 200 {
            return Err(AuthError::NoTokenEndpoint(format!(
                "{url} answers http {status}"
            )));
        }
        let found: SmartConfiguration = serde_json::from_slice(&body)
            .map_err(|_| AuthError::Malformed(format!("{url} is not a SMART configuration")))?;
        let token_url = found
            .token_endpoint
            .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
            .ok_or_else(|| {
                AuthError::NoTokenEndpoint(format!("{url} names no http(s) token_endpoint"))
            })?;
        self.state().token_url = Some(token_url.clone());
        Ok(token_url)
    }

    async fn fetch(&self, http: &dyn TokenExchange) -> Result<Token, AuthError> {
        let Method::Exchange {
            token_url,
            client_id,
            credential,
            scope,
        } = &self.method
        else {
            return Err(AuthError::Malformed(
                "no token exchange configured".to_owned(),
            ));
        };
        let url = self.token_url(http, token_url.as_ref()).await?;
        let (form, authorization) = request_form(client_id, credential, scope.as_deref(), &url)?;
        let (status, body) = http
            .post_form(&url, form, authorization)
            .await
            .map_err(|e| unreachable(&url, e))?;
        if status >= 500 {
            return Err(AuthError::Unreachable {
                url,
                detail: format!("http {status}"),
            });
        }
        if status != 200 {
            let error = serde_json::from_slice::<OAuthError>(&body)
                .map(|e| match e.error_description {
                    Some(d) => format!("{}: {}", e.error, printable(&d)),
                    None => e.error,
                })
                .unwrap_or_else(|_| "no OAuth error in the answer".to_owned());
            return Err(AuthError::Refused {
                status,
                error: printable(&error),
            });
        }
        let answer: TokenResponse = serde_json::from_slice(&body)
            .map_err(|_| AuthError::Malformed("the token response is not OAuth JSON".to_owned()))?;
        if !answer.token_type.eq_ignore_ascii_case("bearer") {
            return Err(AuthError::Malformed(format!(
                "token type {:?}, not Bearer",
                printable(&answer.token_type)
            )));
        }
        let header = bearer(&Secret::new(answer.access_token)).map_err(|_| {
            AuthError::Malformed("the access token is not a valid header value".to_owned())
        })?;
        let lifetime = answer.expires_in.unwrap_or(DEFAULT_LIFETIME);
        // Renewed a tenth of its life early (5 s to 60 s), so that no request carries a token
        // that expires on its way.
        let margin = (lifetime / 10).clamp(5, 60);
        Ok(Token {
            header,
            renew_at: (self.clock.0)() + Duration::from_secs(lifetime.saturating_sub(margin)),
        })
    }
}

/// The token request's form, and its `Authorization` header for a client secret.
fn request_form(
    client_id: &str,
    credential: &Credential,
    scope: Option<&str>,
    url: &str,
) -> Result<(String, Option<HeaderValue>), AuthError> {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("grant_type", "client_credentials");
    if let Some(scope) = scope {
        form.append_pair("scope", scope);
    }
    let authorization = match credential {
        Credential::Secret(secret) => {
            // RFC 6749 §2.3.1: both parts form-encoded, then Basic.
            let user: String = form_urlencoded::byte_serialize(client_id.as_bytes()).collect();
            let pass: String =
                form_urlencoded::byte_serialize(secret.expose().as_bytes()).collect();
            let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
            let mut value = HeaderValue::from_str(&format!("Basic {basic}"))
                .map_err(|_| AuthError::Signing("the client id or secret".to_owned()))?;
            value.set_sensitive(true);
            Some(value)
        }
        Credential::Key(key) => {
            form.append_pair(
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            );
            form.append_pair("client_assertion", &key.assertion(client_id, url)?);
            None
        }
    };
    Ok((form.finish(), authorization))
}

fn bearer(token: &Secret) -> Result<HeaderValue, http::header::InvalidHeaderValue> {
    let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose()))?;
    value.set_sensitive(true);
    Ok(value)
}

/// Text from a server, kept to 200 printable characters for a log line.
fn printable(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(200).collect()
}
