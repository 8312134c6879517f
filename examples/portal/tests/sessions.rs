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

use chrono::{DateTime, Duration, TimeZone, Utc};
use zvp_portal::pg::PgSessions;
use zvp_portal::{Ended, MemorySessions, SessionStore, Timeouts};

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

#[tokio::test]
async fn sessions_in_postgresql_end_as_they_should() {
    let (client, connection) = tokio_postgres::connect(&config(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .batch_execute("DROP SCHEMA IF EXISTS zvp_sessions_test CASCADE")
        .await
        .unwrap();
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
    let (client, connection) = tokio_postgres::connect(&config(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
        .await
        .unwrap();
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
