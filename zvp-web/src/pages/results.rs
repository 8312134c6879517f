//! Results of one category (values with flags and ranges, cultures, reports as text), and
//! the history of one lab test as a table and a chart.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use maud::{Markup, html};
use zvp_core::{
    LabFlag, LabObservation, ObservationValue, PatientId, RecordSection, ReportContent,
    ResultCategory, ResultReport, SusceptibilityInterpretation,
};

use super::banner::with_admissions;
use super::patient::{patient_header, section_failed};
use super::{caller_page, ctx};
use crate::Portal;
use crate::access::{audited_while, open, prefetch, prefetched};
use crate::caller::Caller;
use crate::chart;
use crate::layout::{dutch_time, path_segment};
use crate::numbers;
use crate::ops::not_found;

/// The results' tabs: their URL part, label and category.
pub(crate) const RESULTS: [(&str, &str, ResultCategory); 6] = [
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

/// Query of a results page.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct ResultsQuery {
    /// `verslagen` for the per-report view; otherwise the cumulative view where the category
    /// has values.
    #[serde(default)]
    weergave: Option<String>,
}

/// Results of one category: values with flags and ranges (cumulative, or per report),
/// cultures, reports as text.
pub(crate) async fn results(
    State(portal): State<Portal>,
    caller: Caller,
    Path((id, slug)): Path<(String, String)>,
    Query(query): Query<ResultsQuery>,
) -> Response {
    let per_report = query.weergave.as_deref() == Some("verslagen");
    let Some(&(_, label, category)) = RESULTS.iter().find(|(s, _, _)| *s == slug) else {
        return not_found().await;
    };
    let early = prefetch(&portal, &caller, &id, move |epd, id, ctx| async move {
        with_admissions(epd.results(&id, category, &ctx), epd.admissions(&id, &ctx)).await
    });
    let sections = [RecordSection::Results(category), RecordSection::CareMoments];
    let opened = match open(&portal, &caller, &id, &sections).await {
        Ok(opened) => opened,
        Err(page) => return page,
    };
    // The page is made while its audit record is written; it leaves only with the receipt.
    let page = async {
        let ctx = ctx(&caller);
        let epd = &portal.0.epd;
        let read = with_admissions(
            epd.results(&opened.id, category, &ctx),
            epd.admissions(&opened.id, &ctx),
        );
        let (reports, admissions) = prefetched(early, read).await?;
        let header = patient_header(&portal, &caller, &opened, &admissions).await;
        let body = html! {
            (header)
            h2 { (label) }
            @if super::cumulative::has_values(&reports) {
                @let base = format!("/patient/{}/uitslagen/{slug}", path_segment(opened.id.as_str()));
                nav.views aria-label="Weergave" {
                    "Weergave: "
                    @if per_report {
                        a href=(base) { "cumulatief" } " | " strong aria-current="page" { "per verslag" }
                    } @else {
                        strong aria-current="page" { "cumulatief" } " | " a href={ (base) "?weergave=verslagen" } { "per verslag" }
                    }
                }
                @if !per_report {
                    (super::cumulative::table(opened.id.as_str(), &reports))
                }
            }
            @if per_report || !super::cumulative::has_values(&reports) {
                (results_body(&opened.id, &reports))
            }
        };
        Ok(caller_page(&portal, &caller, label, body))
    };
    match audited_while(&portal, &caller, &opened, None, page).await {
        Ok(Ok(page)) | Err(page) => page,
        Ok(Err(e)) => section_failed(&portal, &caller, &opened, label, &e).await,
    }
}

/// The reports of one results category, one by one, after the patient header.
fn results_body(id: &PatientId, reports: &[ResultReport]) -> Markup {
    let patient = path_segment(id.as_str());
    html! {
        @if reports.is_empty() {
            p.empty { "Geen uitslagen in deze categorie." }
        }
        @for report in reports {
            article {
                h3 { (report.title) }
                p.times {
                    @if let Some(sampled) = sampled_at(report) {
                        "Afgenomen: " (dutch_time(sampled)) " · "
                    }
                    "Verslag: " (dutch_time(report.issued))
                }
                @match &report.content {
                    ReportContent::Observations(values) => {
                        table {
                            thead {
                                tr {
                                    th { "Bepaling" }
                                    th { "Uitslag" }
                                    th { "Eenheid" }
                                    th { "Referentie" }
                                    th { span.sr-only { "Markering" } }
                                }
                            }
                            tbody {
                                @for o in values {
                                    @let (value, unit) = value_and_unit(&o.value);
                                    tr {
                                        td {
                                            @let code = path_segment(&o.code.code);
                                            a href={ "/patient/" (patient) "/lab/" (code) } {
                                                (o.code.display)
                                            }
                                        }
                                        td { (value) }
                                        td { (numbers::unit(unit)) }
                                        (range_and_flag(o))
                                    }
                                }
                            }
                        }
                    }
                    ReportContent::Culture(culture) => {
                        p { "Materiaal: " (culture.specimen) }
                        @for isolate in &culture.isolates {
                            p {
                                strong { (isolate.organism) } " "
                                (isolate.quantity.as_deref().unwrap_or(""))
                            }
                            table {
                                thead {
                                    tr {
                                        th { "Antibioticum" }
                                        th { "MIC" }
                                        th { "Gevoeligheid" }
                                    }
                                }
                                tbody {
                                    @for s in &isolate.susceptibilities {
                                        tr {
                                            td { (s.antibiotic) }
                                            td { (s.mic.as_deref().map(numbers::in_text).unwrap_or_default()) }
                                            td { (susceptibility_text(s.interpretation)) }
                                        }
                                    }
                                }
                            }
                        }
                        @if let Some(conclusion) = &culture.conclusion {
                            p { strong { "Conclusie:" } " " (conclusion) }
                        }
                    }
                    ReportContent::Text(text) => {
                        pre.letter { (text) }
                    }
                }
            }
        }
    }
}

fn susceptibility_text(interpretation: SusceptibilityInterpretation) -> &'static str {
    match interpretation {
        SusceptibilityInterpretation::Susceptible => "S (gevoelig)",
        SusceptibilityInterpretation::SusceptibleIncreasedExposure => {
            "I (gevoelig bij verhoogde dosering)"
        }
        SusceptibilityInterpretation::Resistant => "R (resistent)",
    }
}

/// When the material of a report was sampled: its values' earliest time, when it has values.
fn sampled_at(report: &ResultReport) -> Option<chrono::DateTime<chrono::Utc>> {
    match &report.content {
        ReportContent::Observations(values) => values.iter().map(|o| o.effective).min(),
        ReportContent::Culture(_) | ReportContent::Text(_) => None,
    }
}

/// A lab value as shown (`<5,0`, with the comparator and a decimal comma) and its unit.
fn value_and_unit(value: &ObservationValue) -> (String, &str) {
    let unit = match value {
        ObservationValue::Quantity { unit, .. } => unit.as_str(),
        ObservationValue::Text(_) => "",
    };
    (super::cumulative::value_text(value), unit)
}

/// The last cells of a lab value's row: the reference range and the flag.
fn range_and_flag(o: &LabObservation) -> Markup {
    html! {
        td { @if let Some(r) = &o.reference_range { (numbers::Range(r)) } }
        td.flag { (flag_text(o.flag)) }
    }
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
        return not_found().await;
    }
    let wanted = code.clone();
    let early = prefetch(&portal, &caller, &id, move |epd, id, ctx| async move {
        with_admissions(
            epd.lab_history(&id, &wanted, &ctx),
            epd.admissions(&id, &ctx),
        )
        .await
    });
    // A lab test's history is clinical chemistry: the permit and the record say so.
    let sections = [
        RecordSection::Results(ResultCategory::ClinicalChemistry),
        RecordSection::CareMoments,
    ];
    let opened = match open(&portal, &caller, &id, &sections).await {
        Ok(opened) => opened,
        Err(page) => return page,
    };
    let item = format!("lab:{code}");
    let ctx = ctx(&caller);
    let epd = &portal.0.epd;
    let read = with_admissions(
        epd.lab_history(&opened.id, &code, &ctx),
        epd.admissions(&opened.id, &ctx),
    );
    let (history, admissions) = match audited_while(
        &portal,
        &caller,
        &opened,
        Some(&item),
        prefetched(early, read),
    )
    .await
    {
        Ok(Ok(history)) => history,
        Ok(Err(e)) => {
            return section_failed(&portal, &caller, &opened, "Verloop", &e).await;
        }
        Err(page) => return page,
    };
    let header = patient_header(&portal, &caller, &opened, &admissions).await;
    let name = history
        .first()
        .map_or_else(|| code.clone(), |o| o.code.display.clone());
    let body = html! {
        (header)
        h2 { "Verloop: " (name) }
        @if history.is_empty() {
            p { "Geen uitslagen voor deze bepaling." }
        } @else {
            (chart::history_svg(&history))
            table {
                thead { tr { th { "Afgenomen" } th { "Uitslag" } th { "Referentie" } th { span.sr-only { "Markering" } } } }
                tbody {
                    @for o in history.iter().rev() {
                        @let (value, unit) = value_and_unit(&o.value);
                        tr {
                            td { (dutch_time(o.effective)) }
                            td { (format!("{value} {}", numbers::unit(unit)).trim_end()) }
                            (range_and_flag(o))
                        }
                    }
                }
            }
        }
    };
    caller_page(&portal, &caller, &name, body)
}
