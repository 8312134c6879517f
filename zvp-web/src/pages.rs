//! The practitioner's pages: start page, patient page with its sections, results and lab
//! history, search and the emergency procedure, delegations, terms of use, account request
//! (each described in docs/architecture.md, "What the portal shows").
//!
//! Every patient page follows the same path: read the patient's registered GP from the EPD
//! now, decide with the policy, write the audit record, then read and show the data.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Form, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use chrono::{Duration, NaiveDate};
use serde::Deserialize;
use zvp_audit::event::{ActionCode, EventType, Subtype};
use zvp_auth::directory::{Account, AccountStatus, ReasonCategory};
use zvp_auth::policy::{
    Action, Basis, Decision, DenyReason, GrantError, ListScope, Permit, Request,
};
use zvp_core::{
    AgbCode, Bsn, CareMomentKind, CareMomentStatus, Document, DocumentContent, DossierSection,
    Gender, LabFlag, ObservationValue, Patient, PatientId, RecordSection, ReportContent,
    ResultCategory, SusceptibilityInterpretation,
};
use zvp_epd::{EpdError, ListedPatient, RequestContext};

use super::chart;
use super::html::{Html, path_segment};
use super::layout::{dutch_date, dutch_time, html_response, page, see_other};
use super::{Caller, Disclosure, Identity, Portal, Refusal, refusal_page};

/// The page of a logged-in caller.
fn caller_page(portal: &Portal, caller: &Caller, title: &str, body: &Html) -> Response {
    html_response(
        StatusCode::OK,
        page(
            &portal.settings().hospital,
            title,
            Some(&caller.viewer()),
            portal.now(),
            body,
        ),
    )
}

fn refuse(portal: &Portal, caller: &Caller, refusal: &Refusal) -> Response {
    super::log_refusal(
        &caller.request_id,
        refusal.code(),
        Some(&caller.account.uzi.to_string()),
    );
    refusal_page(portal, refusal, &caller.request_id)
}

/// The page of a section the EPD did not give: the patient header, the section's title and,
/// in its place, what went wrong (the adapter's error is logged, `epd-error`); the rest of the
/// portal's navigation stays, so the GP can go on to the other sections.
async fn section_failed(
    portal: &Portal,
    caller: &Caller,
    patient: &Patient,
    permit: &Permit,
    label: &str,
    error: &EpdError,
) -> Response {
    let refusal = super::epd_failed(&caller.request_id, error);
    let mut body = patient_header(portal, caller, patient, permit).await;
    body.markup("<h2>").text(label).markup("</h2>");
    super::section_failure(&mut body, label, &refusal, caller);
    let mut response = caller_page(portal, caller, label, &body);
    *response.status_mut() = refusal.status();
    response
}

pub(crate) fn deny_refusal(reason: DenyReason) -> Refusal {
    match reason {
        DenyReason::NoAccount => Refusal::NoAccount,
        DenyReason::AccountPending => Refusal::Pending,
        DenyReason::AccountRejected => Refusal::Rejected,
        DenyReason::AccountBlocked => Refusal::Blocked,
        DenyReason::AgbMismatch => Refusal::AgbMismatch,
        DenyReason::RoleNotEligible => Refusal::RoleNotEligible,
        DenyReason::NotAdministrator | DenyReason::UnknownPatient => Refusal::NotHere,
        DenyReason::PatientObjection => Refusal::PatientObjection,
    }
}

fn ctx(caller: &Caller) -> RequestContext {
    RequestContext {
        request_id: caller.request_id.clone(),
    }
}

fn policy_request(caller: &Caller, action: Action) -> Request {
    Request {
        uzi: caller.identity.uzi_number(),
        card_agb: caller.identity.agb(),
        card_role: caller.identity.role(),
        action,
    }
}

/// A patient page's first steps: the patient from the EPD (now), and the decision.
enum Access {
    /// Permitted: the patient, and the permit.
    Permitted(Box<Patient>, Permit),
    /// The emergency procedure is the way in.
    Emergency,
    /// A page to send instead (not found, refused, unavailable).
    Page(Response),
}

async fn access(
    portal: &Portal,
    caller: &Caller,
    id: &PatientId,
    section: RecordSection,
) -> Access {
    let patient = match portal.0.epd.patient(id, &ctx(caller)).await {
        Ok(p) => p,
        Err(EpdError::NotFound(_)) => return Access::Page(patient_not_found(portal, caller)),
        Err(e) => {
            return Access::Page(refuse(
                portal,
                caller,
                &super::epd_failed(&caller.request_id, &e),
            ));
        }
    };
    let world = match caller.world(portal, Some(&patient)).await {
        Ok(w) => w,
        Err(_) => return Access::Page(refuse(portal, caller, &Refusal::Unavailable)),
    };
    let Ok(view) = Action::view_patient(id.clone(), section) else {
        return Access::Page(refuse(portal, caller, &Refusal::NotHere));
    };
    let request = policy_request(caller, view);
    match portal.0.policy.decide(&world, &request, portal.now()) {
        Decision::Permit(permit) => Access::Permitted(Box::new(patient), permit),
        Decision::RequiresEmergencyProcedure => Access::Emergency,
        Decision::Deny(reason) => Access::Page(refuse(portal, caller, &deny_refusal(reason))),
    }
}

fn patient_not_found(portal: &Portal, caller: &Caller) -> Response {
    let mut body = Html::new();
    body.markup("<h1>Patiënt niet gevonden</h1><p>Het ziekenhuis kent deze patiënt niet (meer). ")
        .markup("<a href=\"/zoeken\">Zoek een patiënt</a> op BSN en geboortedatum.</p>");
    let mut response = caller_page(portal, caller, "Patiënt niet gevonden", &body);
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
}

/// Writes the audit record, or answers with the refusal page.
async fn audited(
    portal: &Portal,
    caller: &Caller,
    permit: &Permit,
    patient: &Patient,
    section: RecordSection,
    item: Option<String>,
) -> Result<zvp_audit::log::Receipt, Response> {
    portal
        .disclose(
            caller,
            Disclosure {
                permit,
                basis: permit.basis(),
                patient: &patient.id,
                bsn: patient.bsn,
                section,
                item,
                reason: None,
            },
        )
        .await
        .map_err(|r| refuse(portal, caller, &r))
}

/// Writes the audit records of what a page will show while the EPD is asked for it, so that
/// the page waits for the slower of the two rather than for both in turn. The EPD's answer is
/// handed back only together with the records' durability (step 6 of the request path): when a
/// record cannot be written, the answer is dropped unseen and the refusal page comes instead.
/// Nothing leaves the server before the receipts are in. The records are handed to the log
/// before the EPD is asked, so a log that refuses at once (one stopped by an earlier failure)
/// is found out without asking the EPD for data that could not be shown. `fetch` may also
/// make the page from the answer: that work then overlaps the log's write as well.
async fn audited_while<T>(
    portal: &Portal,
    caller: &Caller,
    permit: &Permit,
    patient: &Patient,
    sections: &[(RecordSection, Option<String>)],
    fetch: impl Future<Output = Result<T, EpdError>>,
) -> Result<Result<T, EpdError>, Response> {
    let disclosures = sections
        .iter()
        .map(|(section, item)| Disclosure {
            permit,
            basis: permit.basis(),
            patient: &patient.id,
            bsn: patient.bsn,
            section: *section,
            item: item.clone(),
            reason: None,
        })
        .collect();
    let audit = portal.disclose_all(caller, disclosures);
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
        return Err(refuse(portal, caller, &refusal));
    }
    Ok(match fetched {
        Some(answer) => answer,
        None => fetch.await,
    })
}

/// How a patient may be seen, in words.
fn basis_text(basis: Basis, names: &HashMap<AgbCode, String>) -> String {
    match basis {
        Basis::Own => "Eigen patiënt".to_owned(),
        Basis::Practice => "Patiënt van uw praktijk".to_owned(),
        Basis::Delegation { grantor, .. } => format!(
            "Gemachtigd door {}",
            names
                .get(&grantor)
                .cloned()
                .unwrap_or_else(|| format!("AGB {grantor}"))
        ),
        Basis::Emergency { .. } => "Noodprocedure".to_owned(),
        Basis::Administrator => "Beheer".to_owned(),
    }
}

/// GP names by AGB code, from the directory (for "gemachtigd door …").
async fn gp_names(portal: &Portal) -> HashMap<AgbCode, String> {
    portal
        .0
        .directory
        .accounts()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter_map(|a| Some((a.agb?, a.name)))
        .collect()
}

/// Query of the start page.
#[derive(Debug, Deserialize)]
pub(crate) struct StartQuery {
    /// `eigen`, `praktijk`, `gemachtigd` or absent (all).
    #[serde(default)]
    filter: Option<String>,
}

/// The start page: admitted and recently discharged patients of the caller, their
/// practice and the GPs who delegated to them, each marked with whose patient it is.
pub(crate) async fn start(
    State(portal): State<Portal>,
    caller: Caller,
    Query(query): Query<StartQuery>,
) -> Response {
    let now = portal.now();
    let Ok(world) = caller.world(&portal, None).await else {
        return refuse(&portal, &caller, &Refusal::Unavailable);
    };
    let scope = match portal.0.policy.list_scope(
        &world,
        caller.identity.uzi_number(),
        caller.identity.agb(),
        caller.identity.role(),
        now,
    ) {
        Ok(scope) => scope,
        Err(DenyReason::RoleNotEligible) if caller.account.admin => return see_other("/beheer"),
        Err(reason) => return refuse(&portal, &caller, &deny_refusal(reason)),
    };
    let request = policy_request(&caller, Action::ListAdmitted);
    let Decision::Permit(permit) = portal.0.policy.decide(&world, &request, now) else {
        return refuse(&portal, &caller, &Refusal::NotHere);
    };
    let scope: Vec<ListScope> = scope
        .into_iter()
        .filter(|s| match query.filter.as_deref() {
            Some("eigen") => s.basis == Basis::Own,
            Some("praktijk") => s.basis == Basis::Practice,
            Some("gemachtigd") => matches!(s.basis, Basis::Delegation { .. }),
            _ => true,
        })
        .collect();
    let agbs: Vec<AgbCode> = scope.iter().map(|s| s.agb).collect();
    let since = now - Duration::days(i64::from(portal.settings().discharged_days));
    let ctx = ctx(&caller);
    let (admitted, discharged) = match tokio::try_join!(
        portal.0.epd.admitted(&agbs, &ctx),
        portal.0.epd.discharged_since(&agbs, since, &ctx)
    ) {
        Ok(lists) => lists,
        Err(e) => return refuse(&portal, &caller, &super::epd_failed(&caller.request_id, &e)),
    };
    let basis_of = |l: &ListedPatient| {
        ListScope::basis_for(
            &scope,
            l.patient.registered_gp.as_ref().map(|g| g.agb),
            l.patient.sharing_objection.is_some(),
        )
    };
    // Audit before disclosure: one record per patient shown, all written before the page.
    let mut disclosures = Vec::new();
    for (list, section) in [
        (&admitted, RecordSection::AdmittedList),
        (&discharged, RecordSection::DischargedList),
    ] {
        for l in list.iter() {
            let Some(basis) = basis_of(l) else { continue };
            disclosures.push(Disclosure {
                permit: &permit,
                basis,
                patient: &l.patient.id,
                bsn: l.patient.bsn,
                section,
                item: None,
                reason: None,
            });
        }
    }
    if let Err(r) = portal.disclose_all(&caller, disclosures).await {
        return refuse(&portal, &caller, &r);
    }
    let names = gp_names(&portal).await;
    let mut body = Html::new();
    body.markup("<h1>Mijn patiënten</h1>");
    emergency_notices(&portal, &caller, &mut body).await;
    body.markup("<p class=\"tabs\">Toon: ")
        .markup("<a href=\"/\">alle</a> <a href=\"/?filter=eigen\">eigen patiënten</a> ")
        .markup("<a href=\"/?filter=praktijk\">praktijk</a> <a href=\"/?filter=gemachtigd\">gemachtigd</a></p>");
    body.markup("<h2>Opgenomen</h2>");
    list_table(&mut body, &admitted, &basis_of, &names, false);
    body.markup("<h2>Ontslagen in de afgelopen ")
        .display(portal.settings().discharged_days)
        .markup(" dagen</h2>");
    list_table(&mut body, &discharged, &basis_of, &names, true);
    body.markup("<p class=\"muted\">Gegevens van ")
        .text(&dutch_time(now))
        .markup(", direct uit het EPD van het ziekenhuis.</p>");
    caller_page(&portal, &caller, "Mijn patiënten", &body)
}

/// The most recent emergency grants looked at for notices on a start page.
const MAX_NOTICES: usize = 50;

/// Notices to the patient's own GP that a colleague used the emergency procedure: who,
/// when, the coded reason — never the free-text reason or any medical content. The link
/// opens the patient through the policy like any other.
async fn emergency_notices(portal: &Portal, caller: &Caller, body: &mut Html) {
    let Some(own) = caller.account.agb else {
        return;
    };
    let since = portal.now() - Duration::days(i64::from(portal.settings().discharged_days));
    let Ok(mut grants) = portal.0.directory.grants_since(since).await else {
        return;
    };
    grants.retain(|g| g.practitioner != caller.account.uzi);
    grants.reverse();
    grants.truncate(MAX_NOTICES);
    let ctx = ctx(caller);
    let mut shown = Vec::new();
    for grant in grants {
        let Ok(patient) = portal.0.epd.patient(&grant.patient, &ctx).await else {
            continue;
        };
        if patient.registered_gp.as_ref().map(|g| g.agb) == Some(own) {
            shown.push(grant);
        }
    }
    if shown.is_empty() {
        return;
    }
    let accounts = portal.0.directory.accounts().await.unwrap_or_default();
    body.markup("<section class=\"emergency\" aria-label=\"Meldingen\"><h2>Noodprocedure bij uw patiënten</h2><ul>");
    for g in &shown {
        let who = accounts
            .iter()
            .find(|a| a.uzi == g.practitioner)
            .map_or_else(
                || format!("UZI {}", g.practitioner),
                |a| format!("{} (UZI {})", a.name, a.uzi),
            );
        body.markup("<li>")
            .text(&dutch_time(g.granted_at))
            .markup(": ")
            .text(&who)
            .markup(" opende via de noodprocedure het dossier van ")
            .link(
                &format!("/patient/{}", path_segment(g.patient.as_str())),
                "een van uw patiënten",
            )
            .markup(" (reden: ")
            .text(match g.reason_category {
                ReasonCategory::AcuteCare => "acute zorg",
                ReasonCategory::OutOfHours => "huisartsenpost",
                ReasonCategory::ContinuityOfCare => "continuïteit van zorg",
                ReasonCategory::Other => "anders",
            })
            .markup(").</li>");
    }
    body.markup("</ul></section>");
}

fn list_table(
    body: &mut Html,
    list: &[ListedPatient],
    basis_of: &dyn Fn(&ListedPatient) -> Option<Basis>,
    names: &HashMap<AgbCode, String>,
    discharged: bool,
) {
    let shown: Vec<(&ListedPatient, Basis)> = list
        .iter()
        .filter_map(|l| Some((l, basis_of(l)?)))
        .collect();
    if shown.is_empty() {
        body.markup("<p class=\"muted\">Geen patiënten.</p>");
        return;
    }
    body.markup("<table><thead><tr><th>Naam</th><th>Geboren</th><th>Afdeling</th><th>Specialisme</th><th>Opgenomen</th>");
    if discharged {
        body.markup("<th>Ontslagen</th>");
    }
    body.markup("<th>Patiënt van</th></tr></thead><tbody>");
    for (l, basis) in shown {
        body.markup("<tr><td>")
            .link(
                &format!("/patient/{}", path_segment(l.patient.id.as_str())),
                &l.patient.name.to_string(),
            )
            .markup("</td><td>")
            .text(&dutch_date(l.patient.birth_date))
            .markup("</td><td>")
            .text(&l.admission.ward)
            .markup("</td><td>")
            .text(&l.admission.specialism)
            .markup("</td><td>")
            .text(&dutch_time(l.admission.admitted_at()))
            .markup("</td>");
        if discharged {
            body.markup("<td>")
                .text(
                    &l.admission
                        .discharged_at()
                        .map(dutch_time)
                        .unwrap_or_default(),
                )
                .markup("</td>");
        }
        body.markup("<td>")
            .text(&basis_text(basis, names))
            .markup("</td></tr>");
    }
    body.markup("</tbody></table>");
}

/// The header of every patient page: who, and — prominently — the treatment restrictions
/// and an emergency grant with its expiry.
async fn patient_header(
    portal: &Portal,
    caller: &Caller,
    patient: &Patient,
    permit: &Permit,
) -> Html {
    // The header starts every patient page: room for the page that follows it.
    let mut h = Html::with_capacity(16 * 1024);
    h.markup("<h1>")
        .text(&patient.name.to_string())
        .markup("</h1>");
    if let Basis::Emergency { grant, .. } = permit.basis() {
        let expires = portal
            .0
            .directory
            .grants(caller.account.uzi, &patient.id)
            .await
            .unwrap_or_default()
            .into_iter()
            .find(|g| g.id == grant)
            .map(|g| g.expires_at);
        h.markup("<p class=\"emergency\"><strong>Noodprocedure.</strong> U bekijkt dit dossier via de noodprocedure");
        if let Some(expires) = expires {
            h.markup(", tot ").text(&dutch_time(expires));
        }
        h.markup(". Uw inzage wordt achteraf beoordeeld.</p>");
    }
    if !patient.treatment_restrictions.is_empty() {
        h.markup("<section class=\"restriction\" aria-label=\"Behandelbeperkingen\"><h2>Behandelbeperkingen</h2><ul>");
        for r in &patient.treatment_restrictions {
            h.markup("<li><strong>Niet: ")
                .text(&treatment_text(&r.treatment))
                .markup("</strong>");
            if let Some(limits) = &r.limits {
                h.markup(" — ").text(limits);
            }
            h.markup(" <span class=\"muted\">(afgesproken ")
                .text(&dutch_date(r.agreed_on))
                .markup(")</span>");
            if let Some(comment) = &r.comment {
                h.markup("<br>").text(comment);
            }
            h.markup("</li>");
        }
        h.markup("</ul></section>");
    }
    let id = path_segment(patient.id.as_str());
    h.markup("<nav class=\"tabs\" aria-label=\"Onderdelen van het dossier\">")
        .link(&format!("/patient/{id}"), "Gegevens en zorgmomenten");
    for (slug, label) in DOSSIER {
        h.markup(" ")
            .link(&format!("/patient/{id}/dossier/{slug}"), label);
    }
    for (slug, label, _) in RESULTS {
        h.markup(" ")
            .link(&format!("/patient/{id}/uitslagen/{slug}"), label);
    }
    h.markup("</nav>");
    h
}

fn treatment_text(t: &zvp_core::RestrictedTreatment) -> String {
    use zvp_core::RestrictedTreatment as T;
    match t {
        T::Resuscitation => "reanimeren".to_owned(),
        T::MechanicalVentilation => "beademen".to_owned(),
        T::IntensiveCareAdmission => "opnemen op de intensive care".to_owned(),
        T::HospitalAdmission => "opnemen in het ziekenhuis".to_owned(),
        T::BloodTransfusion => "bloedtransfusie".to_owned(),
        T::Dialysis => "dialyseren".to_owned(),
        T::ArtificialNutrition => "sondevoeding".to_owned(),
        T::Other(text) => text.clone(),
        T::Unspecified => {
            "een behandeling die het ziekenhuisdossier niet nader noemt; vraag het ziekenhuis welke"
                .to_owned()
        }
    }
}

const DOSSIER: [(&str, &str); 5] = [
    ("allergieen", "Allergieën"),
    ("conclusies", "Conclusie en beleid"),
    ("brieven", "Brieven"),
    ("diagnoses", "Diagnoses"),
    ("medicatie", "Medicatie"),
];

const RESULTS: [(&str, &str, ResultCategory); 6] = [
    (
        "klinische-chemie",
        "Klinische chemie",
        ResultCategory::ClinicalChemistry,
    ),
    (
        "microbiologie",
        "Microbiologie",
        ResultCategory::Microbiology,
    ),
    ("nucleair-lab", "Nucleair lab", ResultCategory::NuclearLab),
    ("pathologie", "Pathologie", ResultCategory::Pathology),
    ("radiologie", "Radiologie", ResultCategory::Radiology),
    ("overig", "Overig", ResultCategory::Other),
];

/// A patient page's way in: the id from the URL, the patient and the decision — or the page
/// to send instead (not found, the emergency form, a refusal).
async fn open(
    portal: &Portal,
    caller: &Caller,
    id: &str,
    section: RecordSection,
) -> Result<(PatientId, Box<Patient>, Permit), Response> {
    let id = parse_id(portal, caller, id)?;
    match access(portal, caller, &id, section).await {
        Access::Permitted(patient, permit) => Ok((id, patient, permit)),
        Access::Emergency => Err(emergency_form(portal, caller, &id, None, None)),
        Access::Page(page) => Err(page),
    }
}

/// A section's read from the EPD, started together with the patient's so that a page costs
/// one EPD round trip instead of two. Its answer is used only after the decision permits and
/// the audit records are durable; otherwise it is dropped unseen, and dropping it cancels a
/// request still on its way.
struct Prefetch<T>(tokio::task::JoinHandle<Result<T, EpdError>>);

impl<T> Drop for Prefetch<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts `read` for patient `id`, unless the audit log already refuses every record (then
/// nothing could be shown, and the EPD is not asked) or `id` is no patient id.
fn prefetch<T, F, Fut>(portal: &Portal, caller: &Caller, id: &str, read: F) -> Option<Prefetch<T>>
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
async fn prefetched<T>(
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

fn parse_id(portal: &Portal, caller: &Caller, id: &str) -> Result<PatientId, Response> {
    id.parse().map_err(|_| patient_not_found(portal, caller))
}

/// The emergency page for a patient the caller may not see without it: no patient data,
/// only the form.
fn emergency_form(
    portal: &Portal,
    caller: &Caller,
    id: &PatientId,
    bsn: Option<&str>,
    error: Option<&str>,
) -> Response {
    // The numbers the policy enforces, from the policy itself.
    let policy = &portal.0.policy;
    let duration = policy.emergency_duration();
    let lasts = if duration.num_minutes() % 60 == 0 {
        format!("{} uur", duration.num_hours())
    } else {
        format!("{} minuten", duration.num_minutes())
    };
    let mut body = Html::new();
    body.markup("<h1>Noodprocedure</h1><section class=\"emergency\"><p>U bent niet de huisarts van deze patiënt en heeft geen machtiging van de huisarts");
    if let Some(bsn) = bsn {
        body.markup(" (BSN ").text(bsn).markup(")");
    }
    body.markup(". Alleen als u deze patiënt nu zorg verleent, kunt u het dossier inzien via de noodprocedure. ")
        .markup("Uw reden wordt vastgelegd, de inzage geldt voor ")
        .text(&lasts)
        .markup(" en alleen voor deze patiënt, en wordt achteraf beoordeeld. De huisarts van de patiënt krijgt hiervan bericht.</p></section>");
    if let Some(error) = error {
        body.markup("<p class=\"flag\" role=\"alert\">")
            .text(error)
            .markup("</p>");
    }
    body.markup("<form method=\"post\" action=\"/patient/")
        .text(&path_segment(id.as_str()))
        .markup("/noodprocedure\"><input type=\"hidden\" name=\"csrf\" value=\"")
        .text(&caller.session.csrf)
        .markup("\"><label for=\"reden\">Reden</label><select id=\"reden\" name=\"reden\" required>")
        .markup("<option value=\"acute-care\">Acute zorg voor deze patiënt</option>")
        .markup("<option value=\"out-of-hours\">Huisartsenpost / avond-, nacht- en weekenddienst</option>")
        .markup("<option value=\"continuity-of-care\">Continuïteit van zorg (patiënt staat nog niet op mijn naam)</option>")
        .markup("<option value=\"other\">Anders</option></select>")
        .markup("<label for=\"toelichting\">Toelichting (minstens ")
        .display(policy.min_reason_chars())
        .markup(" tekens)</label><textarea id=\"toelichting\" name=\"toelichting\" rows=\"3\" cols=\"60\" required maxlength=\"1000\"></textarea>")
        .markup("<br><button type=\"submit\">Dossier openen via de noodprocedure</button></form>");
    let mut response = caller_page(portal, caller, "Noodprocedure", &body);
    *response.status_mut() = StatusCode::FORBIDDEN;
    response
}

/// The patient page: details and care moments.
pub(crate) async fn patient(
    State(portal): State<Portal>,
    caller: Caller,
    Path(id): Path<String>,
) -> Response {
    let early = prefetch(&portal, &caller, &id, |epd, id, ctx| async move {
        epd.care_moments(&id, &ctx).await
    });
    let (id, patient, permit) =
        match open(&portal, &caller, &id, RecordSection::PatientDetails).await {
            Ok(opened) => opened,
            Err(page) => return page,
        };
    // Details and care moments: two records in one group commit, while the EPD is asked.
    let moments = match audited_while(
        &portal,
        &caller,
        &permit,
        &patient,
        &[
            (RecordSection::PatientDetails, None),
            (RecordSection::CareMoments, None),
        ],
        prefetched(early, portal.0.epd.care_moments(&id, &ctx(&caller))),
    )
    .await
    {
        Ok(moments) => moments,
        Err(page) => return page,
    };
    let mut body = patient_header(&portal, &caller, &patient, &permit).await;
    body.markup("<h2>Gegevens</h2><table><tbody><tr><th>Naam</th><td>")
        .text(&patient.name.to_string())
        .markup("</td></tr><tr><th>Geboortedatum</th><td>")
        .text(&dutch_date(patient.birth_date))
        .markup("</td></tr><tr><th>Geslacht</th><td>")
        .text(match patient.gender {
            Gender::Female => "vrouw",
            Gender::Male => "man",
            Gender::Other => "anders",
            Gender::Unknown => "onbekend",
        })
        .markup("</td></tr><tr><th>BSN</th><td>")
        .text(
            &patient
                .bsn
                .map(|b| b.to_string())
                .unwrap_or_else(|| "onbekend".to_owned()),
        )
        .markup("</td></tr><tr><th>Adres</th><td>");
    if let Some(a) = &patient.address {
        body.text(&format!("{} {}", a.street, a.house_number))
            .markup("<br>")
            .text(&format!("{} {}", a.postal_code, a.city));
    }
    body.markup("</td></tr><tr><th>Huisarts</th><td>");
    if let Some(gp) = &patient.registered_gp {
        body.text(gp.name.as_deref().unwrap_or(""))
            .markup(" (AGB ")
            .display(gp.agb)
            .markup(")");
    }
    body.markup("</td></tr></tbody></table><h2>Zorgmomenten</h2>");
    // Care moments the EPD did not give fail that part only: the details above stand.
    let moments = match moments {
        Ok(moments) if moments.is_empty() => {
            body.markup("<p class=\"muted\">Geen zorgmomenten.</p>");
            moments
        }
        Ok(moments) => moments,
        Err(e) => {
            let refusal = super::epd_failed(&caller.request_id, &e);
            super::section_failure(&mut body, "Zorgmomenten", &refusal, &caller);
            Vec::new()
        }
    };
    if !moments.is_empty() {
        body.markup("<table><thead><tr><th>Datum</th><th>Soort</th><th>Afdeling</th><th>Omschrijving</th><th>Status</th></tr></thead><tbody>");
        for m in moments.iter().rev() {
            body.markup("<tr><td>")
                .text(&dutch_time(m.at))
                .markup("</td><td>")
                .text(match m.kind {
                    CareMomentKind::Appointment => "Afspraak",
                    CareMomentKind::Operation => "Operatie",
                    CareMomentKind::Admission => "Opname",
                    CareMomentKind::GpReferral => "Verwijzing",
                })
                .markup("</td><td>")
                .text(&m.department)
                .markup("</td><td>")
                .text(&m.description)
                .markup("</td><td>")
                .text(match m.status {
                    CareMomentStatus::Planned => "gepland",
                    CareMomentStatus::InProgress => "lopend",
                    CareMomentStatus::Completed => "afgerond",
                    CareMomentStatus::Cancelled => "geannuleerd",
                })
                .markup("</td></tr>");
        }
        body.markup("</tbody></table>");
    }
    caller_page(&portal, &caller, &patient.name.to_string(), &body)
}

/// A dossier section, with the letters' cut-off.
pub(crate) async fn dossier(
    State(portal): State<Portal>,
    caller: Caller,
    Path((id, slug)): Path<(String, String)>,
) -> Response {
    let (dossier_section, label) = match slug.as_str() {
        "allergieen" => (DossierSection::Allergies, "Allergieën"),
        "conclusies" => (DossierSection::ConclusionAndPlan, "Conclusie en beleid"),
        "brieven" => (DossierSection::Letters, "Brieven"),
        "diagnoses" => (DossierSection::Diagnoses, "Diagnoses"),
        "medicatie" => (DossierSection::Medication, "Medicatie"),
        _ => return super::not_found().await,
    };
    // The one section's read starts with the patient's (see `Prefetch`).
    let early = |wanted: DossierSection| dossier_section == wanted;
    let mut allergies = None;
    let mut conclusions = None;
    let mut letters = None;
    let mut diagnoses = None;
    let mut medication = None;
    if early(DossierSection::Allergies) {
        allergies = prefetch(&portal, &caller, &id, |e, i, c| async move {
            e.allergies(&i, &c).await
        });
    } else if early(DossierSection::ConclusionAndPlan) {
        conclusions = prefetch(&portal, &caller, &id, |e, i, c| async move {
            e.conclusions(&i, &c).await
        });
    } else if early(DossierSection::Letters) {
        letters = prefetch(&portal, &caller, &id, |e, i, c| async move {
            e.letters(&i, &c).await
        });
    } else if early(DossierSection::Diagnoses) {
        diagnoses = prefetch(&portal, &caller, &id, |e, i, c| async move {
            e.diagnoses(&i, &c).await
        });
    } else if early(DossierSection::Medication) {
        medication = prefetch(&portal, &caller, &id, |e, i, c| async move {
            e.medication(&i, &c).await
        });
    }
    let (id, patient, permit) = match open(
        &portal,
        &caller,
        &id,
        RecordSection::Dossier(dossier_section),
    )
    .await
    {
        Ok(opened) => opened,
        Err(page) => return page,
    };
    let ctx = ctx(&caller);
    let epd = &portal.0.epd;
    // The section's record is written while the EPD is asked for it (see `audited_while`).
    let record = [(RecordSection::Dossier(dossier_section), None)];
    macro_rules! audited_fetch {
        ($fetch:expr) => {
            match audited_while(&portal, &caller, &permit, &patient, &record, $fetch).await {
                Ok(fetched) => fetched,
                Err(page) => return page,
            }
        };
    }
    let mut body = patient_header(&portal, &caller, &patient, &permit).await;
    body.markup("<h2>").text(label).markup("</h2>");
    let now = portal.now();
    let failed = match dossier_section {
        DossierSection::Allergies => audited_fetch!(prefetched(allergies, epd.allergies(&id, &ctx))).map(|items| {
            if items.is_empty() {
                body.markup("<p>Geen allergieën bekend.</p>");
            } else {
                body.markup("<table><thead><tr><th>Stof</th><th>Reactie</th><th>Ernst</th><th>Vastgelegd</th></tr></thead><tbody>");
                for a in &items {
                    body.markup("<tr><td>").text(&a.substance).markup("</td><td>")
                        .text(a.reaction.as_deref().unwrap_or("")).markup("</td><td>")
                        .text(match a.severity {
                            Some(zvp_core::AllergySeverity::Severe) => "ernstig",
                            Some(zvp_core::AllergySeverity::Moderate) => "matig",
                            Some(zvp_core::AllergySeverity::Mild) => "licht",
                            None => "",
                        })
                        .markup("</td><td>").text(&dutch_time(a.recorded_at)).markup("</td></tr>");
                }
                body.markup("</tbody></table>");
            }
        }),
        DossierSection::ConclusionAndPlan => audited_fetch!(prefetched(conclusions, epd.conclusions(&id, &ctx))).map(|items| {
            for c in &items {
                body.markup("<article><h3>").text(&c.specialism).markup(" — ").text(&dutch_time(c.at))
                    .markup("</h3><p class=\"muted\">").text(&c.author).markup("</p><p><strong>Conclusie:</strong> ")
                    .text(&c.conclusion).markup("</p><p><strong>Beleid:</strong> ").text(&c.plan).markup("</p></article>");
            }
            if items.is_empty() {
                body.markup("<p>Geen conclusies.</p>");
            }
        }),
        DossierSection::Letters => audited_fetch!(prefetched(letters, epd.letters(&id, &ctx))).map(|mut items| {
            let cutoff = portal.settings().letters_cutoff;
            let hidden = items.iter().filter(|l| l.date < cutoff).count();
            items.retain(|l| l.date >= cutoff);
            items.sort_by_key(|l| std::cmp::Reverse(l.date));
            body.markup("<table><thead><tr><th>Datum</th><th>Brief</th><th>Afzender</th><th>Specialisme</th></tr></thead><tbody>");
            for l in &items {
                body.markup("<tr><td>").text(&dutch_date(l.date)).markup("</td><td>")
                    .link(&format!("/patient/{}/document/{}", path_segment(id.as_str()), path_segment(l.id.as_str())), &l.title)
                    .markup("</td><td>").text(&l.author).markup("</td><td>").text(&l.specialism).markup("</td></tr>");
            }
            body.markup("</tbody></table>");
            if hidden > 0 {
                body.markup("<p class=\"notice\">")
                    .display(hidden)
                    .markup(" brief(ven) van vóór ")
                    .text(&dutch_date(cutoff))
                    .markup(" worden hier niet getoond: ze staan in het oude dossier van vóór de overgang naar het huidige EPD. Heeft u ze nodig, vraag ze dan op bij ")
                    .text(&portal.settings().contact_name)
                    .markup(".</p>");
            }
        }),
        DossierSection::Diagnoses => audited_fetch!(prefetched(diagnoses, epd.diagnoses(&id, &ctx))).map(|items| {
            body.markup("<table><thead><tr><th>Diagnose</th><th>Code</th><th>Sinds</th><th>Status</th><th>Specialisme</th></tr></thead><tbody>");
            for d in &items {
                body.markup("<tr><td>").text(&d.description).markup("</td><td>")
                    .text(d.code.as_ref().map(|c| c.code.as_str()).unwrap_or("")).markup("</td><td>")
                    .text(&d.onset.map(dutch_date).unwrap_or_default()).markup("</td><td>")
                    .text(match d.status { zvp_core::DiagnosisStatus::Active => "actief", zvp_core::DiagnosisStatus::Resolved => "opgelost" })
                    .markup("</td><td>").text(&d.specialism).markup("</td></tr>");
            }
            body.markup("</tbody></table>");
        }),
        DossierSection::Medication => audited_fetch!(prefetched(medication, epd.medication(&id, &ctx))).map(|items| {
            body.markup("<table><thead><tr><th>Middel</th><th>Dosering</th><th>Toediening</th><th>Start</th><th>Stop</th><th>Voorschrijver</th></tr></thead><tbody>");
            for m in &items {
                body.markup(if m.in_use_at(now) { "<tr>" } else { "<tr class=\"muted\">" })
                    .markup("<td>").text(&m.name).markup("</td><td>").text(&m.dosage).markup("</td><td>")
                    .text(m.route.as_deref().unwrap_or("")).markup("</td><td>").text(&dutch_date(m.period.start().date_naive()))
                    .markup("</td><td>").text(&m.period.end().map(|e| dutch_date(e.date_naive())).unwrap_or_default())
                    .markup("</td><td>").text(m.prescriber.as_deref().unwrap_or("")).markup("</td></tr>");
            }
            body.markup("</tbody></table>");
        }),
    };
    if let Err(e) = failed {
        return section_failed(&portal, &caller, &patient, &permit, label, &e).await;
    }
    caller_page(&portal, &caller, label, &body)
}

/// Results of one category: values with flags and ranges, cultures, reports as text.
pub(crate) async fn results(
    State(portal): State<Portal>,
    caller: Caller,
    Path((id, slug)): Path<(String, String)>,
) -> Response {
    let Some(&(_, label, category)) = RESULTS.iter().find(|(s, _, _)| *s == slug) else {
        return super::not_found().await;
    };
    let early = prefetch(&portal, &caller, &id, move |epd, id, ctx| async move {
        epd.results(&id, category, &ctx).await
    });
    let (id, patient, permit) =
        match open(&portal, &caller, &id, RecordSection::Results(category)).await {
            Ok(opened) => opened,
            Err(page) => return page,
        };
    // The page is made while its audit record is written; it leaves only with the receipt.
    let page = async {
        let reports = prefetched(early, portal.0.epd.results(&id, category, &ctx(&caller))).await?;
        let mut body = patient_header(&portal, &caller, &patient, &permit).await;
        results_body(&mut body, &id, label, &reports);
        Ok(caller_page(&portal, &caller, label, &body))
    };
    match audited_while(
        &portal,
        &caller,
        &permit,
        &patient,
        &[(RecordSection::Results(category), None)],
        page,
    )
    .await
    {
        Ok(Ok(page)) | Err(page) => page,
        Ok(Err(e)) => section_failed(&portal, &caller, &patient, &permit, label, &e).await,
    }
}

/// The reports of one results category, after the patient header.
fn results_body(body: &mut Html, id: &PatientId, label: &str, reports: &[zvp_core::ResultReport]) {
    body.markup("<h2>").text(label).markup("</h2>");
    if reports.is_empty() {
        body.markup("<p>Geen uitslagen.</p>");
    }
    for report in reports {
        body.markup("<article><h3>")
            .text(&report.title)
            .markup(" — ")
            .text(&dutch_time(report.issued))
            .markup("</h3>");
        match &report.content {
            ReportContent::Observations(values) => {
                body.markup("<table><thead><tr><th>Bepaling</th><th>Uitslag</th><th>Eenheid</th><th>Referentie</th><th></th></tr></thead><tbody>");
                for o in values {
                    let (value, unit) = value_and_unit(&o.value);
                    body.markup("<tr><td>")
                        .link(
                            &format!(
                                "/patient/{}/lab/{}",
                                path_segment(id.as_str()),
                                path_segment(&o.code.code)
                            ),
                            &o.code.display,
                        )
                        .markup("</td><td>")
                        .text(&value)
                        .markup("</td><td>")
                        .text(unit);
                    range_and_flag(body, o);
                }
                body.markup("</tbody></table>");
            }
            ReportContent::Culture(culture) => {
                body.markup("<p>Materiaal: ")
                    .text(&culture.specimen)
                    .markup("</p>");
                for isolate in &culture.isolates {
                    body.markup("<p><strong>")
                        .text(&isolate.organism)
                        .markup("</strong> ")
                        .text(isolate.quantity.as_deref().unwrap_or(""))
                        .markup("</p>");
                    body.markup("<table><thead><tr><th>Antibioticum</th><th>MIC</th><th>Gevoeligheid</th></tr></thead><tbody>");
                    for s in &isolate.susceptibilities {
                        body.markup("<tr><td>")
                            .text(&s.antibiotic)
                            .markup("</td><td>")
                            .text(s.mic.as_deref().unwrap_or(""))
                            .markup("</td><td>")
                            .text(match s.interpretation {
                                SusceptibilityInterpretation::Susceptible => "S (gevoelig)",
                                SusceptibilityInterpretation::SusceptibleIncreasedExposure => {
                                    "I (gevoelig bij verhoogde dosering)"
                                }
                                SusceptibilityInterpretation::Resistant => "R (resistent)",
                            })
                            .markup("</td></tr>");
                    }
                    body.markup("</tbody></table>");
                }
                if let Some(conclusion) = &culture.conclusion {
                    body.markup("<p><strong>Conclusie:</strong> ")
                        .text(conclusion)
                        .markup("</p>");
                }
            }
            ReportContent::Text(text) => {
                body.markup("<pre class=\"letter\">")
                    .text(text)
                    .markup("</pre>");
            }
        }
        body.markup("</article>");
    }
}

/// A lab value as shown (`<5.0`, with the comparator) and its unit.
fn value_and_unit(value: &ObservationValue) -> (std::borrow::Cow<'_, str>, &str) {
    match value {
        ObservationValue::Quantity {
            comparator: None,
            value,
            unit,
        } => (value.as_str().into(), unit.as_str()),
        ObservationValue::Quantity {
            comparator: Some(c),
            value,
            unit,
        } => (format!("{}{value}", c.symbol()).into(), unit.as_str()),
        ObservationValue::Text(t) => (t.as_str().into(), ""),
    }
}

/// The last cells of a lab value's row: the reference range and the flag.
fn range_and_flag(body: &mut Html, o: &zvp_core::LabObservation) {
    body.markup("</td><td>")
        .text(
            &o.reference_range
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
        )
        .markup("</td><td class=\"flag\">")
        .text(flag_text(o.flag))
        .markup("</td></tr>");
}

fn flag_text(flag: Option<LabFlag>) -> &'static str {
    match flag {
        None => "",
        Some(LabFlag::Low) => "laag",
        Some(LabFlag::High) => "hoog",
        Some(LabFlag::CriticallyLow) => "kritisch laag",
        Some(LabFlag::CriticallyHigh) => "kritisch hoog",
        Some(LabFlag::Abnormal) => "afwijkend",
    }
}

/// The history of one lab test: a table and a small chart.
pub(crate) async fn lab_history(
    State(portal): State<Portal>,
    caller: Caller,
    Path((id, code)): Path<(String, String)>,
) -> Response {
    if code.is_empty()
        || code.len() > 64
        || !code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        return super::not_found().await;
    }
    let wanted = code.clone();
    let early = prefetch(&portal, &caller, &id, move |epd, id, ctx| async move {
        epd.lab_history(&id, &wanted, &ctx).await
    });
    let (id, patient, permit) = match open(
        &portal,
        &caller,
        &id,
        RecordSection::Results(ResultCategory::ClinicalChemistry),
    )
    .await
    {
        Ok(opened) => opened,
        Err(page) => return page,
    };
    let history = match audited_while(
        &portal,
        &caller,
        &permit,
        &patient,
        &[(
            RecordSection::Results(ResultCategory::ClinicalChemistry),
            Some(format!("lab:{code}")),
        )],
        prefetched(early, portal.0.epd.lab_history(&id, &code, &ctx(&caller))),
    )
    .await
    {
        Ok(Ok(history)) => history,
        Ok(Err(e)) => {
            return section_failed(&portal, &caller, &patient, &permit, "Verloop", &e).await;
        }
        Err(page) => return page,
    };
    let mut body = patient_header(&portal, &caller, &patient, &permit).await;
    let name = history
        .first()
        .map(|o| o.code.display.clone())
        .unwrap_or_else(|| code.clone());
    body.markup("<h2>Verloop: ").text(&name).markup("</h2>");
    if history.is_empty() {
        body.markup("<p>Geen uitslagen voor deze bepaling.</p>");
    } else {
        body.append(&chart::history_svg(&history));
        body.markup("<table><thead><tr><th>Datum</th><th>Uitslag</th><th>Referentie</th><th></th></tr></thead><tbody>");
        for o in history.iter().rev() {
            let (value, unit) = value_and_unit(&o.value);
            body.markup("<tr><td>")
                .text(&dutch_time(o.effective))
                .markup("</td><td>")
                .text(format!("{value} {unit}").trim_end());
            range_and_flag(&mut body, o);
        }
        body.markup("</tbody></table>");
    }
    caller_page(&portal, &caller, &name, &body)
}

/// One letter: its text, or its PDF offered for download (never before the cut-off, even by
/// URL).
pub(crate) async fn document(
    State(portal): State<Portal>,
    caller: Caller,
    Path((id, document)): Path<(String, String)>,
) -> Response {
    let (patient, permit, doc) = match read_document(&portal, &caller, &id, &document).await {
        Ok(read) => read,
        Err(page) => return page,
    };
    let mut body = patient_header(&portal, &caller, &patient, &permit).await;
    body.markup("<h2>")
        .text(&doc.title)
        .markup("</h2><p class=\"muted\">")
        .text(&dutch_date(doc.date))
        .markup(" — ")
        .text(doc.author.as_deref().unwrap_or(""))
        .markup("</p>");
    match &doc.content {
        DocumentContent::Text(text) => {
            body.markup("<pre class=\"letter\">")
                .text(text)
                .markup("</pre>");
        }
        DocumentContent::Pdf(pdf) => {
            let href = format!(
                "/patient/{}/document/{}/pdf",
                path_segment(patient.id.as_str()),
                path_segment(doc.id.as_str())
            );
            body.markup("<p>Deze brief is een PDF-bestand. Het portaal bewaart het niet: u downloadt het rechtstreeks uit het ziekenhuisdossier.</p><p><a class=\"button\" download href=\"")
                .text(&href)
                .markup("\">")
                .text(&format!(
                    "PDF downloaden ({} kB)",
                    pdf.as_bytes().len().div_ceil(1024)
                ))
                .markup("</a></p>");
        }
    }
    caller_page(&portal, &caller, &doc.title, &body)
}

/// A PDF letter, as a download. The page of a text letter has none: not found.
pub(crate) async fn document_pdf(
    State(portal): State<Portal>,
    caller: Caller,
    Path((id, document)): Path<(String, String)>,
) -> Response {
    let (_, _, doc) = match read_document(&portal, &caller, &id, &document).await {
        Ok(read) => read,
        Err(page) => return page,
    };
    let DocumentContent::Pdf(pdf) = doc.content else {
        return super::not_found().await;
    };
    let disposition = format!("attachment; filename=\"brief-{}.pdf\"", doc.id.as_str());
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/pdf".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        Vec::from(pdf),
    )
        .into_response()
}

/// A document of a patient, after Permit and a durable audit record: or the page to send
/// instead (not found, a refusal).
async fn read_document(
    portal: &Portal,
    caller: &Caller,
    id: &str,
    document: &str,
) -> Result<(Box<Patient>, Permit, Document), Response> {
    let Ok(document_id) = document.parse::<zvp_core::DocumentId>() else {
        return Err(super::not_found().await);
    };
    let wanted = document_id.clone();
    let early = prefetch(portal, caller, id, move |epd, id, ctx| async move {
        epd.document(&id, &wanted, &ctx).await
    });
    let (id, patient, permit) = open(portal, caller, id, RecordSection::Document).await?;
    let doc = match prefetched(
        early,
        portal.0.epd.document(&id, &document_id, &ctx(caller)),
    )
    .await
    {
        Ok(d) => d,
        Err(EpdError::NotFound(_)) => return Err(super::not_found().await),
        Err(e) => {
            return Err(refuse(
                portal,
                caller,
                &super::epd_failed(&caller.request_id, &e),
            ));
        }
    };
    if doc.date < portal.settings().letters_cutoff {
        return Err(super::not_found().await);
    }
    audited(
        portal,
        caller,
        &permit,
        &patient,
        RecordSection::Document,
        Some(document_id.as_str().to_owned()),
    )
    .await?;
    Ok((patient, permit, doc))
}

/// The search form: BSN and date of birth.
pub(crate) async fn search_form(State(portal): State<Portal>, caller: Caller) -> Response {
    search_page(&portal, &caller, None, "", "")
}

fn search_page(
    portal: &Portal,
    caller: &Caller,
    error: Option<&str>,
    bsn: &str,
    birth: &str,
) -> Response {
    let mut body = Html::new();
    body.markup("<h1>Patiënt zoeken</h1><p>Zoek een patiënt op BSN en geboortedatum. Is het niet uw patiënt, dan kunt u het dossier alleen via de noodprocedure inzien.</p>");
    if let Some(error) = error {
        body.markup("<p class=\"flag\" role=\"alert\">")
            .text(error)
            .markup("</p>");
    }
    body.markup("<form method=\"post\" action=\"/zoeken\"><input type=\"hidden\" name=\"csrf\" value=\"")
        .text(&caller.session.csrf)
        .markup("\"><label for=\"bsn\">BSN</label><input type=\"text\" id=\"bsn\" name=\"bsn\" inputmode=\"numeric\" maxlength=\"9\" required value=\"")
        .text(bsn)
        .markup("\"><label for=\"geboortedatum\">Geboortedatum</label><input type=\"date\" id=\"geboortedatum\" name=\"geboortedatum\" required value=\"")
        .text(birth)
        .markup("\"><br><button type=\"submit\">Zoeken</button></form>");
    caller_page(portal, caller, "Patiënt zoeken", &body)
}

/// The search form's fields.
#[derive(Debug, Deserialize)]
pub(crate) struct SearchForm {
    csrf: String,
    bsn: String,
    geboortedatum: String,
}

fn csrf_refused(portal: &Portal, caller: &Caller) -> Response {
    let mut body = Html::new();
    body.markup("<h1>Formulier verlopen</h1><p>Het formulier is verlopen of niet vanuit het portaal verstuurd. Ga terug, vernieuw de pagina en probeer het opnieuw.</p>");
    let mut response = caller_page(portal, caller, "Formulier verlopen", &body);
    *response.status_mut() = StatusCode::FORBIDDEN;
    response
}

/// A search: a permitted patient opens, another leads to the emergency procedure (never
/// straight to data).
pub(crate) async fn search(
    State(portal): State<Portal>,
    caller: Caller,
    Form(form): Form<SearchForm>,
) -> Response {
    if !caller.session.csrf_ok(&form.csrf) {
        return csrf_refused(&portal, &caller);
    }
    let bsn_text = form.bsn.trim();
    let Ok(bsn) = bsn_text.parse::<Bsn>() else {
        return search_page(
            &portal,
            &caller,
            Some("Dit is geen geldig BSN: een BSN heeft 9 cijfers en voldoet aan de elfproef."),
            bsn_text,
            &form.geboortedatum,
        );
    };
    let Ok(birth) = NaiveDate::parse_from_str(form.geboortedatum.trim(), "%Y-%m-%d") else {
        return search_page(
            &portal,
            &caller,
            Some("Vul de geboortedatum in."),
            bsn_text,
            &form.geboortedatum,
        );
    };
    let id = match portal
        .0
        .epd
        .find_by_bsn(bsn, Some(birth), &ctx(&caller))
        .await
    {
        Ok(Some(id)) => id,
        Ok(None) => {
            return search_page(
                &portal,
                &caller,
                Some("Het ziekenhuis kent geen patiënt met dit BSN en deze geboortedatum."),
                bsn_text,
                &form.geboortedatum,
            );
        }
        Err(e) => return refuse(&portal, &caller, &super::epd_failed(&caller.request_id, &e)),
    };
    match access(&portal, &caller, &id, RecordSection::PatientDetails).await {
        Access::Permitted(..) => see_other(&format!("/patient/{}", path_segment(id.as_str()))),
        Access::Emergency => emergency_form(&portal, &caller, &id, Some(&bsn.to_string()), None),
        Access::Page(page) => page,
    }
}

/// The emergency form's fields.
#[derive(Debug, Deserialize)]
pub(crate) struct EmergencyForm {
    csrf: String,
    reden: String,
    toelichting: String,
}

/// Starts the emergency procedure for a patient: the grant, its audit record, then
/// the patient page.
pub(crate) async fn emergency(
    State(portal): State<Portal>,
    caller: Caller,
    Path(id): Path<String>,
    Form(form): Form<EmergencyForm>,
) -> Response {
    if !caller.session.csrf_ok(&form.csrf) {
        return csrf_refused(&portal, &caller);
    }
    let id = match parse_id(&portal, &caller, &id) {
        Ok(id) => id,
        Err(page) => return page,
    };
    let Some(category) = ReasonCategory::ALL
        .into_iter()
        .find(|c| c.code() == form.reden)
    else {
        return emergency_form(&portal, &caller, &id, None, Some("Kies een reden."));
    };
    let patient = match portal.0.epd.patient(&id, &ctx(&caller)).await {
        Ok(p) => p,
        Err(EpdError::NotFound(_)) => return patient_not_found(&portal, &caller),
        Err(e) => return refuse(&portal, &caller, &super::epd_failed(&caller.request_id, &e)),
    };
    let Ok(world) = caller.world(&portal, Some(&patient)).await else {
        return refuse(&portal, &caller, &Refusal::Unavailable);
    };
    let now = portal.now();
    let request = policy_request(
        &caller,
        Action::RequestEmergency {
            patient: id.clone(),
        },
    );
    let grant =
        match portal
            .0
            .policy
            .grant_emergency(&world, &request, category, &form.toelichting, now)
        {
            Ok(grant) => grant,
            Err(GrantError::ReasonTooShort { found, required }) => {
                return emergency_form(
                    &portal,
                    &caller,
                    &id,
                    None,
                    Some(&format!(
                        "Geef een toelichting van minstens {required} tekens (u gaf er {found})."
                    )),
                );
            }
            Err(GrantError::NotApplicable(_)) => {
                return match portal.0.policy.decide(&world, &request, now) {
                    Decision::Permit(_) => {
                        see_other(&format!("/patient/{}", path_segment(id.as_str())))
                    }
                    Decision::Deny(reason) => refuse(&portal, &caller, &deny_refusal(reason)),
                    Decision::RequiresEmergencyProcedure => {
                        refuse(&portal, &caller, &Refusal::NotHere)
                    }
                };
            }
        };
    let reason = grant.reason.clone();
    let stored = match portal.0.directory.add_grant(grant).await {
        Ok(g) => g,
        Err(_) => return refuse(&portal, &caller, &Refusal::Unavailable),
    };
    // The start of the procedure is its own audit record, with the reason.
    let permit_world = match caller.world(&portal, Some(&patient)).await {
        Ok(w) => w,
        Err(_) => return refuse(&portal, &caller, &Refusal::Unavailable),
    };
    let Ok(view) = Action::view_patient(id.clone(), RecordSection::PatientDetails) else {
        return refuse(&portal, &caller, &Refusal::Unavailable);
    };
    let view = policy_request(&caller, view);
    let Decision::Permit(permit) = portal.0.policy.decide(&permit_world, &view, now) else {
        return refuse(&portal, &caller, &Refusal::Unavailable);
    };
    let event = Disclosure {
        permit: &permit,
        basis: permit.basis(),
        patient: &id,
        bsn: patient.bsn,
        section: RecordSection::PatientDetails,
        item: Some(format!("noodprocedure:{}", stored.id.0)),
        reason: Some(format!("{}: {reason}", category.code())),
    };
    if let Err(r) = portal
        .disclose_with_subtype(&caller, event, Subtype::EmergencyStarted)
        .await
    {
        return refuse(&portal, &caller, &r);
    }
    see_other(&format!("/patient/{}", path_segment(id.as_str())))
}

/// My delegations: whose patients I may see, and who may see mine.
pub(crate) async fn delegations(State(portal): State<Portal>, caller: Caller) -> Response {
    let now = portal.now();
    let directory = &portal.0.directory;
    let Ok(to_me) = directory.delegations_to(caller.account.uzi).await else {
        return refuse(&portal, &caller, &Refusal::Unavailable);
    };
    let from_me = match caller.account.agb {
        Some(agb) => match directory.delegations_from(agb).await {
            Ok(d) => d,
            Err(_) => return refuse(&portal, &caller, &Refusal::Unavailable),
        },
        None => Vec::new(),
    };
    let accounts = directory.accounts().await.unwrap_or_default();
    let by_agb: HashMap<AgbCode, &Account> =
        accounts.iter().filter_map(|a| Some((a.agb?, a))).collect();
    let by_uzi: HashMap<zvp_core::UziNumber, &Account> =
        accounts.iter().map(|a| (a.uzi, a)).collect();
    let state = |d: &zvp_auth::directory::Delegation| {
        if d.revoked_at.is_some_and(|r| r <= now) {
            "ingetrokken"
        } else if d.in_force(now) {
            "actief"
        } else if d.from > now {
            "toekomstig"
        } else {
            "verlopen"
        }
    };
    let period = |d: &zvp_auth::directory::Delegation| {
        format!(
            "{} – {}",
            dutch_date(d.from.date_naive()),
            d.until
                .map(|u| dutch_date(u.date_naive()))
                .unwrap_or_else(|| "onbepaald".to_owned())
        )
    };
    let mut body = Html::new();
    let mut table = |heading: &'static str,
                     column: &'static str,
                     rows: Vec<(String, &zvp_auth::directory::Delegation)>| {
        body.markup(heading)
            .markup("<table><thead><tr><th>")
            .markup(column)
            .markup("</th><th>Periode</th><th>Status</th></tr></thead><tbody>");
        for (who, d) in rows {
            body.markup("<tr><td>")
                .text(&who)
                .markup("</td><td>")
                .text(&period(d))
                .markup("</td><td>")
                .text(state(d))
                .markup("</td></tr>");
        }
        body.markup("</tbody></table>");
    };
    table(
        "<h1>Machtigingen</h1><h2>Patiënten van collega's die ik mag inzien</h2>",
        "Huisarts",
        to_me
            .iter()
            .map(|d| {
                let name = by_agb.get(&d.grantor).map_or("", |a| a.name.as_str());
                (format!("{name} (AGB {})", d.grantor), d)
            })
            .collect(),
    );
    table(
        "<h2>Collega's die mijn patiënten mogen inzien</h2>",
        "Collega",
        from_me
            .iter()
            .map(|d| {
                let name = by_uzi.get(&d.grantee).map_or("", |a| a.name.as_str());
                (format!("{name} (UZI {})", d.grantee), d)
            })
            .collect(),
    );
    body.markup("<p class=\"notice\">Een machtiging aanvragen, verlengen of intrekken? Neem contact op met ")
        .text(&portal.settings().contact_name)
        .markup(" (")
        .text(&portal.settings().contact_email)
        .markup(").</p>");
    caller_page(&portal, &caller, "Machtigingen", &body)
}

/// The terms of use.
pub(crate) async fn terms(State(portal): State<Portal>, caller: Caller) -> Response {
    let mut body = Html::new();
    body.markup("<h1>Gebruiksvoorwaarden</h1><ol>")
        .markup("<li>U gebruikt het portaal alleen voor de zorg aan uw eigen patiënten, of via een machtiging of de noodprocedure.</li>")
        .markup("<li>U deelt uw UZI-pas en pincode met niemand en meldt verlies of diefstal direct.</li>")
        .markup("<li>Elk gebruik wordt vastgelegd (NEN 7513) en periodiek gecontroleerd; inzage via de noodprocedure wordt altijd beoordeeld.</li>")
        .markup("<li>U bewaart geen gegevens uit het portaal buiten uw eigen dossiervoering.</li></ol>")
        .markup("<form method=\"post\" action=\"/voorwaarden\"><input type=\"hidden\" name=\"csrf\" value=\"")
        .text(&caller.session.csrf)
        .markup("\"><button type=\"submit\">Ik ga akkoord</button></form>");
    caller_page(&portal, &caller, "Gebruiksvoorwaarden", &body)
}

/// A form with only a CSRF token.
#[derive(Debug, Deserialize)]
pub(crate) struct CsrfForm {
    csrf: String,
}

/// Accepting the terms of use.
pub(crate) async fn accept_terms(
    State(portal): State<Portal>,
    caller: Caller,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !caller.session.csrf_ok(&form.csrf) {
        return csrf_refused(&portal, &caller);
    }
    let mut account = caller.account.clone();
    account.accepted_terms = Some(portal.settings().terms_version);
    if portal.0.directory.update_account(&account).await.is_err() {
        return refuse(&portal, &caller, &Refusal::Unavailable);
    }
    see_other("/")
}

/// The account request form, filled in from the card.
pub(crate) async fn request_form(State(portal): State<Portal>, parts: Parts) -> Response {
    request_page(&portal, &parts, None).await
}

async fn request_page(portal: &Portal, parts: &Parts, error: Option<&str>) -> Response {
    let Some(Identity(identity)) = parts.extensions.get::<Identity>().cloned() else {
        return super::not_found().await;
    };
    let Some(session) = parts.extensions.get::<super::session::Session>().cloned() else {
        return super::not_found().await;
    };
    let name = [identity.given_name(), identity.surname()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let mut body = Html::new();
    if let Some(error) = error {
        body.markup("<p class=\"flag\" role=\"alert\">")
            .text(error)
            .markup("</p>");
    }
    body.markup("<h1>Account aanvragen</h1><p>Uw gegevens zijn overgenomen van uw UZI-pas, zodat UZI-nummer en AGB-code kloppen.</p>")
        .markup("<form method=\"post\" action=\"/account/aanvragen\"><input type=\"hidden\" name=\"csrf\" value=\"")
        .text(&session.csrf)
        .markup("\"><dl><dt>Naam</dt><dd>")
        .text(&name)
        .markup("</dd><dt>UZI-nummer</dt><dd>")
        .display(identity.uzi_number())
        .markup("</dd><dt>Persoonlijke AGB-code</dt><dd>")
        .text(&identity.agb().map(|a| a.to_string()).unwrap_or_else(|| "niet op de pas".to_owned()))
        .markup("</dd><dt>Beroep</dt><dd>")
        .display(identity.role())
        .markup("</dd></dl><label for=\"praktijk_agb\">AGB-code van de praktijk (8 cijfers, optioneel)</label><input type=\"text\" id=\"praktijk_agb\" name=\"praktijk_agb\" maxlength=\"8\" inputmode=\"numeric\">")
        .markup("<label for=\"praktijk\">Naam van de praktijk</label><input type=\"text\" id=\"praktijk\" name=\"praktijk\" maxlength=\"100\" required>")
        .markup("<label for=\"email\">E-mailadres</label><input type=\"email\" id=\"email\" name=\"email\" maxlength=\"254\" required>")
        .markup("<label for=\"telefoon\">Telefoonnummer</label><input type=\"text\" id=\"telefoon\" name=\"telefoon\" maxlength=\"20\" inputmode=\"tel\" required>")
        .markup("<br><button type=\"submit\">Aanvragen</button></form>");
    html_response(
        StatusCode::OK,
        page(
            &portal.settings().hospital,
            "Account aanvragen",
            None,
            portal.now(),
            &body,
        ),
    )
}

/// The account request's fields.
#[derive(Debug, Deserialize)]
pub(crate) struct RequestForm {
    csrf: String,
    #[serde(default)]
    praktijk_agb: String,
    #[serde(default)]
    praktijk: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    telefoon: String,
}

/// The contact fields of an account request, checked: a practice name of at most 100
/// characters, an e-mail address with one `@` and a dot after it, a phone number of digits,
/// spaces, `+` and `-` (at most 20).
fn contact_of(form: &RequestForm) -> Option<zvp_auth::directory::Contact> {
    let practice = form.praktijk.trim();
    let email = form.email.trim();
    let phone = form.telefoon.trim();
    let email_ok = email.len() <= 254
        && email.split_once('@').is_some_and(|(user, host)| {
            !user.is_empty() && host.contains('.') && !host.contains('@')
        });
    let phone_ok = (6..=20).contains(&phone.len())
        && phone
            .bytes()
            .all(|b| b.is_ascii_digit() || b" +-".contains(&b));
    let practice_ok = !practice.is_empty() && practice.chars().count() <= 100;
    (email_ok && phone_ok && practice_ok).then(|| zvp_auth::directory::Contact {
        practice_name: Some(practice.to_owned()),
        email: Some(email.to_owned()),
        phone: Some(phone.to_owned()),
    })
}

/// Files an account request; the administrators' queue shows it.
pub(crate) async fn request_account(
    State(portal): State<Portal>,
    parts: Parts,
    Form(form): Form<RequestForm>,
) -> Response {
    let (Some(Identity(identity)), Some(session)) = (
        parts.extensions.get::<Identity>().cloned(),
        parts.extensions.get::<super::session::Session>().cloned(),
    ) else {
        return super::not_found().await;
    };
    if !session.csrf_ok(&form.csrf) {
        return super::not_found().await;
    }
    let practice = form.praktijk_agb.trim();
    let practice_agb = if practice.is_empty() {
        None
    } else {
        match practice.parse::<AgbCode>() {
            Ok(agb) => Some(agb),
            Err(_) => {
                return request_page(
                    &portal,
                    &parts,
                    Some("Een praktijk-AGB-code heeft 8 cijfers."),
                )
                .await;
            }
        }
    };
    let Some(contact) = contact_of(&form) else {
        return request_page(
            &portal,
            &parts,
            Some("Vul de naam van de praktijk, een geldig e-mailadres en een telefoonnummer in."),
        )
        .await;
    };
    let existing = portal.0.directory.account(identity.uzi_number()).await;
    let mut body = Html::new();
    match existing {
        Ok(Some(_)) => {
            body.markup("<h1>Er is al een account</h1><p>Voor dit UZI-nummer bestaat al een account of aanvraag.</p>");
        }
        Ok(None) => {
            let name = [identity.given_name(), identity.surname()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            let account = Account {
                uzi: identity.uzi_number(),
                agb: identity.agb(),
                name,
                role: identity.role(),
                practice_agb,
                status: AccountStatus::Requested,
                created_at: portal.now(),
                last_login: None,
                accepted_terms: None,
                admin: false,
                contact,
            };
            if portal.0.directory.create_account(&account).await.is_err() {
                return refusal_page(&portal, &Refusal::Unavailable, "account-request");
            }
            body.markup("<h1>Aanvraag ontvangen</h1><p>Het ziekenhuis beoordeelt uw aanvraag. U krijgt bericht zodra uw account is geactiveerd.</p>");
        }
        Err(_) => return refusal_page(&portal, &Refusal::Unavailable, "account-request"),
    }
    html_response(
        StatusCode::OK,
        page(
            &portal.settings().hospital,
            "Account aanvragen",
            None,
            portal.now(),
            &body,
        ),
    )
}

/// After a session ended: go on with a fresh one (the middleware made it).
pub(crate) async fn new_session() -> Response {
    see_other("/")
}

/// The grant of an emergency as the audit log writes it.
impl Portal {
    pub(crate) async fn disclose_with_subtype(
        &self,
        caller: &Caller,
        disclosure: Disclosure<'_>,
        subtype: Subtype,
    ) -> Result<zvp_audit::log::Receipt, Refusal> {
        let mut event = self.event(caller, EventType::PatientRecord, Some(&disclosure));
        event.subtype = subtype;
        event.action = ActionCode::R;
        self.0
            .audit
            .append(&event)
            .await
            .map_err(|_| Refusal::Unavailable)
    }
}
