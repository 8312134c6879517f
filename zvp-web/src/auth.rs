//! Who is asking: the client certificate (from the TLS connection, or from a trusted reverse
//! proxy), validated as a UZI-pas at the request's time, and the server-side session bound to
//! it. [`authenticate`] runs before every page; whether the card may enter is the
//! [`Caller`](crate::caller::Caller) extractor's question to the policy.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use chrono::{DateTime, Duration, Utc};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;
use zvp_auth::uzi::{UziError, VerifiedUziIdentity};
use zvp_core::{AgbCode, RoleCode, UziNumber};

use crate::Portal;
use crate::dezi::DeziSession;
use crate::refusal::{Refusal, log_refusal, refusal_page};
use crate::session::{self, Timeouts};
use crate::throttle::Verdict;

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

/// The verified identity of the request (inserted by [`authenticate`]): the UZI-pas the
/// request presents, or the Dezi login of its session. Everything after the middleware asks
/// it the same questions, whichever means it is.
#[derive(Debug, Clone)]
pub(crate) enum Identity {
    /// A UZI-pas, validated at this request's time.
    Card(Arc<VerifiedUziIdentity>),
    /// A Dezi login, verified at the callback, in the session it started.
    Dezi(Arc<DeziSession>),
}

impl Identity {
    /// The account's key: the card's UZI number, or the account the Dezi number is linked to.
    pub(crate) fn uzi_number(&self) -> UziNumber {
        match self {
            Self::Card(card) => card.uzi_number(),
            Self::Dezi(dezi) => dezi.uzi,
        }
    }

    /// The AGB code the means carries (a verklaring carries none).
    pub(crate) fn agb(&self) -> Option<AgbCode> {
        match self {
            Self::Card(card) => card.agb(),
            Self::Dezi(_) => None,
        }
    }

    /// The role the means carries.
    pub(crate) fn role(&self) -> RoleCode {
        match self {
            Self::Card(card) => card.role(),
            Self::Dezi(dezi) => dezi.role,
        }
    }

    /// What the session is bound to: the card's certificate, or the verklaring.
    pub(crate) fn binding(&self) -> &str {
        match self {
            Self::Card(card) => card.certificate_sha256(),
            Self::Dezi(dezi) => &dezi.binding,
        }
    }

    /// The name the means gives, for a record without an account.
    pub(crate) fn name(&self) -> String {
        match self {
            Self::Card(card) => card.common_name().unwrap_or_default().to_owned(),
            Self::Dezi(dezi) => dezi.name.clone(),
        }
    }

    /// The card, when the means is a UZI-pas.
    pub(crate) fn card(&self) -> Option<&VerifiedUziIdentity> {
        match self {
            Self::Card(card) => Some(card),
            Self::Dezi(_) => None,
        }
    }
}

/// The request's id, for the audit log and the application log.
#[derive(Debug, Clone)]
pub(crate) struct RequestId(pub(crate) String);

/// The session id of the request's cookie, when it continued a session (for the logout).
#[derive(Debug, Clone)]
pub(crate) struct SessionId(pub(crate) String);

/// Where the [`Caller`](crate::caller::Caller) extractor leaves the cookie of a session it
/// started (a first visit of an admitted account), for the middleware to set on the response.
#[derive(Debug, Clone, Default)]
pub(crate) struct NewSession(Arc<std::sync::Mutex<Option<String>>>);

impl NewSession {
    pub(crate) fn put(&self, cookie: String) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(cookie);
    }

    pub(crate) fn take(&self) -> Option<String> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }
}

/// The secure random source failed: no id, token or key can be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the system's secure random source failed")]
pub(crate) struct RandomFailed;

/// A source of secure random bytes. aws-lc-rs seals its own `SecureRandom`, so a source that
/// fails (for the tests) needs this one.
pub(crate) trait RandomSource {
    /// Fills `buf` with secure random bytes.
    fn fill(&self, buf: &mut [u8]) -> Result<(), RandomFailed>;
}

impl RandomSource for aws_lc_rs::rand::SystemRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), RandomFailed> {
        aws_lc_rs::rand::SecureRandom::fill(self, buf).map_err(|_| RandomFailed)
    }
}

/// A random hex string of `bytes` bytes from the system's secure random source.
pub(crate) fn random_hex(bytes: usize) -> Result<String, RandomFailed> {
    random_hex_from(&aws_lc_rs::rand::SystemRandom::new(), bytes)
}

/// A random hex string of `bytes` bytes from `source`; its failure is the caller's to answer
/// (a session id or CSRF token of zeros would be guessable).
pub(crate) fn random_hex_from(
    source: &dyn RandomSource,
    bytes: usize,
) -> Result<String, RandomFailed> {
    let mut buf = vec![0u8; bytes];
    source.fill(&mut buf)?;
    Ok(hex::encode(buf))
}

/// The client certificate of a request: from the TLS connection, or — from a trusted proxy
/// only — from the proxy's header. The header is ignored from anyone else.
pub(crate) fn client_certificate(
    portal: &Portal,
    parts: &Parts,
) -> Option<Arc<Vec<CertificateDer<'static>>>> {
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

/// The throttle's key of a card: the SHA-256 of its certificate.
fn card_key(leaf: &CertificateDer<'_>) -> [u8; 32] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, leaf.as_ref());
    <[u8; 32]>::try_from(digest.as_ref()).unwrap_or_default()
}

/// The 429 page when `key` (a Dezi session, a callback's address) is past the portal's
/// request rate; `None` when it may go on, or the portal has no limit. Logged once a minute
/// per key, not recorded: nothing was presented that a record could name.
pub(crate) fn throttled(portal: &Portal, key: &str, request_id: &str) -> Option<Response> {
    let throttle = portal.0.throttle.as_ref()?;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, key.as_bytes());
    let key = <[u8; 32]>::try_from(digest.as_ref()).unwrap_or_default();
    let Verdict::Throttled { record } = throttle.check(&key) else {
        return None;
    };
    if record {
        log_refusal(request_id, Refusal::Throttled.code(), None);
    }
    let mut page = refusal_page(portal, &Refusal::Throttled, request_id);
    page.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
    Some(page)
}

/// The middleware of every page: throttle the card, validate it as a UZI-pas, then find or
/// start the session.
pub(crate) async fn authenticate(
    State(portal): State<Portal>,
    request: Request,
    next: Next,
) -> Response {
    let now = portal.now();
    let Ok(request_id) = random_hex(8) else {
        // Without the secure random source no session can start: say so, and stop here.
        return refusal_page(&portal, &Refusal::Unavailable, "rng-failed");
    };
    let (mut parts, body) = request.into_parts();
    // A header that only a trusted proxy may set never reaches the handlers.
    let chain = client_certificate(&portal, &parts);
    parts
        .headers
        .remove(portal.0.proxy.certificate_header.as_str());
    let ip = parts.extensions.get::<PeerAddress>().map(|p| p.0.ip());
    let leaf = chain.as_ref().and_then(|c| c.first());
    let verdict = match (&portal.0.throttle, leaf) {
        (Some(throttle), Some(leaf)) => throttle.check(&card_key(leaf)),
        _ => Verdict::Pass,
    };
    if let Verdict::Throttled { record } = verdict {
        // Neither the log line nor the audit record is written for every throttled request:
        // that is the growth the throttle bounds.
        if record {
            let code = Refusal::Throttled.code();
            log_refusal(&request_id, code, None);
            let leaf = leaf.map(AsRef::as_ref);
            if let Err(r) = portal
                .record_refused_card(leaf, ip, &request_id, code)
                .await
            {
                return refusal_page(&portal, &r, &request_id);
            }
        }
        let mut page = refusal_page(&portal, &Refusal::Throttled, &request_id);
        page.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
        return page;
    }
    // A Dezi login's session goes on as one, whether or not a card is presented too (the
    // card that was in the reader when the Dezi number was linked stays there).
    if let Some((dezi, cookie)) = crate::dezi::session_identity(&portal, &parts, now) {
        let key = format!("dezi-session|{}", dezi.binding);
        if let Some(page) = throttled(&portal, &key, &request_id) {
            return page;
        }
        return match crate::dezi::still_in_force(&portal, (&dezi, &cookie), ip, &request_id).await {
            Ok(()) => {
                let identity = Identity::Dezi(dezi);
                continue_session(portal, parts, body, next, identity, ip, request_id).await
            }
            Err(page) => page,
        };
    }
    // Neither a card nor a Dezi session: the page that says how to log in (and nothing is
    // recorded: no one presented anything).
    let Some(chain) = chain.filter(|c| !c.is_empty()) else {
        log_refusal(&request_id, UziError::NoCertificate.code(), None);
        return crate::dezi::no_card_page(&portal, &request_id);
    };
    let cache = parts.extensions.get::<ConnectionIdentity>().cloned();
    let identity = match &cache {
        Some(cache) if cache.get(portal.validator_generation(), now).is_some() => cache
            .get(portal.validator_generation(), now)
            .ok_or(UziError::NoCertificate),
        _ => portal.validator().validate(&chain, now).map(Arc::new),
    };
    let identity = match identity {
        Ok(identity) => {
            if let Some(cache) = &cache {
                cache.put(portal.validator_generation(), now, &identity);
            }
            identity
        }
        Err(e) => {
            log_refusal(&request_id, e.code(), None);
            // A refused card is recorded with what it claims, before the refusal is sent.
            let leaf = chain.first().map(AsRef::as_ref);
            if let Err(r) = portal
                .record_refused_card(leaf, ip, &request_id, e.code())
                .await
            {
                return refusal_page(&portal, &r, &request_id);
            }
            return refusal_page(&portal, &Refusal::Certificate(e), &request_id);
        }
    };
    continue_session(
        portal,
        parts,
        body,
        next,
        Identity::Card(identity),
        ip,
        request_id,
    )
    .await
}

/// The response header naming the request's id, made when compiled rather than parsed on
/// every response.
const X_REQUEST_ID: axum::http::HeaderName = axum::http::HeaderName::from_static("x-request-id");

/// The rest of [`authenticate`] for a verified identity: the origin of a form, then the
/// session its cookie continues (or the slot for one to start, for a card), then the page.
async fn continue_session(
    portal: Portal,
    mut parts: Parts,
    body: axum::body::Body,
    next: Next,
    identity: Identity,
    ip: Option<std::net::IpAddr>,
    request_id: String,
) -> Response {
    let now = portal.now();
    if !crate::origin::allowed(&parts, portal.0.public_origin.as_deref()) {
        log_refusal(
            &request_id,
            "foreign-origin",
            Some(&identity.uzi_number().to_string()),
        );
        return crate::origin::refused_page(&portal, &request_id);
    }
    let timeouts = Timeouts::of(portal.settings());
    // A session is continued here, but started only by the `Caller` extractor, after the
    // policy admitted the card and its account: a card without one stores nothing.
    let mut started = None;
    match session::cookie_value(&parts.headers) {
        Some(cookie) => {
            let resumed = portal
                .0
                .sessions
                .resume(Some(&cookie), identity.binding(), now, timeouts)
                .await;
            match resumed {
                Ok(Ok((session, _))) => {
                    parts.extensions.insert(session);
                    parts.extensions.insert(SessionId(cookie));
                }
                Ok(Err(ended)) => {
                    // The end of a session is recorded before the page that says so.
                    let why = match ended {
                        session::Ended::Idle => "session-idle",
                        session::Ended::Absolute => "session-absolute",
                        session::Ended::OtherCertificate => "session-other-certificate",
                        session::Ended::LoggedOut => "session-logged-out",
                        session::Ended::Unknown => "session-unknown",
                    };
                    if let Err(r) = portal
                        .record_session_end(&identity, ip, &request_id, why)
                        .await
                    {
                        return refusal_page(&portal, &r, &request_id);
                    }
                    return session::ended_page(&portal, ended, now);
                }
                Err(_) => return refusal_page(&portal, &Refusal::Unavailable, &request_id),
            }
        }
        // A Dezi login is good only in the session its callback started.
        None if matches!(identity, Identity::Dezi(_)) => {
            return crate::dezi::no_card_page(&portal, &request_id);
        }
        None => {
            let slot = NewSession::default();
            parts.extensions.insert(slot.clone());
            started = Some(slot);
        }
    }
    parts.extensions.insert(identity);
    parts.extensions.insert(RequestId(request_id.clone()));
    let mut response = next.run(Request::from_parts(parts, body)).await;
    if let Some(cookie) = started.and_then(|slot| slot.take()) {
        session::set_cookie(&mut response, &cookie);
    }
    // The id the audit records of this request carry, for correlation by operators.
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(X_REQUEST_ID, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A random source that has failed.
    struct Broken;

    impl RandomSource for Broken {
        fn fill(&self, _: &mut [u8]) -> Result<(), RandomFailed> {
            Err(RandomFailed)
        }
    }

    #[test]
    fn a_failing_random_source_gives_an_error_not_a_predictable_id() {
        assert_eq!(random_hex_from(&Broken, 32), Err(RandomFailed));
        let id = random_hex_from(&aws_lc_rs::rand::SystemRandom::new(), 32).unwrap();
        assert_eq!(id.len(), 64);
        assert_ne!(id, "0".repeat(64));
    }
}
