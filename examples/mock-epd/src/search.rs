//! What each search of the mock finds: the synthetic hospital's records as FHIR resources,
//! each with what `_include` and `_revinclude` bring along.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use serde_json::value::RawValue;
use zvp_core::{AgbCode, Bsn, PatientId, ResultCategory};
use zvp_epd::fhir::{self, AGB_SYSTEM, BSN_SYSTEM};
use zvp_epd::{Epd, EpdError, RequestContext};

use crate::query::{Query, patient_param, token};
use crate::recorded::{changed_after, updated as updated_at};
use crate::{MockEpd, letter_resource};

/// One match and what it brings along.
pub(crate) struct Group {
    pub(crate) resource: Box<RawValue>,
    pub(crate) includes: Vec<Box<RawValue>>,
}

pub(crate) fn raw(value: &Value) -> Result<Box<RawValue>, EpdError> {
    serde_json::value::to_raw_value(value).map_err(|e| EpdError::Malformed(e.to_string()))
}

pub(crate) fn fhir_error(e: fhir::FhirError) -> EpdError {
    EpdError::Malformed(e.to_string())
}

/// The Consents of a patient: their treatment restrictions, and their objection to sharing
/// when they made one.
pub(crate) fn consents(patient: &zvp_core::Patient) -> Result<Vec<Box<RawValue>>, EpdError> {
    let mut out: Vec<Box<RawValue>> = patient
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
        .collect::<Result<_, _>>()?;
    if let Some(objection) = &patient.sharing_objection {
        out.push(raw(&fhir::objection_to_fhir(
            &format!("{}-objection", patient.id),
            &patient.id,
            objection,
        ))?);
    }
    Ok(out)
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

pub(crate) async fn groups(
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
                        consents(&state.with_objection(patient.clone()))?
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
                consents(&state.with_objection(patient.clone()))?
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
                groups.extend(consents(&state.with_objection(patient))?.into_iter().map(
                    |resource| Group {
                        resource,
                        includes: Vec::new(),
                    },
                ));
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
            let resources = moments
                .iter()
                .enumerate()
                .filter(|(_, m)| fhir::care_moment_resource_type(m.kind) == kind)
                .filter_map(|(n, m)| care_moment(&format!("{id}-moment-{n}"), &id, m))
                .collect();
            singles(state.shapes().with_statuses(kind, resources))
        }
        "AllergyIntolerance" => {
            let id = patient_param(q)?;
            let items = epd.allergies(&id, ctx).await?;
            let resources = numbered(&id, "allergy", &items, fhir::allergy_to_fhir);
            singles(state.shapes().with_statuses(kind, resources))
        }
        "ClinicalImpression" => {
            let id = patient_param(q)?;
            let items = epd.conclusions(&id, ctx).await?;
            let resources = numbered(&id, "impression", &items, fhir::conclusion_to_fhir);
            singles(state.shapes().with_statuses(kind, resources))
        }
        "Condition" => {
            let id = patient_param(q)?;
            let items = epd.diagnoses(&id, ctx).await?;
            let resources = numbered(&id, "condition", &items, fhir::diagnosis_to_fhir);
            singles(state.shapes().with_statuses(kind, resources))
        }
        "MedicationStatement" => {
            let id = patient_param(q)?;
            let items = epd.medication(&id, ctx).await?;
            let resources = numbered(&id, "medication", &items, fhir::medication_to_fhir);
            singles(state.shapes().with_statuses(kind, resources))
        }
        "DocumentReference" => letters(state, q, ctx).await,
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

/// The asked patients of a search: by `patient` (any of several), or every patient of the
/// GPs of `patient.general-practitioner:identifier`.
async fn asked_patients(
    state: &MockEpd,
    q: &Query,
    ctx: &RequestContext,
) -> Result<Vec<PatientId>, EpdError> {
    if q.get("patient").is_some() {
        let mut ids = Vec::new();
        for value in q.list("patient") {
            let id = value.strip_prefix("Patient/").unwrap_or(&value);
            if let Ok(id) = id.parse::<PatientId>() {
                ids.push(id);
            }
        }
        return Ok(ids);
    }
    let gps = asked_gps(q)?;
    let mut ids = Vec::new();
    for id in state.epd.patient_ids() {
        let patient = state.epd.patient(id, ctx).await?;
        if patient
            .registered_gp
            .is_some_and(|gp| gps.contains(&gp.agb))
        {
            ids.push(id.clone());
        }
    }
    Ok(ids)
}

fn asked_gps(q: &Query) -> Result<Vec<AgbCode>, EpdError> {
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
            "search by patient or by patient.general-practitioner:identifier".to_owned(),
        ));
    }
    Ok(gps)
}

/// The letters of the asked patients written (and entered) as of the mock's time, changed
/// after `_lastUpdated` when it is given.
async fn letters(state: &MockEpd, q: &Query, ctx: &RequestContext) -> Result<Vec<Group>, EpdError> {
    let since = changed_after(q)?;
    let mut resources = Vec::new();
    for id in asked_patients(state, q, ctx).await? {
        let Ok(letters) = state.epd.letters(&id, ctx).await else {
            continue;
        };
        for letter in letters {
            let Some(updated) = state.letter_as_of(&letter) else {
                continue;
            };
            if since.is_none_or(|s| updated > s) {
                resources.push(letter_resource(state, &id, &letter, ctx).await?);
            }
        }
    }
    singles(state.shapes().with_statuses("DocumentReference", resources))
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
    let since = changed_after(q)?;
    let changed = |updated: DateTime<Utc>| since.is_none_or(|s| updated > s);
    let encounter = |admission: &zvp_core::Admission, updated| {
        updated_at(
            fhir::admission_to_fhir(&format!("{}-enc", admission.patient), admission),
            updated,
        )
    };
    if q.get("patient").is_some() {
        let mut resources = Vec::new();
        for id in asked_patients(state, q, ctx).await? {
            let Ok(Some(admission)) = epd.admission(&id) else {
                continue;
            };
            if let Some((a, updated)) = state.admission_as_of(admission)
                && changed(updated)
            {
                resources.push(encounter(&a, updated));
            }
        }
        return singles(resources);
    }
    let gps = asked_gps(q)?;
    let status = q.get("status");
    let listed = match (status.as_deref(), since) {
        (Some("in-progress"), _) => {
            let mut listed = epd.admitted(&gps, ctx).await?;
            // As of a time: those discharged since were still admitted then.
            if let Some(at) = state.as_of() {
                listed.extend(epd.discharged_since(&gps, at, ctx).await?);
            }
            listed
        }
        (Some("finished"), _) => {
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
        // What changed, in any state: every admission of the GPs' patients.
        (None, Some(_)) => {
            let mut listed = epd.admitted(&gps, ctx).await?;
            listed.extend(
                epd.discharged_since(&gps, DateTime::<Utc>::MIN_UTC, ctx)
                    .await?,
            );
            listed
        }
        _ => {
            return Err(EpdError::Refused(
                "status in-progress or finished (or _lastUpdated) is required".to_owned(),
            ));
        }
    };
    let with_patient = q.has("_include", "Encounter:patient");
    let with_consents = q.has("_revinclude:iterate", "Consent:patient");
    let wanted = |a: &zvp_core::Admission| match status.as_deref() {
        Some("in-progress") => a.discharged_at().is_none(),
        Some(_) => a.discharged_at().is_some(),
        None => true,
    };
    listed
        .into_iter()
        .filter_map(|l| {
            let (admission, updated) = state.admission_as_of(&l.admission)?;
            (wanted(&admission) && changed(updated))
                .then_some((zvp_epd::ListedPatient { admission, ..l }, updated))
        })
        .map(|(l, updated)| {
            let mut includes = Vec::new();
            if with_patient {
                includes.push(raw(&fhir::patient_to_fhir(&l.patient))?);
                if with_consents {
                    includes.extend(consents(&state.with_objection(l.patient.clone()))?);
                }
            }
            Ok(Group {
                resource: raw(&encounter(&l.admission, updated))?,
                includes,
            })
        })
        .collect()
}

async fn reports(state: &MockEpd, q: &Query, ctx: &RequestContext) -> Result<Vec<Group>, EpdError> {
    let id = patient_param(q)?;
    let asked = q.list("category");
    if asked.is_empty() {
        return report_groups(state, &id, &ResultCategory::ALL, q, ctx).await;
    }
    // The reports filed under any of the codes asked for, as the reports are written.
    let codes = state.shapes().categories;
    let categories: Vec<ResultCategory> = ResultCategory::ALL
        .into_iter()
        .filter(|&c| {
            codes.codings(c).iter().any(|&(system, code)| {
                asked.iter().any(
                    |a| matches!(token(a), (s, k) if k == code && s.is_none_or(|s| s == system)),
                )
            })
        })
        .collect();
    report_groups(state, &id, &categories, q, ctx).await
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
    let shapes = state.shapes();
    for &category in categories {
        let mut resources = Vec::new();
        let mut results = Vec::new();
        for report in state.epd.results(id, category, ctx).await? {
            let (mut resource, observations) =
                fhir::report_to_fhir(id, &report).map_err(fhir_error)?;
            shapes.categories.file(&mut resource, category);
            resources.push(resource);
            results.push(observations);
        }
        // A copy recorded in error has the results of the report it copies (the first).
        let first = results.first().cloned().unwrap_or_default();
        for (n, resource) in shapes
            .with_statuses("DiagnosticReport", resources)
            .into_iter()
            .enumerate()
        {
            groups.push(Group {
                resource: raw(&resource)?,
                includes: match (with_results, results.get(n)) {
                    (false, _) => Vec::new(),
                    (true, Some(observations)) => observations.clone(),
                    (true, None) => first.clone(),
                },
            });
        }
    }
    Ok(groups)
}
