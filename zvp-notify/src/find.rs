//! The pure part of a poll: which window to ask the EPD about, whose patients to ask for,
//! and which events its answers hold. Time is a parameter.

use chrono::{DateTime, Duration, NaiveTime, Utc};
use zvp_auth::directory::{Account, AccountStatus, Delegation};
use zvp_core::{AgbCode, Letter, PatientId};
use zvp_epd::ListedPatient;

use crate::event::{Event, EventKey, EventKind};
use crate::store::Coverage;

/// How far back a poll looks, and how its windows overlap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// The first poll looks back this far, and every poll at least this far, so that a letter
    /// written days after a discharge is still found. Default 3 days.
    pub lookback: Duration,
    /// Each poll starts this long before the previous one, so that what the EPD recorded late
    /// (a discharge entered after the fact) is found. Default 1 hour.
    pub overlap: Duration,
}

impl Default for Window {
    fn default() -> Self {
        Self {
            lookback: Duration::days(3),
            overlap: Duration::hours(1),
        }
    }
}

impl Window {
    /// Where a poll at `now` starts, given when the last successful poll was made: the
    /// earlier of the last poll (less the overlap) and `now` less the lookback. A poll that
    /// failed moved nothing, so the next one covers its time too: no event is lost to an EPD
    /// that was down.
    pub fn start(&self, last_poll: Option<DateTime<Utc>>, now: DateTime<Utc>) -> DateTime<Utc> {
        let recent = now - self.lookback;
        last_poll.map_or(recent, |last| (last - self.overlap).min(recent))
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

/// The admission and discharge events of the listed patients from `from` on. Patients who
/// object to sharing and patients without a registered GP give none.
pub fn listed_events(listed: &[ListedPatient], from: DateTime<Utc>) -> Vec<Event> {
    let mut events = Vec::new();
    for l in listed {
        let Some(gp) = notified_gp(l) else { continue };
        let patient = &l.patient.id;
        let admitted = l.admission.admitted_at();
        if admitted >= from {
            events.push(Event {
                key: EventKey::admission(patient, admitted),
                kind: EventKind::Admission,
                patient: patient.clone(),
                gp,
                at: admitted,
            });
        }
        if let Some(discharged) = l.admission.discharged_at()
            && discharged >= from
        {
            events.push(Event {
                key: EventKey::discharge(patient, admitted),
                kind: EventKind::Discharge,
                patient: patient.clone(),
                gp,
                at: discharged,
            });
        }
    }
    events
}

/// The GP told of a listed patient's events: the registered GP, unless the patient objects
/// to sharing (then nobody is).
pub fn notified_gp(listed: &ListedPatient) -> Option<AgbCode> {
    if listed.patient.sharing_objection.is_some() {
        return None;
    }
    listed.patient.registered_gp.as_ref().map(|gp| gp.agb)
}

/// The letter events of one patient: letters dated on or after `from`'s date.
pub fn letter_events(
    patient: &PatientId,
    gp: AgbCode,
    letters: &[Letter],
    from: DateTime<Utc>,
) -> Vec<Event> {
    letters
        .iter()
        .filter(|l| l.date >= from.date_naive())
        .map(|l| Event {
            key: EventKey::letter(patient, &l.id),
            kind: EventKind::Letter,
            patient: patient.clone(),
            gp,
            at: l.date.and_time(NaiveTime::MIN).and_utc(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn the_window_starts_at_the_earlier_of_last_poll_and_lookback() {
        let w = Window::default();
        let now = at("2026-11-25T08:00:00Z");
        assert_eq!(w.start(None, now), at("2026-11-22T08:00:00Z"));
        // A poll five minutes ago: the lookback is the earlier.
        assert_eq!(
            w.start(Some(at("2026-11-25T07:55:00Z")), now),
            at("2026-11-22T08:00:00Z")
        );
        // The EPD down for a week: the window reaches back to the last poll, less the overlap.
        assert_eq!(
            w.start(Some(at("2026-11-18T08:00:00Z")), now),
            at("2026-11-18T07:00:00Z")
        );
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
