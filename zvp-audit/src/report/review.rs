//! The periodic review report for the security officer (`docs/audit.md`, "The review
//! report"): over a period, the emergency accesses with their verdicts, the refusals per
//! practitioner, the searches that found a patient whose record was then not opened, the
//! practitioners who viewed far more patients than the others, and the log's own check.
//!
//! [`review`] is a pure function of the period's events, the period and the time it is made:
//! the caller reads the events ([`crate::log::AuditLog::period_events`]) and says what the log
//! check found ([`LogCheck`]), so the same events always give the same report.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use zvp_core::{Bsn, PatientId, UziNumber};

use super::{Anomaly, AnomalyRules, Period, REVIEW_PREFIX, anomalies};
use crate::event::{AuditEvent, Basis, EventType, Outcome, QueryOutcome, Subtype, Target};

/// The thresholds of the review report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReviewRules {
    /// How long after a search a read of the patient's record still counts as following it.
    pub search_window: Duration,
    /// A practitioner is flagged who viewed more than this many times the median number of
    /// patients of those who viewed any.
    pub volume_multiple: usize,
    /// And more than this many patients: a floor, so that in a quiet period a handful of
    /// views is not flagged.
    pub volume_floor: usize,
    /// The existing anomaly rules, reported alongside.
    pub anomalies: AnomalyRules,
}

impl Default for ReviewRules {
    fn default() -> Self {
        Self {
            search_window: Duration::minutes(30),
            volume_multiple: 3,
            volume_floor: 20,
            anomalies: AnomalyRules::default(),
        }
    }
}

/// What checking the log itself found, as the caller could tell it cheaply (the web layer:
/// the check made when the log was opened, and the last checkpoint this instance signed).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogCheck {
    /// The records the log holds now, if it answered.
    pub records: Option<u64>,
    /// The last signed checkpoint's size and when it was signed, if one is known.
    pub last_checkpoint: Option<(u64, DateTime<Utc>)>,
    /// Why the log refuses appends, if it does (damage found, a stopped writer).
    pub problem: Option<String>,
}

impl LogCheck {
    /// Whether the log verifies up to its last checkpoint as far as this check tells: it
    /// answered, found no damage, and holds at least the records the checkpoint signed.
    pub fn verifies(&self) -> bool {
        match (self.records, self.problem.as_ref()) {
            (Some(records), None) => self.last_checkpoint.is_none_or(|(size, _)| size <= records),
            _ => false,
        }
    }
}

/// One use of the emergency procedure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmergencyAccess {
    /// The grant's id.
    pub grant: u64,
    /// When it started.
    pub recorded: DateTime<Utc>,
    /// Who started it.
    pub uzi: Option<UziNumber>,
    /// Their name.
    pub name: String,
    /// The patient's BSN, if the EPD has one.
    pub bsn: Option<Bsn>,
    /// The reason's category code.
    pub category: String,
    /// The reason as the practitioner wrote it.
    pub reason: String,
    /// The reviewer's latest verdict in the events read, if any.
    pub verdict: Option<String>,
}

/// The refusals of one practitioner (or of one card's claimed UZI number).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusals {
    /// The UZI number, verified or (for a refused card) claimed.
    pub uzi: UziNumber,
    /// The name, if a verified user.
    pub name: Option<String>,
    /// How many refusals per code.
    pub by_code: BTreeMap<String, usize>,
}

impl Refusals {
    /// All their refusals.
    pub fn total(&self) -> usize {
        self.by_code.values().sum()
    }
}

/// A search that found a patient whose record the practitioner then did not open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnfollowedSearch {
    /// When.
    pub recorded: DateTime<Utc>,
    /// Who searched.
    pub uzi: UziNumber,
    /// Their name.
    pub name: String,
    /// The BSN searched for or found.
    pub bsn: Option<Bsn>,
    /// Found, or only the emergency procedure offered.
    pub outcome: QueryOutcome,
}

/// How many different patients one practitioner viewed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    /// The practitioner.
    pub uzi: UziNumber,
    /// Their name.
    pub name: String,
    /// Different patients whose record they read in the period.
    pub patients: usize,
}

/// The review report over a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewReport {
    /// The period.
    pub period: Period,
    /// When it was made.
    pub made: DateTime<Utc>,
    /// The events of the period that were read.
    pub events: usize,
    /// The emergency accesses, oldest first.
    pub emergencies: Vec<EmergencyAccess>,
    /// Refusals per practitioner, most first.
    pub refusals: Vec<Refusals>,
    /// Searches without a following view, oldest first.
    pub unfollowed: Vec<UnfollowedSearch>,
    /// Searches too recent to tell (their window has not passed at `made`).
    pub pending_searches: usize,
    /// The median number of patients viewed by those who viewed any.
    pub median_patients: usize,
    /// The practitioners flagged for their volume, most first.
    pub volumes: Vec<Volume>,
    /// What the existing anomaly rules flag in the period.
    pub anomalies: Vec<Anomaly>,
    /// The log's own check.
    pub log: LogCheck,
}

/// The review report over `period` from `events` (the period's, and those up to
/// `rules.search_window` after it, in log order), made at `now`.
pub fn review(
    events: &[(u64, AuditEvent)],
    period: Period,
    now: DateTime<Utc>,
    rules: ReviewRules,
    log: LogCheck,
) -> ReviewReport {
    let in_period = || events.iter().filter(|(_, e)| period.contains(e.recorded));
    let (unfollowed, pending_searches) = unfollowed(events, period, now, rules.search_window);
    let (median_patients, volumes) = volumes(in_period().map(|(_, e)| e), rules);
    ReviewReport {
        period,
        made: now,
        events: in_period().count(),
        emergencies: emergencies(events, period),
        refusals: refusals(in_period().map(|(_, e)| e)),
        unfollowed,
        pending_searches,
        median_patients,
        volumes,
        anomalies: anomalies(events, period, rules.anomalies),
        log,
    }
}

fn emergencies(events: &[(u64, AuditEvent)], period: Period) -> Vec<EmergencyAccess> {
    // A verdict is recorded as a change of the grant's `review` (the portal), or with the
    // grant in its basis and the verdict in its reason (older records): either counts, the
    // last one read wins.
    let mut verdicts: BTreeMap<u64, String> = BTreeMap::new();
    for (_, e) in events {
        if e.event_type != EventType::AuditLogUsed {
            continue;
        }
        let verdict = e
            .reason
            .as_deref()
            .and_then(|r| r.strip_prefix(REVIEW_PREFIX));
        let grant = match (&e.change, &e.basis) {
            (Some(c), _) if c.field == "review" => match c.target {
                Target::EmergencyGrant { grant } => Some(grant),
                _ => None,
            },
            (_, Some(Basis::Emergency { grant, .. })) => Some(*grant),
            _ => None,
        };
        if let (Some(grant), Some(verdict)) = (grant, verdict) {
            verdicts.insert(grant, verdict.to_owned());
        }
    }
    events
        .iter()
        .filter(|(_, e)| e.subtype == Subtype::EmergencyStarted && period.contains(e.recorded))
        .filter_map(|(_, e)| {
            let Some(Basis::Emergency {
                grant,
                reason_category,
            }) = &e.basis
            else {
                return None;
            };
            let text = e.reason.as_deref().unwrap_or("");
            // The portal writes `<category>: <text>`.
            let reason = text
                .strip_prefix(reason_category.as_str())
                .and_then(|t| t.strip_prefix(": "))
                .unwrap_or(text);
            Some(EmergencyAccess {
                grant: *grant,
                recorded: e.recorded,
                uzi: e.user_uzi(),
                name: e.user.as_ref().map(|u| u.name.clone()).unwrap_or_default(),
                bsn: e.patient.as_ref().and_then(|p| p.bsn),
                category: reason_category.clone(),
                reason: reason.to_owned(),
                verdict: verdicts.get(grant).cloned(),
            })
        })
        .collect()
}

fn refusals<'a>(events: impl Iterator<Item = &'a AuditEvent>) -> Vec<Refusals> {
    let mut by_uzi: BTreeMap<UziNumber, Refusals> = BTreeMap::new();
    for e in events {
        // A refusal is denied with its code; an error (the EPD down) is not the user's doing.
        let (Outcome::Denied, Some(code)) = (e.outcome, e.reason.as_deref()) else {
            continue;
        };
        let Some(uzi) = e.user_uzi().or_else(|| e.card.as_ref().and_then(|c| c.uzi)) else {
            continue;
        };
        let entry = by_uzi.entry(uzi).or_insert_with(|| Refusals {
            uzi,
            name: None,
            by_code: BTreeMap::new(),
        });
        if let Some(user) = &e.user {
            entry.name = Some(user.name.clone());
        }
        *entry.by_code.entry(code.to_owned()).or_default() += 1;
    }
    let mut out: Vec<_> = by_uzi.into_values().collect();
    out.sort_by_key(|r| std::cmp::Reverse(r.total()));
    out
}

fn unfollowed(
    events: &[(u64, AuditEvent)],
    period: Period,
    now: DateTime<Utc>,
    window: Duration,
) -> (Vec<UnfollowedSearch>, usize) {
    // Every read of a record, by practitioner and patient, to look the searches up in.
    let mut reads: BTreeMap<(UziNumber, &PatientId), Vec<DateTime<Utc>>> = BTreeMap::new();
    for (_, e) in events {
        if let (EventType::PatientRecord, Outcome::Success, Some(uzi), Some(p)) =
            (e.event_type, e.outcome, e.user_uzi(), &e.patient)
        {
            reads.entry((uzi, &p.id)).or_default().push(e.recorded);
        }
    }
    let (mut out, mut pending) = (Vec::new(), 0);
    for (_, e) in events {
        let outcome = e.query.as_ref().and_then(|q| q.outcome);
        let (EventType::Query, Some(o @ (QueryOutcome::Found | QueryOutcome::EmergencyOffered))) =
            (e.event_type, outcome)
        else {
            continue;
        };
        let (Some(user), Some(patient)) = (&e.user, &e.patient) else {
            continue;
        };
        if !period.contains(e.recorded) {
            continue;
        }
        let end = e.recorded + window;
        let followed = reads
            .get(&(user.uzi, &patient.id))
            .is_some_and(|ts| ts.iter().any(|t| e.recorded <= *t && *t <= end));
        if followed {
            continue;
        }
        if end > now {
            pending += 1;
            continue;
        }
        out.push(UnfollowedSearch {
            recorded: e.recorded,
            uzi: user.uzi,
            name: user.name.clone(),
            bsn: patient.bsn.or_else(|| e.query.as_ref().and_then(|q| q.bsn)),
            outcome: o,
        });
    }
    (out, pending)
}

fn volumes<'a>(
    events: impl Iterator<Item = &'a AuditEvent>,
    rules: ReviewRules,
) -> (usize, Vec<Volume>) {
    let mut seen: BTreeMap<UziNumber, (String, BTreeSet<&'a PatientId>)> = BTreeMap::new();
    for e in events {
        if let (EventType::PatientRecord, Outcome::Success, Some(user), Some(p)) =
            (e.event_type, e.outcome, &e.user, &e.patient)
        {
            let entry = seen.entry(user.uzi).or_default();
            entry.0.clone_from(&user.name);
            entry.1.insert(&p.id);
        }
    }
    let mut counts: Vec<usize> = seen.values().map(|(_, p)| p.len()).collect();
    counts.sort_unstable();
    let median = counts.get(counts.len() / 2).copied().unwrap_or(0);
    let limit = rules
        .volume_floor
        .max(median.saturating_mul(rules.volume_multiple));
    let mut flagged: Vec<Volume> = seen
        .into_iter()
        .filter(|(_, (_, p))| p.len() > limit)
        .map(|(uzi, (name, p))| Volume {
            uzi,
            name,
            patients: p.len(),
        })
        .collect();
    flagged.sort_by_key(|v| std::cmp::Reverse(v.patients));
    (median, flagged)
}
