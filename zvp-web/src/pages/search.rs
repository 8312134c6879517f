//! The search (BSN and date of birth) and the emergency procedure: a permitted patient opens,
//! another leads to the emergency form (never straight to data), whose grant is recorded with
//! its reason before the patient page opens.

use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::NaiveDate;
use maud::html;
use serde::Deserialize;
use zvp_audit::event::{Query, QueryOutcome, Subtype};
use zvp_auth::directory::ReasonCategory;
use zvp_auth::policy::{Action, Decision, GrantError};
use zvp_core::{Bsn, PatientId, RecordSection};
use zvp_epd::EpdError;

use super::{caller_page, caller_page_with, csrf_refused, ctx, patient_not_found, policy_request};
use crate::Portal;
use crate::access::{Searched, parse_id, searched};
use crate::caller::Caller;
use crate::disclosure::Disclosure;
use crate::layout::{csrf_field, path_segment, see_other};
use crate::refusal::{
    Refusal, deny_refusal, epd_failed, log_refusal, refusal_page, refuse, refuse_about,
};
use crate::trail::patient_ref;

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
    let body = html! {
        h1 { "Patiënt zoeken" }
        p {
            "Zoek een patiënt op BSN en geboortedatum. Is het niet uw patiënt, dan kunt u het \
             dossier alleen via de noodprocedure inzien."
        }
        @if let Some(error) = error { p.flag role="alert" { (error) } }
        form method="post" action="/zoeken" {
            (csrf_field(&caller.session.csrf))
            label for="bsn" { "BSN" }
            input type="text" id="bsn" name="bsn" inputmode="numeric" maxlength="9" required
                value=(bsn);
            label for="geboortedatum" { "Geboortedatum" }
            input type="date" id="geboortedatum" name="geboortedatum" required value=(birth);
            br;
            button type="submit" { "Zoeken" }
        }
    };
    caller_page(portal, caller, "Patiënt zoeken", body)
}

/// The search form's fields.
#[derive(Debug, Deserialize)]
pub(crate) struct SearchForm {
    csrf: String,
    bsn: String,
    geboortedatum: String,
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
    let birth_text = form.geboortedatum.as_str();
    let again = |error: &str| search_page(&portal, &caller, Some(error), bsn_text, birth_text);
    let bsn = bsn_text.parse::<Bsn>().ok();
    let birth = NaiveDate::parse_from_str(birth_text.trim(), "%Y-%m-%d").ok();
    let mut query = Query {
        bsn,
        birth_date: birth,
        ..Query::default()
    };
    // Every search is recorded before its answer is sent, with what it asked (the BSN is in
    // the audit record, never in a log line) and what came of it.
    let (Some(bsn), Some(birth)) = (bsn, birth) else {
        query.outcome = Some(QueryOutcome::Invalid);
        if let Err(r) = portal.record_search(&caller, query, None, None).await {
            return refusal_page(&portal, &r, &caller.request_id);
        }
        return if bsn.is_none() {
            again("Dit is geen geldig BSN: een BSN heeft 9 cijfers en voldoet aan de elfproef.")
        } else {
            again("Vul de geboortedatum in.")
        };
    };
    let found = portal
        .0
        .epd
        .find_by_bsn(bsn, Some(birth), &ctx(&caller))
        .await;
    let searched = match found {
        Ok(Some(id)) => searched(&portal, &caller, &id).await,
        Ok(None) => Searched::NotFound,
        Err(e) => Searched::Refused(epd_failed(&caller.request_id, &e), None),
    };
    let (outcome, patient, refusal) = match &searched {
        Searched::Permitted(p) => (QueryOutcome::Found, Some(p.clone()), None),
        Searched::Emergency(p) => (QueryOutcome::EmergencyOffered, Some(p.clone()), None),
        Searched::NotFound => (QueryOutcome::NotFound, None, None),
        Searched::Refused(r @ (Refusal::Epd(_) | Refusal::Unavailable), p) => {
            (QueryOutcome::Failed, p.clone(), Some(r))
        }
        Searched::Refused(r, p) => (QueryOutcome::Refused, p.clone(), Some(r)),
    };
    query.outcome = Some(outcome);
    if let Err(r) = portal.record_search(&caller, query, patient, refusal).await {
        return refusal_page(&portal, &r, &caller.request_id);
    }
    match searched {
        Searched::Permitted(p) => see_other(&format!("/patient/{}", path_segment(p.id.as_str()))),
        Searched::Emergency(p) => {
            emergency_form(&portal, &caller, &p.id, Some(&bsn.to_string()), None, None)
        }
        Searched::NotFound => {
            again("Het ziekenhuis kent geen patiënt met dit BSN en deze geboortedatum.")
        }
        // The search's record carries the refusal's code: the page is the refusal's.
        Searched::Refused(refusal, _) => {
            log_refusal(
                &caller.request_id,
                refusal.code(),
                Some(&caller.account.uzi.to_string()),
            );
            refusal_page(&portal, &refusal, &caller.request_id)
        }
    }
}

/// The emergency page for a patient the caller may not see without it: no patient data,
/// only the form.
pub(crate) fn emergency_form(
    portal: &Portal,
    caller: &Caller,
    id: &PatientId,
    bsn: Option<&str>,
    error: Option<&str>,
    kept: Option<&EmergencyForm>,
) -> Response {
    // After an error the form keeps the chosen reason and the explanation typed.
    let reason = kept.map_or("", |f| f.reden.as_str());
    let explanation = kept.map_or("", |f| f.toelichting.as_str());
    // The numbers the policy enforces, from the policy itself.
    let policy = &portal.0.policy;
    let duration = policy.emergency_duration();
    let lasts = if duration.num_minutes() % 60 == 0 {
        format!("{} uur", duration.num_hours())
    } else {
        format!("{} minuten", duration.num_minutes())
    };
    let body = html! {
        h1 { "Noodprocedure" }
        section.emergency {
            p {
                "U bent niet de huisarts van deze patiënt en heeft geen machtiging van de huisarts"
                @if let Some(bsn) = bsn { " (BSN " (bsn) ")" }
                ". Alleen als u deze patiënt nu zorg verleent, kunt u het dossier inzien via de \
                 noodprocedure. Uw reden wordt vastgelegd, de inzage geldt voor " (lasts)
                " en alleen voor deze patiënt, en wordt achteraf beoordeeld. De huisarts van de \
                 patiënt krijgt hiervan bericht."
            }
        }
        @if let Some(error) = error { p.flag role="alert" { (error) } }
        form method="post" action={ "/patient/" (path_segment(id.as_str())) "/noodprocedure" } {
            (csrf_field(&caller.session.csrf))
            label for="reden" { "Reden" }
            select #reden name="reden" required {
                @for (value, label) in EMERGENCY_REASONS {
                    option value=(value) selected[reason == value] { (label) }
                }
            }
            label for="toelichting" {
                "Toelichting (minstens " (policy.min_reason_chars()) " tekens)"
            }
            textarea #toelichting name="toelichting" rows="3" cols="60" required
                maxlength=(zvp_auth::policy::Policy::MAX_REASON_CHARS) { (explanation) }
            br;
            button type="submit" { "Dossier openen via de noodprocedure" }
        }
    };
    caller_page_with(portal, caller, StatusCode::FORBIDDEN, "Noodprocedure", body)
}

/// The emergency form's reasons: value and label.
const EMERGENCY_REASONS: [(&str, &str); 4] = [
    ("acute-care", "Acute zorg voor deze patiënt"),
    (
        "out-of-hours",
        "Huisartsenpost / avond-, nacht- en weekenddienst",
    ),
    (
        "continuity-of-care",
        "Continuïteit van zorg (patiënt staat nog niet op mijn naam)",
    ),
    ("other", "Anders"),
];

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
        return emergency_form(
            &portal,
            &caller,
            &id,
            None,
            Some("Kies een reden."),
            Some(&form),
        );
    };
    // An unknown id goes through every check a known one does, as a patient whom no GP is
    // registered for, and is told apart only where the grant would be made: probing ids costs
    // a reason per id, and every hit is a grant the hospital reviews.
    let patient = match portal.0.epd.patient(&id, &ctx(&caller)).await {
        Ok(p) => Some(p),
        Err(EpdError::NotFound(_)) => None,
        Err(e) => return refuse(&portal, &caller, &epd_failed(&caller.request_id, &e)).await,
    };
    let world = match &patient {
        Some(patient) => caller.world(&portal, Some(patient)).await,
        None => caller.world_unknown(&portal, &id).await,
    };
    let Ok(world) = world else {
        return refuse(&portal, &caller, &Refusal::Unavailable).await;
    };
    let now = portal.now();
    let request = policy_request(
        &caller,
        Action::RequestEmergency {
            patient: id.clone(),
        },
    );
    let policy = &portal.0.policy;
    let grant = match policy.grant_emergency(&world, &request, category, &form.toelichting, now) {
        Ok(grant) => grant,
        Err(GrantError::ReasonTooShort { found, required }) => {
            let error =
                format!("Geef een toelichting van minstens {required} tekens (u gaf er {found}).");
            return emergency_form(&portal, &caller, &id, None, Some(&error), Some(&form));
        }
        Err(GrantError::ReasonTooLong { found, max }) => {
            let error =
                format!("Geef een toelichting van hoogstens {max} tekens (u gaf er {found}).");
            return emergency_form(&portal, &caller, &id, None, Some(&error), Some(&form));
        }
        Err(GrantError::NotApplicable(_)) => {
            return match policy.decide(&world, &request, now) {
                Decision::Permit(_) => {
                    see_other(&format!("/patient/{}", path_segment(id.as_str())))
                }
                Decision::Deny(reason) => {
                    let about = Some(patient_ref(&id, patient.as_ref().and_then(|p| p.bsn)));
                    refuse_about(&portal, &caller, &deny_refusal(reason), about).await
                }
                Decision::RequiresEmergencyProcedure => {
                    refuse(&portal, &caller, &Refusal::NotHere).await
                }
            };
        }
        // A refusal this version does not know: no grant, and nothing shown.
        Err(_) => return refuse(&portal, &caller, &Refusal::Unavailable).await,
    };
    let Some(patient) = patient else {
        tracing::warn!(
            event = "emergency-unknown-patient",
            reference = %crate::refusal::reference(&caller.request_id),
            uzi = %caller.account.uzi
        );
        return patient_not_found(&portal, &caller);
    };
    let reason = grant.reason.clone();
    let stored = match portal.0.directory.add_grant(grant).await {
        Ok(g) => g,
        Err(_) => return refuse(&portal, &caller, &Refusal::Unavailable).await,
    };
    // The start of the procedure is its own audit record, with the reason, under the permit
    // the grant now gives for the patient's details.
    let Ok(permit_world) = caller.world(&portal, Some(&patient)).await else {
        return refuse(&portal, &caller, &Refusal::Unavailable).await;
    };
    let Ok(view) = Action::view_patient(id.clone(), RecordSection::PatientDetails) else {
        return refuse(&portal, &caller, &Refusal::NotHere).await;
    };
    let view = policy_request(&caller, view);
    let Decision::Permit(permit) = policy.decide(&permit_world, &view, now) else {
        return refuse(&portal, &caller, &Refusal::Unavailable).await;
    };
    let event = Disclosure {
        permit: &permit,
        basis: permit.basis(),
        patient: &id,
        bsn: patient.bsn,
        item: Some(format!("noodprocedure:{}", stored.id.0)),
        reason: Some(format!("{}: {reason}", category.code())),
    };
    if let Err(r) = portal
        .disclose_with_subtype(&caller, event, Subtype::EmergencyStarted)
        .await
    {
        return refuse(&portal, &caller, &r).await;
    }
    see_other(&format!("/patient/{}", path_segment(id.as_str())))
}
