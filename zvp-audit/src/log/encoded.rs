//! An event's JSON as a record holds it, and the JSON of a request's events in one buffer.

use super::{LogError, MAX_EVENT_LEN};
use crate::event::AuditEvent;

/// An event as a record holds it: its JSON, refused when longer than [`MAX_EVENT_LEN`].
#[cfg(feature = "postgres")]
pub(crate) fn encode(event: &AuditEvent) -> Result<Vec<u8>, LogError> {
    let mut json = Vec::with_capacity(EVENT_CAPACITY);
    encode_into(event, &mut json)?;
    Ok(json)
}

/// Room for one event's JSON: a record of the portal's is 600–900 bytes, so its JSON is
/// written without the buffer growing (and being copied) on the way.
const EVENT_CAPACITY: usize = 1024;

/// Appends an event's JSON to `out`; refuses it (and leaves `out` as it was) when longer than
/// [`MAX_EVENT_LEN`].
fn encode_into(event: &AuditEvent, out: &mut Vec<u8>) -> Result<(), LogError> {
    let start = out.len();
    if let Err(e) = serde_json::to_writer(&mut *out, event) {
        out.truncate(start);
        return Err(LogError::Event(e.to_string()));
    }
    let length = out.len() - start;
    if length > MAX_EVENT_LEN {
        out.truncate(start);
        return Err(LogError::Event(format!(
            "{length} bytes, at most {MAX_EVENT_LEN}"
        )));
    }
    Ok(())
}

/// The JSON of a request's events, one after another in one buffer (one allocation for a
/// page's records rather than one for each).
pub(super) struct Encoded {
    pub(super) json: Vec<u8>,
    /// Where each event's JSON ends in `json`.
    ends: Vec<usize>,
}

impl Encoded {
    pub(super) fn of(events: &[AuditEvent]) -> Result<Self, LogError> {
        let mut json = Vec::with_capacity(events.len() * EVENT_CAPACITY);
        let mut ends = Vec::with_capacity(events.len());
        for event in events {
            encode_into(event, &mut json)?;
            ends.push(json.len());
        }
        Ok(Self { json, ends })
    }

    /// The number of events.
    pub(super) fn len(&self) -> usize {
        self.ends.len()
    }

    /// Each event's JSON, in order.
    pub(super) fn events(&self) -> impl Iterator<Item = &[u8]> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(self.ends.iter().copied())
            .map(|(start, end)| self.json.get(start..end).unwrap_or_default())
    }
}
