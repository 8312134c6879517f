//! The page frame (Dutch), the style sheet, and the responses and formats every page shares.
//!
//! Pages are `maud` templates: markup is checked when the crate compiles, and every value
//! spliced into it is escaped; the one way around that, `PreEscaped`, is used nowhere in the
//! crate (a test says so; docs/architecture.md, "Templates").

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, html};

/// The style sheet, served from `/static/portal.css` (the CSP allows no inline styles).
pub(crate) const CSS: &str = include_str!("../static/portal.css");

/// Who is looking, for the page header and the print footer.
pub(crate) struct Viewer<'a> {
    pub(crate) name: &'a str,
    pub(crate) uzi: String,
    pub(crate) admin: bool,
    /// When the session ends without another request (the warning, without script;
    /// docs/architecture.md, "Sessions").
    pub(crate) idle_until: DateTime<Utc>,
    /// The session's CSRF token, for the logout button.
    pub(crate) csrf: &'a str,
    /// The unread notifications, when the portal keeps them.
    pub(crate) unread: Option<u64>,
}

/// A whole page: header with the hospital and the user, navigation, the body, and the footer
/// that marks a printout with the user and the time (docs/architecture.md, "Printing").
pub(crate) fn page(
    hospital: &str,
    title: &str,
    viewer: Option<&Viewer<'_>>,
    now: DateTime<Utc>,
    body: Markup,
) -> String {
    html! {
        (DOCTYPE)
        html lang="nl" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — Zorgverlenersportaal " (hospital) }
                link rel="stylesheet" href="/static/portal.css";
            }
            body {
                header.site {
                    div { strong { "Zorgverlenersportaal" } " " (hospital) }
                    @if let Some(v) = viewer {
                        nav aria-label="Hoofdmenu" {
                            @if v.admin {
                                a href="/beheer" { "Beheer" }
                            } @else {
                                a href="/" { "Mijn patiënten" }
                                a href="/zoeken" { "Patiënt zoeken" }
                                a href="/machtigingen" { "Machtigingen" }
                                @if let Some(n) = v.unread {
                                    a href="/meldingen" {
                                        "Meldingen " span.teller aria-label="ongelezen" { (n) }
                                    }
                                }
                                a href="/account" { "Mijn account" }
                            }
                        }
                        div {
                            (v.name) " " span.muted { "(UZI " (v.uzi) ")" }
                            br;
                            small {
                                "Zonder activiteit wordt u om "
                                (amsterdam(v.idle_until).format("%H:%M").to_string())
                                " afgemeld."
                            }
                            form.logout method="post" action="/afmelden" {
                                (csrf_field(v.csrf))
                                button type="submit" { "Afmelden" }
                            }
                        }
                    }
                }
                main #inhoud { (body) }
                footer.print {
                    "Afgedrukt "
                    @if let Some(v) = viewer { "door " (v.name) " (UZI " (v.uzi) ") " }
                    "op " (dutch_time(now)) ". Vertrouwelijk: bevat medische gegevens."
                }
            }
        }
    }
    .into_string()
}

/// A date and time as the users read them: `25-11-2026 09:00` in Dutch local time
/// (Europe/Amsterdam: UTC+1, UTC+2 in summer time).
pub(crate) fn dutch_time(t: DateTime<Utc>) -> String {
    amsterdam(t).format("%d-%m-%Y %H:%M").to_string()
}

/// A date as the users read them.
pub(crate) fn dutch_date(d: chrono::NaiveDate) -> String {
    d.format("%d-%m-%Y").to_string()
}

/// UTC to Dutch local time: summer time from the last Sunday of March 01:00 UTC to the last
/// Sunday of October 01:00 UTC (EU rule).
pub(crate) fn amsterdam(t: DateTime<Utc>) -> chrono::NaiveDateTime {
    use chrono::{Datelike, Duration, NaiveDate, Weekday};
    let last_sunday = |month: u32| {
        let mut d = NaiveDate::from_ymd_opt(t.year(), month + 1, 1)
            .unwrap_or_default()
            .pred_opt()
            .unwrap_or_default();
        while d.weekday() != Weekday::Sun {
            d = d.pred_opt().unwrap_or_default();
        }
        d.and_hms_opt(1, 0, 0).unwrap_or_default().and_utc()
    };
    let summer = t >= last_sunday(3) && t < last_sunday(10);
    (t + Duration::hours(if summer { 2 } else { 1 })).naive_utc()
}

/// A URL path segment, percent-encoded (ids from the EPD go into links this way).
pub(crate) fn path_segment(s: &str) -> String {
    /// Everything but RFC 3986's unreserved characters.
    const ESCAPED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(s, ESCAPED).to_string()
}

/// An HTML response with the page's status.
pub(crate) fn html_response(status: StatusCode, html: String) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        html,
    )
        .into_response()
}

/// A redirect after a POST (303 See Other).
pub(crate) fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// The hidden field that carries the session's CSRF token in every form.
pub(crate) fn csrf_field(csrf: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(csrf); }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn dutch_time_follows_summer_time() {
        let winter = Utc.with_ymd_and_hms(2026, 11, 25, 8, 0, 0).unwrap();
        assert_eq!(dutch_time(winter), "25-11-2026 09:00");
        let summer = Utc.with_ymd_and_hms(2026, 7, 1, 8, 0, 0).unwrap();
        assert_eq!(dutch_time(summer), "01-07-2026 10:00");
        // 2026: summer time from 29 March 01:00 UTC to 25 October 01:00 UTC.
        let before = Utc.with_ymd_and_hms(2026, 3, 29, 0, 59, 0).unwrap();
        assert_eq!(dutch_time(before), "29-03-2026 01:59");
        let after = Utc.with_ymd_and_hms(2026, 3, 29, 1, 0, 0).unwrap();
        assert_eq!(dutch_time(after), "29-03-2026 03:00");
    }

    #[test]
    fn data_in_a_page_is_escaped() {
        let body = html! { p { ("<script>alert('x') & \"y\"</script>") } };
        let page = page("Ziekenhuis <b>", "Titel", None, Utc::now(), body);
        assert!(
            page.contains("<p>&lt;script&gt;alert('x') &amp; &quot;y&quot;&lt;/script&gt;</p>")
        );
        assert!(page.contains("Ziekenhuis &lt;b&gt;"));
        assert!(!page.contains("<script>"));
    }

    /// Escaping holds only while nothing is spliced in unescaped.
    #[test]
    fn no_page_splices_text_in_unescaped() {
        fn sources(dir: &std::path::Path, found: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    sources(&path, found);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    found.push(path);
                }
            }
        }
        let mut found = Vec::new();
        sources(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut found,
        );
        assert!(found.len() > 20, "the crate's sources: {found:?}");
        let marker = ["PreEscaped", "("].concat();
        for path in found {
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(
                !text.contains(&marker),
                "{} splices unescaped text",
                path.display()
            );
        }
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(path_segment("pat-000001"), "pat-000001");
        assert_eq!(path_segment("../a b"), "..%2Fa%20b");
    }
}
