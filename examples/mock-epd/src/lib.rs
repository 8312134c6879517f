//! `zvp-mock-epd`: a FHIR R4 server (JSON) over the synthetic hospital of
//! [`zvp_epd::synthetic`], with the resources and search parameters of the FHIR adapter
//! ([`zvp_epd::client::FhirEpd`]) and a CapabilityStatement at `/fhir/metadata`.
//!
//! It is strict where a real server may be lenient: a search parameter it does not support is
//! a `400` with an OperationOutcome (`not-supported`), so an adapter that asks for something
//! else finds out at once. For the portal's reliability tests it can inject latency, errors
//! (`503` with an OperationOutcome) and garbage (a truncated JSON body) into a share of the
//! requests, deterministically (the first `n` of every hundred).
//!
//! It writes the record in the forms of [`shapes`] that a test selects (report categories,
//! letters as HTML or PDF and by URL, references, decimals), and serves privacy Consents for
//! the patients a test says object to sharing ([`MockEpd::set_objections`]). Encounters and
//! DocumentReferences carry `meta.lastUpdated` and are searched with `_lastUpdated=gt…` (the
//! notifier's poll); a test can let time pass ([`MockEpd::set_as_of`]) and enter a record
//! late ([`MockEpd::enter_late`]).
//!
//! Routes: `GET /fhir/metadata`, `GET /fhir/{type}?{search}` (paged with `_count` and
//! `_offset`, `next` links) and `GET /fhir/Patient/{id}`, `GET /fhir/DocumentReference/{id}`,
//! `GET /fhir/Binary/{id}`.

pub mod export;
mod oversize;
mod query;
mod recorded;
mod search;
pub mod shapes;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::Value;
use serde_json::value::RawValue;
use zvp_core::{DocumentId, PatientId};
use zvp_epd::fhir::{self, EntryMode};
use zvp_epd::synthetic::SyntheticEpd;
use zvp_epd::{Epd, EpdError, RequestContext};

use query::Query;
pub use recorded::Late;
use search::{Group, groups};
pub use shapes::Shapes;

/// Faults to inject, for reliability tests. The default injects none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Faults {
    /// Added to every response.
    pub latency: Duration,
    /// The first this many of every hundred requests get `503 Service Unavailable`.
    pub error_percent: u8,
    /// The first this many of every hundred requests (after the errors) get a truncated JSON
    /// body with status 200.
    pub garbage_percent: u8,
    /// Every `200` JSON answer is this many bytes larger (a member `_padding` the reader
    /// ignores), as an EPD whose answers are far larger than the record.
    pub padding_bytes: usize,
}

/// The server's state: the hospital, its FHIR base URL and the faults to inject.
#[derive(Debug)]
pub struct MockEpd {
    epd: Arc<SyntheticEpd>,
    base: String,
    faults: std::sync::RwLock<Faults>,
    requests: AtomicU64,
    /// Search parameters answered with 400, as `Type:parameter`.
    refused: std::sync::RwLock<Vec<String>>,
    /// Whether `_include` and `_revinclude` are declared and done.
    includes: std::sync::atomic::AtomicBool,
    /// The forms the record is written in.
    shapes: std::sync::RwLock<Shapes>,
    /// The patients who object to their record being shared.
    objections: std::sync::RwLock<Vec<PatientId>>,
    /// The record as it stood at this time, if a test set one ([`MockEpd::set_as_of`]).
    as_of: std::sync::RwLock<Option<chrono::DateTime<chrono::Utc>>>,
    /// The records entered late, and when ([`MockEpd::enter_late`]).
    late: std::sync::RwLock<std::collections::HashMap<Late, chrono::DateTime<chrono::Utc>>>,
}

impl MockEpd {
    /// A server over `epd` whose FHIR base URL is `base` (for `fullUrl` and paging links,
    /// e.g. `http://127.0.0.1:8080/fhir`).
    pub fn new(epd: Arc<SyntheticEpd>, base: impl Into<String>, faults: Faults) -> Self {
        Self {
            epd,
            base: base.into().trim_end_matches('/').to_owned(),
            faults: std::sync::RwLock::new(faults),
            requests: AtomicU64::new(0),
            refused: std::sync::RwLock::new(Vec::new()),
            includes: std::sync::atomic::AtomicBool::new(true),
            shapes: std::sync::RwLock::new(Shapes::default()),
            objections: std::sync::RwLock::new(Vec::new()),
            as_of: std::sync::RwLock::new(None),
            late: std::sync::RwLock::new(std::collections::HashMap::new()),
        }
    }

    /// Serves the record as it stood at `at` (`None`: as generated, the default), so that a
    /// test can let time pass in the hospital: an admission starting after `at` is not there
    /// yet, a discharge after `at` has not happened (the Encounter is `in-progress`, without
    /// an end), a letter dated after `at`'s date is not written yet, and what a test entered
    /// late ([`MockEpd::enter_late`]) is not entered yet.
    pub fn set_as_of(&self, at: Option<chrono::DateTime<chrono::Utc>>) {
        *self
            .as_of
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = at;
    }

    /// The time the record is served as of, if one is set.
    pub fn as_of(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        *self
            .as_of
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Writes the record in these forms from the next request on.
    pub fn set_shapes(&self, shapes: Shapes) {
        *self
            .shapes
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = shapes;
    }

    /// The forms the record is written in.
    pub fn shapes(&self) -> Shapes {
        *self
            .shapes
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Declares and does `_include` and `_revinclude` (the default), or, as many servers,
    /// neither: the CapabilityStatement names none and the searches ignore them.
    pub fn set_includes(&self, includes: bool) {
        self.includes.store(includes, Ordering::Relaxed);
    }

    /// Refuses these search parameters (`Type:parameter`, e.g.
    /// `Encounter:patient.general-practitioner:identifier`) with 400 `not-supported`, as a
    /// server without them does.
    pub fn refuse_searches(&self, searches: Vec<String>) {
        *self
            .refused
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = searches;
    }

    /// Records that these patients object to their record being shared: the mock serves a
    /// privacy Consent (`patient-privacy`, `OPTOUT`, a `deny` provision without codes) for each.
    pub fn set_objections(&self, patients: Vec<PatientId>) {
        *self
            .objections
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = patients;
    }

    /// The patient with their objection to sharing, if they are among those who object.
    pub(crate) fn with_objection(&self, mut patient: zvp_core::Patient) -> zvp_core::Patient {
        let objects = self
            .objections
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(&patient.id);
        if objects {
            patient.sharing_objection = Some(zvp_core::SharingObjection {
                recorded_on: Some(self.epd.now().date_naive()),
            });
        }
        patient
    }

    /// The FHIR base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Changes the faults from the next request on (an EPD going down, slowing down,
    /// recovering).
    pub fn set_faults(&self, faults: Faults) {
        *self
            .faults
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = faults;
    }

    /// The faults injected now.
    pub fn faults(&self) -> Faults {
        *self
            .faults
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How many requests it has answered (faults included).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

/// The routes of the server.
pub fn router(state: Arc<MockEpd>) -> Router {
    Router::new()
        .route("/fhir/metadata", get(metadata))
        .route("/fhir/{kind}", get(search))
        .route("/fhir/{kind}/{id}", get(read))
        .fallback(|| async { outcome(StatusCode::NOT_FOUND, "not-found", "no such route") })
        .layer(axum::middleware::map_response_with_state(
            state.clone(),
            oversize::pad,
        ))
        .with_state(state)
}

/// Serves `state` on `listener` until `shutdown` completes.
///
/// # Errors
///
/// The listener's I/O error.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<MockEpd>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

const FHIR_JSON: &str = "application/fhir+json; charset=utf-8";

fn fhir_response(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON))],
        body,
    )
        .into_response()
}

fn outcome(status: StatusCode, code: &str, diagnostics: &str) -> Response {
    let severity = if status.is_server_error() {
        "fatal"
    } else {
        "error"
    };
    fhir_response(
        status,
        fhir::operation_outcome(severity, code, diagnostics).to_string(),
    )
}

fn epd_error(e: &EpdError) -> Response {
    match e {
        EpdError::NotFound(what) => outcome(StatusCode::NOT_FOUND, "not-found", what),
        other => outcome(
            StatusCode::INTERNAL_SERVER_ERROR,
            "exception",
            &other.to_string(),
        ),
    }
}

/// The fault for this request, if any, after the injected latency.
async fn fault(state: &MockEpd) -> Option<Response> {
    let n = state.requests.fetch_add(1, Ordering::Relaxed) % 100;
    let faults = state.faults();
    if !faults.latency.is_zero() {
        tokio::time::sleep(faults.latency).await;
    }
    let errors = u64::from(faults.error_percent);
    let garbage = u64::from(faults.garbage_percent);
    if n < errors {
        return Some(outcome(
            StatusCode::SERVICE_UNAVAILABLE,
            "transient",
            "injected error",
        ));
    }
    if n < errors + garbage {
        return Some(fhir_response(
            StatusCode::OK,
            r#"{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"Pat"#
                .to_owned(),
        ));
    }
    None
}

fn ctx(headers: &HeaderMap) -> RequestContext {
    RequestContext {
        request_id: headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("mock")
            .chars()
            .take(64)
            .collect(),
    }
}

async fn metadata(State(state): State<Arc<MockEpd>>) -> Response {
    if let Some(f) = fault(&state).await {
        return f;
    }
    let date = state.epd.now().date_naive().to_string();
    let mut statement =
        fhir::capability_statement("zvp-mock-epd", env!("CARGO_PKG_VERSION"), &date);
    if !state.includes.load(Ordering::Relaxed)
        && let Some(resources) = statement
            .pointer_mut("/rest/0/resource")
            .and_then(Value::as_array_mut)
    {
        for resource in resources.iter_mut().filter_map(Value::as_object_mut) {
            resource.remove("searchInclude");
            resource.remove("searchRevInclude");
        }
    }
    fhir_response(StatusCode::OK, statement.to_string())
}

async fn read(
    State(state): State<Arc<MockEpd>>,
    Path((kind, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Some(f) = fault(&state).await {
        return f;
    }
    let ctx = ctx(&headers);
    let result = match kind.as_str() {
        "Patient" => match id.parse::<PatientId>() {
            Ok(id) => state
                .epd
                .patient(&id, &ctx)
                .await
                .map(|p| fhir::patient_to_fhir(&p).to_string()),
            Err(_) => Err(EpdError::NotFound(format!("Patient/{id}"))),
        },
        "DocumentReference" => document(&state, &id, &ctx).await,
        "Binary" => binary(&state, &id, &ctx).await,
        _ => {
            return outcome(
                StatusCode::BAD_REQUEST,
                "not-supported",
                "read is supported for Patient, DocumentReference and Binary",
            );
        }
    };
    match result {
        Ok(body) => fhir_response(StatusCode::OK, state.shapes().out(&state.base, body)),
        Err(e) => epd_error(&e),
    }
}

/// The document `id` read as `kind` (`DocumentReference/<id>`, `Binary/<id>`), and its
/// patient.
fn document_of(state: &MockEpd, kind: &str, id: &str) -> Result<(DocumentId, PatientId), EpdError> {
    let not_found = || EpdError::NotFound(format!("{kind}/{id}"));
    let document: DocumentId = id.parse().map_err(|_| not_found())?;
    let patient = state
        .epd
        .patient_of_document(&document)
        .ok_or_else(not_found)?
        .clone();
    Ok((document, patient))
}

async fn document(state: &MockEpd, id: &str, ctx: &RequestContext) -> Result<String, EpdError> {
    let (document, patient) = document_of(state, "DocumentReference", id)?;
    let letters = state.epd.letters(&patient, ctx).await?;
    let letter = letters
        .iter()
        .find(|l| l.id == document)
        .ok_or_else(|| EpdError::NotFound(format!("DocumentReference/{id}")))?;
    Ok(letter_resource(state, &patient, letter, ctx)
        .await?
        .to_string())
}

/// The DocumentReference of a letter, its attachment in the selected form, with when it was
/// last updated.
pub(crate) async fn letter_resource(
    state: &MockEpd,
    patient: &PatientId,
    letter: &zvp_core::Letter,
    ctx: &RequestContext,
) -> Result<Value, EpdError> {
    let text = letter_text(&state.epd, patient, &letter.id, ctx).await?;
    let updated = state
        .letter_as_of(letter)
        .unwrap_or_else(|| zvp_epd::synthetic::letter_recorded(letter));
    Ok(recorded::updated(
        state.shapes().letter(
            fhir::letter_to_fhir(patient, letter, &text),
            letter.id.as_str(),
            &text,
        ),
        updated,
    ))
}

/// The text of a synthetic letter (the synthetic hospital writes text only).
pub(crate) async fn letter_text(
    epd: &SyntheticEpd,
    patient: &PatientId,
    document: &DocumentId,
    ctx: &RequestContext,
) -> Result<String, EpdError> {
    match epd.document(patient, document, ctx).await?.content {
        zvp_core::DocumentContent::Text(text) => Ok(text),
        zvp_core::DocumentContent::Pdf(_) => Err(EpdError::Malformed(
            "the synthetic hospital writes text letters".to_owned(),
        )),
    }
}

/// The Binary of a letter whose DocumentReference gives it by URL (`Binary/<document id>`).
async fn binary(state: &MockEpd, id: &str, ctx: &RequestContext) -> Result<String, EpdError> {
    let (document, patient) = document_of(state, "Binary", id)?;
    let text = letter_text(&state.epd, &patient, &document, ctx).await?;
    Ok(state.shapes().binary(id, &text).to_string())
}

async fn search(
    State(state): State<Arc<MockEpd>>,
    Path(kind): Path<String>,
    RawQuery(raw_query): RawQuery,
    headers: HeaderMap,
) -> Response {
    if let Some(f) = fault(&state).await {
        return f;
    }
    let ctx = ctx(&headers);
    let Some(mut q) = Query::parse(raw_query.as_deref()) else {
        return outcome(
            StatusCode::BAD_REQUEST,
            "invalid",
            "the query does not decode",
        );
    };
    if !state.includes.load(Ordering::Relaxed) {
        // As a server without them: ignored, not refused.
        q.params.retain(|(name, _)| {
            !matches!(
                name.as_str(),
                "_include" | "_revinclude" | "_revinclude:iterate"
            )
        });
    }
    let allowed: &[&str] = match kind.as_str() {
        "Patient" => &["_id", "identifier", "birthdate", "_revinclude"],
        "Encounter" => &[
            "patient",
            "class",
            "status",
            "date",
            "_lastUpdated",
            "patient.general-practitioner:identifier",
            "_include",
            "_revinclude:iterate",
        ],
        "DocumentReference" => &[
            "patient",
            "_lastUpdated",
            "patient.general-practitioner:identifier",
        ],
        "DiagnosticReport" => &["patient", "category", "_include"],
        "Observation" => &["patient", "code", "_sort", "_id"],
        _ => &["patient"],
    };
    let refused = state
        .refused
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
        .find_map(|r| {
            let (k, name) = r.split_once(':')?;
            (k == kind && q.params.iter().any(|(n, _)| n == name)).then(|| name.to_owned())
        });
    if let Some(name) = refused {
        return outcome(
            StatusCode::BAD_REQUEST,
            "not-supported",
            &format!("search parameter {name} is not supported on {kind}"),
        );
    }
    if let Some(name) = q.unsupported(allowed) {
        return outcome(
            StatusCode::BAD_REQUEST,
            "not-supported",
            &format!("search parameter {name} is not supported on {kind}"),
        );
    }
    let groups = match groups(&state, &kind, &q, &ctx).await {
        Ok(groups) => groups,
        Err(EpdError::NotFound(_)) => Vec::new(),
        Err(EpdError::Refused(why)) => {
            return outcome(StatusCode::BAD_REQUEST, "required", &why);
        }
        Err(e) => return epd_error(&e),
    };
    page(&state, &kind, &q, groups)
}

/// The page of `groups` that `_offset` and `_count` select, as a searchset.
fn page(state: &MockEpd, kind: &str, q: &Query, groups: Vec<Group>) -> Response {
    let count = q
        .get("_count")
        .and_then(|c| c.parse::<usize>().ok())
        .unwrap_or(50)
        .clamp(1, 500);
    let offset = q
        .get("_offset")
        .and_then(|c| c.parse::<usize>().ok())
        .unwrap_or(0);
    let total = groups.len();
    let link = |offset: usize| {
        let mut query: Vec<String> = q
            .params
            .iter()
            .filter(|(n, _)| n != "_offset")
            .map(|(n, v)| format!("{n}={v}"))
            .collect();
        query.push(format!("_offset={offset}"));
        format!("{}/{kind}?{}", state.base, query.join("&"))
    };
    let next = (offset + count < total).then(|| link(offset + count));
    let mut seen = HashSet::new();
    let mut entries = Vec::new();
    let shapes = state.shapes();
    let shape = |resource: Box<RawValue>| {
        if !shapes.rewrites() {
            return resource;
        }
        RawValue::from_string(shapes.out(&state.base, resource.get().to_owned()))
            .unwrap_or(resource)
    };
    for group in groups.into_iter().skip(offset).take(count) {
        entries.push((shape(group.resource), EntryMode::Match));
        for include in group.includes {
            if seen.insert(include.get().to_owned()) {
                entries.push((shape(include), EntryMode::Include));
            }
        }
    }
    let bundle = fhir::searchset(&state.base, entries, total as u64, &link(offset), next);
    match bundle.to_json() {
        Ok(body) => fhir_response(StatusCode::OK, body),
        Err(e) => outcome(
            StatusCode::INTERNAL_SERVER_ERROR,
            "exception",
            &e.to_string(),
        ),
    }
}
