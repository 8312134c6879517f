//! A report page from the file log without reading it all: only the segments the period can
//! be in are read, a record's JSON is parsed only when it holds the subject's digits, and only
//! the page is kept. Records are appended in the order they are recorded, so a segment whose
//! first record is at or after the period's end, and every later one, is left unread.

use std::path::{Path, PathBuf};

use super::LogError;
use super::record::{Frame, Record, next_frame, read_frame};
use super::scan::segments;
use crate::event::AuditEvent;
use crate::report::{Period, ReportPage, ReportQuery};

/// The page of `query` from the log in `dir`.
pub(super) fn report(dir: &Path, query: &ReportQuery) -> Result<ReportPage, LogError> {
    let needle = query.subject.digits();
    let finder = memchr::memmem::Finder::new(needle.as_bytes());
    let mut page = ReportPage {
        events: Vec::new(),
        more: false,
    };
    walk(dir, query.period, |record| {
        if query.after.is_some_and(|after| record.seq <= after)
            || finder.find(&record.event).is_none()
        {
            return Ok(true);
        }
        let event = parse(record)?;
        if query.wants(record.seq, &event) {
            if page.events.len() == query.limit {
                page.more = true;
                return Ok(false);
            }
            page.events.push((record.seq, event));
        }
        Ok(true)
    })?;
    Ok(page)
}

/// Every event of `period` from the log in `dir`: the period's segments are read whole, so
/// reading a month reads about a month of records (and keeps that month's events).
pub(super) fn period_events(
    dir: &Path,
    period: Period,
) -> Result<Vec<(u64, AuditEvent)>, LogError> {
    let mut events = Vec::new();
    walk(dir, period, |record| {
        let event = parse(record)?;
        if period.contains(event.recorded) {
            events.push((record.seq, event));
        }
        Ok(true)
    })?;
    Ok(events)
}

fn parse(record: &Record) -> Result<AuditEvent, LogError> {
    serde_json::from_slice(&record.event)
        .map_err(|e| LogError::Io(format!("record {}: {e}", record.seq)))
}

/// Hands each unpruned record of the segments `period` can be in to `visit`, in order, until
/// it says stop (`false`).
fn walk(
    dir: &Path,
    period: Period,
    mut visit: impl FnMut(&Record) -> Result<bool, LogError>,
) -> Result<(), LogError> {
    let files = segments(dir).map_err(LogError::Damaged)?;
    let first = first_segment(&files, period)?;
    for path in files.iter().skip(first) {
        // A segment that starts at or after the period's end holds none of it, nor do the
        // later ones.
        if let Some(to) = period.to
            && first_recorded(path)?.is_some_and(|t| t >= to)
        {
            break;
        }
        // Streamed through a buffer: the memory is a megabyte whatever the segment's size.
        let file = std::fs::File::open(path).map_err(|e| io(path, &e))?;
        let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
        let mut buffer = Vec::new();
        // A frame that does not read ends the segment: the tail a write is finishing (in the
        // last one), or damage, which `verify` reports; a report shows what reads.
        while let Some(payload) = next_frame(&mut reader, &mut buffer).map_err(|e| io(path, &e))? {
            let Some(record) = Record::from_payload(payload) else {
                break;
            };
            if record.pruned.is_some() {
                continue;
            }
            if !visit(&record)? {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// The index of the first segment that can hold records of the period: the last whose first
/// record was recorded before the period's start, found by reading only the segments' first
/// records, halving.
fn first_segment(files: &[PathBuf], period: Period) -> Result<usize, LogError> {
    let Some(from) = period.from else {
        return Ok(0);
    };
    // The segments that start before `from` come first; of them only the last can hold
    // records of the period.
    let (mut low, mut high) = (0, files.len());
    while low < high {
        let mid = low + (high - low) / 2;
        let starts_before = files
            .get(mid)
            .map(|path| first_recorded(path))
            .transpose()?
            .flatten()
            .is_some_and(|t| t < from);
        if starts_before {
            low = mid + 1;
        } else {
            high = mid;
        }
    }
    Ok(low.saturating_sub(1))
}

/// When the first record of a segment was recorded (`None` for an empty one).
fn first_recorded(path: &Path) -> Result<Option<chrono::DateTime<chrono::Utc>>, LogError> {
    use std::io::Read as _;
    let mut head = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| {
            f.take(super::record::MAX_EVENT_LEN as u64 + 4096)
                .read_to_end(&mut head)
        })
        .map_err(|e| io(path, &e))?;
    let Frame::Good(payload, _) = read_frame(&head) else {
        return Ok(None);
    };
    let Some(record) = Record::from_payload(payload) else {
        return Ok(None);
    };
    #[derive(serde::Deserialize)]
    struct Recorded {
        recorded: chrono::DateTime<chrono::Utc>,
    }
    Ok(serde_json::from_slice::<Recorded>(&record.event)
        .ok()
        .map(|r| r.recorded))
}

fn io(path: &Path, e: &std::io::Error) -> LogError {
    LogError::Io(format!("{}: {e}", path.display()))
}
