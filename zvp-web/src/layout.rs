//! The page frame (Dutch), the style sheet, and the responses and formats every page shares.
//!
//! Pages are `maud` templates: markup is checked when the crate compiles, and every value
//! spliced into it is escaped; the one way around that, `PreEscaped`, is used nowhere in the
//! crate (a test says so; docs/architecture.md, "Templates").

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::fmt::Write as _;

use chrono::{DateTime, Datelike as _, Duration, NaiveDate, NaiveDateTime, Timelike as _, Utc};
use maud::{DOCTYPE, Markup, Render, html};

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
                                (DutchClock(amsterdam(v.idle_until)))
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
    let mut out = String::with_capacity(16);
    DutchTime(t).render_to(&mut out);
    out
}

/// A date as the users read them.
pub(crate) fn dutch_date(d: NaiveDate) -> String {
    let mut out = String::with_capacity(10);
    DutchDate(d).render_to(&mut out);
    out
}

/// [`dutch_time`] written straight into a page: the start page's lists show one or two on
/// every row, and chrono's `format` parses its pattern and goes through `fmt` on each call.
/// Writes only digits, `-`, ` ` and `:`, which need no escaping.
pub(crate) struct DutchTime(pub(crate) DateTime<Utc>);

impl Render for DutchTime {
    fn render_to(&self, out: &mut String) {
        let local = amsterdam(self.0);
        DutchDate(local.date()).render_to(out);
        out.push(' ');
        DutchClock(local).render_to(out);
    }
}

/// The hour and minute of a Dutch local time (`09:00`), as [`DutchTime`] writes them: for the
/// cumulative table's column heads, whose date and time stand on two lines.
pub(crate) struct DutchClock(pub(crate) NaiveDateTime);

impl Render for DutchClock {
    fn render_to(&self, out: &mut String) {
        two_digits(out, self.0.hour());
        out.push(':');
        two_digits(out, self.0.minute());
    }
}

/// [`dutch_date`] written straight into a page, like [`DutchTime`].
pub(crate) struct DutchDate(pub(crate) NaiveDate);

impl Render for DutchDate {
    fn render_to(&self, out: &mut String) {
        let d = self.0;
        two_digits(out, d.day());
        out.push('-');
        two_digits(out, d.month());
        out.push('-');
        match u32::try_from(d.year()) {
            Ok(year) if year < 10_000 => {
                two_digits(out, year / 100);
                two_digits(out, year % 100);
            }
            // Years chrono writes with a sign or a fifth digit: its own way.
            _ => {
                let _ = write!(out, "{}", d.format("%Y"));
            }
        }
    }
}

/// `n`'s last two decimal digits.
fn two_digits(out: &mut String, n: u32) {
    for digit in [n / 10 % 10, n % 10] {
        out.push(char::from_digit(digit, 10).unwrap_or('0'));
    }
}

/// UTC to Dutch local time: summer time from the last Sunday of March 01:00 UTC to the last
/// Sunday of October 01:00 UTC (EU rule).
pub(crate) fn amsterdam(t: DateTime<Utc>) -> NaiveDateTime {
    // March and October both have 31 days: their last Sunday is the 31st less its weekday.
    let last_sunday = |month: u32| {
        let last = NaiveDate::from_ymd_opt(t.year(), month, 31).unwrap_or_default();
        let back = Duration::days(i64::from(last.weekday().num_days_from_sunday()));
        (last - back)
            .and_hms_opt(1, 0, 0)
            .unwrap_or_default()
            .and_utc()
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

    /// The EU rule as it was first written here, day by day back from the month's end: the
    /// oracle of the arithmetic one.
    fn amsterdam_day_by_day(t: DateTime<Utc>) -> NaiveDateTime {
        use chrono::Weekday;
        let last_sunday = |month: u32| {
            let mut d = NaiveDate::from_ymd_opt(t.year(), month + 1, 1)
                .unwrap()
                .pred_opt()
                .unwrap();
            while d.weekday() != Weekday::Sun {
                d = d.pred_opt().unwrap();
            }
            d.and_hms_opt(1, 0, 0).unwrap().and_utc()
        };
        let summer = t >= last_sunday(3) && t < last_sunday(10);
        (t + Duration::hours(if summer { 2 } else { 1 })).naive_utc()
    }

    proptest::proptest! {
        /// Written by hand, the times read as chrono's `format` writes them, in every
        /// minute of 1900–2199 (both summer-time changes of each year included).
        #[test]
        fn dutch_times_are_chronos_format(minutes in 0i64..(300 * 366 * 24 * 60)) {
            let t = Utc.with_ymd_and_hms(1900, 1, 1, 0, 0, 0).unwrap()
                + Duration::minutes(minutes);
            let local = amsterdam_day_by_day(t);
            proptest::prop_assert_eq!(amsterdam(t), local);
            proptest::prop_assert_eq!(dutch_time(t), local.format("%d-%m-%Y %H:%M").to_string());
            proptest::prop_assert_eq!(dutch_date(local.date()), local.format("%d-%m-%Y").to_string());
        }
    }

    #[test]
    fn summer_time_starts_and_ends_on_the_last_sundays() {
        // 2027: 28 March and 31 October (a 31st that is itself a Sunday).
        for (utc, local) in [
            ((2027, 3, 28, 0, 59), "28-03-2027 01:59"),
            ((2027, 3, 28, 1, 0), "28-03-2027 03:00"),
            ((2027, 10, 31, 0, 59), "31-10-2027 02:59"),
            ((2027, 10, 31, 1, 0), "31-10-2027 02:00"),
            ((2027, 3, 21, 1, 0), "21-03-2027 02:00"),
        ] {
            let (y, mo, d, h, mi) = utc;
            let t = Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap();
            assert_eq!(dutch_time(t), local, "{t}");
        }
        assert_eq!(
            dutch_date(NaiveDate::from_ymd_opt(812, 3, 4).unwrap()),
            "04-03-0812"
        );
        assert_eq!(
            dutch_date(NaiveDate::from_ymd_opt(12_345, 3, 4).unwrap()),
            "04-03-+12345"
        );
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
