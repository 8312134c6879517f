//! The origin check of every state-changing request: defence in depth behind the CSRF token
//! and the `SameSite=Strict` cookie (docs/security.md, "Origin check").
//!
//! A POST whose `Origin` (or, without it, `Referer`) names another origin than the portal's
//! own is refused, as OWASP's CSRF cheat sheet advises. The portal's own origin is
//! `https://` and the request's `Host` (or HTTP/2 authority), or the configured public URL
//! (behind a proxy that rewrites `Host`). `Origin: null` (sandboxed frames, some redirects)
//! is refused. A request with neither header is let through to the CSRF check: every browser
//! sends `Origin` on a cross-site POST, and privacy tools that strip both headers would
//! otherwise lock GPs out while stopping no attack the token does not stop.

use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use axum::response::Response;
use maud::html;

use crate::Portal;
use crate::layout::{dutch_time, html_response, page};
use crate::refusal::reference;

/// Whether the request may go on: a safe method, a same-origin POST, or one without either
/// header.
pub(crate) fn allowed(parts: &Parts, public_origin: Option<&str>) -> bool {
    if matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return true;
    }
    let headers = &parts.headers;
    let claimed = if let Some(origin) = headers.get(header::ORIGIN) {
        origin.to_str().ok().map(str::to_owned)
    } else if let Some(referer) = headers.get(header::REFERER) {
        referer.to_str().ok().and_then(origin_of)
    } else {
        return true;
    };
    let Some(claimed) = claimed.map(|c| normalise(&c)) else {
        return false;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()));
    let own = host.map(|h| normalise(&format!("https://{h}")));
    let public = public_origin.and_then(origin_of).map(|p| normalise(&p));
    own.as_deref() == Some(claimed.as_str()) || public.as_deref() == Some(claimed.as_str())
}

/// The origin (`scheme://host[:port]`) of a URL, if it has one.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    (!authority.is_empty() && !authority.contains('@')).then(|| format!("{scheme}://{authority}"))
}

/// An origin in lower case, without HTTPS's default port.
fn normalise(origin: &str) -> String {
    let lower = origin.to_ascii_lowercase();
    lower
        .strip_suffix(":443")
        .filter(|_| lower.starts_with("https://"))
        .map_or_else(|| lower.clone(), str::to_owned)
}

/// The page for a request from another origin (403).
pub(crate) fn refused_page(portal: &Portal, request_id: &str) -> Response {
    let now = portal.now();
    let body = html! {
        section.notice {
            h1 { "Verzoek geweigerd" }
            p {
                "Dit formulier is niet vanuit het portaal verstuurd en is daarom niet uitgevoerd. \
                 Open het portaal opnieuw en probeer het daar nog eens."
            }
            p { "Tijdstip: " (dutch_time(now)) }
            p { "Referentienummer: " (reference(request_id)) }
        }
    };
    html_response(
        StatusCode::FORBIDDEN,
        page(
            &portal.settings().hospital,
            "Verzoek geweigerd",
            None,
            now,
            body,
        ),
    )
}

#[cfg(test)]
mod tests {
    use axum::http::Request;

    use super::*;

    fn parts(headers: &[(&str, &str)]) -> Parts {
        let mut request = Request::post("/zoeken").header("host", "portaal.example");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(()).unwrap().into_parts().0
    }

    #[test]
    fn only_the_portals_own_origin_may_post() {
        let yes = |h: &[(&str, &str)]| allowed(&parts(h), Some("https://zvp.example:8443/"));
        assert!(yes(&[("origin", "https://portaal.example")]));
        assert!(yes(&[("origin", "https://PORTAAL.example:443")]));
        assert!(yes(&[("origin", "https://zvp.example:8443")]));
        assert!(yes(&[("referer", "https://portaal.example/zoeken?x=1")]));
        assert!(yes(&[]));
        assert!(!yes(&[("origin", "https://evil.example")]));
        assert!(!yes(&[("origin", "http://portaal.example")]));
        assert!(!yes(&[("origin", "https://portaal.example:8443")]));
        assert!(!yes(&[("origin", "null")]));
        assert!(!yes(&[("referer", "https://evil.example/portaal.example")]));
        assert!(!yes(&[(
            "referer",
            "https://portaal.example@evil.example/"
        )]));
        // The Origin decides when both are there.
        assert!(!yes(&[
            ("origin", "https://evil.example"),
            ("referer", "https://portaal.example/")
        ]));
    }
}
