//! Two `zvp-portal serve` processes sharing PostgreSQL with `[notify]` on: one polls the EPD
//! at a time (the lease's holder is one of them), and when it is killed with SIGKILL the
//! other takes over, recording none of the events again. Against the PostgreSQL server on
//! the machine (ZVP_TEST_PG overrides the connection string).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

mod common;

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use common::pki;
use zvp_auth::directory::{DirectoryStore as _, PgDirectory};
use zvp_auth::testpki::certificates_pem;
use zvp_epd::synthetic::SyntheticEpd;
use zvp_mock_epd::{Faults, MockEpd};

const SCHEMA: &str = "zvp_notify_instances";

fn pg() -> String {
    std::env::var("ZVP_TEST_PG")
        .unwrap_or_else(|_| "host=127.0.0.1 port=5432 user=postgres dbname=test".to_owned())
}

/// A running instance, killed when dropped.
struct Instance(Child);

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `zvp-portal serve --config`, returning once it serves.
fn serve(config: &Path) -> Instance {
    let mut child = Command::new(env!("CARGO_BIN_EXE_zvp-portal"))
        .args(["serve", "--config"])
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the instance starts");
    assert!(line.starts_with("zvp-portal: serving"), "{line}");
    Instance(child)
}

/// The lease's holder, the events recorded (and how many distinct keys), the last poll.
async fn state(
    client: &tokio_postgres::Client,
) -> (Option<String>, i64, i64, Option<chrono::DateTime<Utc>>) {
    let holder = client
        .query_opt(&format!("SELECT holder FROM {SCHEMA}.notify_lease"), &[])
        .await
        .unwrap()
        .map(|r| r.get::<_, String>(0));
    let counts = client
        .query_one(
            &format!("SELECT count(*), count(DISTINCT key) FROM {SCHEMA}.notify_events"),
            &[],
        )
        .await
        .unwrap();
    let last = client
        .query_opt(&format!("SELECT last_poll FROM {SCHEMA}.notify_polls"), &[])
        .await
        .unwrap()
        .map(|r| r.get(0));
    (holder, counts.get(0), counts.get(1), last)
}

/// Waits until `done` holds of the store's state, within a minute.
async fn until<F>(
    client: &tokio_postgres::Client,
    what: &str,
    done: F,
) -> (Option<String>, i64, i64, Option<chrono::DateTime<Utc>>)
where
    F: Fn(&(Option<String>, i64, i64, Option<chrono::DateTime<Utc>>)) -> bool,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let s = state(client).await;
        if done(&s) {
            return s;
        }
        assert!(Instant::now() < deadline, "{what}: {s:?}");
        tokio::task::yield_now().await;
    }
}

fn pid_of(holder: &str) -> u32 {
    holder.rsplit(':').next().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_instance_polls_and_the_other_takes_over_after_a_sigkill() {
    let dir = common::scratch("notify-instances");
    let now = Utc::now();
    let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
    write("root.pem", &certificates_pem(&[pki().root()]));
    write(
        "intermediates.pem",
        &certificates_pem(&pki().intermediates()),
    );
    for card_type in [
        zvp_core::CardType::CareProvider,
        zvp_core::CardType::NamedEmployee,
    ] {
        let crl = pki()
            .crl(
                card_type,
                &[],
                now - chrono::Duration::hours(1),
                now + chrono::Duration::hours(47),
            )
            .unwrap();
        std::fs::write(
            dir.join(format!("{}.crl", card_type.letter())),
            crl.as_ref(),
        )
        .unwrap();
    }
    let (client, connection) = tokio_postgres::connect(&pg(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        .await
        .unwrap();
    let template = common::TestPortal::new().await;
    let directory = PgDirectory::connect(&pg(), SCHEMA).await.unwrap();
    for mut account in template.directory.accounts().await.unwrap() {
        // Used recently, as the processes' clock (the real one) sees it.
        account.last_login = Some(now);
        directory.create_account(&account).await.unwrap();
    }
    // A hospital current at the processes' clock, so that the polls find events.
    let hospital = Arc::new(SyntheticEpd::generate(2026, now, 400).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/fhir", listener.local_addr().unwrap());
    let mock = Arc::new(MockEpd::new(hospital, base.clone(), Faults::default()));
    tokio::spawn(zvp_mock_epd::serve(listener, mock, std::future::pending()));

    let mut instances = Vec::new();
    for n in 0..2 {
        let config = dir.join(format!("portal-{n}.toml"));
        std::fs::write(
            &config,
            format!(
                "[server]\nlisten = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\n\
                 [proxy]\ntrusted = [\"127.0.0.3\"]\n\
                 [uzi]\nenvironment = \"test\"\nanchors = \"root.pem\"\nintermediates = \"intermediates.pem\"\n\
                 crls = [\"Z.crl\", \"N.crl\"]\n\
                 [portal]\ninstance = \"portal-{n}\"\n\
                 [epd]\nkind = \"fhir\"\nbase_url = \"{base}\"\n\
                 [stores]\nkind = \"postgres\"\npostgres = \"{}\"\nschema = \"{SCHEMA}\"\n\
                 [notify]\nenabled = true\ninterval_seconds = 1\n",
                pg()
            ),
        )
        .unwrap();
        instances.push(serve(&config));
    }
    let pids: Vec<u32> = instances.iter().map(|i| i.0.id()).collect();
    // One of them polls and records the events.
    let (holder, recorded, distinct, _) = until(&client, "a first poll", |(h, n, _, last)| {
        h.is_some() && *n > 0 && last.is_some()
    })
    .await;
    let holder = pid_of(&holder.unwrap());
    assert!(pids.contains(&holder), "{holder} of {pids:?}");
    assert_eq!(recorded, distinct);
    // SIGKILL the holder: no release, its lease runs out and the other takes over.
    let killed = pids.iter().position(|p| *p == holder).unwrap();
    let killed_at = Utc::now();
    instances[killed].0.kill().unwrap();
    instances[killed].0.wait().unwrap();
    let other = pids[1 - killed];
    let (_, after, distinct_after, last) = until(&client, "the takeover", |(h, _, _, last)| {
        h.as_deref().map(pid_of) == Some(other) && last.is_some_and(|l| l > killed_at)
    })
    .await;
    assert!(last.unwrap() > killed_at);
    // The same hospital: nothing new, nothing recorded twice.
    assert_eq!(after, recorded);
    assert_eq!(distinct_after, after);
}
