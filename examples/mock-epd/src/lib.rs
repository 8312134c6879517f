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
//! Routes: `GET /fhir/metadata`, `GET /fhir/{type}?{search}` (paged with `_count` and
//! `_offset`, `next` links) and `GET /fhir/Patient/{id}`, `GET /fhir/DocumentReference/{id}`.

pub mod export;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use serde_json::value::RawValue;
use zvp_core::{AgbCode, Bsn, DocumentId, PatientId, ResultCategory};
use zvp_epd::fhir::{
    self, AGB_SYSTEM, BSN_SYSTEM, EntryMode, NUCLEAR_LAB_CODE, RESULT_CATEGORY_SYSTEM, V2_0074,
};
use zvp_epd::synthetic::SyntheticEpd;
use zvp_epd::{Epd, EpdError, RequestContext};

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
        }
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
    let faults = *state
        .faults
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
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
        _ => {
            return outcome(
                StatusCode::BAD_REQUEST,
                "not-supported",
                "read is supported for Patient and DocumentReference",
            );
        }
    };
    match result {
        Ok(body) => fhir_response(StatusCode::OK, body),
        Err(e) => epd_error(&e),
    }
}

async fn document(state: &MockEpd, id: &str, ctx: &RequestContext) -> Result<String, EpdError> {
    let not_found = || EpdError::NotFound(format!("DocumentReference/{id}"));
    let document: DocumentId = id.parse().map_err(|_| not_found())?;
    let patient = state
        .epd
        .patient_of_document(&document)
        .ok_or_else(not_found)?
        .clone();
    let letters = state.epd.letters(&patient, ctx).await?;
    let letter = letters
        .iter()
        .find(|l| l.id == document)
        .ok_or_else(not_found)?;
    let text = state.epd.document(&patient, &document, ctx).await?.text;
    Ok(fhir::letter_to_fhir(&patient, letter, &text).to_string())
}

/// The query of a request, decoded.
struct Query {
    params: Vec<(String, String)>,
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

impl Query {
    fn parse(raw: Option<&str>) -> Option<Self> {
        let mut params = Vec::new();
        for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            params.push((percent_decode(name)?, value.to_owned()));
        }
        Some(Self { params })
    }

    /// The raw (still encoded) value of a parameter.
    fn raw(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The decoded value of a parameter.
    fn get(&self, name: &str) -> Option<String> {
        self.raw(name).and_then(percent_decode)
    }

    /// The decoded values of a comma-separated (OR) parameter.
    fn list(&self, name: &str) -> Vec<String> {
        self.raw(name)
            .map(|v| v.split(',').filter_map(percent_decode).collect())
            .unwrap_or_default()
    }

    fn has(&self, name: &str, value: &str) -> bool {
        self.params
            .iter()
            .any(|(n, v)| n == name && percent_decode(v).as_deref() == Some(value))
    }

    /// The first parameter not in `allowed` (besides paging), if any.
    fn unsupported(&self, allowed: &[&str]) -> Option<&str> {
        self.params
            .iter()
            .map(|(n, _)| n.as_str())
            .find(|n| !allowed.contains(n) && !["_count", "_offset", "_format"].contains(n))
    }
}

/// One match and what it brings along.
struct Group {
    resource: Box<RawValue>,
    includes: Vec<Box<RawValue>>,
}

fn raw(value: &Value) -> Result<Box<RawValue>, EpdError> {
    serde_json::value::to_raw_value(value).map_err(|e| EpdError::Malformed(e.to_string()))
}

fn fhir_error(e: fhir::FhirError) -> EpdError {
    EpdError::Malformed(e.to_string())
}

/// `system|code`, or just `code`, of a token parameter.
fn token(value: &str) -> (Option<&str>, &str) {
    match value.rsplit_once('|') {
        Some((system, code)) => (Some(system).filter(|s| !s.is_empty()), code),
        None => (None, value),
    }
}

fn patient_param(q: &Query) -> Result<PatientId, EpdError> {
    let value = q
        .get("patient")
        .ok_or_else(|| EpdError::Refused("the patient parameter is required".to_owned()))?;
    let id = value.strip_prefix("Patient/").unwrap_or(&value);
    id.parse()
        .map_err(|_| EpdError::NotFound(format!("patient {value}")))
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
            "patient.general-practitioner:identifier",
            "_include",
            "_revinclude:iterate",
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
    for group in groups.into_iter().skip(offset).take(count) {
        entries.push((group.resource, EntryMode::Match));
        for include in group.includes {
            if seen.insert(include.get().to_owned()) {
                entries.push((include, EntryMode::Include));
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

/// The Consents of a patient's treatment restrictions.
pub(crate) fn consents(patient: &zvp_core::Patient) -> Result<Vec<Box<RawValue>>, EpdError> {
    patient
        .treatment_restrictions
        .iter()
        .enumerate()
        .map(|(n, r)| {
            raw(&fhir::restriction_to_fhir(
                &format!("{}-consent-{n}", patient.id),
                &patient.id,
                r,
            ))
        })
        .collect()
}

/// How long the synthetic hospital's outpatient appointments last.
const APPOINTMENT_MINUTES: i64 = 20;

/// A care moment's resource as the mock serves it: a booked or fulfilled Appointment needs an
/// `end` beside its `start` (invariants app-2 and app-3), which the record's moment does not
/// hold; the synthetic hospital's appointments last [`APPOINTMENT_MINUTES`].
pub(crate) fn care_moment(
    id: &str,
    patient: &PatientId,
    moment: &zvp_core::CareMoment,
) -> Option<Value> {
    let mut resource = fhir::care_moment_to_fhir(id, patient, moment)?;
    if resource.get("resourceType").and_then(Value::as_str) == Some("Appointment")
        && let Some(object) = resource.as_object_mut()
    {
        let end = moment.at + chrono::Duration::minutes(APPOINTMENT_MINUTES);
        object.insert(
            "end".to_owned(),
            Value::String(end.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        );
        object.insert(
            "minutesDuration".to_owned(),
            Value::from(APPOINTMENT_MINUTES),
        );
    }
    Some(resource)
}

/// Groups of one resource each.
fn singles(resources: Vec<Value>) -> Result<Vec<Group>, EpdError> {
    resources
        .iter()
        .map(|r| {
            Ok(Group {
                resource: raw(r)?,
                includes: Vec::new(),
            })
        })
        .collect()
}

async fn groups(
    state: &MockEpd,
    kind: &str,
    q: &Query,
    ctx: &RequestContext,
) -> Result<Vec<Group>, EpdError> {
    let epd = &state.epd;
    match kind {
        "Patient" if q.list("_id").len() > 1 => {
            // Several at once, as a client reading the patients of a list asks.
            let mut groups = Vec::new();
            for id in q.list("_id") {
                let Ok(id) = id.parse::<PatientId>() else {
                    continue;
                };
                let Ok(patient) = epd.patient(&id, ctx).await else {
                    continue;
                };
                groups.push(Group {
                    resource: raw(&fhir::patient_to_fhir(&patient))?,
                    includes: if q.has("_revinclude", "Consent:patient") {
                        consents(&patient)?
                    } else {
                        Vec::new()
                    },
                });
            }
            Ok(groups)
        }
        "Patient" => {
            let id = match (q.get("_id"), q.get("identifier")) {
                (Some(id), None) => id.parse::<PatientId>().ok(),
                (None, Some(identifier)) => {
                    let (system, value) = token(&identifier);
                    let birth_date = q
                        .get("birthdate")
                        .map(|d| d.parse::<NaiveDate>())
                        .transpose()
                        .map_err(|_| EpdError::Refused("birthdate is not a date".to_owned()))?;
                    match (system, value.parse::<Bsn>()) {
                        (Some(BSN_SYSTEM) | None, Ok(bsn)) => {
                            epd.find_by_bsn(bsn, birth_date, ctx).await?
                        }
                        _ => None,
                    }
                }
                (None, None) => {
                    // A general client's listing: every patient, paged by `page`.
                    let mut groups = Vec::new();
                    for id in epd.patient_ids() {
                        let patient = epd.patient(id, ctx).await?;
                        groups.push(Group {
                            resource: raw(&fhir::patient_to_fhir(&patient))?,
                            includes: Vec::new(),
                        });
                    }
                    return Ok(groups);
                }
                _ => {
                    return Err(EpdError::Refused(
                        "search Patient by _id or by identifier, not both".to_owned(),
                    ));
                }
            };
            let Some(id) = id else { return Ok(Vec::new()) };
            let patient = epd.patient(&id, ctx).await?;
            let includes = if q.has("_revinclude", "Consent:patient") {
                consents(&patient)?
            } else {
                Vec::new()
            };
            Ok(vec![Group {
                resource: raw(&fhir::patient_to_fhir(&patient))?,
                includes,
            }])
        }
        "Encounter" => encounters(state, q, ctx).await,
        "Consent" => {
            let mut groups = Vec::new();
            for value in q.list("patient") {
                let id = value.strip_prefix("Patient/").unwrap_or(&value);
                let Ok(id) = id.parse::<PatientId>() else {
                    continue;
                };
                let Ok(patient) = epd.patient(&id, ctx).await else {
                    continue;
                };
                groups.extend(consents(&patient)?.into_iter().map(|resource| Group {
                    resource,
                    includes: Vec::new(),
                }));
            }
            if groups.is_empty() {
                // The parameter is required, as for the other types.
                patient_param(q)?;
            }
            Ok(groups)
        }
        "Appointment" | "Procedure" | "ServiceRequest" => {
            let id = patient_param(q)?;
            let moments = epd.care_moments(&id, ctx).await?;
            singles(
                moments
                    .iter()
                    .enumerate()
                    .filter(|(_, m)| fhir::care_moment_resource_type(m.kind) == kind)
                    .filter_map(|(n, m)| care_moment(&format!("{id}-moment-{n}"), &id, m))
                    .collect(),
            )
        }
        "AllergyIntolerance" => {
            let id = patient_param(q)?;
            let items = epd.allergies(&id, ctx).await?;
            singles(numbered(&id, "allergy", &items, fhir::allergy_to_fhir))
        }
        "ClinicalImpression" => {
            let id = patient_param(q)?;
            let items = epd.conclusions(&id, ctx).await?;
            singles(numbered(
                &id,
                "impression",
                &items,
                fhir::conclusion_to_fhir,
            ))
        }
        "Condition" => {
            let id = patient_param(q)?;
            let items = epd.diagnoses(&id, ctx).await?;
            singles(numbered(&id, "condition", &items, fhir::diagnosis_to_fhir))
        }
        "MedicationStatement" => {
            let id = patient_param(q)?;
            let items = epd.medication(&id, ctx).await?;
            singles(numbered(
                &id,
                "medication",
                &items,
                fhir::medication_to_fhir,
            ))
        }
        "DocumentReference" => {
            let id = patient_param(q)?;
            let mut resources = Vec::new();
            for letter in epd.letters(&id, ctx).await? {
                let text = epd.document(&id, &letter.id, ctx).await?.text;
                resources.push(fhir::letter_to_fhir(&id, &letter, &text));
            }
            singles(resources)
        }
        "DiagnosticReport" => reports(state, q, ctx).await,
        "Observation" if q.get("_id").is_some() => {
            observations_by_id(state, &q.list("_id"), ctx).await
        }
        "Observation" => {
            let id = patient_param(q)?;
            let Some(code) = q.get("code") else {
                // Every Observation of the patient: those of the result reports.
                let mut groups = Vec::new();
                for category in ResultCategory::ALL {
                    for report in epd.results(&id, category, ctx).await? {
                        let (_, observations) =
                            fhir::report_to_fhir(&id, &report).map_err(fhir_error)?;
                        groups.extend(observations.into_iter().map(|resource| Group {
                            resource,
                            includes: Vec::new(),
                        }));
                    }
                }
                return Ok(groups);
            };
            let (_, code) = token(&code);
            let history = epd.lab_history(&id, code, ctx).await?;
            history
                .iter()
                .enumerate()
                .map(|(n, o)| {
                    Ok(Group {
                        resource: fhir::observation_to_fhir(
                            &format!("{id}-lab-{code}-{n}"),
                            &id,
                            o,
                        )
                        .map_err(fhir_error)?,
                        includes: Vec::new(),
                    })
                })
                .collect()
        }
        other => Err(EpdError::Refused(format!(
            "resource type {other} is not served"
        ))),
    }
}

pub(crate) fn numbered<T>(
    patient: &PatientId,
    name: &str,
    items: &[T],
    to_fhir: impl Fn(&str, &PatientId, &T) -> Value,
) -> Vec<Value> {
    items
        .iter()
        .enumerate()
        .map(|(n, item)| to_fhir(&format!("{patient}-{name}-{n}"), patient, item))
        .collect()
}

async fn encounters(
    state: &MockEpd,
    q: &Query,
    ctx: &RequestContext,
) -> Result<Vec<Group>, EpdError> {
    let epd = &state.epd;
    if q.get("class").is_some_and(|c| token(&c).1 != "IMP") {
        return Ok(Vec::new());
    }
    if q.get("patient").is_some() {
        let id = patient_param(q)?;
        return match epd.admission(&id)? {
            Some(a) => singles(vec![fhir::admission_to_fhir(&format!("{id}-enc"), a)]),
            None => Ok(Vec::new()),
        };
    }
    let mut gps = Vec::new();
    for identifier in q.list("patient.general-practitioner:identifier") {
        if let (Some(AGB_SYSTEM) | None, value) = token(&identifier)
            && let Ok(agb) = value.parse::<AgbCode>()
        {
            gps.push(agb);
        }
    }
    if gps.is_empty() {
        return Err(EpdError::Refused(
            "search Encounter by patient or by patient.general-practitioner:identifier".to_owned(),
        ));
    }
    let listed = match q.get("status").as_deref() {
        Some("in-progress") => epd.admitted(&gps, ctx).await?,
        Some("finished") => {
            let since = q
                .get("date")
                .and_then(|d| d.strip_prefix("ge").map(str::to_owned))
                .and_then(|d| {
                    DateTime::parse_from_rfc3339(&d)
                        .map(|d| d.with_timezone(&Utc))
                        .ok()
                        .or_else(|| {
                            let day = d.parse::<NaiveDate>().ok()?;
                            Some(day.and_hms_opt(0, 0, 0)?.and_utc())
                        })
                })
                .ok_or_else(|| {
                    EpdError::Refused(
                        "finished encounters need date=ge<date or dateTime>".to_owned(),
                    )
                })?;
            epd.discharged_since(&gps, since, ctx).await?
        }
        _ => {
            return Err(EpdError::Refused(
                "status in-progress or finished is required".to_owned(),
            ));
        }
    };
    let with_patient = q.has("_include", "Encounter:patient");
    let with_consents = q.has("_revinclude:iterate", "Consent:patient");
    listed
        .iter()
        .map(|l| {
            let mut includes = Vec::new();
            if with_patient {
                includes.push(raw(&fhir::patient_to_fhir(&l.patient))?);
                if with_consents {
                    includes.extend(consents(&l.patient)?);
                }
            }
            Ok(Group {
                resource: raw(&fhir::admission_to_fhir(
                    &format!("{}-enc", l.patient.id),
                    &l.admission,
                ))?,
                includes,
            })
        })
        .collect()
}

async fn reports(state: &MockEpd, q: &Query, ctx: &RequestContext) -> Result<Vec<Group>, EpdError> {
    let id = patient_param(q)?;
    let Some(category) = q.get("category") else {
        return report_groups(state, &id, &ResultCategory::ALL, q, ctx).await;
    };
    let categories: &[ResultCategory] = match token(&category) {
        (Some(V2_0074) | None, "LAB") => &[
            ResultCategory::ClinicalChemistry,
            ResultCategory::NuclearLab,
        ],
        (Some(V2_0074) | None, "MB") => &[ResultCategory::Microbiology],
        (Some(V2_0074) | None, "SP" | "CP") => &[ResultCategory::Pathology],
        (Some(V2_0074) | None, "RAD") => &[ResultCategory::Radiology],
        (Some(RESULT_CATEGORY_SYSTEM) | None, NUCLEAR_LAB_CODE) => &[ResultCategory::NuclearLab],
        _ => &[],
    };
    report_groups(state, &id, categories, q, ctx).await
}

/// The Observations with these ids: those of the result reports (`rep-<patient index>-…`).
async fn observations_by_id(
    state: &MockEpd,
    ids: &[String],
    ctx: &RequestContext,
) -> Result<Vec<Group>, EpdError> {
    let mut patients: Vec<PatientId> = Vec::new();
    for id in ids {
        let index = id
            .strip_prefix("rep-")
            .and_then(|rest| rest.split('-').next())
            .and_then(|i| i.parse::<usize>().ok());
        if let Some(patient) = index.and_then(|i| state.epd.patient_ids().nth(i))
            && !patients.contains(patient)
        {
            patients.push(patient.clone());
        }
    }
    let mut groups = Vec::new();
    for patient in &patients {
        for category in ResultCategory::ALL {
            for report in state.epd.results(patient, category, ctx).await? {
                let (_, observations) =
                    fhir::report_to_fhir(patient, &report).map_err(fhir_error)?;
                for o in observations {
                    let id = serde_json::from_str::<Value>(o.get())
                        .ok()
                        .and_then(|v| v.get("id").and_then(Value::as_str).map(str::to_owned));
                    if id.is_some_and(|id| ids.contains(&id)) {
                        groups.push(Group {
                            resource: o,
                            includes: Vec::new(),
                        });
                    }
                }
            }
        }
    }
    Ok(groups)
}

/// The reports of `categories`, with their Observations when `_include` asks for them.
async fn report_groups(
    state: &MockEpd,
    id: &PatientId,
    categories: &[ResultCategory],
    q: &Query,
    ctx: &RequestContext,
) -> Result<Vec<Group>, EpdError> {
    let with_results = q.has("_include", "DiagnosticReport:result");
    let mut groups = Vec::new();
    for &category in categories {
        for report in state.epd.results(id, category, ctx).await? {
            let (resource, observations) = fhir::report_to_fhir(id, &report).map_err(fhir_error)?;
            groups.push(Group {
                resource: raw(&resource)?,
                includes: if with_results {
                    observations
                } else {
                    Vec::new()
                },
            });
        }
    }
    Ok(groups)
}
