//! The bounds: what no portal can leave out of a page or a login, served over the floor's TLS
//! setup with nothing else in the path. Each writes durable audit records of the portal's kind
//! (encoded, hashed, written, fsynced with its group) before it answers, to a file log of its
//! own, so that the portal's log is measured alone; the sizes are the ones measured in the
//! portal's own phases.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use axum::extract::State;
use axum::{Extension, Router};
use chrono::Utc;
use hyper::StatusCode;
use hyper::body::Bytes;
use zvp_audit::event::AuditEvent;
use zvp_audit::log::FileLog;
use zvp_auth::uzi::UziValidator;
use zvp_portal::ClientCertificate;

/// The name of the results page's bound's rows.
pub(crate) const BOUND: &str =
    "TLS hello + durable audit record + the results page's bytes (bound)";

/// The size of a bound's body until its page's is measured.
const PAGE_BYTES: usize = 6_800;

/// The results page's average size, as measured in its phase: what `/` sends.
pub(crate) static RESULT_BYTES: AtomicUsize = AtomicUsize::new(PAGE_BYTES);

/// The start page's records and bytes, as measured in its phase: what `/lijst` writes and
/// sends (one durable record per patient listed, as IHE BALP asks of a query that returns
/// several patients, and the page's bytes).
pub(crate) static LIST_RECORDS: AtomicUsize = AtomicUsize::new(1);
pub(crate) static LIST_BYTES: AtomicUsize = AtomicUsize::new(PAGE_BYTES);

/// The size of the page a login alone lands on (the search form), as measured in its phase:
/// what `/aanmelden` sends.
pub(crate) static LOGIN_BYTES: AtomicUsize = AtomicUsize::new(PAGE_BYTES);

#[derive(Clone)]
struct Bound {
    log: Arc<FileLog>,
    /// Events written so far: each event differs from the last, as the portal's do.
    count: Arc<AtomicU64>,
    validator: Arc<UziValidator>,
    /// A card's SHA-256 fingerprint in hex, as the portal's records name the card.
    fingerprint: Arc<str>,
}

impl Bound {
    /// `records` durable records, then a body of `bytes` bytes.
    async fn recorded(&self, records: usize, bytes: usize) -> (StatusCode, Bytes) {
        let n = self.count.fetch_add(records as u64, Ordering::Relaxed);
        // As the portal's: one request id for the request's records, the card's fingerprint
        // known since the handshake.
        let request_id = format!("{n:016x}");
        let events: Vec<_> = (n..n + records as u64)
            .map(|n| portal_like(n, &self.fingerprint, &request_id))
            .collect();
        match self.log.append_all(&events).await {
            Ok(_) => (StatusCode::OK, Bytes::from(vec![b'x'; bytes])),
            Err(_) => (StatusCode::SERVICE_UNAVAILABLE, Bytes::new()),
        }
    }
}

/// Event `n` as the portal's records of a GP reading a record are: beyond the example's
/// fields, the card's SHA-256 fingerprint, a request id of 16 hex digits (`random_hex(8)`),
/// the patient's BSN, and the portal's default instance and hospital names. So a bound's
/// record is of the portal's size (the bench prints both), and hashing, encoding and writing
/// it costs what the portal's does.
fn portal_like(n: u64, fingerprint: &str, request_id: &str) -> AuditEvent {
    let mut event = AuditEvent::example(n);
    event.access_point.certificate_sha256 = Some(fingerprint.to_owned());
    event.request_id = request_id.to_owned();
    event.source.instance = "portal-1".to_owned();
    event.source.hospital = "Ziekenhuis".to_owned();
    if let Some(patient) = &mut event.patient {
        patient.bsn = "999999990".parse().ok();
    }
    event
}

/// `/`: the results page's bound, one record and the page's bytes. `/lijst`: the start page's,
/// a record per patient listed and its bytes. `/aanmelden`: the login's, the card's chain
/// validated as a UZI-pas by `validator`, one record and the bytes of the page a login lands on.
pub(crate) fn router(log: Arc<FileLog>, validator: Arc<UziValidator>) -> Router {
    let state = Bound {
        log,
        count: Arc::new(AtomicU64::new(0)),
        validator,
        fingerprint: "9e".repeat(32).into(),
    };
    Router::new()
        .route(
            "/",
            axum::routing::get(|State(bound): State<Bound>| async move {
                bound.recorded(1, RESULT_BYTES.load(Ordering::Relaxed)).await
            }),
        )
        .route(
            "/lijst",
            axum::routing::get(|State(bound): State<Bound>| async move {
                let records = LIST_RECORDS.load(Ordering::Relaxed);
                bound.recorded(records, LIST_BYTES.load(Ordering::Relaxed)).await
            }),
        )
        .route(
            "/aanmelden",
            axum::routing::get(
                |State(bound): State<Bound>, Extension(chain): Extension<ClientCertificate>| async move {
                    if bound.validator.validate(&chain.0, Utc::now()).is_err() {
                        return (StatusCode::FORBIDDEN, Bytes::new());
                    }
                    bound.recorded(1, LOGIN_BYTES.load(Ordering::Relaxed)).await
                },
            ),
        )
        .with_state(state)
}
