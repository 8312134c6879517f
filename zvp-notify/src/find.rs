//! The pure part of a poll: from when to ask the EPD what changed, whose patients to ask
//! for, and which events its answers hold. Time is a parameter.

use chrono::{DateTime, Duration, NaiveTime, Utc};
use zvp_auth::directory::{Account, AccountStatus, Delegation};
use zvp_core::{AgbCode, Patient};
use zvp_epd::Changes;

use crate::event::{Event, EventKey, EventKind};
use crate::store::Coverage;

/// What a poll asks the EPD for: what it recorded or changed since the last successful poll,
/// by the EPD's own clock (FHIR `_lastUpdated`), not by the dates the events are about, so an
/// event entered late is found when it is entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// The first poll (none succeeded yet) asks for what changed this long before it.
    /// Default 3 days.
    pub lookback: Duration,
    /// Each poll asks from this long before the last successful one, for the EPD's clock
    /// being behind the portal's and for what it committed while the last poll read. What
    /// is found twice is recorded once (by its key). Default 10 minutes.
    pub overlap: Duration,
    /// Events are kept this long after they happened, and an event found older than this
    /// is not recorded (it would be deleted at once, and then found as new again). Default
    /// 90 days.
    pub keep: Duration,
}

impl Default for Window {
    fn default() -> Self {
        Self {
            lookback: Duration::days(3),
            overlap: Duration::minutes(10),
            keep: Duration::days(90),
        }
    }
}

impl Window {
    /// What a poll at `now` asks for: what changed after this, given when the last
    /// successful poll was made. A poll that failed moved nothing, so the next one asks
    /// from the same time: no event is lost to an EPD that was down.
    pub fn since(&self, last_poll: Option<DateTime<Utc>>, now: DateTime<Utc>) -> DateTime<Utc> {
        last_poll.map_or(now - self.lookback, |last| last - self.overlap)
    }

    /// Events that happened before this are deleted at `now`, and not recorded.
    pub fn kept_from(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now - self.keep
    }
}

/// Whose patients the notifier asks the EPD about: the personal and practice AGB codes of
/// the active practitioner accounts, and of the GPs who delegated to one of them (in force at
/// `now`). Accounts unused for `dormant` (or blocked, pending, rejected) are left out: they
/// are told nothing.
pub fn watched(
    accounts: &[Account],
    delegations: &[Delegation],
    dormant: Duration,
    now: DateTime<Utc>,
) -> Vec<AgbCode> {
    let live: Vec<&Account> = accounts
        .iter()
        .filter(|a| is_live(a, dormant, now))
        .collect();
    let mut gps: Vec<AgbCode> = live
        .iter()
        .flat_map(|a| [a.agb, a.practice_agb])
        .flatten()
        .collect();
    gps.extend(
        delegations
            .iter()
            .filter(|d| d.in_force(now) && live.iter().any(|a| a.uzi == d.grantee))
            .map(|d| d.grantor),
    );
    gps.sort_by_key(ToString::to_string);
    gps.dedup();
    gps
}

/// What an account's events cover: its own and its practice's patients, and the patients of
/// the GPs who delegated to it, for events within a delegation in force at `now` (one that
/// ended covers nothing more).
pub fn coverage(
    account: &Account,
    delegations: &[Delegation],
    now: DateTime<Utc>,
) -> Vec<Coverage> {
    let mut coverage: Vec<Coverage> = [account.agb, account.practice_agb]
        .into_iter()
        .flatten()
        .map(|gp| Coverage {
            gp,
            from: None,
            until: None,
        })
        .collect();
    coverage.extend(
        delegations
            .iter()
            .filter(|d| d.grantee == account.uzi && d.in_force(now))
            .map(|d| Coverage {
                gp: d.grantor,
                from: Some(d.from),
                until: d.until,
            }),
    );
    coverage
}

/// Whether an account is told anything: active, not an administrator's alone, and used within
/// `dormant` (as the portal locks a dormant account at its next login).
pub fn is_live(account: &Account, dormant: Duration, now: DateTime<Utc>) -> bool {
    account.status == AccountStatus::Active
        && account.agb.is_some()
        && account.last_login.unwrap_or(account.created_at) + dormant >= now
}

/// The events in what the EPD says changed: for each admission its admission and, when it
/// ended, its discharge; each letter. Events before `kept_from` are left out, and so are the
/// patients who object to sharing and those without a registered GP. An event found again
/// (its record changed once more, or a poll overlapped) has the same key, so it is recorded
/// once.
pub fn changed_events(changes: &Changes, kept_from: DateTime<Utc>) -> Vec<Event> {
    let mut events = Vec::new();
    for l in &changes.admissions {
        let Some(gp) = notified_gp(&l.patient) else {
            continue;
        };
        let patient = &l.patient.id;
        let admitted = l.admission.admitted_at();
        events.push(Event {
            key: EventKey::admission(patient, admitted),
            kind: EventKind::Admission,
            patient: patient.clone(),
            gp,
            at: admitted,
        });
        if let Some(discharged) = l.admission.discharged_at() {
            events.push(Event {
                key: EventKey::discharge(patient, admitted),
                kind: EventKind::Discharge,
                patient: patient.clone(),
                gp,
                at: discharged,
            });
        }
    }
    for l in &changes.letters {
        let Some(gp) = notified_gp(&l.patient) else {
            continue;
        };
        events.push(Event {
            key: EventKey::letter(&l.patient.id, &l.letter.id),
            kind: EventKind::Letter,
            patient: l.patient.id.clone(),
            gp,
            at: l.letter.date.and_time(NaiveTime::MIN).and_utc(),
        });
    }
    events.retain(|e| e.at >= kept_from);
    events
}

/// The GP told of a patient's events: the registered GP, unless the patient objects to
/// sharing (then nobody is).
pub fn notified_gp(patient: &Patient) -> Option<AgbCode> {
    if patient.sharing_objection.is_some() {
        return None;
    }
    patient.registered_gp.as_ref().map(|gp| gp.agb)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_poll_asks_from_the_last_one_less_the_overlap() {
        let w = Window::default();
        let now = at("2026-11-25T08:00:00Z");
        // The first poll: the lookback.
        assert_eq!(w.since(None, now), at("2026-11-22T08:00:00Z"));
        // A poll five minutes ago: from ten minutes before it.
        assert_eq!(
            w.since(Some(at("2026-11-25T07:55:00Z")), now),
            at("2026-11-25T07:45:00Z")
        );
        // The EPD down for a week: from the last poll that succeeded.
        assert_eq!(
            w.since(Some(at("2026-11-18T08:00:00Z")), now),
            at("2026-11-18T07:50:00Z")
        );
        assert_eq!(w.kept_from(now), at("2026-08-27T08:00:00Z"));
    }

    fn account(n: u32, status: AccountStatus, last_login: DateTime<Utc>) -> Account {
        Account {
            uzi: zvp_core::UziNumber::new(900_000_000 + n).unwrap(),
            agb: Some(AgbCode::new(1_000_000 + n).unwrap()),
            name: format!("Huisarts {n}"),
            role: zvp_core::RoleCode::GENERAL_PRACTITIONER,
            practice_agb: Some(AgbCode::new(1_900_000 + n).unwrap()),
            status,
            created_at: last_login,
            last_login: Some(last_login),
            previous_login: None,
            accepted_terms: Some(1),
            admin: false,
            contact: Default::default(),
        }
    }

    fn delegation(grantor: u32, grantee: u32, until: DateTime<Utc>) -> Delegation {
        Delegation {
            id: zvp_auth::directory::DelegationId(u64::from(grantor)),
            grantor: AgbCode::new(1_000_000 + grantor).unwrap(),
            grantee: zvp_core::UziNumber::new(900_000_000 + grantee).unwrap(),
            from: at("2026-11-01T00:00:00Z"),
            until: Some(until),
            created_by: None,
            revoked_at: None,
        }
    }

    #[test]
    fn blocked_and_dormant_accounts_and_ended_delegations_are_not_watched() {
        let now = at("2026-11-25T08:00:00Z");
        let recent = now - Duration::days(2);
        let accounts = [
            account(1, AccountStatus::Active, recent),
            account(2, AccountStatus::Blocked, recent),
            account(3, AccountStatus::Active, now - Duration::days(200)),
            account(4, AccountStatus::Requested, recent),
        ];
        let delegations = [
            // From GP 7 to the active account, in force.
            delegation(7, 1, now + Duration::days(1)),
            // From GP 8 to the active account, ended.
            delegation(8, 1, now - Duration::days(1)),
            // From GP 9 to the blocked account.
            delegation(9, 2, now + Duration::days(1)),
        ];
        let watched: Vec<String> = watched(&accounts, &delegations, Duration::days(180), now)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(watched, ["01000001", "01000007", "01900001"]);
    }
}
