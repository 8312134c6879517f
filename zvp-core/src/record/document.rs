//! Documents: the text of a letter or report.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::id::DocumentId;

/// One document from the EPD, as text. The portal shows text only: no images, no attachments.
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
    /// The text, with line breaks as `\n`.
    pub text: String,
}
