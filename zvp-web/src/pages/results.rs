//! Results of one category (values with flags and ranges, cultures, reports as text), and
//! the history of one lab test as a table and a chart.

use axum::extract::{Path, State};
use axum::response::Response;
use maud::{Markup, html};
use zvp_core::{
    LabFlag, LabObservation, ObservationValue, PatientId, RecordSection, ReportContent,
    ResultCategory, ResultReport, SusceptibilityInterpretation,
};

use super::patient::{patient_header, section_failed};
use super::{caller_page, ctx};
use crate::Portal;
use crate::access::{audited_while, open, prefetch, prefetched};
use crate::caller::Caller;
use crate::chart;
use crate::layout::{dutch_time, path_segment};
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

/// Results of one category: values with flags and ranges, cultures, reports as text.
pub(crate) async fn results(
    State(portal): State<Portal>,
    caller: Caller,
    Path((id, slug)): Path<(String, String)>,
) -> Response {
    let Some(&(_, label, category)) = RESULTS.iter().find(|(s, _, _)| *s == slug) else {
        return not_found().await;
    };
    let early = prefetch(&portal, &caller, &id, move |epd, id, ctx| async move {
        epd.results(&id, category, &ctx).await
    });
    let section = RecordSection::Results(category);
    let opened = match open(&portal, &caller, &id, &[section]).await {
        Ok(opened) => opened,
        Err(page) => return page,
    };
    // The page is made while its audit record is written; it leaves only with the receipt.
    let page = async {
        let ctx = ctx(&caller);
        let read = portal.0.epd.results(&opened.id, category, &ctx);
        let reports = prefetched(early, read).await?;
        let header = patient_header(&portal, &caller, &opened).await;
        let body = html! { (header) (results_body(&opened.id, label, &reports)) };
        Ok(caller_page(&portal, &caller, label, body))
    };
    match audited_while(&portal, &caller, &opened, None, page).await {
        Ok(Ok(page)) | Err(page) => page,
        Ok(Err(e)) => section_failed(&portal, &caller, &opened, label, &e).await,
    }
}

/// The reports of one results category, after the patient header.
fn results_body(id: &PatientId, label: &str, reports: &[ResultReport]) -> Markup {
    let patient = path_segment(id.as_str());
    html! {
        h2 { (label) }
        @if reports.is_empty() {
            p { "Geen uitslagen." }
        }
        @for report in reports {
            article {
                h3 { (report.title) " — " (dutch_time(report.issued)) }
                @match &report.content {
                    ReportContent::Observations(values) => {
                        table {
                            thead {
                                tr {
                                    th { "Bepaling" }
                                    th { "Uitslag" }
                                    th { "Eenheid" }
                                    th { "Referentie" }
                                    th {}
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
                                        td { (unit) }
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
                                            td { (s.mic.as_deref().unwrap_or("")) }
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
fn range_and_flag(o: &LabObservation) -> Markup {
    html! {
        td { (o.reference_range.as_ref().map(ToString::to_string).unwrap_or_default()) }
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
        epd.lab_history(&id, &wanted, &ctx).await
    });
    // A lab test's history is clinical chemistry: the permit and the record say so.
    let section = RecordSection::Results(ResultCategory::ClinicalChemistry);
    let opened = match open(&portal, &caller, &id, &[section]).await {
        Ok(opened) => opened,
        Err(page) => return page,
    };
    let item = format!("lab:{code}");
    let ctx = ctx(&caller);
    let read = portal.0.epd.lab_history(&opened.id, &code, &ctx);
    let history = match audited_while(
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
    let header = patient_header(&portal, &caller, &opened).await;
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
                thead { tr { th { "Datum" } th { "Uitslag" } th { "Referentie" } th {} } }
                tbody {
                    @for o in history.iter().rev() {
                        @let (value, unit) = value_and_unit(&o.value);
                        tr {
                            td { (dutch_time(o.effective)) }
                            td { (format!("{value} {unit}").trim_end()) }
                            (range_and_flag(o))
                        }
                    }
                }
            }
        }
    };
    caller_page(&portal, &caller, &name, body)
}
