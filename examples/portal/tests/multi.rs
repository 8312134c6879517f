//! Two portal instances sharing PostgreSQL (directory, audit log, sessions), as behind a
//! round-robin load balancer: a session opened on one continues on the other; an account
//! blocked or a delegation revoked through one is refused on the other at the next request;
//! both write the audit log at once and it verifies as one. Against the PostgreSQL server on
//! the machine (ZVP_TEST_PG overrides the connection string).

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

use axum::body::Body;
use axum::http::Request;
use common::{Who, now};
use tower::ServiceExt as _;
use zvp_audit::log::AuditLog as _;
use zvp_auth::directory::{AccountStatus, DirectoryStore as _, NewDelegation, PgDirectory};
use zvp_portal::Portal;
use zvp_portal::pg::PgSessions;

use common::pg_config as config;

struct Instance {
    portal: Portal,
}

impl Instance {
    async fn get(
        &self,
        who: Who,
        path: &str,
        cookie: Option<&str>,
    ) -> (u16, String, Option<String>) {
        let mut request = Request::get(path);
        if let Some(c) = cookie {
            request = request.header("cookie", format!("__Host-zvp={c}"));
        }
        let mut request = request.body(Body::empty()).unwrap();
        request
            .extensions_mut()
            .insert(zvp_portal::ClientCertificate(Arc::new(who.card().chain())));
        let response = self.portal.router().oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let set = response.headers().get("set-cookie").map(|v| {
            v.to_str()
                .unwrap()
                .trim_start_matches("__Host-zvp=")
                .split(';')
                .next()
                .unwrap()
                .to_owned()
        });
        let body = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        (status, String::from_utf8(body.to_vec()).unwrap(), set)
    }
}

/// Two instances on one fresh schema, with the test accounts and delegation of `common`.
async fn two_instances(schema: &str) -> (Instance, Instance, PgDirectory) {
    two_instances_on(&config(), schema).await
}

/// [`two_instances`], their stores and the seeding directory connected with `config`.
async fn two_instances_on(config: &str, schema: &str) -> (Instance, Instance, PgDirectory) {
    let (client, connection) =
        tokio_postgres::connect(&pg_support::config(), tokio_postgres::NoTls)
            .await
            .unwrap();
    tokio::spawn(connection);
    client
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .await
        .unwrap();
    let template = common::TestPortal::new().await;
    let seed = PgDirectory::connect(config, schema).await.unwrap();
    for account in template.directory.accounts().await.unwrap() {
        seed.create_account(&account).await.unwrap();
    }
    seed.add_delegation(
        NewDelegation::new(
            common::demo_agb(0),
            common::uzi(900_000_103),
            now() - chrono::Duration::days(3),
            Some(now() + chrono::Duration::days(3)),
            None,
        )
        .unwrap(),
    )
    .await
    .unwrap();
    let mut instances = Vec::new();
    for n in 0..2 {
        let fixed = now();
        let settings = zvp_portal::config::PortalSettings {
            instance: format!("portal-{n}"),
            ..Default::default()
        };
        let portal = Portal::builder()
            .epd(template.epd.clone())
            .directory(Arc::new(
                PgDirectory::connect(config, schema).await.unwrap(),
            ))
            .audit(Arc::new(
                zvp_audit::log::pg::PgLog::connect(config, schema)
                    .await
                    .unwrap(),
            ))
            .sessions(Arc::new(
                PgSessions::connect(config, schema, zvp_portal::Timeouts::of(&settings))
                    .await
                    .unwrap(),
            ))
            .validator(Arc::new(common::validator()))
            .settings(settings)
            .clock(Arc::new(move || fixed))
            .build()
            .unwrap();
        instances.push(Instance { portal });
    }
    let b = instances.pop().unwrap();
    let a = instances.pop().unwrap();
    (a, b, seed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_sessions_decisions_and_one_audit_log() {
    let (a, b, directory) = two_instances("zvp_multi").await;
    let t = common::TestPortal::new().await;
    let (id, _) = t.own_patient().await;

    // A session opened on one instance continues on the other: no new cookie, no logout page.
    let (status, _, cookie) = a.get(Who::Own, "/", None).await;
    assert_eq!(status, 200);
    let cookie = cookie.expect("a session cookie");
    let (status, body, again) = b.get(Who::Own, "/", Some(&cookie)).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        again.is_none(),
        "the session continued on the other instance"
    );
    assert!(!body.contains("U bent afgemeld"));
    // ... and another card with that cookie ends it, wherever.
    let (_, body, _) = a.get(Who::Other, "/", Some(&cookie)).await;
    assert!(body.contains("andere UZI-pas"));

    // A delegation revoked through one instance is refused on the other at the next request.
    let page = format!("/patient/{id}");
    assert_eq!(b.get(Who::Delegated, &page, None).await.0, 200);
    let delegation = directory
        .delegations_to(common::uzi(900_000_103))
        .await
        .unwrap()[0]
        .id;
    directory
        .revoke_delegation(delegation, now() - chrono::Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(b.get(Who::Delegated, &page, None).await.0, 403);
    // An account blocked through one is refused on the other.
    assert_eq!(a.get(Who::Practice, &page, None).await.0, 200);
    directory
        .set_status(common::uzi(900_000_102), AccountStatus::Blocked)
        .await
        .unwrap();
    assert_eq!(b.get(Who::Practice, &page, None).await.0, 403);
    assert_eq!(a.get(Who::Practice, &page, None).await.0, 403);

    // Both instances disclose at the same time; the log is one consistent log.
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..40 {
        let instance = if n % 2 == 0 {
            a.portal.clone()
        } else {
            b.portal.clone()
        };
        let page = page.clone();
        tasks.spawn(async move {
            let mut request = Request::get(page).body(Body::empty()).unwrap();
            request
                .extensions_mut()
                .insert(zvp_portal::ClientCertificate(Arc::new(
                    Who::Own.card().chain(),
                )));
            instance
                .router()
                .oneshot(request)
                .await
                .unwrap()
                .status()
                .as_u16()
        });
    }
    while let Some(status) = tasks.join_next().await {
        assert_eq!(status.unwrap(), 200);
    }
    let verifier = zvp_audit::checkpoint::CheckpointSigner::generate("x")
        .unwrap()
        .0
        .verifier()
        .clone();
    let report = zvp_audit::log::pg::verify(&config(), "zvp_multi", &verifier)
        .await
        .unwrap();
    let log = zvp_audit::log::pg::PgLog::connect(&config(), "zvp_multi")
        .await
        .unwrap();
    let events = log.events().await.unwrap();
    assert_eq!(report.records, events.len() as u64);
    let from = |instance: &str| {
        events
            .iter()
            .filter(|(_, e)| e.source.instance == instance)
            .count()
    };
    assert!(
        from("portal-0") >= 40 && from("portal-1") >= 40,
        "{} {}",
        from("portal-0"),
        from("portal-1")
    );
}

/// Instances starting at once on an empty database, each connecting its directory, audit log
/// and sessions to the same schema (in a different order, so that different stores meet in
/// `CREATE SCHEMA`): every store connects. They take turns under one advisory lock per schema.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_starting_together_on_an_empty_schema_all_connect() {
    let (client, connection) = tokio_postgres::connect(&config(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    for round in 0..5 {
        let schema = format!("zvp_test_portal_start_{round}");
        client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .await
            .unwrap();
        let mut starting = tokio::task::JoinSet::new();
        for n in 0..6_usize {
            let schema = schema.clone();
            starting.spawn(async move {
                let timeouts = zvp_portal::Timeouts::of(&Default::default());
                let mut failed = Vec::new();
                for step in 0..3 {
                    let result = match (n + step) % 3 {
                        0 => PgDirectory::connect(&config(), &schema)
                            .await
                            .map(drop)
                            .map_err(|e| format!("directory: {e}")),
                        1 => zvp_audit::log::pg::PgLog::connect(&config(), &schema)
                            .await
                            .map(drop)
                            .map_err(|e| format!("audit log: {e}")),
                        _ => PgSessions::connect(&config(), &schema, timeouts)
                            .await
                            .map(drop)
                            .map_err(|e| format!("sessions: {e}")),
                    };
                    failed.extend(result.err());
                }
                failed
            });
        }
        while let Some(failed) = starting.join_next().await {
            assert_eq!(failed.unwrap(), Vec::<String>::new(), "round {round}");
        }
    }
}

/// PostgreSQL restarted, or its administrator ended the portal's backends: the instances
/// must serve again without being restarted, the GP keeping the session. Requests that meet
/// a connection that is gone get an error page and no patient data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_serve_again_after_postgresql_ended_their_connections() {
    let name = "zvp_multi_reconnect";
    let (a, b, _seed) =
        two_instances_on(&format!("{} application_name={name}", config()), name).await;
    let t = common::TestPortal::new().await;
    let (id, patient) = t.own_patient().await;
    let patient_name = patient.name.to_string();
    let page = format!("/patient/{id}");
    let (status, _, cookie) = a.get(Who::Own, &page, None).await;
    assert_eq!(status, 200);
    let cookie = cookie.expect("a session cookie");
    // The seeding directory's pool, and each instance's pool, audit log (reader and writer)
    // and sessions.
    assert_eq!(pg_support::terminate(name).await, 4 + 2 * (4 + 2 + 1));
    for instance in [&a, &b] {
        let mut failed = 0;
        loop {
            let (status, body, again) = instance.get(Who::Own, &page, Some(&cookie)).await;
            if status == 200 {
                assert!(again.is_none(), "the session went on");
                break;
            }
            assert_eq!(status, 503, "{body}");
            assert!(!body.contains(&patient_name), "{body}");
            failed += 1;
            // One per connection at most: the pool's four, the log's writer, the sessions'.
            assert!(failed <= 6, "{failed} requests failed");
        }
        for _ in 0..4 {
            assert_eq!(instance.get(Who::Own, &page, Some(&cookie)).await.0, 200);
        }
    }
    // One unbroken log across both instances' new connections.
    let verifier = zvp_audit::checkpoint::CheckpointSigner::generate("x")
        .unwrap()
        .0
        .verifier()
        .clone();
    let report = zvp_audit::log::pg::verify(&config(), name, &verifier)
        .await
        .unwrap();
    assert!(report.records >= 11, "{} records", report.records);
}
