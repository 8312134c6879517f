//! The way into one patient's record: the patient as the EPD gives them now, the policy's
//! decision for each section the page renders, and the audit records written while the EPD
//! is asked for the section (docs/architecture.md, "The request path").
//!
//! A page gets an [`Opened`] only with a permit for every section it names, and
//! [`audited_while`] records exactly those sections: a page cannot show a section it holds no
//! permit for, nor record one it did not show.

use std::sync::Arc;

use axum::response::Response;
use zvp_audit::event::{Outcome, PatientRef};
use zvp_auth::policy::{Action, Basis, Decision, Permit};
use zvp_core::{Patient, PatientId, RecordSection};
use zvp_epd::{EpdError, RequestContext};

use crate::Portal;
use crate::caller::Caller;
use crate::disclosure::Disclosure;
use crate::pages::search::emergency_form;
use crate::pages::{ctx, patient_not_found, policy_request};
use crate::refusal::{Refusal, deny_refusal, epd_failed, refusal_page, refuse, refuse_about};
use crate::trail::{EMERGENCY_REQUIRED, patient_ref};

/// A patient whose sections the policy permitted, one permit per section.
pub(crate) struct Opened {
    /// The patient's id.
    pub(crate) id: PatientId,
    /// The patient, as the EPD gave them for this request.
    pub(crate) patient: Box<Patient>,
    /// The permits, one per section the page renders; never empty.
    permits: Vec<Permit>,
}

impl Opened {
    /// The basis the page shows the patient on (the same for every section of one patient).
    pub(crate) fn basis(&self) -> Option<Basis> {
        self.permits.first().map(Permit::basis)
    }

    /// Whether the page may show `section`: it holds the permit, and so writes its record.
    pub(crate) fn shows(&self, section: RecordSection) -> bool {
        self.permits.iter().any(|p| p.section() == Some(section))
    }
}

/// A patient page's first steps, for one patient and the sections it renders.
enum Access {
    /// Permitted, every section.
    Permitted(Opened),
    /// The emergency procedure is the way in.
    Emergency(PatientRef),
    /// The hospital does not know the patient.
    NotFound,
    /// Refused (by the policy, or the EPD or directory failed), with the patient when the
    /// EPD gave them.
    Refused(Refusal, Option<PatientRef>),
}

async fn access(
    portal: &Portal,
    caller: &Caller,
    id: &PatientId,
    sections: &[RecordSection],
) -> Access {
    let patient = match portal.0.epd.patient(id, &ctx(caller)).await {
        Ok(p) => p,
        Err(EpdError::NotFound(_)) => return unknown(portal, caller, id, sections).await,
        Err(e) => return Access::Refused(epd_failed(&caller.request_id, &e), None),
    };
    let about = || Some(patient_ref(id, patient.bsn));
    let world = match caller.world(portal, Some(&patient)).await {
        Ok(w) => w,
        Err(_) => return Access::Refused(Refusal::Unavailable, about()),
    };
    let now = portal.now();
    let mut permits = Vec::with_capacity(sections.len());
    for &section in sections {
        let Ok(action) = Action::view_patient(id.clone(), section) else {
            return Access::Refused(Refusal::NotHere, about());
        };
        let request = policy_request(caller, action);
        match portal.0.policy.decide(&world, &request, now) {
            Decision::Permit(permit) => permits.push(permit),
            Decision::RequiresEmergencyProcedure => {
                return Access::Emergency(patient_ref(id, patient.bsn));
            }
            Decision::Deny(reason) => return Access::Refused(deny_refusal(reason), about()),
        }
    }
    if permits.is_empty() {
        return Access::Refused(Refusal::NotHere, about());
    }
    Access::Permitted(Opened {
        id: id.clone(),
        patient: Box::new(patient),
        permits,
    })
}

/// An id the EPD does not know, answered as the policy answers for a patient whom no GP is
/// registered for: the emergency form for a GP, as for someone else's patient, so that ids
/// cannot be probed for existence (the search by BSN and date of birth is the way to find a
/// patient). Only a caller the policy would let see any patient learns that it does not
/// exist.
async fn unknown(
    portal: &Portal,
    caller: &Caller,
    id: &PatientId,
    sections: &[RecordSection],
) -> Access {
    let Ok(world) = caller.world_unknown(portal, id).await else {
        return Access::Refused(Refusal::Unavailable, None);
    };
    let now = portal.now();
    for &section in sections {
        let Ok(action) = Action::view_patient(id.clone(), section) else {
            return Access::Refused(Refusal::NotHere, None);
        };
        match portal
            .0
            .policy
            .decide(&world, &policy_request(caller, action), now)
        {
            Decision::Permit(_) => {}
            Decision::RequiresEmergencyProcedure => {
                return Access::Emergency(patient_ref(id, None));
            }
            Decision::Deny(reason) => return Access::Refused(deny_refusal(reason), None),
        }
    }
    Access::NotFound
}

/// Whether the caller may see the patient's details: the search's question, answered as a
/// patient page would answer it. The search records the answer and makes the page.
pub(crate) enum Searched {
    /// The patient page will open.
    Permitted(PatientRef),
    /// The emergency procedure is the way in.
    Emergency(PatientRef),
    /// The hospital does not know the patient (any more).
    NotFound,
    /// Refused, with the patient when the EPD gave them.
    Refused(Refusal, Option<PatientRef>),
}

/// The search's decision for the patient found: as [`open`] decides the patient page.
pub(crate) async fn searched(portal: &Portal, caller: &Caller, id: &PatientId) -> Searched {
    match access(portal, caller, id, &[RecordSection::PatientDetails]).await {
        Access::Permitted(opened) => {
            Searched::Permitted(patient_ref(&opened.id, opened.patient.bsn))
        }
        Access::Emergency(patient) => Searched::Emergency(patient),
        Access::NotFound => Searched::NotFound,
        Access::Refused(refusal, patient) => Searched::Refused(refusal, patient),
    }
}

/// A patient page's way in: the id from the URL, the patient and a permit for each of
/// `sections` — or the page to send instead (not found, the emergency form, a refusal). A
/// refusal and the emergency form are recorded before they are sent: a refused look at a
/// patient's record is in the log as much as a permitted one.
pub(crate) async fn open(
    portal: &Portal,
    caller: &Caller,
    id: &str,
    sections: &[RecordSection],
) -> Result<Opened, Response> {
    let id = parse_id(portal, caller, id)?;
    match access(portal, caller, &id, sections).await {
        Access::Permitted(opened) => Ok(opened),
        Access::Emergency(patient) => {
            match portal
                .record_denied(caller, EMERGENCY_REQUIRED, Outcome::Denied, Some(patient))
                .await
            {
                Ok(_) => Err(emergency_form(portal, caller, &id, None, None, None)),
                Err(refusal) => Err(refusal_page(portal, &refusal, &caller.request_id)),
            }
        }
        Access::NotFound => Err(patient_not_found(portal, caller)),
        Access::Refused(refusal, patient) => {
            Err(refuse_about(portal, caller, &refusal, patient).await)
        }
    }
}

/// A patient id from the URL; what is none is a patient the hospital does not know.
pub(crate) fn parse_id(portal: &Portal, caller: &Caller, id: &str) -> Result<PatientId, Response> {
    id.parse().map_err(|_| patient_not_found(portal, caller))
}

/// A section's read from the EPD, started together with the patient's so that a page costs
/// one EPD round trip instead of two. Its answer is used only after the decision permits and
/// the audit records are durable; otherwise it is dropped unseen, and dropping it cancels a
/// request still on its way.
pub(crate) struct Prefetch<T>(tokio::task::JoinHandle<Result<T, EpdError>>);

impl<T> Drop for Prefetch<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts `read` for patient `id`, unless the audit log already refuses every record (then
/// nothing could be shown, and the EPD is not asked) or `id` is no patient id.
pub(crate) fn prefetch<T, F, Fut>(
    portal: &Portal,
    caller: &Caller,
    id: &str,
    read: F,
) -> Option<Prefetch<T>>
where
    T: Send + 'static,
    F: FnOnce(Arc<dyn zvp_epd::Epd>, PatientId, RequestContext) -> Fut,
    Fut: Future<Output = Result<T, EpdError>> + Send + 'static,
{
    if portal.0.audit.refusing().is_some() {
        return None;
    }
    let id: PatientId = id.parse().ok()?;
    Some(Prefetch(tokio::spawn(read(
        Arc::clone(&portal.0.epd),
        id,
        ctx(caller),
    ))))
}

/// The prefetched answer, or `otherwise` when nothing was prefetched.
pub(crate) async fn prefetched<T>(
    prefetch: Option<Prefetch<T>>,
    otherwise: impl Future<Output = Result<T, EpdError>>,
) -> Result<T, EpdError> {
    match prefetch {
        Some(mut p) => (&mut p.0)
            .await
            .unwrap_or_else(|_| Err(EpdError::Unavailable("the read was stopped".to_owned()))),
        None => otherwise.await,
    }
}

/// The disclosures of an opened patient: one per permitted section. `item` is a part of the
/// page's own section, the first; the others (the admission the banner names) are shown whole.
fn disclosures<'a>(opened: &'a Opened, item: Option<&str>) -> Vec<Disclosure<'a>> {
    opened
        .permits
        .iter()
        .enumerate()
        .map(|(n, permit)| Disclosure {
            permit,
            basis: permit.basis(),
            patient: &opened.id,
            bsn: opened.patient.bsn,
            item: item.filter(|_| n == 0).map(str::to_owned),
            reason: None,
        })
        .collect()
}

/// Writes the audit records of the opened sections, or answers with the refusal page.
pub(crate) async fn audited(
    portal: &Portal,
    caller: &Caller,
    opened: &Opened,
    item: Option<&str>,
) -> Result<(), Response> {
    match portal.disclose_all(caller, disclosures(opened, item)).await {
        Ok(_) => Ok(()),
        Err(r) => Err(refuse(portal, caller, &r).await),
    }
}

/// Writes the audit records of what a page will show while the EPD is asked for it, so that
/// the page waits for the slower of the two rather than for both in turn. The EPD's answer is
/// handed back only together with the records' durability: when a record cannot be written,
/// the answer is dropped unseen and the refusal page comes instead. Nothing leaves the server
/// before the receipts are in. The records are handed to the log before the EPD is asked, so
/// a log that refuses at once (one stopped by an earlier failure) is found out without asking
/// the EPD for data that could not be shown. `fetch` may also make the page from the answer:
/// that work then overlaps the log's write as well.
pub(crate) async fn audited_while<T>(
    portal: &Portal,
    caller: &Caller,
    opened: &Opened,
    item: Option<&str>,
    fetch: impl Future<Output = Result<T, EpdError>>,
) -> Result<Result<T, EpdError>, Response> {
    let audit = portal.disclose_all(caller, disclosures(opened, item));
    tokio::pin!(audit);
    tokio::pin!(fetch);
    let mut fetched = None;
    let receipts = loop {
        tokio::select! {
            // The records go to the log first, so that the fetch runs while they are written.
            biased;
            receipts = &mut audit => break receipts,
            answer = &mut fetch, if fetched.is_none() => fetched = Some(answer),
        }
    };
    if let Err(refusal) = receipts {
        // No record, nothing shown: the refusal at once, without waiting for the EPD.
        return Err(refuse(portal, caller, &refusal).await);
    }
    Ok(match fetched {
        Some(answer) => answer,
        None => fetch.await,
    })
}
