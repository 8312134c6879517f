//! Operations: the style sheet, the not-found page, the admin listener's health check and
//! metrics, and the security headers on every response.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use maud::html;
use zvp_epd::RequestContext;

use crate::Portal;
use crate::layout::{self, html_response, page};

/// The largest request body: forms are small (the emergency reason is the longest field).
pub(crate) const MAX_BODY_BYTES: usize = 16 * 1024;

pub(crate) async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        layout::CSS,
    )
        .into_response()
}

/// The page for an address that is no page of the portal.
pub(crate) async fn not_found() -> Response {
    let body = html! {
        h1 { "Pagina niet gevonden" }
        p { a href="/" { "Naar de startpagina" } }
    };
    html_response(
        StatusCode::NOT_FOUND,
        page("", "Niet gevonden", None, Utc::now(), body),
    )
}

/// The longest the health check waits for the EPD: load balancers probe with short timeouts.
const HEALTH_EPD_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Liveness and the state of what the pages need, one line each, under a verdict:
/// `ok`; `degraded` (200) when the EPD does not answer, so pages say "tijdelijk niet
/// beschikbaar" but logins, administration and the audit log work, and taking the instance
/// out of a load balancer would not help; `failing` (503) when the audit log refuses or
/// cannot be read, so no page with patient data can be served by this instance.
pub(crate) async fn healthz(State(portal): State<Portal>) -> Response {
    let audit = if let Some(why) = portal.0.audit.refusing() {
        Err(format!("refuses appends ({why})"))
    } else {
        match portal.0.audit.size().await {
            Ok(records) => Ok(format!("ok, {records} records")),
            Err(e) => Err(format!("unavailable ({e})")),
        }
    };
    let ctx = RequestContext {
        request_id: "healthz".to_owned(),
    };
    let epd = match tokio::time::timeout(HEALTH_EPD_WAIT, portal.0.epd.check(&ctx)).await {
        Ok(Ok(())) => Ok("ok".to_owned()),
        Ok(Err(e)) => Err(format!("unreachable ({e})")),
        Err(_) => Err(format!(
            "unreachable (no answer within {} s)",
            HEALTH_EPD_WAIT.as_secs()
        )),
    };
    let (status, verdict) = match (&audit, &epd) {
        (Err(_), _) => (StatusCode::SERVICE_UNAVAILABLE, "failing"),
        (Ok(_), Err(_)) => (StatusCode::OK, "degraded"),
        (Ok(_), Ok(_)) => (StatusCode::OK, "ok"),
    };
    let line = |r: &Result<String, String>| match r {
        Ok(s) | Err(s) => s.clone(),
    };
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!(
            "{verdict}\naudit log: {}\nepd: {}\n",
            line(&audit),
            line(&epd)
        ),
    )
        .into_response()
}

/// The admin listener's metrics, in Prometheus's text format.
pub(crate) async fn metrics(State(portal): State<Portal>) -> Response {
    let records = portal.0.audit.size().await.unwrap_or(0);
    let sessions = portal.0.sessions.count().await.unwrap_or(0);
    let refusing = u8::from(portal.0.audit.refusing().is_some());
    let mut text = String::new();
    gauge(
        &mut text,
        "zvp_audit_records",
        "Records in the audit log.",
        records,
    );
    gauge(
        &mut text,
        "zvp_audit_refusing",
        "1 when the audit log refuses every append (found damaged, or its writer stopped).",
        refusing,
    );
    gauge(&mut text, "zvp_sessions", "Open sessions.", sessions);
    if let Some(throttle) = &portal.0.throttle {
        counter(
            &mut text,
            "zvp_card_requests_throttled_total",
            "Requests answered 429 because their card exceeded its rate.",
            throttle.throttled(),
        );
    }
    let last = portal.0.last_checkpoint.lock().ok().and_then(|l| *l);
    if let Some((size, at)) = last {
        gauge(
            &mut text,
            "zvp_audit_checkpoint_records",
            "Records covered by the last checkpoint this instance signed.",
            size,
        );
        gauge(
            &mut text,
            "zvp_audit_checkpoint_timestamp_seconds",
            "When this instance last signed a checkpoint (Unix time).",
            at.timestamp(),
        );
    }
    let crls = portal.0.crls.lock().map(|c| c.clone()).unwrap_or_default();
    if !crls.is_empty() {
        let next: Vec<_> = crls
            .iter()
            .filter_map(|c| c.next_update.map(|at| (c.issuer.as_str(), at.timestamp())))
            .collect();
        labelled(
            &mut text,
            "zvp_crl_next_update_seconds",
            "The nextUpdate of each CRL in use (Unix time); past it, its cards cannot log in.",
            &next,
        );
        let warning: Vec<_> = crls
            .iter()
            .map(|c| (c.issuer.as_str(), u8::from(c.warning)))
            .collect();
        labelled(
            &mut text,
            "zvp_crl_warning",
            "1 when a CRL in use is near its nextUpdate and no fresher one could be had.",
            &warning,
        );
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// One gauge with a value per issuer.
fn labelled(text: &mut String, name: &str, help: &str, values: &[(&str, impl std::fmt::Display)]) {
    text.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
    for (issuer, value) in values {
        // The label escapes of Prometheus's text format.
        let issuer = issuer
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n");
        text.push_str(&format!("{name}{{issuer=\"{issuer}\"}} {value}\n"));
    }
}

/// One gauge: its help, its type and its value.
fn gauge(text: &mut String, name: &str, help: &str, value: impl std::fmt::Display) {
    text.push_str(&format!(
        "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n"
    ));
}

/// One counter, in Prometheus's text format.
fn counter(text: &mut String, name: &str, help: &str, value: u64) {
    text.push_str(&format!(
        "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}\n"
    ));
}

/// Headers on every response: a Content-Security-Policy without inline scripts, HSTS, no
/// framing, no referrer, and `no-store` on everything but the style sheet.
pub(crate) async fn security_headers(request: Request, next: Next) -> Response {
    let cacheable = request.uri().path().starts_with("/static/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    // The names as `http`'s constants: a name given as text is parsed on every insert.
    let set = |headers: &mut HeaderMap, name: HeaderName, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(
        headers,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'",
    );
    set(
        headers,
        header::STRICT_TRANSPORT_SECURITY,
        "max-age=31536000; includeSubDomains",
    );
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    // Same-origin, not no-referrer: under no-referrer a browser sends `Origin: null` on the
    // portal's own POSTs, which the origin check must refuse; same-origin still sends nothing
    // (no URL with a patient id) to any other site.
    set(headers, header::REFERRER_POLICY, "same-origin");
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    if !cacheable {
        set(headers, header::CACHE_CONTROL, "no-store");
    }
    response
}
