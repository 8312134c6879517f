//! The results page by where the state lives: the embedded stores, and PostgreSQL with one
//! and with two instances (`ZVP_LOAD_STORES`, on by default).

use std::sync::Arc;

use zvp_audit::log::{FileLog, FileLogOptions};
use zvp_auth::directory::{Account, DirectoryStore};
use zvp_epd::synthetic::SyntheticEpd;
use zvp_portal::Portal;

use super::{Setup, row, saturate, start};

const PG: &str = "host=127.0.0.1 port=5432 user=postgres dbname=test";

/// The results page with the embedded stores (SQLite directory, file log, sessions in the
/// process), with every store in PostgreSQL and one instance, and with two instances on the
/// same PostgreSQL schema (in this process, the clients' connections split between them).
pub(crate) async fn stores(
    setup: &Setup,
    accounts: &[Account],
    epd: Arc<SyntheticEpd>,
    results: Arc<dyn Fn(usize, usize) -> String + Send + Sync>,
    seconds: u64,
) {
    let validator = || Arc::new(setup.pki.validator().unwrap().without_revocation_checking());
    let scratch = std::env::temp_dir().join(format!("zvp-stores-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).unwrap();
    let sqlite = Arc::new(
        zvp_auth::directory::SqliteDirectory::open(&scratch.join("directory.sqlite")).unwrap(),
    );
    for a in accounts {
        sqlite.create_account(a).await.unwrap();
    }
    let embedded = Portal::builder()
        .epd(epd.clone())
        .directory(sqlite)
        .audit(Arc::new(
            FileLog::open(&scratch.join("audit"), FileLogOptions::default()).unwrap(),
        ))
        .validator(validator())
        .build()
        .unwrap();
    let embedded_port = start(setup, embedded.router()).await;
    let Ok((client, connection)) = tokio_postgres::connect(PG, tokio_postgres::NoTls).await else {
        println!("\nPostgreSQL at 127.0.0.1:5432 not reachable: the stores comparison is skipped");
        return;
    };
    tokio::spawn(connection);
    client
        .batch_execute("DROP SCHEMA IF EXISTS zvp_load CASCADE")
        .await
        .unwrap();
    let seed = zvp_auth::directory::PgDirectory::connect(PG, "zvp_load")
        .await
        .unwrap();
    for a in accounts {
        seed.create_account(a).await.unwrap();
    }
    let mut pg_ports = Vec::new();
    for n in 0..2 {
        let settings = zvp_portal::config::PortalSettings {
            instance: format!("portal-{n}"),
            ..Default::default()
        };
        let portal = Portal::builder()
            .epd(epd.clone())
            .directory(Arc::new(
                zvp_auth::directory::PgDirectory::connect(PG, "zvp_load")
                    .await
                    .unwrap(),
            ))
            .audit(Arc::new(
                zvp_audit::log::pg::PgLog::connect(PG, "zvp_load")
                    .await
                    .unwrap(),
            ))
            .sessions(Arc::new(
                zvp_portal::pg::PgSessions::connect(
                    PG,
                    "zvp_load",
                    zvp_portal::Timeouts::of(&settings),
                )
                .await
                .unwrap(),
            ))
            .validator(validator())
            .settings(settings)
            .build()
            .unwrap();
        pg_ports.push(start(setup, portal.router()).await);
    }
    let _ = saturate(setup, &[embedded_port], Arc::clone(&results), 1).await;
    let _ = saturate(setup, &pg_ports, Arc::clone(&results), 1).await;
    println!(
        "\n| results page (closed loop) by stores | requests/s | p50 | p99 | errors |\n|---|---|---|---|---|"
    );
    row(
        "embedded (SQLite, file log, sessions in process)",
        &saturate(setup, &[embedded_port], Arc::clone(&results), seconds).await,
    );
    row(
        "PostgreSQL, one instance",
        &saturate(setup, &pg_ports[..1], Arc::clone(&results), seconds).await,
    );
    row(
        "PostgreSQL, two instances",
        &saturate(setup, &pg_ports, Arc::clone(&results), seconds).await,
    );
    let _ = std::fs::remove_dir_all(&scratch);
}
