//! Who is asking: the client certificate (from the TLS connection, or from a trusted reverse
//! proxy), validated as a UZI-pas at the request's time, and the server-side session bound to
//! it. [`authenticate`] runs before every page; whether the card may enter is the
//! [`Caller`](crate::caller::Caller) extractor's question to the policy.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use chrono::{DateTime, Duration, Utc};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;
use zvp_auth::uzi::{UziError, VerifiedUziIdentity};

use crate::Portal;
use crate::refusal::{Refusal, log_refusal, refusal_page};
use crate::session::{self, Timeouts};

/// The client certificate chain of the connection (leaf first), as the TLS layer (or a
/// trusted proxy) delivered it. Inserted into every request by the server
/// (`zvp_portal::serve`).
#[derive(Debug, Clone)]
pub struct ClientCertificate(pub Arc<Vec<CertificateDer<'static>>>);

/// The validated identity of a TLS connection's client certificate, kept for the requests
/// that follow on the same connection (the certificate cannot change within it). Reused
/// only while the validator is the same one (new CRLs start over), the certificate is still
/// valid, and for at most [`ConnectionIdentity::REUSE`]. Inserted by the server for
/// mutual-TLS connections only: behind a proxy, one connection carries many users.
#[derive(Debug, Clone, Default)]
pub struct ConnectionIdentity(Arc<std::sync::Mutex<Option<Validated>>>);

/// A validation of a connection's certificate: the validator generation, when, and the result.
type Validated = (u64, DateTime<Utc>, Arc<VerifiedUziIdentity>);

impl ConnectionIdentity {
    /// How long a validation is reused on one connection.
    pub const REUSE: Duration = Duration::minutes(5);

    pub(crate) fn get(
        &self,
        generation: u64,
        now: DateTime<Utc>,
    ) -> Option<Arc<VerifiedUziIdentity>> {
        let cached = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (g, at, identity) = cached.as_ref()?;
        (*g == generation && *at <= now && now < *at + Self::REUSE && now < identity.not_after())
            .then(|| Arc::clone(identity))
    }

    pub(crate) fn put(
        &self,
        generation: u64,
        now: DateTime<Utc>,
        identity: &Arc<VerifiedUziIdentity>,
    ) {
        let mut cached = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cached
            .as_ref()
            .is_none_or(|(g, at, _)| *g != generation || now >= *at + Self::REUSE)
        {
            *cached = Some((generation, now, Arc::clone(identity)));
        }
    }
}

/// The address of the connection's peer, inserted by the server.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddress(pub SocketAddr);

/// Certificates from PEM text.
///
/// # Errors
///
/// The PEM error.
pub fn pem_certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())
}

/// Decodes a URL-escaped value (as nginx's `$ssl_client_escaped_cert`): `%XX` escapes only;
/// `None` when the result is not UTF-8.
pub fn url_unescape(s: &str) -> Option<String> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(std::borrow::Cow::into_owned)
}

/// The verified identity of the request (inserted by [`authenticate`]).
#[derive(Debug, Clone)]
pub(crate) struct Identity(pub(crate) Arc<VerifiedUziIdentity>);

/// The request's id, for the audit log and the application log.
#[derive(Debug, Clone)]
pub(crate) struct RequestId(pub(crate) String);

/// A random hex string of `bytes` random bytes.
pub(crate) fn random_hex(bytes: usize) -> String {
    use aws_lc_rs::rand::SecureRandom;
    let mut buf = vec![0u8; bytes];
    // The system RNG does not fail on Linux; if it did, an all-zero id is still unique
    // enough for a log line but never used as a secret: sessions check for it.
    let _ = aws_lc_rs::rand::SystemRandom::new().fill(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// The client certificate of a request: from the TLS connection, or — from a trusted proxy
/// only — from the proxy's header. The header is ignored from anyone else.
fn client_certificate(portal: &Portal, parts: &Parts) -> Option<Arc<Vec<CertificateDer<'static>>>> {
    if let Some(ClientCertificate(chain)) = parts.extensions.get::<ClientCertificate>() {
        return Some(Arc::clone(chain));
    }
    let proxy = &portal.0.proxy;
    let peer = parts.extensions.get::<PeerAddress>()?;
    if !proxy.trusted.contains(&peer.0.ip()) {
        return None;
    }
    let escaped = parts
        .headers
        .get(proxy.certificate_header.as_str())?
        .to_str()
        .ok()?;
    let pem = url_unescape(escaped)?;
    let chain = pem_certificates(pem.as_bytes()).ok()?;
    (!chain.is_empty()).then(|| Arc::new(chain))
}

/// The middleware of every page: validate the UZI-pas, then find or start the session.
pub(crate) async fn authenticate(
    State(portal): State<Portal>,
    request: Request,
    next: Next,
) -> Response {
    let now = portal.now();
    let request_id = random_hex(8);
    let (mut parts, body) = request.into_parts();
    // A header that only a trusted proxy may set never reaches the handlers.
    let chain = client_certificate(&portal, &parts);
    parts
        .headers
        .remove(portal.0.proxy.certificate_header.as_str());
    let cache = parts.extensions.get::<ConnectionIdentity>().cloned();
    let identity = match (&chain, &cache) {
        (None, _) => Err(UziError::NoCertificate),
        (Some(_), Some(cache)) if cache.get(portal.validator_generation(), now).is_some() => cache
            .get(portal.validator_generation(), now)
            .ok_or(UziError::NoCertificate),
        (Some(chain), _) => portal.validator().validate(chain, now).map(Arc::new),
    };
    let ip = parts.extensions.get::<PeerAddress>().map(|p| p.0.ip());
    let identity = match identity {
        Ok(identity) => {
            if let Some(cache) = &cache {
                cache.put(portal.validator_generation(), now, &identity);
            }
            identity
        }
        Err(e) => {
            log_refusal(&request_id, e.code(), None);
            // A refused card is recorded with what it claims, before the refusal is sent;
            // a request without any certificate presents no card and is not.
            if !matches!(e, UziError::NoCertificate) {
                let leaf = chain.as_ref().and_then(|c| c.first()).map(AsRef::as_ref);
                if let Err(r) = portal
                    .record_refused_card(leaf, ip, &request_id, e.code())
                    .await
                {
                    return refusal_page(&portal, &r, &request_id);
                }
            }
            return refusal_page(&portal, &Refusal::Certificate(e), &request_id);
        }
    };
    let timeouts = Timeouts::of(portal.settings());
    let cookie = session::cookie_value(&parts.headers);
    let resumed = portal
        .0
        .sessions
        .resume(
            cookie.as_deref(),
            identity.certificate_sha256(),
            now,
            timeouts,
        )
        .await;
    let (session, cookie) = match resumed {
        Ok(Ok(found)) => found,
        Ok(Err(ended)) => {
            // The end of a session is recorded before the page that says so.
            let why = match ended {
                session::Ended::Idle => "session-idle",
                session::Ended::Absolute => "session-absolute",
                session::Ended::OtherCertificate => "session-other-certificate",
                session::Ended::Unknown => "session-unknown",
            };
            if let Err(r) = portal
                .record_session_end(&identity, ip, &request_id, why)
                .await
            {
                return refusal_page(&portal, &r, &request_id);
            }
            let Ok((session, cookie)) = portal
                .0
                .sessions
                .start(identity.certificate_sha256(), now)
                .await
            else {
                return refusal_page(&portal, &Refusal::Unavailable, &request_id);
            };
            let mut response = session::ended_page(&portal, ended, &session, now);
            session::set_cookie(&mut response, &cookie);
            return response;
        }
        Err(_) => return refusal_page(&portal, &Refusal::Unavailable, &request_id),
    };
    parts.extensions.insert(Identity(identity));
    parts.extensions.insert(session);
    parts.extensions.insert(RequestId(request_id.clone()));
    let mut response = next.run(Request::from_parts(parts, body)).await;
    if let Some(cookie) = cookie {
        session::set_cookie(&mut response, &cookie);
    }
    // The id the audit records of this request carry, for correlation by operators.
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}
