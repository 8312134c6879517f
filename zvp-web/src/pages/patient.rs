//! The patient page (details and care moments), and the header that starts every patient
//! page: the name, an emergency grant with its expiry, the treatment restrictions, the tabs.

use axum::extract::{Path, State};
use axum::response::Response;
use maud::{Markup, html};
use zvp_auth::policy::Basis;
use zvp_core::{
    Admission, CareMoment, CareMomentKind, CareMomentStatus, DossierSection, Gender, Patient,
    RecordSection,
};
use zvp_epd::EpdError;

use super::{caller_page, caller_page_with, ctx};
use crate::Portal;
use crate::access::{Opened, audited_while, open, prefetch, prefetched};
use crate::caller::Caller;
use crate::layout::{dutch_date, dutch_time, path_segment};
use crate::refusal::{epd_failed, section_failure};

/// The patient page: details and care moments.
pub(crate) async fn patient(
    State(portal): State<Portal>,
    caller: Caller,
    Path(id): Path<String>,
) -> Response {
    // The admission summary comes from the same section as the care moments: one read of
    // both, together with the patient's.
    let early = prefetch(&portal, &caller, &id, |epd, id, ctx| async move {
        let (moments, admissions) =
            tokio::join!(epd.care_moments(&id, &ctx), epd.admissions(&id, &ctx));
        Ok((moments, admissions))
    });
    let sections = [RecordSection::PatientDetails, RecordSection::CareMoments];
    let opened = match open(&portal, &caller, &id, &sections).await {
        Ok(opened) => opened,
        Err(page) => return page,
    };
    // Details and care moments: two records in one group commit, while the EPD is asked.
    let ctx = ctx(&caller);
    let epd = &portal.0.epd;
    let both = async {
        let (moments, admissions) = tokio::join!(
            epd.care_moments(&opened.id, &ctx),
            epd.admissions(&opened.id, &ctx)
        );
        Ok((moments, admissions))
    };
    let fetch = prefetched(early, both);
    let (moments, admissions) = match audited_while(&portal, &caller, &opened, None, fetch).await {
        Ok(Ok(both)) => both,
        Ok(Err(e)) => (Err(e.clone()), Err(e)),
        Err(page) => return page,
    };
    let header = patient_header(
        &portal,
        &caller,
        &opened,
        admissions.as_deref().unwrap_or_default(),
    )
    .await;
    let patient = &opened.patient;
    let body = html! {
        (header)
        (admission(&caller, admissions, portal.now()))
        h2 { "Gegevens" }
        (details(patient))
        h2 { "Zorgmomenten" }
        // Care moments the EPD did not give fail that part only: the details above stand.
        (care_moments(&caller, moments))
    };
    caller_page(&portal, &caller, &patient.name.to_string(), body)
}

fn details(patient: &Patient) -> Markup {
    html! {
        table {
            tbody {
                tr { th { "Naam" } td { (patient.name.to_string()) } }
                tr { th { "Geboortedatum" } td { (dutch_date(patient.birth_date)) } }
                tr {
                    th { "Geslacht" }
                    td {
                        (match patient.gender {
                            Gender::Female => "vrouw",
                            Gender::Male => "man",
                            Gender::Other => "anders",
                            Gender::Unknown => "onbekend",
                        })
                    }
                }
                tr {
                    th { "BSN" }
                    td { (patient.bsn.map_or_else(|| "onbekend".to_owned(), |b| b.to_string())) }
                }
                tr {
                    th { "Adres" }
                    td {
                        @if let Some(a) = &patient.address {
                            (a.street) " " (a.house_number) br; (a.postal_code) " " (a.city)
                        }
                    }
                }
                tr {
                    th { "Huisarts" }
                    td {
                        @if let Some(gp) = &patient.registered_gp {
                            (gp.name.as_deref().unwrap_or("")) " (AGB " (gp.agb.to_string()) ")"
                        }
                    }
                }
            }
        }
    }
}

/// The current or latest admission's summary; a patient never admitted has none, and an EPD
/// that does not give admissions fails this part only.
fn admission(
    caller: &Caller,
    admissions: Result<Vec<Admission>, EpdError>,
    now: chrono::DateTime<chrono::Utc>,
) -> Markup {
    match admissions {
        Ok(admissions) => match super::banner::current_or_latest(&admissions) {
            Some(a) => super::banner::admission_summary(a, now),
            None => html! { p.muted { "Geen opname in dit ziekenhuis bekend." } },
        },
        Err(EpdError::NotProvided(_)) => html! {},
        Err(e) => {
            let refusal = epd_failed(&caller.request_id, &e);
            section_failure("Opname", &refusal, caller)
        }
    }
}

fn care_moments(caller: &Caller, moments: Result<Vec<CareMoment>, EpdError>) -> Markup {
    let moments = match moments {
        Ok(moments) => moments,
        Err(e) => {
            let refusal = epd_failed(&caller.request_id, &e);
            return section_failure("Zorgmomenten", &refusal, caller);
        }
    };
    html! {
        @if moments.is_empty() {
            p.muted { "Geen zorgmomenten." }
        } @else {
            table {
                thead {
                    tr {
                        th { "Datum" }
                        th { "Soort" }
                        th { "Afdeling" }
                        th { "Omschrijving" }
                        th { "Status" }
                    }
                }
                tbody {
                    @for m in moments.iter().rev() {
                        tr {
                            td { (dutch_time(m.at)) }
                            td {
                                (match m.kind {
                                    CareMomentKind::Appointment => "Afspraak",
                                    CareMomentKind::Operation => "Operatie",
                                    CareMomentKind::Admission => "Opname",
                                    CareMomentKind::GpReferral => "Verwijzing",
                                })
                            }
                            td { (m.department) }
                            td { (m.description) }
                            td {
                                (match m.status {
                                    CareMomentStatus::Planned => "gepland",
                                    CareMomentStatus::InProgress => "lopend",
                                    CareMomentStatus::Completed => "afgerond",
                                    CareMomentStatus::Cancelled => "geannuleerd",
                                })
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The page of a section the EPD did not give: the patient header, the section's title and,
/// in its place, what went wrong (the adapter's error is logged, `epd-error`); the rest of the
/// portal's navigation stays, so the GP can go on to the other sections.
pub(crate) async fn section_failed(
    portal: &Portal,
    caller: &Caller,
    opened: &Opened,
    label: &str,
    error: &EpdError,
) -> Response {
    let refusal = epd_failed(&caller.request_id, error);
    let header = patient_header(portal, caller, opened, &[]).await;
    let body = html! {
        (header)
        h2 { (label) }
        (section_failure(label, &refusal, caller))
    };
    caller_page_with(portal, caller, refusal.status(), label, body)
}

/// The dossier's tabs: their URL part, label and section.
pub(crate) const DOSSIER: [(&str, &str, DossierSection); 5] = [
    ("allergieen", "Allergieën", DossierSection::Allergies),
    (
        "conclusies",
        "Conclusie en beleid",
        DossierSection::ConclusionAndPlan,
    ),
    ("brieven", "Brieven", DossierSection::Letters),
    ("diagnoses", "Diagnoses", DossierSection::Diagnoses),
    ("medicatie", "Medicatie", DossierSection::Medication),
];

/// The header of every patient page: who, the admission of `admissions` the banner names
/// (where the page shows and records the care moments), and — prominently — the treatment
/// restrictions and an emergency grant with its expiry.
pub(crate) async fn patient_header(
    portal: &Portal,
    caller: &Caller,
    opened: &Opened,
    admissions: &[Admission],
) -> Markup {
    let patient = &opened.patient;
    let admission = opened
        .shows(RecordSection::CareMoments)
        .then(|| super::banner::current_or_latest(admissions))
        .flatten();
    let emergency_until = match opened.basis() {
        Some(Basis::Emergency { grant, .. }) => Some(
            portal
                .0
                .directory
                .grants(caller.account.uzi, &patient.id)
                .await
                .unwrap_or_default()
                .into_iter()
                .find(|g| g.id == grant)
                .map(|g| g.expires_at),
        ),
        _ => None,
    };
    let id = path_segment(patient.id.as_str());
    html! {
        (super::banner::banner(patient, admission, portal.now()))
        @if let Some(expires) = emergency_until {
            p.emergency {
                strong { "Noodprocedure." }
                " U bekijkt dit dossier via de noodprocedure"
                @if let Some(expires) = expires { ", tot " (dutch_time(expires)) }
                ". Uw inzage wordt achteraf beoordeeld."
            }
        }
        @if !patient.treatment_restrictions.is_empty() {
            section.restriction aria-label="Behandelbeperkingen" {
                h2 { "Behandelbeperkingen" }
                ul {
                    @for r in &patient.treatment_restrictions {
                        li {
                            strong { "Niet: " (treatment_text(&r.treatment)) }
                            @if let Some(limits) = &r.limits { " — " (limits) }
                            " " span.muted { "(afgesproken " (dutch_date(r.agreed_on)) ")" }
                            @if let Some(comment) = &r.comment { br; (comment) }
                        }
                    }
                }
            }
        }
        nav.tabs aria-label="Onderdelen van het dossier" {
            a href={ "/patient/" (id) } { "Gegevens en zorgmomenten" }
            @for (slug, label, _) in DOSSIER {
                " " a href={ "/patient/" (id) "/dossier/" (slug) } { (label) }
            }
            @for (slug, label, _) in super::results::RESULTS {
                " " a href={ "/patient/" (id) "/uitslagen/" (slug) } { (label) }
            }
        }
    }
}

fn treatment_text(t: &zvp_core::RestrictedTreatment) -> &str {
    use zvp_core::RestrictedTreatment as T;
    match t {
        T::Resuscitation => "reanimeren",
        T::MechanicalVentilation => "beademen",
        T::IntensiveCareAdmission => "opnemen op de intensive care",
        T::HospitalAdmission => "opnemen in het ziekenhuis",
        T::BloodTransfusion => "bloedtransfusie",
        T::Dialysis => "dialyseren",
        T::ArtificialNutrition => "sondevoeding",
        T::Other(text) => text,
        T::Unspecified => {
            "een behandeling die het ziekenhuisdossier niet nader noemt; vraag het ziekenhuis welke"
        }
    }
}
