//! A small server-rendered SVG chart of one lab test over time: the values as a line
//! with points, the reference range as a band, flagged values marked. No script, no inline
//! style (the CSP forbids both): presentation attributes only.

use std::fmt::Write as _;

use zvp_core::{LabObservation, ObservationValue};

use super::html::{Html, escape};
use super::layout::dutch_date;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 220.0;
const PAD: f64 = 40.0;

/// The chart, or nothing when fewer than two values are numbers.
pub(crate) fn history_svg(history: &[LabObservation]) -> Html {
    let points: Vec<(i64, f64, bool)> = history
        .iter()
        .filter_map(|o| match &o.value {
            ObservationValue::Quantity { value, .. } => {
                Some((o.effective.timestamp(), value.value(), o.flag.is_some()))
            }
            ObservationValue::Text(_) => None,
        })
        .collect();
    let mut html = Html::new();
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return html;
    };
    if points.len() < 2 {
        return html;
    }
    let range = history
        .iter()
        .rev()
        .find_map(|o| o.reference_range.as_ref());
    let low = range.and_then(|r| r.low()).map(|d| d.value());
    let high = range.and_then(|r| r.high()).map(|d| d.value());
    let values = points.iter().map(|p| p.1).chain(low).chain(high);
    let (mut min, mut max) = values.fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(v), b.max(v)));
    if (max - min).abs() < f64::EPSILON {
        min -= 1.0;
        max += 1.0;
    }
    let span_t = (last.0 - first.0).max(1) as f64;
    let x = |t: i64| PAD + (t - first.0) as f64 / span_t * (WIDTH - 2.0 * PAD);
    let y = |v: f64| HEIGHT - PAD - (v - min) / (max - min) * (HEIGHT - 2.0 * PAD);
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"{WIDTH}\" height=\"{HEIGHT}\"><title>Verloop van {} uitslagen</title>",
        points.len()
    );
    if let (Some(l), Some(h)) = (low, high) {
        let _ = write!(
            svg,
            "<rect x=\"{PAD}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#e3f1e3\"/>",
            y(h),
            WIDTH - 2.0 * PAD,
            (y(l) - y(h)).max(0.0)
        );
    }
    let _ = write!(
        svg,
        "<line x1=\"{PAD}\" y1=\"{b:.1}\" x2=\"{r:.1}\" y2=\"{b:.1}\" stroke=\"#888\"/><line x1=\"{PAD}\" y1=\"{PAD}\" x2=\"{PAD}\" y2=\"{b:.1}\" stroke=\"#888\"/>",
        b = HEIGHT - PAD,
        r = WIDTH - PAD
    );
    let _ = write!(
        svg,
        "<text x=\"4\" y=\"{:.1}\" font-size=\"11\">{}</text>",
        y(max) + 4.0,
        fmt(max)
    );
    let _ = write!(
        svg,
        "<text x=\"4\" y=\"{:.1}\" font-size=\"11\">{}</text>",
        y(min) + 4.0,
        fmt(min)
    );
    let date = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0)
            .map(|d| dutch_date(d.date_naive()))
            .unwrap_or_default()
    };
    let _ = write!(
        svg,
        "<text x=\"{PAD}\" y=\"{:.1}\" font-size=\"11\">{}</text><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{}</text>",
        HEIGHT - PAD + 16.0,
        escape(&date(first.0)),
        WIDTH - PAD,
        HEIGHT - PAD + 16.0,
        escape(&date(last.0))
    );
    let line: Vec<String> = points
        .iter()
        .map(|p| format!("{:.1},{:.1}", x(p.0), y(p.1)))
        .collect();
    let _ = write!(
        svg,
        "<polyline points=\"{}\" fill=\"none\" stroke=\"#00557f\" stroke-width=\"2\"/>",
        line.join(" ")
    );
    for p in &points {
        let _ = write!(
            svg,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"{}\"/>",
            x(p.0),
            y(p.1),
            if p.2 { "#a4000f" } else { "#00557f" }
        );
    }
    svg.push_str("</svg>");
    html.markup("<figure>");
    html.push_generated_svg(svg);
    html.markup("<figcaption class=\"muted\">Rood: buiten de referentiewaarden. Groen vlak: referentiegebied.</figcaption></figure>");
    html
}

fn fmt(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}
