//! Numbers and units as Dutch readers write them: a decimal comma (`7,6`, `7,5 – 10,0`) and
//! units with their proper signs (`µmol/L`, `mL/min/1,73 m²`). The record keeps the
//! laboratory's text (`7.6`, UCUM's `umol/L`); only the page changes how it reads.

use std::borrow::Cow;

use maud::Render;
use zvp_core::{Decimal, ReferenceRange};

/// A decimal with a decimal comma: `7.60` is `7,60` (the precision stays as written).
pub(crate) fn decimal(d: &Decimal) -> String {
    let mut out = String::with_capacity(d.as_str().len());
    decimal_into(d, &mut out);
    out
}

/// [`decimal`], appended to `out`.
pub(crate) fn decimal_into(d: &Decimal, out: &mut String) {
    out.extend(d.as_str().chars().map(|c| if c == '.' { ',' } else { c }));
}

/// Text that may hold decimals (`0.5 mg/L`, `>10^5 kve/ml`): every point between two digits
/// becomes a comma; other points stay.
pub(crate) fn in_text(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    chars
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let digit_at = |j: Option<usize>| {
                j.and_then(|j| chars.get(j))
                    .is_some_and(char::is_ascii_digit)
            };
            if c == '.' && digit_at(i.checked_sub(1)) && digit_at(i.checked_add(1)) {
                ','
            } else {
                c
            }
        })
        .collect()
}

/// A reference range: `7,5 – 10,0`, `< 5`, `> 60`, or the laboratory's text, written
/// straight into the page (every row of the cumulative table and of a report has one, and
/// each was a `String` of its own, made of three).
pub(crate) struct Range<'a>(pub(crate) &'a ReferenceRange);

impl Render for Range<'_> {
    fn render_to(&self, out: &mut String) {
        // A decimal is digits, a sign and a point (zvp_core::Decimal): nothing to escape. The
        // comparators and the laboratory's text are escaped as any text is.
        match (self.0.low(), self.0.high()) {
            (Some(l), Some(h)) => {
                decimal_into(l, out);
                out.push_str(" – ");
                decimal_into(h, out);
            }
            (None, Some(h)) => {
                "< ".render_to(out);
                decimal_into(h, out);
            }
            (Some(l), None) => {
                "> ".render_to(out);
                decimal_into(l, out);
            }
            (None, None) => {
                if let Some(text) = self.0.text() {
                    in_text(text).render_to(out);
                }
            }
        }
    }
}

/// A unit as it is printed: UCUM's ASCII spellings with their proper signs.
pub(crate) fn unit(unit: &str) -> Cow<'_, str> {
    match unit {
        "umol/L" | "umol/l" => "µmol/L".into(),
        "ug/L" | "ug/l" => "µg/L".into(),
        "mL/min/1.73m2" | "mL/min/{1.73_m2}" => "mL/min/1,73 m²".into(),
        "10*9/L" => "10⁹/L".into(),
        "10*12/L" => "10¹²/L".into(),
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_get_a_comma_and_keep_their_precision() {
        assert_eq!(decimal(&"7.60".parse().unwrap()), "7,60");
        assert_eq!(decimal(&"-0.5".parse().unwrap()), "-0,5");
        assert_eq!(decimal(&"140".parse().unwrap()), "140");
    }

    #[test]
    fn ranges_read_the_dutch_way() {
        let r = |l: Option<&str>, h: Option<&str>, t: Option<&str>| {
            ReferenceRange::new(
                l.map(|l| l.parse().unwrap()),
                h.map(|h| h.parse().unwrap()),
                t.map(str::to_owned),
            )
            .unwrap()
        };
        // As the page holds them: the comparators escaped.
        let range = |r: ReferenceRange| Range(&r).render().into_string();
        assert_eq!(range(r(Some("7.5"), Some("10.0"), None)), "7,5 – 10,0");
        assert_eq!(range(r(None, Some("5"), None)), "&lt; 5");
        assert_eq!(range(r(Some("60"), None, None)), "&gt; 60");
        assert_eq!(
            range(r(None, None, Some("negatief, <0.5"))),
            "negatief, &lt;0,5"
        );
    }

    #[test]
    fn points_between_digits_only_become_commas() {
        assert_eq!(in_text("0.5 mg/L"), "0,5 mg/L");
        assert_eq!(in_text("Dr. A. 1.5"), "Dr. A. 1,5");
        assert_eq!(in_text(".5."), ".5.");
    }

    #[test]
    fn units_get_their_signs() {
        assert_eq!(unit("umol/L"), "µmol/L");
        assert_eq!(unit("mL/min/1.73m2"), "mL/min/1,73 m²");
        assert_eq!(unit("mmol/L"), "mmol/L");
    }
}
