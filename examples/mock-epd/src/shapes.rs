//! The forms in which real EPDs write the same record, each valid FHIR R4: the mock serves the
//! synthetic hospital in the forms [`Shapes`] selects, so that a test covers the adapter
//! against each (`docs/fhir.md`, "Shapes").

use base64::Engine as _;
use serde_json::{Value, json};
use zvp_core::ResultCategory;
use zvp_epd::fhir::{LOINC, NUCLEAR_LAB_CODE, RESULT_CATEGORY_SYSTEM, V2_0074};

const ALLERGY_VERIFICATION: &str =
    "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification";
const CONDITION_VERIFICATION: &str = "http://terminology.hl7.org/CodeSystem/condition-ver-status";

/// Under which codes the result reports are filed (`DiagnosticReport.category`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CategoryCodes {
    /// HL7 v2 table 0074's sections as zvp writes them: `LAB`, `MB`, `SP`, `RAD`, `OTH`.
    #[default]
    Sections,
    /// v2-0074's narrower codes: chemistry `CH`, radiology `RX` (radiograph), the ECGs `EC`.
    Narrow,
    /// LOINC's document classes: `LP29693-6` laboratory, `LP7819-8` microbiology, `LP7839-6`
    /// pathology, `LP29684-5` radiology, the ECGs `LP29708-2` cardiology (which the portal
    /// does not map: they show under "Overig").
    Loinc,
}

impl CategoryCodes {
    /// The codings of a report of `category`.
    pub fn codings(self, category: ResultCategory) -> &'static [(&'static str, &'static str)] {
        use ResultCategory as C;
        const NUCLEAR: (&str, &str) = (RESULT_CATEGORY_SYSTEM, NUCLEAR_LAB_CODE);
        match (self, category) {
            (Self::Sections, c) => zvp_epd::fhir::category_codings(c),
            (Self::Narrow, C::ClinicalChemistry) => &[(V2_0074, "CH")],
            (Self::Narrow, C::NuclearLab) => &[NUCLEAR, (V2_0074, "CH")],
            (Self::Narrow, C::Radiology) => &[(V2_0074, "RX")],
            (Self::Narrow, C::Other) => &[(V2_0074, "EC")],
            (Self::Narrow, c) => zvp_epd::fhir::category_codings(c),
            (Self::Loinc, C::ClinicalChemistry) => &[(LOINC, "LP29693-6")],
            (Self::Loinc, C::NuclearLab) => &[NUCLEAR, (LOINC, "LP29693-6")],
            (Self::Loinc, C::Microbiology) => &[(LOINC, "LP7819-8")],
            (Self::Loinc, C::Pathology) => &[(LOINC, "LP7839-6")],
            (Self::Loinc, C::Radiology) => &[(LOINC, "LP29684-5")],
            (Self::Loinc, C::Other) => &[(LOINC, "LP29708-2")],
        }
    }

    /// A DiagnosticReport of `category` filed under these codes.
    pub(crate) fn file(self, report: &mut Value, category: ResultCategory) {
        if let Some(object) = report.as_object_mut() {
            object.insert("category".to_owned(), self.element(category));
        }
    }

    /// The `category` element of a report of `category`.
    fn element(self, category: ResultCategory) -> Value {
        Value::Array(
            self.codings(category)
                .iter()
                .map(|(system, code)| json!({ "coding": [{ "system": system, "code": code }] }))
                .collect(),
        )
    }
}

/// What a letter's attachment holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LetterContent {
    /// `text/plain; charset=utf-8`.
    #[default]
    Text,
    /// `text/html`: paragraphs, with a style sheet and a script in the head, which a reader
    /// must never run or show.
    Html,
    /// `application/pdf`: one A4 page per letter.
    Pdf,
}

/// How a letter's attachment is carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Letters {
    /// What it holds.
    pub content: LetterContent,
    /// By `attachment.url` (`Binary/<document id>`, served as a Binary resource) rather than
    /// inline `attachment.data`.
    pub by_url: bool,
}

/// How references are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum References {
    /// Relative literal references, `Patient/pat-000001`.
    #[default]
    Relative,
    /// Absolute, with the server's base URL: `http://…/fhir/Patient/pat-000001`.
    Absolute,
    /// Relative and versioned: `Patient/pat-000001/_history/1`.
    Versioned,
}

/// How decimals are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Decimals {
    /// With the precision the lab gave: `5.40`.
    #[default]
    AsWritten,
    /// As a server that keeps numbers as JavaScript does: `5.40` as `5.4`, `8.0` as `8`.
    Trimmed,
}

/// Which statuses the record carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Statuses {
    /// Those zvp writes: `booked`, `arrived`, `fulfilled`, `cancelled` and their kin.
    #[default]
    Usual,
    /// The others FHIR R4 allows for the same states (`pending`, `checked-in`, `noshow`;
    /// `on-hold`, `stopped`; `draft`), and beside each patient's first allergy, diagnosis,
    /// medication, conclusion, letter and report a copy recorded in error (and a refuted copy
    /// of the diagnosis), which no reader may show.
    Other,
}

/// The forms the mock writes the record in. The default is the form of `zvp_epd::fhir`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Shapes {
    /// The result reports' category codes.
    pub categories: CategoryCodes,
    /// The letters' attachments.
    pub letters: Letters,
    /// The references.
    pub references: References,
    /// The decimals.
    pub decimals: Decimals,
    /// The statuses.
    pub statuses: Statuses,
}

impl Shapes {
    /// A DocumentReference with its attachment in the selected form; `text` is the letter's.
    pub(crate) fn letter(&self, mut resource: Value, document: &str, text: &str) -> Value {
        if self.letters == Letters::default() {
            return resource;
        }
        let (content_type, bytes) = self.letter_bytes(text);
        if let Some(attachment) = resource
            .pointer_mut("/content/0/attachment")
            .and_then(Value::as_object_mut)
        {
            attachment.insert("contentType".to_owned(), json!(content_type));
            attachment.remove("data");
            if self.letters.by_url {
                attachment.insert("url".to_owned(), json!(format!("Binary/{document}")));
            } else {
                attachment.insert("data".to_owned(), json!(base64(&bytes)));
            }
        }
        resource
    }

    /// The Binary resource of a letter sent by URL.
    pub(crate) fn binary(&self, document: &str, text: &str) -> Value {
        let (content_type, bytes) = self.letter_bytes(text);
        json!({
            "resourceType": "Binary",
            "id": document,
            "contentType": content_type,
            "data": base64(&bytes),
        })
    }

    fn letter_bytes(&self, text: &str) -> (&'static str, Vec<u8>) {
        match self.letters.content {
            LetterContent::Text => ("text/plain; charset=utf-8", text.as_bytes().to_vec()),
            LetterContent::Html => ("text/html; charset=utf-8", html(text).into_bytes()),
            LetterContent::Pdf => ("application/pdf", pdf(text)),
        }
    }

    /// The resources of a search for `kind` with the selected statuses: the states renamed,
    /// and the copies recorded in error added.
    pub(crate) fn with_statuses(&self, kind: &str, mut resources: Vec<Value>) -> Vec<Value> {
        if self.statuses == Statuses::Usual {
            return resources;
        }
        let renamed = |code: &str| -> Option<&'static str> {
            Some(match (kind, code) {
                ("Appointment", "booked") => "pending",
                ("Appointment", "arrived") => "checked-in",
                ("Appointment", "cancelled") => "noshow",
                ("Procedure", "in-progress") => "on-hold",
                ("Procedure", "not-done") => "stopped",
                ("ServiceRequest", "active") => "draft",
                _ => return None,
            })
        };
        for resource in &mut resources {
            let code = resource
                .get("status")
                .and_then(Value::as_str)
                .and_then(renamed);
            if let (Some(code), Some(object)) = (code, resource.as_object_mut()) {
                object.insert("status".to_owned(), json!(code));
            }
        }
        let Some(first) = resources.first().cloned() else {
            return resources;
        };
        let copy = |suffix: &str, element: &str, value: Value| {
            let mut copy = first.clone();
            if let Some(object) = copy.as_object_mut() {
                let id = object.get("id").and_then(Value::as_str).unwrap_or("x");
                let id = format!("{id}-{suffix}");
                object.insert("id".to_owned(), json!(id));
                object.insert(element.to_owned(), value);
            }
            copy
        };
        let verification =
            |code: &str, system: &str| json!({ "coding": [{ "system": system, "code": code }] });
        match kind {
            "AllergyIntolerance" => resources.push(copy(
                "error",
                "verificationStatus",
                verification("entered-in-error", ALLERGY_VERIFICATION),
            )),
            "Condition" => {
                resources.push(copy(
                    "error",
                    "verificationStatus",
                    verification("entered-in-error", CONDITION_VERIFICATION),
                ));
                resources.push(copy(
                    "refuted",
                    "verificationStatus",
                    verification("refuted", CONDITION_VERIFICATION),
                ));
            }
            "MedicationStatement"
            | "ClinicalImpression"
            | "DocumentReference"
            | "DiagnosticReport" => {
                resources.push(copy("error", "status", json!("entered-in-error")));
            }
            _ => {}
        }
        resources
    }

    /// Whether [`Shapes::out`] changes anything.
    pub(crate) fn rewrites(&self) -> bool {
        self.references != References::Relative || self.decimals != Decimals::AsWritten
    }

    /// A resource's JSON text as it leaves the server: references and decimals in the
    /// selected forms.
    pub(crate) fn out(&self, base: &str, text: String) -> String {
        let text = match self.references {
            References::Relative => text,
            References::Absolute => rewrite_references(&text, |r| format!("{base}/{r}")),
            References::Versioned => rewrite_references(&text, |r| format!("{r}/_history/1")),
        };
        match self.decimals {
            Decimals::AsWritten => text,
            Decimals::Trimmed => serde_json::from_str::<Value>(&text)
                .map(|mut v| {
                    as_javascript_numbers(&mut v);
                    v.to_string()
                })
                .unwrap_or(text),
        }
    }
}

/// Every number as a JavaScript server writes it: binary floating point, an integral value
/// without a fraction (`8.0` as `8`, `5.40` as `5.4`).
fn as_javascript_numbers(value: &mut Value) {
    match value {
        Value::Number(n) => {
            if let Some(f) = n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15) {
                #[expect(clippy::cast_possible_truncation, reason = "integral and small")]
                let integral = f as i64;
                *n = integral.into();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(as_javascript_numbers),
        Value::Object(fields) => fields.values_mut().for_each(as_javascript_numbers),
        _ => {}
    }
}

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Every relative literal reference (`"reference":"Type/id"`) in compact JSON text, through
/// `rewrite`.
fn rewrite_references(text: &str, rewrite: impl Fn(&str) -> String) -> String {
    const KEY: &str = "\"reference\":\"";
    let mut out = String::with_capacity(text.len() + 64);
    let mut rest = text;
    while let Some(at) = rest.find(KEY) {
        let (before, after) = rest.split_at(at + KEY.len());
        out.push_str(before);
        let end = after.find('"').unwrap_or(after.len());
        let (reference, tail) = after.split_at(end);
        let relative = reference
            .split_once('/')
            .is_some_and(|(kind, id)| kind.starts_with(char::is_uppercase) && !id.contains('/'));
        if relative {
            out.push_str(&rewrite(reference));
        } else {
            out.push_str(reference);
        }
        rest = tail;
    }
    out.push_str(rest);
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A letter as an HTML page, one paragraph per block of lines. The head holds what EPDs'
/// HTML letters hold and a reader must not show: a style sheet, and a script.
fn html(text: &str) -> String {
    let body: String = text
        .split("\n\n")
        .map(|paragraph| {
            let lines: Vec<String> = paragraph.lines().map(escape).collect();
            format!("<p>{}</p>", lines.join("<br>"))
        })
        .collect();
    format!(
        "<!DOCTYPE html><html lang=\"nl\"><head><meta charset=\"utf-8\"><title>Brief</title>\
         <style>p {{ margin: 0 0 1em }}</style><script>document.title = 'uitgevoerd';</script>\
         </head><body>{body}</body></html>"
    )
}

/// A letter as a one-page A4 PDF in Helvetica (WinAnsi: Dutch letters' accents are Latin-1).
fn pdf(text: &str) -> Vec<u8> {
    use pdf_writer::{Content, Finish as _, Name, Pdf, Rect, Ref, Str};
    let (catalog, tree, page_id, font, contents) = (
        Ref::new(1),
        Ref::new(2),
        Ref::new(3),
        Ref::new(4),
        Ref::new(5),
    );
    let font_name = Name(b"F1");
    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids([page_id]).count(1);
    let mut page = pdf.page(page_id);
    page.media_box(Rect::new(0.0, 0.0, 595.0, 842.0))
        .parent(tree)
        .contents(contents);
    page.resources().fonts().pair(font_name, font);
    page.finish();
    pdf.type1_font(font)
        .base_font(Name(b"Helvetica"))
        .encoding_predefined(Name(b"WinAnsiEncoding"));
    let mut content = Content::new();
    content.begin_text();
    content.set_font(font_name, 11.0);
    content.set_leading(15.0);
    content.next_line(72.0, 770.0);
    for line in text.lines() {
        let latin1: Vec<u8> = line
            .chars()
            .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
            .collect();
        content.show(Str(&latin1));
        content.next_line_using_leading();
    }
    content.end_text();
    pdf.stream(contents, &content.finish());
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_rewritten_and_nothing_else() {
        let text = r##"{"subject":{"reference":"Patient/p1"},"result":[{"reference":"Observation/o-1"}],"url":"Binary/x","x":{"reference":"#local"}}"##;
        assert_eq!(
            rewrite_references(text, |r| format!("{r}/_history/1")),
            r##"{"subject":{"reference":"Patient/p1/_history/1"},"result":[{"reference":"Observation/o-1/_history/1"}],"url":"Binary/x","x":{"reference":"#local"}}"##
        );
    }

    #[test]
    fn a_pdf_letter_is_a_pdf() {
        let bytes = pdf("Geachte collega,\n\nUw patiënt.");
        assert!(bytes.starts_with(b"%PDF-"));
        assert!(bytes.ends_with(b"%%EOF") || bytes.ends_with(b"%%EOF\n"));
    }
}
