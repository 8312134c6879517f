//! Documents: the text of a letter or report, or the PDF it was written as.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::RecordError;
use crate::id::DocumentId;

/// One document from the EPD: a letter's text, or its PDF. The portal shows text and offers a
/// PDF as a download; it shows no images and keeps nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    /// The EPD's id of the document.
    pub id: DocumentId,
    /// Its title.
    pub title: String,
    /// Its date.
    pub date: NaiveDate,
    /// Who wrote it, if recorded.
    pub author: Option<String>,
    /// What it holds.
    pub content: DocumentContent,
}

/// What a document holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentContent {
    /// Text, with line breaks as `\n`: a plain-text letter, or an HTML letter as its text (the
    /// portal never shows a document's own markup).
    Text(String),
    /// A PDF, as the EPD sent it.
    Pdf(Pdf),
}

impl DocumentContent {
    /// The text, for a text document.
    pub fn text(&self) -> Option<&str> {
        match self {
            Self::Text(text) => Some(text),
            Self::Pdf(_) => None,
        }
    }
}

/// The bytes of a PDF file: they start with the PDF header `%PDF-`.
///
/// ```
/// use zvp_core::Pdf;
/// assert!(Pdf::new(b"%PDF-1.7\n...".to_vec()).is_ok());
/// assert!(Pdf::new(b"<html>".to_vec()).is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<u8>", into = "Vec<u8>")]
pub struct Pdf(
    // INVARIANT: starts with `%PDF-`.
    Vec<u8>,
);

impl Pdf {
    /// The header every PDF file starts with.
    pub const HEADER: &'static [u8] = b"%PDF-";

    /// The bytes as a PDF.
    ///
    /// # Errors
    ///
    /// [`RecordError::NotPdf`] when they do not start with [`Pdf::HEADER`].
    pub fn new(bytes: Vec<u8>) -> Result<Self, RecordError> {
        if bytes.starts_with(Self::HEADER) {
            Ok(Self(bytes))
        } else {
            Err(RecordError::NotPdf)
        }
    }

    /// The file's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl TryFrom<Vec<u8>> for Pdf {
    type Error = RecordError;

    fn try_from(bytes: Vec<u8>) -> Result<Self, Self::Error> {
        Self::new(bytes)
    }
}

impl From<Pdf> for Vec<u8> {
    fn from(pdf: Pdf) -> Self {
        pdf.0
    }
}

impl std::fmt::Debug for Pdf {
    // The bytes are a patient's letter: a debug line names only their size.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pdf({} bytes)", self.0.len())
    }
}
