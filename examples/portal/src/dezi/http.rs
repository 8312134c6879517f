//! The wire to the Dezi platform: HTTPS with TLS 1.3 only, one deadline per request, every
//! answer bounded in size, every failure a [`DeziError`].

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Bytes;
use hyper::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use hyper::{Request, StatusCode};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use zvp_auth::dezi::DeziError;

/// The largest answer read from the platform: a userinfo JWE, a JWKS, a status answer (the
/// signed revocation list has its own limit, see [`Wire::get_up_to`]).
pub const MAX_ANSWER_BYTES: usize = 512 * 1024;

/// What the platform answered.
#[derive(Debug)]
pub struct Answer {
    /// The HTTP status.
    pub status: StatusCode,
    /// The content type, lower-cased, without parameters.
    pub content_type: String,
    /// The body.
    pub body: Bytes,
}

/// An HTTPS client for the platform.
#[derive(Clone)]
pub struct Wire {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeout: Duration,
}

impl std::fmt::Debug for Wire {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wire")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Why the client for the platform could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// The trust anchors are not PEM certificates.
    #[error("the dezi trust anchors: {0}")]
    Anchors(String),
    /// The TLS configuration was refused.
    #[error("the dezi tls configuration: {0}")]
    Tls(String),
}

impl Wire {
    /// A client that trusts `anchors_pem` (or the system's roots when `None`) and speaks
    /// TLS 1.3 only, as the platform requires.
    ///
    /// # Errors
    ///
    /// [`WireError`].
    pub fn new(anchors_pem: Option<&[u8]>, timeout: Duration) -> Result<Self, WireError> {
        let mut roots = rustls::RootCertStore::empty();
        match anchors_pem {
            Some(pem) => {
                for cert in CertificateDer::pem_slice_iter(pem) {
                    let cert = cert.map_err(|e| WireError::Anchors(e.to_string()))?;
                    roots
                        .add(cert)
                        .map_err(|e| WireError::Anchors(e.to_string()))?;
                }
                if roots.is_empty() {
                    return Err(WireError::Anchors("no certificate".to_owned()));
                }
            }
            None => {
                let found = rustls_native_certs::load_native_certs();
                roots.add_parsable_certificates(found.certs);
            }
        }
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| WireError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(timeout));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_only()
            .enable_http1()
            .wrap_connector(http);
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
            timeout,
        })
    }

    /// `GET url`, with a bearer token when given.
    ///
    /// # Errors
    ///
    /// `PlatformUnreachable` (no connection, no answer in time), `PlatformAnswer` (too large).
    pub async fn get(&self, url: &str, bearer: Option<&str>) -> Result<Answer, DeziError> {
        let mut request = Request::get(url).header(ACCEPT, "*/*");
        if let Some(token) = bearer {
            request = request.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        self.send(request, Full::default(), MAX_ANSWER_BYTES).await
    }

    /// `GET url` reading up to `limit` bytes: for the signed revocation list, which grows
    /// with every revocation and outgrows [`MAX_ANSWER_BYTES`].
    ///
    /// # Errors
    ///
    /// As [`Wire::get`].
    pub async fn get_up_to(&self, url: &str, limit: usize) -> Result<Answer, DeziError> {
        let request = Request::get(url).header(ACCEPT, "*/*");
        self.send(request, Full::default(), limit).await
    }

    /// `POST url` with a form body.
    ///
    /// # Errors
    ///
    /// As [`Wire::get`].
    pub async fn post_form(&self, url: &str, form: &[(&str, &str)]) -> Result<Answer, DeziError> {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let request = Request::post(url)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(ACCEPT, "application/json");
        self.send(request, Full::new(Bytes::from(body)), MAX_ANSWER_BYTES)
            .await
    }

    async fn send(
        &self,
        request: hyper::http::request::Builder,
        body: Full<Bytes>,
        limit: usize,
    ) -> Result<Answer, DeziError> {
        let request = request
            .body(body)
            .map_err(|e| DeziError::PlatformUnreachable {
                detail: format!("not a usable URL: {e}"),
            })?;
        let exchange =
            async {
                let response = self.client.request(request).await.map_err(|e| {
                    DeziError::PlatformUnreachable {
                        detail: std::error::Error::source(&e)
                            .map_or(e.to_string(), |s| s.to_string()),
                    }
                })?;
                let status = response.status();
                let content_type = response
                    .headers()
                    .get(CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.split(';').next())
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase();
                let body = Limited::new(response.into_body(), limit)
                    .collect()
                    .await
                    .map_err(|e| DeziError::PlatformAnswer {
                        detail: format!("the answer broke off or is too large: {e}"),
                    })?
                    .to_bytes();
                Ok(Answer {
                    status,
                    content_type,
                    body,
                })
            };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| DeziError::PlatformUnreachable {
                detail: format!("no answer within {} s", self.timeout.as_secs()),
            })?
    }
}
