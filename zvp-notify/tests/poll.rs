//! The notifier against the mock EPD over FHIR: what it finds, once; time passing in the
//! hospital; events entered late; the EPD down for a while; one poller at a time; events
//! deleted after the time they are kept.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

mod common;

use std::sync::Arc;

use chrono::Duration;
use common::{Hospital, now, stored};
use zvp_epd::EpdError;
use zvp_mock_epd::{Faults, Late};
use zvp_notify::find::Window;
use zvp_notify::{
    EventKey, EventKind, MemoryNotifyStore, NotifyStore, PollError, PollOutcome, StoreError,
};

fn kinds(keys: &std::collections::BTreeSet<EventKey>) -> Vec<&str> {
    let mut kinds: Vec<&str> = keys
        .iter()
        .filter_map(|k| k.as_str().split(':').next())
        .collect();
    kinds.dedup();
    kinds
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admissions_discharges_and_letters_are_found_once_as_time_passes() {
    let hospital = Hospital::start().await;
    let store: Arc<dyn NotifyStore> = Arc::new(MemoryNotifyStore::new());
    // An overlap of three days: each poll finds again what the last one found.
    let window = Window {
        overlap: Duration::days(3),
        ..Window::default()
    };
    let poller = hospital.poller(Arc::clone(&store), "a", window);
    let t0 = now() - Duration::days(2);
    hospital.mock.set_as_of(Some(t0));
    let first = poller.poll(t0).await.unwrap();
    let after_first = stored(store.as_ref()).await;
    assert_eq!(after_first, hospital.truth(t0 - window.lookback, t0).await);
    assert_eq!(
        first,
        PollOutcome::Polled {
            found: first_found(first),
            recorded: after_first.len(),
            pruned: 0,
        }
    );
    // Two days pass in the hospital.
    hospital.mock.set_as_of(Some(now()));
    let second = poller.poll(now()).await.unwrap();
    let all = stored(store.as_ref()).await;
    let mut expected = after_first.clone();
    expected.extend(hospital.truth(t0 - window.overlap, now()).await);
    assert_eq!(all, expected);
    assert!(all.len() > after_first.len());
    assert_eq!(kinds(&all), ["admission", "discharge", "letter"]);
    let PollOutcome::Polled { recorded, .. } = second else {
        panic!("{second:?}")
    };
    assert_eq!(recorded, all.len() - after_first.len());
    // Polling again finds the same events (the overlap) and records none of them again.
    let again = poller.poll(now() + Duration::minutes(5)).await.unwrap();
    assert!(
        matches!(again, PollOutcome::Polled { found, recorded: 0, pruned: 0 } if found > 0),
        "{again:?}"
    );
    assert_eq!(stored(store.as_ref()).await, all);
    // The events name kind, patient, GP and time: the GP's own.
    for r in store.after(0, 10_000).await.unwrap() {
        assert_eq!(r.event.gp, common::gp());
        assert!(EventKind::ALL.contains(&r.event.kind));
    }
}

fn first_found(outcome: PollOutcome) -> usize {
    match outcome {
        PollOutcome::Polled { found, .. } => found,
        PollOutcome::NotHolder => 0,
    }
}

/// A lookback of an hour, and an overlap of ten minutes.
fn short_lookback() -> Window {
    Window {
        lookback: Duration::hours(1),
        overlap: Duration::minutes(10),
        ..Window::default()
    }
}

/// How many events in the store have this key.
async fn copies(store: &dyn NotifyStore, key: &EventKey) -> usize {
    store
        .after(0, 100_000)
        .await
        .unwrap()
        .iter()
        .filter(|r| &r.event.key == key)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_entered_late_is_found_once_when_it_is_entered() {
    let hospital = Hospital::start().await;
    let store: Arc<dyn NotifyStore> = Arc::new(MemoryNotifyStore::new());
    // Only what changed since the last poll can find them.
    let window = short_lookback();
    let poller = hospital.poller(Arc::clone(&store), "a", window);
    let t0 = now() - Duration::days(1);
    // An admission that began hours before t0 and a letter dated days before it, both
    // entered an hour after t0.
    let (admitted, letter) = hospital
        .admitted_and_letter_before(t0 - Duration::hours(2))
        .await;
    let entered = t0 + Duration::hours(1);
    hospital
        .mock
        .enter_late(Late::Admission(admitted.patient.clone()), entered);
    hospital
        .mock
        .enter_late(Late::Letter(letter.1.clone()), entered);
    let admission_key = EventKey::admission(&admitted.patient, admitted.admitted_at());
    let letter_key = EventKey::letter(&letter.0, &letter.1);
    hospital.mock.set_as_of(Some(t0));
    poller.poll(t0).await.unwrap();
    assert_eq!(copies(store.as_ref(), &admission_key).await, 0);
    assert_eq!(copies(store.as_ref(), &letter_key).await, 0);
    // Polled just after they were entered: both found, though they happened before the
    // last poll.
    let t1 = entered + Duration::minutes(5);
    hospital.mock.set_as_of(Some(t1));
    poller.poll(t1).await.unwrap();
    assert_eq!(copies(store.as_ref(), &admission_key).await, 1);
    assert_eq!(copies(store.as_ref(), &letter_key).await, 1);
    let at_t1 = stored(store.as_ref()).await;
    // The next poll overlaps the time they were entered: found again, recorded once.
    let t2 = t1 + Duration::minutes(3);
    hospital.mock.set_as_of(Some(t2));
    let overlapping = poller.poll(t2).await.unwrap();
    assert!(
        matches!(overlapping, PollOutcome::Polled { found, recorded: 0, .. } if found >= 2),
        "{overlapping:?}"
    );
    assert_eq!(copies(store.as_ref(), &admission_key).await, 1);
    assert_eq!(copies(store.as_ref(), &letter_key).await, 1);
    assert_eq!(stored(store.as_ref()).await, at_t1);
    // The letter's event is about its date, the admission's about when it began.
    let all = store.after(0, 100_000).await.unwrap();
    let of = |key: &EventKey| all.iter().find(|r| &r.event.key == key).unwrap().event.at;
    assert_eq!(of(&admission_key), admitted.admitted_at());
    assert!(of(&letter_key) < t0 - Duration::days(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_older_than_kept_are_deleted_and_not_recorded_again() {
    let hospital = Hospital::start().await;
    let store: Arc<dyn NotifyStore> = Arc::new(MemoryNotifyStore::new());
    let window = Window {
        lookback: Duration::days(30),
        ..Window::default()
    };
    let poller = hospital.poller(Arc::clone(&store), "a", window);
    poller.poll(now()).await.unwrap();
    let all = store.after(0, 100_000).await.unwrap();
    let cut = now() - Duration::days(4);
    let old = all.iter().filter(|r| r.event.at < cut).count();
    assert!(old > 0 && old < all.len(), "{old} of {}", all.len());
    // The same store, kept four days: the older events go at the next poll, and the poll
    // that finds them again (a day's overlap) does not record them.
    let short = Window {
        overlap: Duration::days(40),
        keep: Duration::days(4),
        ..window
    };
    let pruning = hospital.poller(Arc::clone(&store), "a", short);
    let outcome = pruning.poll(now()).await.unwrap();
    let PollOutcome::Polled {
        recorded, pruned, ..
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!((recorded, pruned), (0, u64::try_from(old).unwrap()));
    let left = store.after(0, 100_000).await.unwrap();
    assert_eq!(left.len(), all.len() - old);
    assert!(left.iter().all(|r| r.event.at >= cut));
    // Time passes: a day later, what is now older than four days goes too.
    let later = now() + Duration::days(1);
    let outcome = pruning.poll(later).await.unwrap();
    let gone = left
        .iter()
        .filter(|r| r.event.at < later - Duration::days(4))
        .count();
    assert!(
        matches!(outcome, PollOutcome::Polled { recorded: 0, pruned, .. } if pruned == u64::try_from(gone).unwrap()),
        "{outcome:?}, {gone}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_epd_down_for_a_day_loses_no_event() {
    let hospital = Hospital::start().await;
    let store: Arc<dyn NotifyStore> = Arc::new(MemoryNotifyStore::new());
    // Only the last successful poll can reach back over the outage.
    let window = short_lookback();
    let poller = hospital.poller(Arc::clone(&store), "a", window);
    let t0 = now() - Duration::days(2);
    hospital.mock.set_as_of(Some(t0));
    poller.poll(t0).await.unwrap();
    assert_eq!(store.last_poll().await.unwrap(), Some(t0));
    // Down for a day: each poll fails and moves nothing.
    hospital.mock.set_faults(Faults {
        error_percent: 100,
        ..Faults::default()
    });
    for hours in [6, 12, 24] {
        let at = t0 + Duration::hours(hours);
        hospital.mock.set_as_of(Some(at));
        let failed = poller.poll(at).await;
        assert!(
            matches!(failed, Err(PollError::Epd(EpdError::Unavailable(_)))),
            "{failed:?}"
        );
        assert_eq!(store.last_poll().await.unwrap(), Some(t0));
    }
    // Back: the next poll covers the outage.
    hospital.mock.set_faults(Faults::default());
    hospital.mock.set_as_of(Some(now()));
    poller.poll(now()).await.unwrap();
    let all = stored(store.as_ref()).await;
    let mut expected = hospital.truth(t0 - window.lookback, t0).await;
    expected.extend(hospital.truth(t0 - window.overlap, now()).await);
    assert_eq!(all, expected);
    // The outage's events are among them: more than the last hour alone holds.
    assert!(expected.len() > hospital.truth(now() - window.lookback, now()).await.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_poller_at_a_time_and_the_other_takes_over_when_the_lease_runs_out() {
    let hospital = Hospital::start().await;
    let store: Arc<dyn NotifyStore> = Arc::new(MemoryNotifyStore::new());
    // An overlap of days: a poll after another finds again what that one found.
    let window = Window {
        overlap: Duration::days(3),
        ..Window::default()
    };
    let a = hospital.poller(Arc::clone(&store), "a", window);
    let b = hospital.poller(Arc::clone(&store), "b", window);
    assert!(matches!(
        a.poll(now()).await.unwrap(),
        PollOutcome::Polled { recorded, .. } if recorded > 0
    ));
    let recorded = stored(store.as_ref()).await;
    assert_eq!(
        b.poll(now() + Duration::minutes(1)).await.unwrap(),
        PollOutcome::NotHolder
    );
    // A stops renewing (it died); its lease of two minutes runs out and b takes over,
    // recording nothing a recorded already.
    let later = now() + Duration::minutes(3);
    assert!(matches!(
        b.poll(later).await.unwrap(),
        PollOutcome::Polled { recorded: 0, found, .. } if found > 0
    ));
    assert_eq!(stored(store.as_ref()).await, recorded);
    assert_eq!(a.poll(later).await.unwrap(), PollOutcome::NotHolder);
    // What a found before it knew it had lost the lease is refused.
    assert_eq!(
        store.record("a", later, &[], later).await,
        Err(StoreError::LeaseLost)
    );
    // b shuts down and gives the lease up: a takes it at once.
    b.release().await.unwrap();
    assert!(matches!(
        a.poll(later).await.unwrap(),
        PollOutcome::Polled { .. }
    ));
}
