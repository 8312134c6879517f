//! One letter: its text, or its PDF offered for download (never before the cut-off, even by
//! URL). The download writes its own audit record.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use maud::html;
use zvp_core::{Admission, Document, DocumentContent, DocumentId, PatientId, RecordSection};
use zvp_epd::{Epd, EpdError, RequestContext};

use super::banner::with_admissions;
use super::patient::patient_header;
use super::{caller_page, ctx};
use crate::Portal;
use crate::access::{Opened, audited, open, prefetch, prefetched};
use crate::caller::Caller;
use crate::layout::{dutch_date, path_segment};
use crate::ops::not_found;
use crate::refusal::{epd_failed, refuse};

/// One letter: its text, or its PDF offered for download.
pub(crate) async fn document(
    State(portal): State<Portal>,
    caller: Caller,
    Path((id, document)): Path<(String, String)>,
) -> Response {
    let (opened, (doc, admissions)) =
        match read_document(&portal, &caller, &id, &document, true).await {
            Ok(read) => read,
            Err(page) => return page,
        };
    let header = patient_header(&portal, &caller, &opened, &admissions).await;
    let body = html! {
        (header)
        h2 { (doc.title) }
        p.muted { (dutch_date(doc.date)) " — " (doc.author.as_deref().unwrap_or("")) }
        @match &doc.content {
            DocumentContent::Text(text) => { pre.letter { (text) } }
            DocumentContent::Pdf(pdf) => {
                p {
                    "Deze brief is een PDF-bestand. Het portaal bewaart het niet: u downloadt het \
                     rechtstreeks uit het ziekenhuisdossier."
                }
                p {
                    a.button download href={
                        "/patient/" (path_segment(opened.id.as_str()))
                        "/document/" (path_segment(doc.id.as_str())) "/pdf"
                    } {
                        "PDF downloaden (" (pdf.as_bytes().len().div_ceil(1024)) " kB)"
                    }
                }
            }
        }
    };
    caller_page(&portal, &caller, &doc.title, body)
}

/// A PDF letter, as a download. The page of a text letter has none: not found.
pub(crate) async fn document_pdf(
    State(portal): State<Portal>,
    caller: Caller,
    Path((id, document)): Path<(String, String)>,
) -> Response {
    let (_, (doc, _)) = match read_document(&portal, &caller, &id, &document, false).await {
        Ok(read) => read,
        Err(page) => return page,
    };
    let DocumentContent::Pdf(pdf) = doc.content else {
        return not_found().await;
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
/// instead (not found, a refusal). With `banner`, the page shows the banner, and the
/// admissions it names are read and recorded too; a download shows none.
async fn read_document(
    portal: &Portal,
    caller: &Caller,
    id: &str,
    document: &str,
    banner: bool,
) -> Result<(Opened, (Document, Vec<Admission>)), Response> {
    let Ok(document_id) = document.parse::<DocumentId>() else {
        return Err(not_found().await);
    };
    let wanted = document_id.clone();
    let read = move |epd: Arc<dyn Epd>, id: PatientId, ctx: RequestContext| {
        let wanted = wanted.clone();
        async move {
            let admissions = async {
                if banner {
                    epd.admissions(&id, &ctx).await
                } else {
                    Ok(Vec::new())
                }
            };
            with_admissions(epd.document(&id, &wanted, &ctx), admissions).await
        }
    };
    let early = prefetch(portal, caller, id, read.clone());
    let sections: &[RecordSection] = if banner {
        &[RecordSection::Document, RecordSection::CareMoments]
    } else {
        &[RecordSection::Document]
    };
    let opened = open(portal, caller, id, sections).await?;
    let fetch = read(Arc::clone(&portal.0.epd), opened.id.clone(), ctx(caller));
    let doc = match prefetched(early, fetch).await {
        Ok(d) => d,
        Err(EpdError::NotFound(_)) => return Err(not_found().await),
        Err(e) => return Err(refuse(portal, caller, &epd_failed(&caller.request_id, &e)).await),
    };
    if doc.0.date < portal.settings().letters_cutoff {
        return Err(not_found().await);
    }
    audited(portal, caller, &opened, Some(document_id.as_str())).await?;
    Ok((opened, doc))
}
