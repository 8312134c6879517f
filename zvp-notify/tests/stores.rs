//! Both stores behave the same: keys recorded once, the lease, coverage, read marks; and the
//! PostgreSQL store across a restart and between two instances.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

mod common;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use common::{Hospital, now, stored};
use zvp_core::{AgbCode, UziNumber};
use zvp_notify::find::Window;
use zvp_notify::store::PgNotifyStore;
use zvp_notify::{
    Coverage, Event, EventKey, EventKind, MemoryNotifyStore, NotifyStore, PollOutcome, StoreError,
};

fn pg_config() -> String {
    std::env::var("ZVP_TEST_PG")
        .unwrap_or_else(|_| "host=127.0.0.1 port=5432 user=postgres dbname=test".to_owned())
}

/// A fresh schema.
async fn fresh_pg(schema: &str) -> PgNotifyStore {
    let (client, connection) = tokio_postgres::connect(&pg_config(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .await
        .unwrap();
    PgNotifyStore::connect(&pg_config(), schema).await.unwrap()
}

fn gp(n: u32) -> AgbCode {
    AgbCode::new(1_000_000 + n).unwrap()
}

fn event(n: u32, gp_n: u32, at: DateTime<Utc>) -> Event {
    let patient = format!("p-{n}").parse().unwrap();
    Event {
        key: EventKey::admission(&patient, at),
        kind: EventKind::Admission,
        patient,
        gp: gp(gp_n),
        at,
    }
}

async fn behaves(store: &dyn NotifyStore) {
    let t = now();
    let reader = UziNumber::new(900_000_001).unwrap();
    assert!(
        store
            .acquire("a", t, t + Duration::minutes(2))
            .await
            .unwrap()
    );
    assert!(
        !store
            .acquire("b", t, t + Duration::minutes(2))
            .await
            .unwrap()
    );
    let events = [
        event(1, 1, t - Duration::days(3)),
        event(2, 1, t - Duration::days(1)),
        event(3, 2, t - Duration::days(2)),
        event(4, 3, t - Duration::hours(1)),
    ];
    assert_eq!(store.record("a", t, &events, t).await.unwrap(), 4);
    // Again, with one more: only that one is new.
    let more = [events[1].clone(), event(5, 1, t - Duration::hours(2))];
    assert_eq!(store.record("a", t, &more, t).await.unwrap(), 1);
    assert_eq!(store.last_poll().await.unwrap(), Some(t));
    // Coverage: GP 1 wholly, GP 2 (a delegation) from two and a half days ago.
    let coverage = [
        Coverage {
            gp: gp(1),
            from: None,
            until: None,
        },
        Coverage {
            gp: gp(2),
            from: Some(t - Duration::hours(60)),
            until: Some(t),
        },
    ];
    let seen = store.events(&coverage, reader, 10).await.unwrap();
    let patients: Vec<&str> = seen
        .iter()
        .map(|s| s.recorded.event.patient.as_str())
        .collect();
    assert_eq!(patients, ["p-5", "p-2", "p-3", "p-1"]);
    assert_eq!(store.unread(&coverage, reader).await.unwrap(), 4);
    // A delegation that ended before the event covers it not.
    let ended = [Coverage {
        gp: gp(2),
        from: Some(t - Duration::days(10)),
        until: Some(t - Duration::days(5)),
    }];
    assert_eq!(store.unread(&ended, reader).await.unwrap(), 0);
    let p2 = seen[1].recorded.seq;
    store.mark_read(reader, p2, t).await.unwrap();
    store
        .mark_read(reader, p2, t + Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(store.unread(&coverage, reader).await.unwrap(), 3);
    let seen = store.events(&coverage, reader, 2).await.unwrap();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].read_at, Some(t));
    // Another reader has read nothing.
    let other = UziNumber::new(900_000_002).unwrap();
    assert_eq!(store.unread(&coverage, other).await.unwrap(), 4);
    assert_eq!(
        store.mark_read(reader, 999, t).await,
        Err(StoreError::NoSuchEvent(999))
    );
    assert_eq!(
        store.event(p2).await.unwrap().map(|r| r.event),
        Some(events[1].clone())
    );
    assert_eq!(store.after(p2, 10).await.unwrap().len(), 3);
    // The lease runs out: b takes it, a records nothing more.
    let later = t + Duration::minutes(3);
    assert!(
        store
            .acquire("b", later, later + Duration::minutes(2))
            .await
            .unwrap()
    );
    assert_eq!(
        store.record("a", later, &[event(6, 1, t)], later).await,
        Err(StoreError::LeaseLost)
    );
    assert_eq!(store.after(0, 100).await.unwrap().len(), 5);
    // The events before two days ago go, with who read them (p-2, read, stays; p-1 and
    // p-3 go); nothing else.
    assert_eq!(store.prune(t - Duration::days(2)).await.unwrap(), 1);
    assert_eq!(store.prune(t - Duration::hours(36)).await.unwrap(), 1);
    let left: Vec<String> = store
        .after(0, 100)
        .await
        .unwrap()
        .iter()
        .map(|r| r.event.patient.to_string())
        .collect();
    assert_eq!(left, ["p-2", "p-4", "p-5"]);
    assert_eq!(
        store.event(p2).await.unwrap().map(|r| r.event),
        Some(events[1].clone())
    );
    assert_eq!(store.unread(&coverage, reader).await.unwrap(), 1);
    // p-2 goes too, and its read mark with it (PostgreSQL: the reference from notify_read).
    assert_eq!(store.prune(t).await.unwrap(), 3);
    assert_eq!(store.after(0, 100).await.unwrap().len(), 0);
    assert_eq!(store.prune(t).await.unwrap(), 0);
    assert_eq!(
        store.mark_read(reader, p2, t).await,
        Err(StoreError::NoSuchEvent(p2))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_behaves() {
    behaves(&MemoryNotifyStore::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_store_behaves() {
    behaves(&fresh_pg("notify_behaves").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_store_after_a_restart_and_beside_another_instance() {
    let hospital = Hospital::start().await;
    let first: Arc<dyn NotifyStore> = Arc::new(fresh_pg("notify_instances").await);
    // An overlap of days: the instance that takes over finds again what a found.
    let window = Window {
        overlap: Duration::days(3),
        ..Window::default()
    };
    let a = hospital.poller(Arc::clone(&first), "a", window);
    assert!(matches!(
        a.poll(now()).await.unwrap(),
        PollOutcome::Polled { recorded, .. } if recorded > 0
    ));
    let recorded = stored(first.as_ref()).await;
    assert_eq!(
        recorded,
        hospital
            .truth(now() - Window::default().lookback, now())
            .await
    );
    // A second instance on its own connection: not while a holds the lease.
    let second: Arc<dyn NotifyStore> = Arc::new(
        PgNotifyStore::connect(&pg_config(), "notify_instances")
            .await
            .unwrap(),
    );
    let b = hospital.poller(Arc::clone(&second), "b", window);
    assert_eq!(
        b.poll(now() + Duration::minutes(1)).await.unwrap(),
        PollOutcome::NotHolder
    );
    // a is gone (its lease runs out); b takes over and records nothing twice.
    let later = now() + Duration::minutes(3);
    assert!(matches!(
        b.poll(later).await.unwrap(),
        PollOutcome::Polled { recorded: 0, found, .. } if found > 0
    ));
    // a restarted (a new connection, the same name): it waits for b's lease.
    let restarted: Arc<dyn NotifyStore> = Arc::new(
        PgNotifyStore::connect(&pg_config(), "notify_instances")
            .await
            .unwrap(),
    );
    let a = hospital.poller(restarted, "a", window);
    assert_eq!(a.poll(later).await.unwrap(), PollOutcome::NotHolder);
    assert_eq!(stored(second.as_ref()).await, recorded);
}
