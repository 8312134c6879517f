//! The dossier's sections: allergies, conclusion and plan, letters (from the hospital's
//! cut-off on), diagnoses and medication.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use chrono::NaiveDate;
use maud::{Markup, html};
use zvp_core::{
    Admission, Allergy, AllergySeverity, ConclusionAndPlan, Diagnosis, DiagnosisStatus,
    DossierSection, Letter, PatientId, RecordSection,
};
use zvp_epd::{Epd, EpdError, RequestContext};

use super::banner::with_admissions;
use super::patient::{DOSSIER, patient_header, section_failed};
use super::{caller_page, ctx};
use crate::Portal;
use crate::access::{audited_while, open, prefetch, prefetched};
use crate::caller::Caller;
use crate::layout::{dutch_date, dutch_time, path_segment};
use crate::ops::not_found;

/// A dossier section, with the letters' cut-off.
pub(crate) async fn dossier(
    State(portal): State<Portal>,
    caller: Caller,
    Path((id, slug)): Path<(String, String)>,
) -> Response {
    let Some(&(_, label, section)) = DOSSIER.iter().find(|(s, _, _)| *s == slug) else {
        return not_found().await;
    };
    let page = Section {
        portal: &portal,
        caller: &caller,
        id: &id,
        section,
        label,
    };
    let now = portal.now();
    match section {
        DossierSection::Allergies => {
            page.show(
                |e, i, c| async move { e.allergies(&i, &c).await },
                |items, _, _| allergies(&items),
            )
            .await
        }
        DossierSection::ConclusionAndPlan => {
            page.show(
                |e, i, c| async move { e.conclusions(&i, &c).await },
                |items, _, _| conclusions(&items),
            )
            .await
        }
        DossierSection::Letters => {
            let settings = portal.settings();
            let (cutoff, contact) = (settings.letters_cutoff, settings.contact_name.as_str());
            page.show(
                |e, i, c| async move { e.letters(&i, &c).await },
                |items, id, _| letters(items, id, cutoff, contact),
            )
            .await
        }
        DossierSection::Diagnoses => {
            page.show(
                |e, i, c| async move { e.diagnoses(&i, &c).await },
                |items, _, _| diagnoses(&items),
            )
            .await
        }
        DossierSection::Medication => {
            // What changed is told against the admission the banner names.
            page.show(
                |e, i, c| async move { e.medication(&i, &c).await },
                |items, _, admissions| {
                    let admission = super::banner::current_or_latest(admissions);
                    super::medication::page(&items, admission, now)
                },
            )
            .await
        }
    }
}

/// One dossier section's page, before it is read.
struct Section<'a> {
    portal: &'a Portal,
    caller: &'a Caller,
    id: &'a str,
    section: DossierSection,
    label: &'static str,
}

impl Section<'_> {
    /// Reads the section with `read` and the admissions the banner names (started together
    /// with the patient's read, see `Prefetch`), writes their records meanwhile, and shows
    /// the section with `render`.
    async fn show<T, F, Fut>(
        self,
        read: F,
        render: impl FnOnce(T, &PatientId, &[Admission]) -> Markup,
    ) -> Response
    where
        T: Send + 'static,
        F: Fn(Arc<dyn Epd>, PatientId, RequestContext) -> Fut + Clone,
        Fut: Future<Output = Result<T, EpdError>> + Send + 'static,
    {
        let Self {
            portal,
            caller,
            id,
            section,
            label,
        } = self;
        let both = move |e: Arc<dyn Epd>, i: PatientId, c: RequestContext| {
            let section = read(Arc::clone(&e), i.clone(), c.clone());
            async move { with_admissions(section, e.admissions(&i, &c)).await }
        };
        let early = prefetch(portal, caller, id, both.clone());
        let sections = [RecordSection::Dossier(section), RecordSection::CareMoments];
        let opened = match open(portal, caller, id, &sections).await {
            Ok(opened) => opened,
            Err(page) => return page,
        };
        let fetch = prefetched(
            early,
            both(Arc::clone(&portal.0.epd), opened.id.clone(), ctx(caller)),
        );
        match audited_while(portal, caller, &opened, None, fetch).await {
            Err(page) => page,
            Ok(Err(e)) => section_failed(portal, caller, &opened, label, &e).await,
            Ok(Ok((items, admissions))) => {
                let header = patient_header(portal, caller, &opened, &admissions).await;
                let rendered = render(items, &opened.id, &admissions);
                let body = html! { (header) h2 { (label) } (rendered) };
                caller_page(portal, caller, label, body)
            }
        }
    }
}

fn allergies(items: &[Allergy]) -> Markup {
    html! {
        @if items.is_empty() {
            p { "Geen allergieën bekend." }
        } @else {
            table {
                thead { tr { th { "Stof" } th { "Reactie" } th { "Ernst" } th { "Vastgelegd" } } }
                tbody {
                    @for a in items {
                        tr {
                            td { (a.substance) }
                            td { (a.reaction.as_deref().unwrap_or("")) }
                            td {
                                (match a.severity {
                                    Some(AllergySeverity::Severe) => "ernstig",
                                    Some(AllergySeverity::Moderate) => "matig",
                                    Some(AllergySeverity::Mild) => "licht",
                                    None => "",
                                })
                            }
                            td { (dutch_time(a.recorded_at)) }
                        }
                    }
                }
            }
        }
    }
}

fn conclusions(items: &[ConclusionAndPlan]) -> Markup {
    html! {
        @for c in items {
            article {
                h3 { (c.specialism) " — " (dutch_time(c.at)) }
                p.muted { (c.author) }
                p { strong { "Conclusie:" } " " (c.conclusion) }
                p { strong { "Beleid:" } " " (c.plan) }
            }
        }
        @if items.is_empty() {
            p { "Geen conclusies." }
        }
    }
}

fn letters(mut items: Vec<Letter>, id: &PatientId, cutoff: NaiveDate, contact: &str) -> Markup {
    let hidden = items.iter().filter(|l| l.date < cutoff).count();
    items.retain(|l| l.date >= cutoff);
    items.sort_by_key(|l| std::cmp::Reverse(l.date));
    let patient = path_segment(id.as_str());
    html! {
        @if items.is_empty() {
            p.muted.empty { "Geen brieven." }
        } @else {
        table {
            thead { tr { th { "Datum" } th { "Brief" } th { "Afzender" } th { "Specialisme" } } }
            tbody {
                @for l in &items {
                    tr {
                        td { (dutch_date(l.date)) }
                        td {
                            @let letter = path_segment(l.id.as_str());
                            a href={ "/patient/" (patient) "/document/" (letter) } {
                                (l.title)
                            }
                            @if let (true, Some(period)) = (l.discharge, l.admission) {
                                br; span.muted {
                                    "bij de opname van " (dutch_date(period.start().date_naive()))
                                    @if let Some(end) = period.end() { " tot " (dutch_date(end.date_naive())) }
                                }
                            }
                        }
                        td { (l.author) }
                        td { (l.specialism) }
                    }
                }
            }
        }
        }
        @if hidden > 0 {
            p.notice {
                (hidden) " brief(ven) van vóór " (dutch_date(cutoff))
                " worden hier niet getoond: ze staan in het oude dossier van vóór de overgang naar \
                 het huidige EPD. Heeft u ze nodig, vraag ze dan op bij " (contact) "."
            }
        }
    }
}

fn diagnoses(items: &[Diagnosis]) -> Markup {
    if items.is_empty() {
        return html! { p.muted.empty { "Geen diagnoses." } };
    }
    html! {
        table {
            thead {
                tr {
                    th { "Diagnose" }
                    th { "Code" }
                    th { "Sinds" }
                    th { "Status" }
                    th { "Specialisme" }
                }
            }
            tbody {
                @for d in items {
                    tr {
                        td { (d.description) }
                        td { (d.code.as_ref().map_or("", |c| c.code.as_str())) }
                        td { (d.onset.map(dutch_date).unwrap_or_default()) }
                        td {
                            (match d.status {
                                DiagnosisStatus::Active => "actief",
                                DiagnosisStatus::Resolved => "opgelost",
                            })
                        }
                        td { (d.specialism) }
                    }
                }
            }
        }
    }
}
