//! Oversized answers ([`Faults::padding_bytes`]): every JSON object the server answers with
//! `200` carries a member `_padding` of that many bytes, which a FHIR reader ignores. An EPD
//! whose answers are far larger than the record, for the portal's answer budgets.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::{Faults, MockEpd};

/// `response`, padded when the faults say so.
pub(crate) async fn pad(State(state): State<Arc<MockEpd>>, response: Response) -> Response {
    let Faults { padding_bytes, .. } = state.faults();
    if padding_bytes == 0 || response.status() != StatusCode::OK {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(body) = axum::body::to_bytes(body, usize::MAX).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let Some(rest) = body.strip_prefix(b"{") else {
        return Response::from_parts(parts, Body::from(body));
    };
    let mut padded = Vec::with_capacity(body.len() + padding_bytes + 16);
    padded.extend_from_slice(br#"{"_padding":""#);
    padded.resize(padded.len() + padding_bytes, b' ');
    padded.push(b'"');
    if !rest.trim_ascii_start().starts_with(b"}") {
        padded.push(b',');
    }
    padded.extend_from_slice(rest);
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(padded))
}
