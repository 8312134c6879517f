//! The connections to the EPD: HTTP/2 where the server offers it (ALPN), HTTP/1.1 otherwise;
//! at most [`FhirEpdConfig::max_connections`] requests at once; every body bounded in size,
//! and counted, as it arrives, against its call's answer budget (`super::budget`).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderValue, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::Semaphore;

use super::budget::{self, Budget, Pool};
use super::{FhirConfigError, FhirEpdConfig};
use crate::EpdError;
use crate::auth::TokenExchange;

/// A failed attempt: worth another try, or not, or refused for its token.
pub(super) enum Failure {
    /// The connection failed, or the server is overloaded: another try may succeed.
    Passing(EpdError),
    /// Another try gives the same answer.
    Final(EpdError),
    /// 401: the token was refused.
    Unauthorized(EpdError),
}

/// What the server answered.
pub(super) struct Answer {
    pub(super) status: StatusCode,
    /// Whether the content type is FHIR JSON or JSON.
    pub(super) json: bool,
    pub(super) body: Bytes,
}

/// The HTTP client of one [`super::FhirEpd`].
pub(super) struct Transport {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    /// One permit per request in flight: over HTTP/1.1 also the bound on connections.
    permits: Semaphore,
    max_response_bytes: usize,
    /// What all calls in flight have read.
    pool: Arc<Pool>,
    max_answer_bytes: usize,
}

impl Transport {
    pub(super) fn new(config: &FhirEpdConfig, https: bool) -> Result<Self, FhirConfigError> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(config.connect_timeout));
        http.set_nodelay(true);
        let tls = match (&config.tls, https) {
            (Some(tls), _) => (**tls).clone(),
            (None, true) => return Err(FhirConfigError::NoTls(config.base_url.clone())),
            // Plain http: the TLS half is never used, but the connector wants a config.
            (None, false) => rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::aws_lc_rs::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .map_err(|_| FhirConfigError::NoTls(config.base_url.clone()))?
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth(),
        };
        let builder = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls);
        let connector = if https {
            builder
                .https_only()
                .enable_all_versions()
                .wrap_connector(http)
        } else {
            // A token endpoint may be https while the FHIR server is plain http on a closed
            // network.
            builder
                .https_or_http()
                .enable_all_versions()
                .wrap_connector(http)
        };
        let max = config.max_connections.max(1);
        Ok(Self {
            client: Client::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(30))
                .pool_max_idle_per_host(max)
                .build(connector),
            permits: Semaphore::new(max),
            max_response_bytes: config.max_response_bytes,
            pool: Pool::new(config.max_answers_in_flight_bytes),
            max_answer_bytes: config.max_answer_bytes,
        })
    }

    /// A new call's answer budget.
    pub(super) fn budget(&self) -> Budget {
        Budget::new(&self.pool, self.max_answer_bytes)
    }

    /// Sends `request`, reads the whole body within the size bound.
    pub(super) async fn send(&self, request: Request<Full<Bytes>>) -> Result<Answer, Failure> {
        let _permit = self.permits.acquire().await.map_err(|_| {
            Failure::Final(EpdError::Unavailable("the client is closed".to_owned()))
        })?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| match tls_failure(&e) {
                Some(tls) => Failure::Final(EpdError::Tls(tls)),
                None => Failure::Passing(EpdError::Unavailable(if e.is_connect() {
                    "cannot connect".to_owned()
                } else {
                    "the connection failed".to_owned()
                })),
            })?;
        let status = response.status();
        let max = self.max_response_bytes;
        let too_large = || EpdError::TooLarge(format!("a response of more than {max} bytes"));
        // A request outside an `Epd` method (`FhirEpd::strategies` called on its own) is a
        // call of its own.
        let budget = budget::CURRENT
            .try_with(Arc::clone)
            .unwrap_or_else(|_| Arc::new(self.budget()));
        let declared = response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > max as u64) {
            return Err(Failure::Final(too_large()));
        }
        if declared.is_some_and(|n| budget.would_pass(n)) {
            return Err(Failure::Final(budget.exceeded()));
        }
        let json = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| {
                let t = t.trim_start().to_ascii_lowercase();
                t.starts_with("application/fhir+json") || t.starts_with("application/json")
            });
        // Read frame by frame, each counted before it is kept: the first frame beyond a bound
        // ends the read (and the connection, which hyper then does not reuse).
        let mut incoming = response.into_body();
        let mut body = Vec::with_capacity(
            declared
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or(0)
                .min(max),
        );
        while let Some(frame) = incoming.frame().await {
            let frame = frame.map_err(|e| {
                if ended_early(&e) {
                    Failure::Final(EpdError::Malformed(
                        "the response ended before it was complete".to_owned(),
                    ))
                } else {
                    Failure::Passing(EpdError::Unavailable(
                        "the connection failed while reading".to_owned(),
                    ))
                }
            })?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            if body.len().saturating_add(data.len()) > max {
                return Err(Failure::Final(too_large()));
            }
            budget.take(data.len()).map_err(Failure::Final)?;
            body.extend_from_slice(&data);
        }
        let body = Bytes::from(body);
        Ok(Answer { status, json, body })
    }

    async fn status_and_body(
        &self,
        request: Request<Full<Bytes>>,
    ) -> Result<(u16, Bytes), EpdError> {
        match self.send(request).await {
            Ok(answer) => Ok((answer.status.as_u16(), answer.body)),
            Err(Failure::Passing(e) | Failure::Final(e) | Failure::Unauthorized(e)) => Err(e),
        }
    }
}

#[async_trait]
impl TokenExchange for Transport {
    async fn get_json(&self, url: &str) -> Result<(u16, Bytes), EpdError> {
        let request = Request::get(url)
            .header(ACCEPT, "application/json")
            .body(Full::default())
            .map_err(|e| EpdError::Refused(e.to_string()))?;
        self.status_and_body(request).await
    }

    async fn post_form(
        &self,
        url: &str,
        form: String,
        authorization: Option<HeaderValue>,
    ) -> Result<(u16, Bytes), EpdError> {
        let mut request = Request::post(url)
            .header(ACCEPT, "application/json")
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(a) = authorization {
            request = request.header(AUTHORIZATION, a);
        }
        let request = request
            .body(Full::new(Bytes::from(form)))
            .map_err(|e| EpdError::Refused(e.to_string()))?;
        self.status_and_body(request).await
    }
}

/// The TLS failure under a connection error: the server's certificate not trusted or not
/// for this host, or the server refusing the portal's certificate.
fn tls_failure(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cause = Some(e);
    while let Some(e) = cause {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls.to_string());
        }
        // An io::Error's source skips the error it wraps (and the connector wraps twice).
        cause = match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    None
}

/// Whether a body error is the connection closing before the declared length arrived.
fn ended_early(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(e) = cause {
        if e.downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_incomplete_message)
            || e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::UnexpectedEof)
        {
            return true;
        }
        cause = e.source();
    }
    false
}
