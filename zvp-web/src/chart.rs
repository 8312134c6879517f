//! A small server-rendered SVG chart of one lab test over time: the values as a line
//! with points, the reference range as a band, flagged values marked. No script, no inline
//! style (the CSP forbids both): presentation attributes only. Every value in it is a number
//! or a date the template escapes.

use maud::{Markup, html};
use zvp_core::{LabObservation, ObservationValue};

use crate::layout::dutch_date;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 220.0;
const PAD: f64 = 40.0;

/// The chart, or nothing when fewer than two values are numbers.
pub(crate) fn history_svg(history: &[LabObservation]) -> Markup {
    let points: Vec<(i64, f64, bool)> = history
        .iter()
        .filter_map(|o| match &o.value {
            ObservationValue::Quantity { value, .. } => {
                Some((o.effective.timestamp(), value.value(), o.flag.is_some()))
            }
            ObservationValue::Text(_) => None,
        })
        .collect();
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return Markup::default();
    };
    if points.len() < 2 {
        return Markup::default();
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
    let date = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0)
            .map(|d| dutch_date(d.date_naive()))
            .unwrap_or_default()
    };
    let line: Vec<String> = points
        .iter()
        .map(|p| format!("{:.1},{:.1}", x(p.0), y(p.1)))
        .collect();
    let (bottom, right) = (HEIGHT - PAD, WIDTH - PAD);
    let one = |v: f64| format!("{v:.1}");
    html! {
        figure {
            svg xmlns="http://www.w3.org/2000/svg" role="img"
                viewBox=(format!("0 0 {WIDTH} {HEIGHT}"))
                width=(WIDTH.to_string()) height=(HEIGHT.to_string()) {
                title { "Verloop van " (points.len()) " uitslagen" }
                @if let (Some(l), Some(h)) = (low, high) {
                    rect x=(PAD.to_string()) y=(one(y(h))) width=(one(WIDTH - 2.0 * PAD))
                        height=(one((y(l) - y(h)).max(0.0))) fill="#e3f1e3" {}
                }
                line x1=(PAD.to_string()) y1=(one(bottom)) x2=(one(right)) y2=(one(bottom))
                    stroke="#888" {}
                line x1=(PAD.to_string()) y1=(PAD.to_string()) x2=(PAD.to_string()) y2=(one(bottom))
                    stroke="#888" {}
                text x="4" y=(one(y(max) + 4.0)) font-size="11" { (fmt(max)) }
                text x="4" y=(one(y(min) + 4.0)) font-size="11" { (fmt(min)) }
                text x=(PAD.to_string()) y=(one(bottom + 16.0)) font-size="11" { (date(first.0)) }
                text x=(one(right)) y=(one(bottom + 16.0)) font-size="11" text-anchor="end" {
                    (date(last.0))
                }
                polyline points=(line.join(" ")) fill="none" stroke="#00557f" stroke-width="2" {}
                @for p in &points {
                    circle cx=(one(x(p.0))) cy=(one(y(p.1))) r="4"
                        fill=(if p.2 { "#a4000f" } else { "#00557f" }) {}
                }
            }
            figcaption.muted { "Rood: buiten de referentiewaarden. Groen vlak: referentiegebied." }
        }
    }
}

fn fmt(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}
