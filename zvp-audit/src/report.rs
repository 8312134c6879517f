//! The reports the log must answer (`docs/audit.md`, "Reports"): a patient's view, a practitioner's
//! view, the emergency review queue, and simple anomaly rules. Each works on events read from
//! the log ([`crate::log::read_events`]) and returns them chronologically. [`review`] is the
//! security officer's periodic review report, built on them.

pub mod review;

use std::collections::BTreeMap;

use chrono::{DateTime, Timelike, Utc};
use zvp_core::{Bsn, UziNumber};

use crate::event::{AuditEvent, Basis, EventType, Subtype};

/// A period: `from <= recorded < to`, either end open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Period {
    /// Inclusive start.
    pub from: Option<DateTime<Utc>>,
    /// Exclusive end.
    pub to: Option<DateTime<Utc>>,
}

impl Period {
    /// Whether `t` lies in the period.
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.from.is_none_or(|f| f <= t) && self.to.is_none_or(|e| t < e)
    }
}

/// Whom a report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// Every event about the patient with this BSN: who looked at their record.
    Patient(Bsn),
    /// Every event by the practitioner with this UZI number: what they did.
    Practitioner(UziNumber),
}

impl Subject {
    /// Whether the event is about (or by) the subject: for a patient, an event naming them or
    /// a search or look-up for their BSN; for a practitioner, what they did, a card claiming
    /// their UZI number that was refused, a change to their account or a delegation to them,
    /// and a look-up of their use of the portal.
    pub fn matches(&self, event: &AuditEvent) -> bool {
        match self {
            Self::Patient(bsn) => {
                event.patient.as_ref().is_some_and(|p| p.bsn == Some(*bsn))
                    || event.query.as_ref().is_some_and(|q| q.bsn == Some(*bsn))
            }
            Self::Practitioner(uzi) => {
                let uzi = Some(*uzi);
                event.user_uzi() == uzi
                    || event.card.as_ref().is_some_and(|c| c.uzi == uzi)
                    || event.query.as_ref().is_some_and(|q| q.uzi == uzi)
                    || event.change.as_ref().is_some_and(|c| c.target.uzi() == uzi)
            }
        }
    }

    /// The digits every matching event's JSON holds, for a cheap look before parsing.
    pub(crate) fn digits(&self) -> String {
        match self {
            Self::Patient(bsn) => bsn.to_string(),
            Self::Practitioner(uzi) => uzi.to_string(),
        }
    }
}

/// A bounded report: the subject's events in a period, oldest first, at most `limit` of them
/// after record `after` (the previous page's last).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportQuery {
    /// Whom it is about.
    pub subject: Subject,
    /// When.
    pub period: Period,
    /// The most events on one page.
    pub limit: usize,
    /// Only records after this sequence number (the previous page's last), if given.
    pub after: Option<u64>,
}

/// One page of a report.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportPage {
    /// The events, in log order (which is the order they were recorded in).
    pub events: Vec<(u64, AuditEvent)>,
    /// Whether more events match after the last of them (ask again with `after`).
    pub more: bool,
}

impl ReportQuery {
    /// Whether the record `seq` with `event` belongs on a page of this query.
    pub fn wants(&self, seq: u64, event: &AuditEvent) -> bool {
        self.after.is_none_or(|after| seq > after)
            && self.period.contains(event.recorded)
            && self.subject.matches(event)
    }

    /// The page of `events` (all of a log's, in order) this query asks for.
    pub fn page(&self, events: &[(u64, AuditEvent)]) -> ReportPage {
        let mut page = ReportPage {
            events: Vec::new(),
            more: false,
        };
        for (seq, event) in events {
            if self.wants(*seq, event) {
                if page.events.len() == self.limit {
                    page.more = true;
                    break;
                }
                page.events.push((*seq, event.clone()));
            }
        }
        page
    }
}

/// Who looked at this patient's record, when, on what basis (NEN 7513 §9, Wabvpz art. 15e):
/// every event about the patient with this BSN in the period, searches for it included
/// ([`Subject::matches`]), oldest first.
pub fn patient_view(
    events: &[(u64, AuditEvent)],
    bsn: Bsn,
    period: Period,
) -> Vec<&(u64, AuditEvent)> {
    let subject = Subject::Patient(bsn);
    chronological(
        events
            .iter()
            .filter(|(_, e)| period.contains(e.recorded) && subject.matches(e)),
    )
}

/// What one practitioner did, and what concerned them ([`Subject::matches`]): every event by
/// or about this UZI number in the period, oldest first.
pub fn practitioner_view(
    events: &[(u64, AuditEvent)],
    uzi: UziNumber,
    period: Period,
) -> Vec<&(u64, AuditEvent)> {
    let subject = Subject::Practitioner(uzi);
    chronological(
        events
            .iter()
            .filter(|(_, e)| period.contains(e.recorded) && subject.matches(e)),
    )
}

fn chronological<'a>(
    events: impl Iterator<Item = &'a (u64, AuditEvent)>,
) -> Vec<&'a (u64, AuditEvent)> {
    let mut out: Vec<_> = events.collect();
    out.sort_by_key(|(seq, e)| (e.recorded, *seq));
    out
}

/// A reviewer's verdict on an emergency grant, as the audit event that records it carries it
/// in its `reason`: `review:justified`, `review:not-justified`, `review:needs-follow-up`.
pub const REVIEW_PREFIX: &str = "review:";

/// One emergency grant for the review queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmergencyCase<'a> {
    /// The grant's id.
    pub grant: u64,
    /// The event that started it (with the reason category in its basis).
    pub started: &'a (u64, AuditEvent),
    /// The reads under it.
    pub reads: Vec<&'a (u64, AuditEvent)>,
    /// The latest verdict, if reviewed.
    pub verdict: Option<String>,
}

/// Every emergency grant with its reads and verdict; unreviewed ones first, then by start.
pub fn emergency_queue(events: &[(u64, AuditEvent)]) -> Vec<EmergencyCase<'_>> {
    let grant_of = |e: &AuditEvent| match &e.basis {
        Some(Basis::Emergency { grant, .. }) => Some(*grant),
        _ => None,
    };
    let mut cases: BTreeMap<u64, EmergencyCase<'_>> = BTreeMap::new();
    for item in events {
        let (_, event) = item;
        let Some(grant) = grant_of(event) else {
            continue;
        };
        if event.subtype == Subtype::EmergencyStarted {
            cases.entry(grant).or_insert(EmergencyCase {
                grant,
                started: item,
                reads: Vec::new(),
                verdict: None,
            });
        }
    }
    for item in events {
        let (_, event) = item;
        let Some(grant) = grant_of(event) else {
            continue;
        };
        let Some(case) = cases.get_mut(&grant) else {
            continue;
        };
        if let Some(verdict) = event
            .reason
            .as_deref()
            .and_then(|r| r.strip_prefix(REVIEW_PREFIX))
        {
            if event.event_type == EventType::AuditLogUsed {
                case.verdict = Some(verdict.to_owned());
            }
        } else if event.event_type == EventType::PatientRecord
            && event.subtype != Subtype::EmergencyStarted
        {
            case.reads.push(item);
        }
    }
    let mut queue: Vec<_> = cases.into_values().collect();
    queue.sort_by_key(|c| (c.verdict.is_some(), c.started.1.recorded));
    queue
}

/// Thresholds of the anomaly rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnomalyRules {
    /// More emergency grants than this in the period is unusual.
    pub max_emergency_grants: usize,
    /// More reads on a basis other than own or practice than this is unusual.
    pub max_non_own_reads: usize,
    /// Reads between these UTC hours (start inclusive, end exclusive) are outside the usual.
    pub night_hours_utc: (u32, u32),
}

impl Default for AnomalyRules {
    fn default() -> Self {
        Self {
            max_emergency_grants: 5,
            max_non_own_reads: 50,
            night_hours_utc: (0, 5),
        }
    }
}

/// A user whose use of the portal a rule finds unusual, with the rule and the count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anomaly {
    /// The user.
    pub uzi: UziNumber,
    /// The rule: `many-emergency-grants`, `many-non-own-reads` or `night-reads`.
    pub rule: &'static str,
    /// How many events the rule counted.
    pub count: usize,
}

/// The users the rules flag in the period, by user and rule.
pub fn anomalies(
    events: &[(u64, AuditEvent)],
    period: Period,
    rules: AnomalyRules,
) -> Vec<Anomaly> {
    let mut counts: BTreeMap<(UziNumber, &'static str), usize> = BTreeMap::new();
    for (_, e) in events.iter().filter(|(_, e)| period.contains(e.recorded)) {
        // A refused card verifies no one: the rules count what users did.
        let Some(user) = &e.user else {
            continue;
        };
        if e.subtype == Subtype::EmergencyStarted {
            *counts
                .entry((user.uzi, "many-emergency-grants"))
                .or_default() += 1;
        }
        if e.event_type == EventType::PatientRecord {
            if matches!(
                e.basis,
                Some(Basis::Delegation { .. } | Basis::Emergency { .. })
            ) {
                *counts.entry((user.uzi, "many-non-own-reads")).or_default() += 1;
            }
            let hour = e.recorded.hour();
            let (start, end) = rules.night_hours_utc;
            if start <= hour && hour < end {
                *counts.entry((user.uzi, "night-reads")).or_default() += 1;
            }
        }
    }
    counts
        .into_iter()
        .filter(|((_, rule), count)| match *rule {
            "many-emergency-grants" => *count > rules.max_emergency_grants,
            "many-non-own-reads" => *count > rules.max_non_own_reads,
            _ => *count > 0,
        })
        .map(|((uzi, rule), count)| Anomaly { uzi, rule, count })
        .collect()
}
