//! HTML, written by hand with escaping by default.
//!
//! [`Html`] only grows through [`Html::text`] (escaped) and [`Html::markup`] (a `&'static
//! str`: markup written in this crate, never data). So data from the EPD, the directory or the
//! request cannot become markup: there is no way to pass a runtime string unescaped.

/// A piece of HTML under construction.
#[derive(Debug, Default, Clone)]
pub(crate) struct Html(String);

/// Escapes text for HTML element content and quoted attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape_into(&mut out, text);
    out
}

/// Appends `text` to `out`, escaped; runs without special characters are copied whole.
fn escape_into(out: &mut String, text: &str) {
    let bytes = text.as_bytes();
    let mut start = 0;
    // The special characters are ASCII, so every position found is a char boundary.
    for (at, byte) in bytes.iter().enumerate() {
        let replacement = match byte {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            _ => continue,
        };
        out.push_str(text.get(start..at).unwrap_or_default());
        out.push_str(replacement);
        start = at + 1;
    }
    out.push_str(text.get(start..).unwrap_or_default());
}

impl Html {
    /// Empty.
    pub(crate) fn new() -> Self {
        Self(String::new())
    }

    /// Empty, with room for `bytes` (a whole page, to grow it without copying).
    pub(crate) fn with_capacity(bytes: usize) -> Self {
        Self(String::with_capacity(bytes))
    }

    /// Its length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// Appends static markup.
    pub(crate) fn markup(&mut self, markup: &'static str) -> &mut Self {
        self.0.push_str(markup);
        self
    }

    /// Appends text, escaped.
    pub(crate) fn text(&mut self, text: &str) -> &mut Self {
        escape_into(&mut self.0, text);
        self
    }

    /// Appends a displayable value, escaped.
    pub(crate) fn display(&mut self, value: impl std::fmt::Display) -> &mut Self {
        let s = value.to_string();
        self.text(&s)
    }

    /// Appends another piece of HTML (already safe).
    pub(crate) fn append(&mut self, other: &Html) -> &mut Self {
        self.0.push_str(&other.0);
        self
    }

    /// A link `<a href="{href}">{text}</a>`; `href` is escaped like any text.
    pub(crate) fn link(&mut self, href: &str, text: &str) -> &mut Self {
        self.markup("<a href=\"")
            .text(href)
            .markup("\">")
            .text(text)
            .markup("</a>")
    }

    /// Appends an SVG drawing made by [`super::chart`]: its text is numbers and escaped
    /// dates only, built from parsed values, never from strings of the EPD.
    pub(crate) fn push_generated_svg(&mut self, svg: String) -> &mut Self {
        self.0.push_str(&svg);
        self
    }

    /// The HTML as a string.
    pub(crate) fn into_string(self) -> String {
        self.0
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        let mut h = Html::new();
        h.markup("<p>")
            .text("<script>alert('x') & \"y\"</script>")
            .markup("</p>");
        assert_eq!(
            h.into_string(),
            "<p>&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;</p>"
        );
    }

    #[test]
    fn text_without_special_characters_and_at_the_ends_is_kept() {
        let mut h = Html::new();
        h.text("").text("gewoon").text("&").text("é<ü>\u{1F600}'");
        assert_eq!(h.into_string(), "gewoon&amp;é&lt;ü&gt;\u{1F600}&#39;");
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(path_segment("pat-000001"), "pat-000001");
        assert_eq!(path_segment("../a b"), "..%2Fa%20b");
    }
}
