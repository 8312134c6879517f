//! The notifier against the mock EPD over FHIR: what it finds, once; time passing in the
//! hospital; the EPD down for a while; one poller at a time.

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
use zvp_mock_epd::Faults;
use zvp_notify::find::Window;
use zvp_notify::{EventKind, MemoryNotifyStore, NotifyStore, PollError, PollOutcome, StoreError};

fn kinds(keys: &std::collections::BTreeSet<zvp_notify::EventKey>) -> Vec<&str> {
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
    let window = Window::default();
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
            recorded: after_first.len()
        }
    );
    // Two days pass in the hospital.
    hospital.mock.set_as_of(Some(now()));
    let second = poller.poll(now()).await.unwrap();
    let all = stored(store.as_ref()).await;
    assert_eq!(all, hospital.truth(t0 - window.lookback, now()).await);
    assert!(all.len() > after_first.len());
    assert_eq!(kinds(&all), ["admission", "discharge", "letter"]);
    let PollOutcome::Polled { recorded, .. } = second else {
        panic!("{second:?}")
    };
    assert_eq!(recorded, all.len() - after_first.len());
    // Polling again finds the same events and records none of them again.
    let again = poller.poll(now() + Duration::minutes(5)).await.unwrap();
    assert!(matches!(again, PollOutcome::Polled { found, recorded: 0 } if found > 0));
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_epd_down_for_a_day_loses_no_event() {
    let hospital = Hospital::start().await;
    let store: Arc<dyn NotifyStore> = Arc::new(MemoryNotifyStore::new());
    // A short lookback: only the last successful poll can reach back over the outage.
    let window = Window {
        lookback: Duration::hours(1),
        overlap: Duration::minutes(10),
    };
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
    let expected = hospital.truth(t0 - window.lookback, now()).await;
    assert_eq!(all, expected);
    // The outage's events are among them: more than the last hour alone holds.
    assert!(expected.len() > hospital.truth(now() - window.lookback, now()).await.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_poller_at_a_time_and_the_other_takes_over_when_the_lease_runs_out() {
    let hospital = Hospital::start().await;
    let store: Arc<dyn NotifyStore> = Arc::new(MemoryNotifyStore::new());
    let a = hospital.poller(Arc::clone(&store), "a", Window::default());
    let b = hospital.poller(Arc::clone(&store), "b", Window::default());
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
        PollOutcome::Polled { recorded: 0, found } if found > 0
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
