//! Both session stores — in the instance and in PostgreSQL (127.0.0.1:5432, trust auth;
//! `ZVP_TEST_PG` overrides) — end a session for the same reasons at the same moments.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

mod common;
#[path = "../../../testsupport/pg.rs"]
mod pg_support;

use pg_support::{Mode, Proxy};

use chrono::{DateTime, Duration, TimeZone, Utc};
use zvp_portal::pg::PgSessions;
use zvp_portal::{Ended, MemorySessions, SessionError, SessionStore, Timeouts};

use common::pg_config as config;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 8, 0, 0).unwrap()
}

const TIMEOUTS: Timeouts = Timeouts {
    idle: Duration::minutes(15),
    absolute: Duration::hours(10),
};

/// What every store must do. `certificate` differs per store so that runs do not meet.
async fn behaves(store: &dyn SessionStore) {
    let card = "aa".repeat(32);
    let other = "bb".repeat(32);
    let resume = |cookie: String, certificate: String, at: DateTime<Utc>| async move {
        store
            .resume(Some(&cookie), &certificate, at, TIMEOUTS)
            .await
            .unwrap()
            .map(|(_, new_cookie)| new_cookie)
    };

    // A session continues within the idle timeout, and every request moves it on.
    let (session, cookie) = store.start(&card, t0()).await.unwrap();
    drop(session);
    assert_eq!(
        resume(cookie.clone(), card.clone(), t0() + Duration::minutes(10)).await,
        Ok(None)
    );
    assert_eq!(
        resume(cookie.clone(), card.clone(), t0() + Duration::minutes(24)).await,
        Ok(None)
    );
    // 15 minutes after the last request — exactly the timeout — it has ended, and stays ended.
    assert_eq!(
        resume(cookie.clone(), card.clone(), t0() + Duration::minutes(39)).await,
        Err(Ended::Idle)
    );
    assert_eq!(
        resume(cookie, card.clone(), t0() + Duration::minutes(40)).await,
        Err(Ended::Unknown)
    );

    // Another certificate with the same cookie ends it.
    let (_, cookie) = store.start(&card, t0()).await.unwrap();
    assert_eq!(
        resume(cookie.clone(), other.clone(), t0() + Duration::minutes(1)).await,
        Err(Ended::OtherCertificate)
    );
    assert_eq!(
        resume(cookie, card.clone(), t0() + Duration::minutes(2)).await,
        Err(Ended::Unknown)
    );

    // However active, a session ends at the absolute timeout.
    let (_, cookie) = store.start(&card, t0()).await.unwrap();
    let mut at = t0();
    while at < t0() + Duration::hours(10) - Duration::minutes(10) {
        at += Duration::minutes(10);
        assert_eq!(
            resume(cookie.clone(), card.clone(), at).await,
            Ok(None),
            "{at}"
        );
    }
    assert_eq!(
        resume(cookie, card.clone(), t0() + Duration::hours(10)).await,
        Err(Ended::Absolute)
    );

    // A cookie never issued.
    assert_eq!(
        resume("00".repeat(32), card.clone(), t0()).await,
        Err(Ended::Unknown)
    );
    // No cookie: a new session, with its cookie.
    let started = store.resume(None, &card, t0(), TIMEOUTS).await.unwrap();
    assert!(matches!(started, Ok((_, Some(_)))));
}

#[tokio::test]
async fn sessions_in_the_instance_end_as_they_should() {
    behaves(&MemorySessions::default()).await;
}

/// Starts `schema` afresh.
async fn drop_schema(schema: &str) {
    let (client, connection) = tokio_postgres::connect(&config(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .await
        .unwrap();
}

#[tokio::test]
async fn sessions_in_postgresql_end_as_they_should() {
    drop_schema("zvp_sessions_test").await;
    let store = PgSessions::connect(&config(), "zvp_sessions_test", TIMEOUTS)
        .await
        .unwrap();
    behaves(&store).await;
}

/// PostgreSQL ended the sessions' connection while many requests were coming in: each
/// request goes on or fails cleanly, the session then goes on, and the store is left with
/// one connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_in_postgresql_come_back_when_many_requests_find_the_connection_lost() {
    let name = "zvp_sessions_reconnect";
    drop_schema(name).await;
    let store = PgSessions::connect(
        &format!("{} application_name={name}", config()),
        name,
        TIMEOUTS,
    )
    .await
    .unwrap();
    let card = "cc".repeat(32);
    let (_, cookie) = store.start(&card, t0()).await.unwrap();
    assert_eq!(pg_support::terminate(name).await, 1);
    let mut requests = tokio::task::JoinSet::new();
    for n in 0..16 {
        let (store, cookie, card) = (store.clone(), cookie.clone(), card.clone());
        requests.spawn(async move {
            let at = t0() + Duration::seconds(n);
            store.resume(Some(&cookie), &card, at, TIMEOUTS).await
        });
    }
    while let Some(resumed) = requests.join_next().await {
        // Each goes on, or (having met the connection that was gone) says the store failed.
        assert!(matches!(resumed.unwrap(), Ok(Ok((_, None))) | Err(_)));
    }
    let resumed = store
        .resume(Some(&cookie), &card, t0() + Duration::minutes(1), TIMEOUTS)
        .await;
    assert!(matches!(resumed, Ok(Ok((_, None)))));
    assert_eq!(pg_support::terminate(name).await, 1);
}

/// The database cannot be reached and its connection attempts hang: requests that queue for
/// the one attempt to reconnect fail together when it fails, instead of each making its own
/// attempt after the one before (sixteen connect timeouts in a row); and when the database is
/// back, the session goes on.
// One thread: a request's first step (finding the connection gone, queueing for the attempt)
// runs whole before the test goes on, so all sixteen are queued before the attempt fails.
#[tokio::test(flavor = "current_thread")]
async fn requests_waiting_for_an_unreachable_database_fail_together() {
    let name = "zvp_sessions_unreachable";
    drop_schema(name).await;
    let proxy = Proxy::start().await;
    let store = PgSessions::connect(&proxy.config(name), name, TIMEOUTS)
        .await
        .unwrap();
    let card = "dd".repeat(32);
    let (_, cookie) = store.start(&card, t0()).await.unwrap();
    let resume = |store: PgSessions, cookie: String, card: String| async move {
        store.resume(Some(&cookie), &card, t0(), TIMEOUTS).await
    };

    // The database goes away: the next request fails, on the cut connection or on an attempt
    // to make it again.
    proxy.mode.send_replace(Mode::Down);
    let first = resume(store.clone(), cookie.clone(), card.clone()).await;
    assert!(matches!(first, Err(SessionError(_))));

    // Now attempts hang. Sixteen requests arrive; one attempt is made and held...
    proxy.mode.send_replace(Mode::Hold);
    let before = proxy.made();
    let (started, mut arrived) = tokio::sync::mpsc::unbounded_channel();
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let (store, cookie, card) = (store.clone(), cookie.clone(), card.clone());
        let started = started.clone();
        requests.spawn(async move {
            // Sent in the same turn as the request's first step (finding the connection
            // gone and queueing for the attempt), which has no await before it.
            started.send(()).unwrap();
            resume(store, cookie, card).await
        });
    }
    for _ in 0..16 {
        arrived.recv().await.unwrap();
    }
    proxy.made_more_than(before).await;
    // ...and when it fails, every request waiting for it fails with it.
    proxy.mode.send_replace(Mode::Down);
    while let Some(resumed) = requests.join_next().await {
        assert!(matches!(resumed.unwrap(), Err(SessionError(_))));
    }
    assert_eq!(proxy.made(), before + 1, "attempts to reconnect");

    // Back: the session goes on.
    proxy.mode.send_replace(Mode::Up);
    let back = resume(store.clone(), cookie.clone(), card.clone()).await;
    assert!(matches!(back, Ok(Ok((_, None)))));
}

/// A server (or a proxy in front of one) that accepts connections and then says nothing:
/// making the connection again gives up after the connect timeout, covering the start-up,
/// and the request gets its error instead of waiting for ever with every request behind it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_accepts_and_then_says_nothing_fails_requests_within_the_connect_timeout() {
    let name = "zvp_sessions_silent";
    drop_schema(name).await;
    let proxy = Proxy::start().await;
    let config = format!("{} connect_timeout=1", proxy.config(name));
    let store = PgSessions::connect(&config, name, TIMEOUTS).await.unwrap();
    let card = "ee".repeat(32);
    let (_, cookie) = store.start(&card, t0()).await.unwrap();
    proxy.mode.send_replace(Mode::Down);
    let first = store.resume(Some(&cookie), &card, t0(), TIMEOUTS).await;
    assert!(matches!(first, Err(SessionError(_))));
    proxy.mode.send_replace(Mode::Hold);
    // (The bound only turns a hang into a failure; the store gives up after 1 s.)
    let silent = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        store.resume(Some(&cookie), &card, t0(), TIMEOUTS),
    )
    .await
    .expect("the request waited for ever");
    assert_eq!(
        silent.map(|_| ()),
        Err(SessionError(
            "postgresql: no connection within the connect timeout".to_owned()
        ))
    );
    proxy.mode.send_replace(Mode::Up);
    let back = store.resume(Some(&cookie), &card, t0(), TIMEOUTS).await;
    assert!(matches!(back, Ok(Ok((_, None)))));
}
