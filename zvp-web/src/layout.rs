//! The page frame (Dutch), the style sheet, and the responses every page shares.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};

use super::html::Html;

/// The style sheet, served from `/static/portal.css` (the CSP allows no inline styles).
pub(crate) const CSS: &str = r#"
:root { --accent: #00557f; --warn: #a4000f; --muted: #5a5a5a; }
* { box-sizing: border-box; }
body { font-family: system-ui, sans-serif; margin: 0; color: #1a1a1a; line-height: 1.45; }
header.site { background: var(--accent); color: #fff; padding: .6rem 1.2rem; display: flex;
  justify-content: space-between; align-items: center; flex-wrap: wrap; gap: .5rem; }
header.site a { color: #fff; }
header.site .muted { color: #d6e6ef; }
header.site nav a { margin-right: 1rem; }
main { padding: 1rem 1.2rem; max-width: 72rem; }
h1 { font-size: 1.5rem; margin-top: .5rem; }
h2 { font-size: 1.2rem; margin-top: 1.5rem; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #ddd; vertical-align: top; }
th { background: #f0f4f7; }
.restriction { border: 3px solid var(--warn); background: #fff1f1; padding: .6rem 1rem; margin: 1rem 0; }
.restriction h2 { color: var(--warn); border: 0; margin-top: 0; }
.notice { border-left: 4px solid var(--accent); background: #eef5f9; padding: .5rem 1rem; margin: 1rem 0; }
.emergency { border-left: 4px solid var(--warn); background: #fff6e5; padding: .5rem 1rem; margin: 1rem 0; }
.refusal { border: 2px solid var(--warn); padding: 1rem; max-width: 48rem; }
.muted { color: var(--muted); }
.flag { font-weight: bold; color: var(--warn); }
.tabs a { margin-right: .8rem; }
form.inline { display: inline; }
label { display: block; margin-top: .6rem; }
input[type=text], input[type=date], input[type=email], select, textarea { font: inherit; padding: .3rem; min-width: 18rem; }
td input[type=text] { min-width: 0; }
button { font: inherit; padding: .35rem .9rem; margin-top: .6rem; }
pre.letter { white-space: pre-wrap; font-family: inherit; background: #fafafa; padding: 1rem; border: 1px solid #ddd; }
footer.print { display: none; }
@media print {
  header.site nav, form, .tabs, button { display: none; }
  footer.print { display: block; border-top: 1px solid #000; margin-top: 2rem; font-size: .85rem; }
  a { color: inherit; text-decoration: none; }
}
"#;

/// Who is looking, for the page header and the print footer.
pub(crate) struct Viewer<'a> {
    pub(crate) name: &'a str,
    pub(crate) uzi: String,
    pub(crate) admin: bool,
    /// When the session ends without another request (the warning, without script; docs/architecture.md, "Sessions").
    pub(crate) idle_until: DateTime<Utc>,
}

/// A whole page: header with the hospital and the user, navigation, the body, and the footer
/// that marks a printout with the user and the time (docs/architecture.md, "Printing").
pub(crate) fn page(
    hospital: &str,
    title: &str,
    viewer: Option<&Viewer<'_>>,
    now: DateTime<Utc>,
    body: &Html,
) -> String {
    let mut h = Html::with_capacity(body.len() + 2048);
    h.markup("<!DOCTYPE html>\n<html lang=\"nl\"><head><meta charset=\"utf-8\">")
        .markup("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
        .markup("<title>")
        .text(title)
        .markup(" — Zorgverlenersportaal ")
        .text(hospital)
        .markup("</title><link rel=\"stylesheet\" href=\"/static/portal.css\"></head><body>")
        .markup("<header class=\"site\"><div><strong>Zorgverlenersportaal</strong> ")
        .text(hospital)
        .markup("</div>");
    if let Some(v) = viewer {
        h.markup("<nav aria-label=\"Hoofdmenu\">");
        if v.admin {
            h.markup("<a href=\"/beheer\">Beheer</a>");
        } else {
            h.markup("<a href=\"/\">Mijn patiënten</a><a href=\"/zoeken\">Patiënt zoeken</a>")
                .markup("<a href=\"/machtigingen\">Machtigingen</a>");
        }
        h.markup("</nav><div>")
            .text(v.name)
            .markup(" <span class=\"muted\">(UZI ")
            .text(&v.uzi)
            .markup(")</span><br><small>Zonder activiteit wordt u om ")
            .text(&amsterdam(v.idle_until).format("%H:%M").to_string())
            .markup(" afgemeld.</small></div>");
    }
    h.markup("</header><main id=\"inhoud\">")
        .append(body)
        .markup("</main><footer class=\"print\">Afgedrukt ");
    if let Some(v) = viewer {
        h.markup("door ")
            .text(v.name)
            .markup(" (UZI ")
            .text(&v.uzi)
            .markup(") ");
    }
    h.markup("op ")
        .text(&dutch_time(now))
        .markup(". Vertrouwelijk: bevat medische gegevens.</footer></body></html>");
    h.into_string()
}

/// A date and time as the users read them: `25-11-2026 09:00` in Dutch local time
/// (Europe/Amsterdam: UTC+1, UTC+2 in summer time).
pub(crate) fn dutch_time(t: DateTime<Utc>) -> String {
    use chrono::{Datelike as _, Timelike as _};
    let local = amsterdam(t);
    format!(
        "{:02}-{:02}-{:04} {:02}:{:02}",
        local.day(),
        local.month(),
        local.year(),
        local.hour(),
        local.minute()
    )
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
}
