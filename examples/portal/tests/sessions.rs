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

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

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

/// A TCP proxy in front of the test server that counts the connections made through it and
/// can play an unreachable database: in `Hold`, it takes a connection and leaves it without
/// an answer until told (as a server gone without closing does, until a timeout).
struct Proxy {
    port: u16,
    made: Arc<AtomicUsize>,
    mode: tokio::sync::watch::Sender<Mode>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Forwards to PostgreSQL.
    Up,
    /// Cuts every forwarded connection, and closes new ones at once.
    Down,
    /// Cuts every forwarded connection, and holds new ones open, unanswered, until `Down`.
    Hold,
}

impl Proxy {
    async fn start() -> Self {
        let target: tokio_postgres::Config = config().parse().unwrap();
        let host = match &target.get_hosts()[0] {
            tokio_postgres::config::Host::Tcp(host) => host.clone(),
            other => panic!("a TCP host, not {other:?}"),
        };
        let server = format!("{host}:{}", target.get_ports()[0]);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let made = Arc::new(AtomicUsize::new(0));
        let (mode, watch) = tokio::sync::watch::channel(Mode::Up);
        let counter = Arc::clone(&made);
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let mut watch = watch.clone();
                let server = server.clone();
                tokio::spawn(async move {
                    let wanted = |mode: Mode| move |now: &Mode| *now == mode;
                    let now = *watch.borrow_and_update();
                    match now {
                        Mode::Down => return,
                        Mode::Hold => {
                            let _ = watch.wait_for(wanted(Mode::Down)).await;
                            return;
                        }
                        Mode::Up => {}
                    }
                    let mut upstream = tokio::net::TcpStream::connect(&server).await.unwrap();
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {}
                        _ = watch.wait_for(|now| *now != Mode::Up) => {}
                    }
                });
            }
        });
        Self { port, made, mode }
    }

    /// A connection string that goes through the proxy.
    fn config(&self, name: &str) -> String {
        let target: tokio_postgres::Config = config().parse().unwrap();
        format!(
            "host=127.0.0.1 port={} user={} dbname={} application_name={name}",
            self.port,
            target.get_user().unwrap(),
            target.get_dbname().unwrap()
        )
    }

    fn made(&self) -> usize {
        self.made.load(Ordering::SeqCst)
    }
}

/// The database cannot be reached and its connection attempts hang: requests that queue for
/// the one attempt to reconnect fail together when it fails, instead of each making its own
/// attempt after the one before (sixteen connect timeouts in a row); and when the database is
/// back, the session goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
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
    for _ in 0..1000 {
        if proxy.made() > before {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
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
