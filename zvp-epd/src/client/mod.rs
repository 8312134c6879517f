//! [`FhirEpd`]: the [`Epd`] over HTTP(S) against any FHIR R4 server.
//!
//! Every method is one deadline ([`FhirEpdConfig::timeout`]) around everything it does: the
//! connection (bounded by [`FhirEpdConfig::connect_timeout`]), retries of failed reads,
//! every page of a search, and reading each body (bounded by
//! [`FhirEpdConfig::max_response_bytes`]). What a method reads, all its requests and pages
//! together, is bounded by [`FhirEpdConfig::max_answer_bytes`], and what all methods in flight
//! read by [`FhirEpdConfig::max_answers_in_flight_bytes`] (`budget`). Whatever the server
//! sends, the answer is data or a typed [`EpdError`], never a panic.
//!
//! The adapter does not trust the server to have applied the search: lists keep only
//! patients whose registered GP is one of the asked GPs and admissions in the asked state, and
//! every resource read for a patient must be about that patient. A server that ignores a
//! search parameter therefore shows too little, never another GP's patients.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use http::header::{ACCEPT, AUTHORIZATION};
use http::{HeaderValue, Request, StatusCode};
use http_body_util::Full;
use serde_json::Value;
use serde_json::value::RawValue;
use zvp_core::{
    AgbCode, Allergy, Bsn, CareMoment, ConclusionAndPlan, Diagnosis, Document, DocumentId,
    LabObservation, Letter, Medication, Patient, PatientId, ResultCategory, ResultReport,
};

use crate::auth::{AuthError, Authenticator, EpdAuth, TokenClock, TokenExchange};
use crate::fhir::{
    self, AGB_SYSTEM, AttachmentData, BSN_SYSTEM, Bundle, FhirError, OperationOutcome,
};
use crate::{Changes, Epd, EpdError, ListedPatient, RequestContext};

mod budget;
mod capabilities;
mod changes;
mod epd;
mod lists;
mod transport;

pub use capabilities::{Capabilities, Strategies, Strategy};
use transport::{Answer, Failure, Transport};

/// The most ids in one `_id=a,b,…` search, to keep the URL short.
const IDS_PER_SEARCH: usize = 50;

/// How to reach the EPD's FHIR server, and the bounds on what it may cost.
#[derive(Debug, Clone)]
pub struct FhirEpdConfig {
    /// The FHIR base URL, e.g. `https://epd.ziekenhuis.nl/fhir` (no trailing slash needed).
    pub base_url: String,
    /// The longest a TCP connection may take to open. Default 2 s.
    pub connect_timeout: Duration,
    /// The longest one [`Epd`] method may take, all pages and retries included. Default 10 s.
    pub timeout: Duration,
    /// The largest response body read, per page. Default 16 MiB.
    pub max_response_bytes: usize,
    /// The most bytes one [`Epd`] method reads, over all its requests and pages (read as they
    /// arrive, and refused with [`EpdError::TooLarge`] at the first byte beyond). Default
    /// 32 MiB.
    pub max_answer_bytes: usize,
    /// The most bytes all [`Epd`] methods in flight read together: beyond, the method that
    /// reads more fails with [`EpdError::TooLarge`] (it does not wait). Default 128 MiB.
    pub max_answers_in_flight_bytes: usize,
    /// The most pages one search may take. Default 50.
    pub max_pages: usize,
    /// The page size asked for (`_count`). Default 100.
    pub page_size: u32,
    /// How often a failed read is tried again (connection failures, 429, 502, 503, 504), within
    /// the deadline. Default 2.
    pub retries: u32,
    /// TLS for an `https` base URL: the EPD's trust anchors and, where it asks for one, the
    /// portal's client certificate ([`crate::tls::client_config`]). Required for `https`.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// The most requests in flight at once (over HTTP/1.1, connections); more wait their
    /// turn within their deadline. Default 32.
    pub max_connections: usize,
    /// How the portal authenticates to the EPD. Default none.
    pub auth: EpdAuth,
    /// The clock deciding when an access token is renewed.
    pub token_clock: TokenClock,
}

impl FhirEpdConfig {
    /// The defaults for a base URL.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            connect_timeout: Duration::from_secs(2),
            timeout: Duration::from_secs(10),
            max_response_bytes: 16 << 20,
            max_answer_bytes: 32 << 20,
            max_answers_in_flight_bytes: 128 << 20,
            max_pages: 50,
            page_size: 100,
            retries: 2,
            tls: None,
            max_connections: 32,
            auth: EpdAuth::None,
            token_clock: TokenClock::default(),
        }
    }
}

/// Why a [`FhirEpd`] could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FhirConfigError {
    /// The base URL is not an absolute `http` or `https` URL.
    #[error("epd base url {0:?} is not an absolute http(s) url")]
    BaseUrl(String),
    /// An `https` base URL without TLS settings.
    #[error("epd base url {0:?} is https but no tls settings (trust anchors) are given")]
    NoTls(String),
}

/// The [`Epd`] over HTTP(S) against a FHIR R4 server. Cheap to clone (one connection pool).
#[derive(Clone)]
pub struct FhirEpd {
    transport: Arc<Transport>,
    /// The same transport, as the token cache sees it.
    exchange: Arc<dyn TokenExchange>,
    auth: Arc<Authenticator>,
    /// Chosen at the first request from the server's CapabilityStatement.
    strategies: Arc<tokio::sync::OnceCell<Strategies>>,
    /// How the GP lists are searched: [`lists::CHAINED`] until the server is found to need
    /// [`lists::THROUGH_PRACTITIONERS`].
    gp_search: Arc<std::sync::atomic::AtomicU8>,
    base: Arc<str>,
    config: Arc<FhirEpdConfig>,
}

impl std::fmt::Debug for FhirEpd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FhirEpd")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// A resource from a search: its type, id, JSON text, and whether it was an include.
struct Found {
    kind: String,
    id: Option<String>,
    text: Box<RawValue>,
    include: bool,
}

/// A malformed answer, named without the values it holds: the message goes to the log.
fn malformed(e: FhirError) -> EpdError {
    EpdError::Malformed(e.without_values())
}

fn parse_value(text: &RawValue) -> Result<Value, EpdError> {
    serde_json::from_str(text.get()).map_err(|e| EpdError::Malformed(fhir::json_error(&e)))
}

/// Percent-encodes everything but the unreserved characters.
fn encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, UNRESERVED_ONLY).to_string()
}

/// Everything but RFC 3986's unreserved characters (`A-Z a-z 0-9 - . _ ~`) is escaped.
const UNRESERVED_ONLY: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A `patient` search value: the literal reference `Patient/<id>`, which every server takes
/// (some read a bare id as something else and find nothing).
fn patient_reference(id: &PatientId) -> String {
    format!("Patient/{}", encode(id.as_str()))
}

fn token(system: &str, code: &str) -> String {
    encode(&format!("{system}|{code}"))
}

impl FhirEpd {
    /// An adapter for the server at `config.base_url`.
    ///
    /// # Errors
    ///
    /// [`FhirConfigError`] for a base URL that is not absolute http(s), https without TLS
    /// settings, or an authorization value that is no header value.
    pub fn new(config: FhirEpdConfig) -> Result<Self, FhirConfigError> {
        let base = config.base_url.trim_end_matches('/').to_owned();
        let uri: http::Uri = base
            .parse()
            .map_err(|_| FhirConfigError::BaseUrl(base.clone()))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(FhirConfigError::BaseUrl(base)),
        };
        if uri.host().is_none() || uri.query().is_some() {
            return Err(FhirConfigError::BaseUrl(base));
        }
        let transport = Arc::new(Transport::new(&config, https)?);
        let base: Arc<str> = base.into();
        Ok(Self {
            exchange: transport.clone(),
            transport,
            auth: Arc::new(Authenticator::new(
                &config.auth,
                base.clone(),
                config.token_clock.clone(),
            )),
            base,
            strategies: Arc::new(tokio::sync::OnceCell::new()),
            gp_search: Arc::new(std::sync::atomic::AtomicU8::new(lists::CHAINED)),
            config: Arc::new(config),
        })
    }

    /// The server's CapabilityStatement, read now.
    async fn capabilities(&self, ctx: &RequestContext) -> Result<Capabilities, EpdError> {
        let body = self.get(&format!("{}/metadata", self.base), ctx).await?;
        let value: Value =
            serde_json::from_slice(&body).map_err(|e| EpdError::Malformed(fhir::json_error(&e)))?;
        Capabilities::parse(&value)
    }

    /// The search strategies for this server, chosen from its CapabilityStatement at the
    /// first call (and again at the next call when reading it failed).
    ///
    /// # Errors
    ///
    /// [`EpdError`] when the CapabilityStatement cannot be read.
    pub async fn strategies(&self, ctx: &RequestContext) -> Result<&Strategies, EpdError> {
        self.strategies
            .get_or_try_init(|| async { Ok(Strategies::choose(&self.capabilities(ctx).await?)) })
            .await
    }

    /// A search of `kind` for any of `values` of `param`, [`IDS_PER_SEARCH`] values at a time.
    async fn any_of(
        &self,
        kind: &str,
        param: &str,
        values: Vec<String>,
        extra: &[(&str, String)],
        ctx: &RequestContext,
    ) -> Result<Vec<Found>, EpdError> {
        let mut found = Vec::new();
        for chunk in values.chunks(IDS_PER_SEARCH) {
            let mut params = vec![(param, chunk.join(","))];
            params.extend(extra.iter().cloned());
            found.extend(self.search(kind, &params, ctx).await?);
        }
        Ok(found)
    }

    /// The resources of `kind` with these ids.
    async fn by_ids(
        &self,
        kind: &str,
        ids: &[&str],
        ctx: &RequestContext,
    ) -> Result<Vec<Found>, EpdError> {
        let ids = ids.iter().map(|id| encode(id)).collect();
        self.any_of(kind, "_id", ids, &[], ctx).await
    }

    /// The Consents of these patients.
    async fn consents_of(
        &self,
        patients: &[&PatientId],
        ctx: &RequestContext,
    ) -> Result<Vec<Found>, EpdError> {
        let refs = patients.iter().map(|id| patient_reference(id)).collect();
        self.any_of("Consent", "patient", refs, &[], ctx).await
    }

    /// The FHIR base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The URL of an attachment: relative to the FHIR base (`Binary/<id>`), or absolute on the
    /// same server. Anywhere else is refused: the portal sends its token to its EPD only.
    fn attachment_url(&self, url: &str) -> Result<String, EpdError> {
        if url.starts_with(&format!("{}/", self.base)) {
            return Ok(url.to_owned());
        }
        if url.contains("://") || url.starts_with('/') || url.starts_with('#') {
            return Err(EpdError::Malformed(
                "DocumentReference: content.attachment.url is not on the EPD's FHIR server"
                    .to_owned(),
            ));
        }
        Ok(format!("{}/{url}", self.base))
    }

    /// Runs `work` within the configured deadline and one answer budget; the budget's bytes go
    /// back to the pool when `work` ends or is dropped at the deadline.
    async fn within<T>(
        &self,
        work: impl Future<Output = Result<T, EpdError>>,
    ) -> Result<T, EpdError> {
        let budget = Arc::new(self.transport.budget());
        tokio::time::timeout(self.config.timeout, budget::CURRENT.scope(budget, work))
            .await
            .unwrap_or(Err(EpdError::Timeout))
    }

    /// One GET, tried again on passing failures; after a 401, once with a new token.
    async fn get(&self, url: &str, ctx: &RequestContext) -> Result<Bytes, EpdError> {
        let mut attempt = 0;
        let mut renewed = false;
        loop {
            let token = self
                .auth
                .header(&self.exchange)
                .await
                .map_err(EpdError::Authentication)?;
            match self.get_once(url, ctx, token.as_ref()).await {
                Err(Failure::Passing(_)) if attempt < self.config.retries => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(25 << attempt)).await;
                }
                Err(Failure::Unauthorized(e)) if self.auth.renewable() => {
                    if renewed {
                        return Err(EpdError::Authentication(AuthError::TokenRejected));
                    }
                    let _ = e;
                    self.auth.refused(token.as_ref());
                    renewed = true;
                }
                Err(Failure::Passing(e) | Failure::Final(e) | Failure::Unauthorized(e)) => {
                    return Err(e);
                }
                Ok(body) => return Ok(body),
            }
        }
    }

    async fn get_once(
        &self,
        url: &str,
        ctx: &RequestContext,
        token: Option<&HeaderValue>,
    ) -> Result<Bytes, Failure> {
        let mut request = Request::get(url)
            .header(ACCEPT, "application/fhir+json")
            .header("x-request-id", ctx.request_id.as_str());
        if let Some(a) = token {
            request = request.header(AUTHORIZATION, a.clone());
        }
        let request = request
            .body(Full::default())
            .map_err(|e| Failure::Final(EpdError::Refused(format!("bad request: {e}"))))?;
        let Answer { status, json, body } = self.transport.send(request).await?;
        if status.is_success() {
            if !json {
                return Err(Failure::Final(EpdError::Malformed(
                    "the response is not FHIR JSON (content type)".to_owned(),
                )));
            }
            return Ok(body);
        }
        let outcome = std::str::from_utf8(&body)
            .ok()
            .and_then(OperationOutcome::parse)
            .map(|o| format!(" ({})", o.code))
            .unwrap_or_default();
        let what = format!("http {}{outcome}", status.as_u16());
        Err(match status {
            StatusCode::UNAUTHORIZED => Failure::Unauthorized(EpdError::Refused(what)),
            StatusCode::NOT_FOUND | StatusCode::GONE => Failure::Final(EpdError::NotFound(what)),
            StatusCode::TOO_MANY_REQUESTS
            | StatusCode::BAD_GATEWAY
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::GATEWAY_TIMEOUT => Failure::Passing(EpdError::Unavailable(what)),
            s if s.is_server_error() => Failure::Final(EpdError::Unavailable(what)),
            _ => Failure::Final(EpdError::Refused(what)),
        })
    }

    /// A search, every page: `kind?params&_count=…`.
    async fn search(
        &self,
        kind: &str,
        params: &[(&str, String)],
        ctx: &RequestContext,
    ) -> Result<Vec<Found>, EpdError> {
        let mut query: Vec<String> = params
            .iter()
            .map(|(name, value)| format!("{}={value}", encode(name)))
            .collect();
        query.push(format!("_count={}", self.config.page_size));
        let mut url = format!("{}/{kind}?{}", self.base, query.join("&"));
        let mut found = Vec::new();
        for page in 0.. {
            if page == self.config.max_pages {
                return Err(EpdError::TooLarge(format!(
                    "a search of more than {} pages",
                    self.config.max_pages
                )));
            }
            // The raw page goes as soon as it is decoded: the entries own their text.
            let bundle = {
                let body = self.get(&url, ctx).await?;
                let text = std::str::from_utf8(&body)
                    .map_err(|_| EpdError::Malformed("the response is not UTF-8".to_owned()))?;
                Bundle::parse(text).map_err(malformed)?
            };
            let next = bundle.next().map(str::to_owned);
            for entry in bundle.entry {
                let include = entry.is_include();
                let Some((kind, id)) = entry.head().map_err(malformed)? else {
                    continue;
                };
                let Some(text) = entry.resource else { continue };
                // An OperationOutcome in a searchset carries warnings, not data.
                if kind == "OperationOutcome" {
                    continue;
                }
                found.push(Found {
                    kind,
                    id,
                    text,
                    include,
                });
            }
            match next {
                None => break,
                Some(next) => {
                    let inside = next
                        .strip_prefix(&*self.base)
                        .is_some_and(|rest| rest.starts_with('/') || rest.starts_with('?'));
                    if !inside {
                        return Err(EpdError::Malformed(
                            "a next-page link outside the epd's base url".to_owned(),
                        ));
                    }
                    url = next;
                }
            }
        }
        Ok(found)
    }

    /// The resources of `kind` about `patient`; each must be about that patient.
    async fn about<T>(
        &self,
        kind: &str,
        patient: &PatientId,
        extra: &[(&str, String)],
        ctx: &RequestContext,
        map: impl Fn(&Value) -> Result<(PatientId, T), FhirError>,
    ) -> Result<Vec<T>, EpdError> {
        let mut params = vec![("patient", patient_reference(patient))];
        params.extend(extra.iter().cloned());
        let found = self.search(kind, &params, ctx).await?;
        let mut out = Vec::new();
        for f in found.iter().filter(|f| f.kind == kind && !f.include) {
            let resource = parse_value(&f.text)?;
            if fhir::recorded_in_error(&resource) {
                continue;
            }
            let (of, item) = map(&resource).map_err(malformed)?;
            if &of != patient {
                return Err(other_patient(kind));
            }
            out.push(item);
        }
        Ok(out)
    }
}

fn other_patient(kind: &str) -> EpdError {
    EpdError::Malformed(format!(
        "the epd returned a {kind} of another patient than asked"
    ))
}

fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}
