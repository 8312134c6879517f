//! The directory stores: the same behaviour in memory and in SQLite, and SQLite's durability
//! across restarts, concurrent writers and damaged data.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use zvp_auth::dezi::DeziNumber;
use zvp_auth::directory::{
    Account, AccountStatus, DelegationError, DelegationId, DirectoryStore, GrantId,
    MemoryDirectory, NewDelegation, ReasonCategory, ReviewVerdict, SqliteDirectory, StoreError,
    world_for,
};
use zvp_auth::policy::{Action, Basis, Decision, Policy, Request};
use zvp_core::{AgbCode, DossierSection, PatientId, RecordSection, RoleCode, UziNumber};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).unwrap()
}

fn uzi(n: u32) -> UziNumber {
    UziNumber::new(900_000_000 + n).unwrap()
}

fn agb(n: u32) -> AgbCode {
    AgbCode::new(1_000_000 + n).unwrap()
}

fn account(n: u32, status: AccountStatus) -> Account {
    Account {
        uzi: uzi(n),
        agb: Some(agb(n)),
        name: format!("Huisarts {n}"),
        role: RoleCode::GENERAL_PRACTITIONER,
        practice_agb: Some(agb(900 + n)),
        status,
        created_at: now() - Duration::days(10),
        last_login: None,
        previous_login: None,
        accepted_terms: Some(1),
        admin: n == 0,
        contact: Default::default(),
    }
}

fn db_path(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("directory");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.sqlite"));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    path
}

/// The behaviour every store must have.
async fn behaves(store: &dyn DirectoryStore) {
    // Accounts.
    store
        .create_account(&account(1, AccountStatus::Requested))
        .await
        .unwrap();
    store
        .create_account(&account(0, AccountStatus::Active))
        .await
        .unwrap();
    assert!(matches!(
        store.create_account(&account(1, AccountStatus::Active)).await,
        Err(StoreError::AccountExists(u)) if u == uzi(1)
    ));
    assert_eq!(
        store.account(uzi(1)).await.unwrap(),
        Some(account(1, AccountStatus::Requested))
    );
    assert_eq!(store.account(uzi(7)).await.unwrap(), None);
    store
        .set_status(uzi(1), AccountStatus::Active)
        .await
        .unwrap();
    store.record_login(uzi(1), now()).await.unwrap();
    let mut expected = account(1, AccountStatus::Active);
    expected.last_login = Some(now());
    assert_eq!(store.account(uzi(1)).await.unwrap(), Some(expected.clone()));
    // A second login keeps the first as the previous one: what the start page marks news
    // since.
    let later = now() + Duration::hours(20);
    store.record_login(uzi(1), later).await.unwrap();
    expected.last_login = Some(later);
    expected.previous_login = Some(now());
    assert_eq!(store.account(uzi(1)).await.unwrap(), Some(expected.clone()));
    assert!(matches!(
        store.record_login(uzi(7), later).await,
        Err(StoreError::NoSuchAccount(u)) if u == uzi(7)
    ));
    expected.practice_agb = None;
    expected.accepted_terms = None;
    store.update_account(&expected).await.unwrap();
    assert_eq!(store.account(uzi(1)).await.unwrap(), Some(expected.clone()));
    assert!(matches!(
        store.set_status(uzi(7), AccountStatus::Blocked).await,
        Err(StoreError::NoSuchAccount(u)) if u == uzi(7)
    ));
    assert!(matches!(
        store
            .update_account(&account(7, AccountStatus::Active))
            .await,
        Err(StoreError::NoSuchAccount(_))
    ));
    let all: Vec<_> = store
        .accounts()
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.uzi)
        .collect();
    assert_eq!(all, [uzi(0), uzi(1)]);

    // Delegations.
    let d1 = store
        .add_delegation(
            NewDelegation::new(
                agb(2),
                uzi(1),
                now() - Duration::days(1),
                Some(now() + Duration::days(7)),
                Some(uzi(0)),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    let d2 = store
        .add_delegation(NewDelegation::new(agb(3), uzi(1), now(), None, None).unwrap())
        .await
        .unwrap();
    assert!(d2.id > d1.id);
    assert_eq!(d1.created_by, Some(uzi(0)));
    assert_eq!(
        store.delegations_to(uzi(1)).await.unwrap(),
        [d1.clone(), d2.clone()]
    );
    assert_eq!(
        store.delegations_from(agb(3)).await.unwrap(),
        std::slice::from_ref(&d2)
    );
    store
        .revoke_delegation(d2.id, now() + Duration::hours(1))
        .await
        .unwrap();
    store
        .revoke_delegation(d2.id, now() + Duration::hours(2))
        .await
        .unwrap();
    assert_eq!(
        store.delegations_from(agb(3)).await.unwrap()[0].revoked_at,
        Some(now() + Duration::hours(1)),
        "the first revocation time stays"
    );
    assert!(matches!(
        store.revoke_delegation(DelegationId(999), now()).await,
        Err(StoreError::NoSuchDelegation(DelegationId(999)))
    ));

    // The store feeds the policy.
    let p: PatientId = "p-42".parse().unwrap();
    let view = Request {
        uzi: uzi(1),
        card_agb: Some(agb(1)),
        card_role: RoleCode::GENERAL_PRACTITIONER,
        action: Action::view_patient(p.clone(), RecordSection::Dossier(DossierSection::Letters))
            .unwrap(),
    };
    let world = world_for(store, uzi(1), Some((&p, Some(agb(2)))))
        .await
        .unwrap();
    assert!(matches!(
        Policy::default().decide(&world, &view, now()),
        Decision::Permit(permit) if permit.basis() == Basis::Delegation { grantor: agb(2), delegation: d1.id }
    ));
    store.revoke_delegation(d1.id, now()).await.unwrap();
    let world = world_for(store, uzi(1), Some((&p, Some(agb(2)))))
        .await
        .unwrap();
    assert_eq!(
        Policy::default().decide(&world, &view, now()),
        Decision::RequiresEmergencyProcedure
    );

    // Emergency grants.
    let request = Request {
        action: Action::RequestEmergency { patient: p.clone() },
        ..view.clone()
    };
    let new = Policy::default()
        .grant_emergency(
            &world,
            &request,
            ReasonCategory::AcuteCare,
            "patiënt op de huisartsenpost, acuut",
            now(),
        )
        .unwrap();
    let grant = store.add_grant(new).await.unwrap();
    assert_eq!(grant.expires_at, now() + Duration::hours(24));
    let world = world_for(store, uzi(1), Some((&p, Some(agb(2)))))
        .await
        .unwrap();
    assert!(matches!(
        Policy::default().decide(&world, &view, now()),
        Decision::Permit(permit) if matches!(permit.basis(), Basis::Emergency { grant: g, .. } if g == grant.id)
    ));
    assert_eq!(
        store.unreviewed_grants().await.unwrap(),
        std::slice::from_ref(&grant)
    );
    // Grants since a moment: the start counts, a later moment excludes it.
    assert_eq!(
        store.grants_since(now()).await.unwrap(),
        std::slice::from_ref(&grant)
    );
    assert!(
        store
            .grants_since(now() + Duration::milliseconds(1))
            .await
            .unwrap()
            .is_empty()
    );
    store
        .review_grant(grant.id, ReviewVerdict::Justified)
        .await
        .unwrap();
    assert!(store.unreviewed_grants().await.unwrap().is_empty());
    assert_eq!(
        store.grants(uzi(1), &p).await.unwrap()[0].verdict,
        Some(ReviewVerdict::Justified)
    );
    assert!(matches!(
        store
            .review_grant(GrantId(999), ReviewVerdict::NotJustified)
            .await,
        Err(StoreError::NoSuchGrant(GrantId(999)))
    ));
    dezi_links_are_made_once(store).await;
}

/// A Dezi number is linked to one account, once, and found both ways.
async fn dezi_links_are_made_once(store: &dyn DirectoryStore) {
    let dezi: DeziNumber = "900000001".parse().unwrap();
    let other: DeziNumber = "900000002".parse().unwrap();
    assert_eq!(store.dezi_account(&dezi).await.unwrap(), None);
    assert!(matches!(
        store.link_dezi(uzi(404), &dezi, now()).await,
        Err(StoreError::NoSuchAccount(u)) if u == uzi(404)
    ));
    store.link_dezi(uzi(1), &dezi, now()).await.unwrap();
    assert_eq!(store.dezi_account(&dezi).await.unwrap(), Some(uzi(1)));
    assert_eq!(store.dezi_of(uzi(1)).await.unwrap(), Some(dezi.clone()));
    // Neither the account nor the number takes a second link.
    assert!(matches!(
        store.link_dezi(uzi(1), &other, now()).await,
        Err(StoreError::DeziLinked { uzi: u, dezi: d }) if u == uzi(1) && d == other
    ));
    assert!(matches!(
        store.link_dezi(uzi(0), &dezi, now()).await,
        Err(StoreError::DeziLinked { uzi: u, .. }) if u == uzi(0)
    ));
    assert_eq!(store.dezi_account(&other).await.unwrap(), None);
    assert_eq!(store.dezi_of(uzi(0)).await.unwrap(), None);
}

#[tokio::test]
async fn memory_directory_behaves() {
    behaves(&MemoryDirectory::new()).await;
}

#[tokio::test]
async fn sqlite_directory_behaves() {
    behaves(&SqliteDirectory::open(&db_path("behaves")).unwrap()).await;
}

#[test]
fn delegation_must_end_after_it_starts_and_within_storable_years() {
    assert_eq!(
        NewDelegation::new(agb(1), uzi(1), now(), Some(now()), None),
        Err(DelegationError::EndsBeforeStart)
    );
    let far = Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap();
    assert_eq!(
        NewDelegation::new(agb(1), uzi(1), now(), Some(far), None),
        Err(DelegationError::OutOfRange)
    );
}

#[test]
fn emergency_reason_must_be_long_enough() {
    let world = zvp_auth::policy::World::new();
    let request = Request {
        uzi: uzi(1),
        card_agb: None,
        card_role: RoleCode::GENERAL_PRACTITIONER,
        action: Action::RequestEmergency {
            patient: "p".parse().unwrap(),
        },
    };
    // No account: the procedure does not apply.
    assert!(matches!(
        Policy::default().grant_emergency(&world, &request, ReasonCategory::Other, "x", now()),
        Err(zvp_auth::policy::GrantError::NotApplicable("no-account"))
    ));
    let mut world = zvp_auth::policy::World::new();
    world.add_account(account(1, AccountStatus::Active));
    world.add_patient("p".parse().unwrap(), Some(agb(5)));
    assert_eq!(
        Policy::default().grant_emergency(
            &world,
            &request,
            ReasonCategory::Other,
            "  te kort  ",
            now()
        ),
        Err(zvp_auth::policy::GrantError::ReasonTooShort {
            found: 7,
            required: 20
        })
    );
    // The form's limit holds for any client: 15,000 characters are refused, 1,000 are not.
    let long = "x".repeat(15_000);
    assert_eq!(
        Policy::default().grant_emergency(&world, &request, ReasonCategory::Other, &long, now()),
        Err(zvp_auth::policy::GrantError::ReasonTooLong {
            found: 15_000,
            max: 1000
        })
    );
    let most = format!(" {} ", "é".repeat(1000));
    assert!(
        Policy::default()
            .grant_emergency(&world, &request, ReasonCategory::Other, &most, now())
            .is_ok()
    );
}

#[tokio::test]
async fn sqlite_directory_survives_a_restart() {
    let path = db_path("restart");
    {
        let store = SqliteDirectory::open(&path).unwrap();
        behaves(&store).await;
    }
    let reopened = SqliteDirectory::open(&path).unwrap();
    assert_eq!(reopened.accounts().await.unwrap().len(), 2);
    assert_eq!(reopened.delegations_to(uzi(1)).await.unwrap().len(), 2);
    assert_eq!(
        reopened
            .grants(uzi(1), &"p-42".parse().unwrap())
            .await
            .unwrap()
            .len(),
        1
    );
    // Ids go on after a restart.
    let next = reopened
        .add_delegation(NewDelegation::new(agb(4), uzi(1), now(), None, None).unwrap())
        .await
        .unwrap();
    assert_eq!(next.id, DelegationId(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_lose_nothing() {
    let path = db_path("concurrent");
    // Two handles (two connections) on one file, as two parts of a portal would have.
    let first = Arc::new(SqliteDirectory::open(&path).unwrap());
    let second = Arc::new(SqliteDirectory::open(&path).unwrap());
    let mut tasks = Vec::new();
    for task in 0..8u32 {
        let store = if task % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..25u32 {
                let d =
                    NewDelegation::new(agb(task * 100 + i), uzi(task), now(), None, None).unwrap();
                ids.push(store.add_delegation(d).await.unwrap().id);
            }
            ids
        }));
    }
    let mut ids = Vec::new();
    for task in tasks {
        ids.extend(task.await.unwrap());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 200, "every delegation got its own id");
    for task in 0..8u32 {
        assert_eq!(first.delegations_to(uzi(task)).await.unwrap().len(), 25);
    }
}

#[tokio::test]
async fn damaged_rows_are_refused_not_guessed() {
    let path = db_path("damaged");
    let store = SqliteDirectory::open(&path).unwrap();
    store
        .create_account(&account(1, AccountStatus::Active))
        .await
        .unwrap();
    drop(store);
    let raw = rusqlite_exec(
        &path,
        "UPDATE accounts SET uzi = '90000001' WHERE uzi = '900000001'",
    );
    assert_eq!(raw, 1);
    let store = SqliteDirectory::open(&path).unwrap();
    assert!(matches!(
        store.accounts().await,
        Err(StoreError::Corrupt { table: "accounts", key, detail })
            if key == "90000001" && detail.contains("uzi number")
    ));
    rusqlite_exec(
        &path,
        "UPDATE accounts SET uzi = '900000001', status = 'suspended'",
    );
    assert!(matches!(
        store.account(uzi(1)).await,
        Err(StoreError::Corrupt { table: "accounts", detail, .. }) if detail.contains("suspended")
    ));
}

#[test]
fn a_file_that_is_not_a_directory_is_refused() {
    let path = db_path("garbage");
    std::fs::write(
        &path,
        b"this is not a sqlite database, it is a text file ...........",
    )
    .unwrap();
    assert!(matches!(
        SqliteDirectory::open(&path),
        Err(StoreError::Backend(_))
    ));
    let newer = db_path("newer");
    drop(SqliteDirectory::open(&newer).unwrap());
    rusqlite_exec(&newer, "PRAGMA user_version = 99");
    assert!(matches!(
        SqliteDirectory::open(&newer),
        Err(StoreError::Backend(message)) if message.contains("schema version 99")
    ));
}

/// Changes the database behind the store's back, as a damaged disk or a hand edit would.
fn rusqlite_exec(path: &std::path::Path, sql: &str) -> usize {
    let connection = rusqlite::Connection::open(path).unwrap();
    connection.execute(sql, []).unwrap()
}

#[tokio::test]
async fn a_first_version_directory_is_brought_up_to_date_and_keeps_its_accounts() {
    // A directory as the first schema wrote it, with one account.
    let path = db_path("v1");
    {
        let connection = rusqlite::Connection::open(&path).unwrap();
        connection
            .execute_batch(
                "CREATE TABLE accounts (uzi TEXT PRIMARY KEY NOT NULL, agb TEXT, name TEXT NOT NULL,
                    role TEXT NOT NULL, practice_agb TEXT, status TEXT NOT NULL, created_at TEXT NOT NULL,
                    last_login TEXT, accepted_terms INTEGER, admin INTEGER NOT NULL) STRICT;
                 CREATE TABLE delegations (id INTEGER PRIMARY KEY AUTOINCREMENT, grantor TEXT NOT NULL,
                    grantee TEXT NOT NULL, valid_from TEXT NOT NULL, valid_until TEXT, created_by TEXT,
                    revoked_at TEXT) STRICT;
                 CREATE TABLE emergency_grants (id INTEGER PRIMARY KEY AUTOINCREMENT,
                    practitioner TEXT NOT NULL, patient TEXT NOT NULL, reason_category TEXT NOT NULL,
                    reason TEXT NOT NULL, granted_at TEXT NOT NULL, expires_at TEXT NOT NULL,
                    verdict TEXT) STRICT;
                 INSERT INTO accounts VALUES ('900000001', '01000001', 'Huisarts 1', '01.015', NULL,
                    'active', '2026-11-25T08:00:00.000Z', NULL, 1, 0);
                 PRAGMA user_version = 1;",
            )
            .unwrap();
    }
    let store = SqliteDirectory::open(&path).unwrap();
    let mut account = store.account(uzi(1)).await.unwrap().unwrap();
    assert_eq!(account.name, "Huisarts 1");
    assert_eq!(account.contact, zvp_auth::directory::Contact::default());
    // The new fields are kept from now on.
    account.contact = zvp_auth::directory::Contact {
        practice_name: Some("De Linde".to_owned()),
        email: Some("h1@delinde.example".to_owned()),
        phone: Some("078 1234567".to_owned()),
    };
    account.previous_login = Some(now() - Duration::days(2));
    store.update_account(&account).await.unwrap();
    drop(store);
    let reopened = SqliteDirectory::open(&path).unwrap();
    assert_eq!(reopened.account(uzi(1)).await.unwrap(), Some(account));
}

#[cfg(feature = "postgres")]
#[path = "../../testsupport/pg.rs"]
mod pg_support;

#[cfg(feature = "postgres")]
mod postgres {
    //! The PostgreSQL directory: the same behaviour, and what several instances sharing it
    //! need. Against the server on the machine (ZVP_TEST_PG overrides the connection string).

    use super::*;
    use zvp_auth::directory::PgDirectory;

    fn config() -> String {
        std::env::var("ZVP_TEST_PG")
            .unwrap_or_else(|_| "host=127.0.0.1 port=5432 user=postgres dbname=test".to_owned())
    }

    /// A fresh schema.
    async fn fresh(schema: &str) -> PgDirectory {
        let (client, connection) = tokio_postgres::connect(&config(), tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .await
            .unwrap();
        PgDirectory::connect(&config(), schema).await.unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgresql_directory_behaves() {
        behaves(&fresh("zvp_dir_behaves").await).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn instances_starting_together_migrate_once_and_share_one_directory() {
        let first = fresh("zvp_dir_shared").await;
        // Another instance on the same schema (already migrated), and two racing to create
        // the same account: exactly one wins.
        let second = PgDirectory::connect(&config(), "zvp_dir_shared")
            .await
            .unwrap();
        let seven = account(7, AccountStatus::Active);
        let (a, b) = tokio::join!(first.create_account(&seven), second.create_account(&seven));
        assert_eq!(
            [a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count(),
            1,
            "{a:?} {b:?}"
        );
        // A block through one instance is what the other reads next.
        second
            .set_status(uzi(7), AccountStatus::Blocked)
            .await
            .unwrap();
        assert_eq!(
            first.account(uzi(7)).await.unwrap().unwrap().status,
            AccountStatus::Blocked
        );
        // Ids from both instances never collide.
        let mut ids = Vec::new();
        for store in [&first, &second, &first, &second] {
            let d = NewDelegation::new(agb(1), uzi(7), now(), None, None).unwrap();
            ids.push(store.add_delegation(d).await.unwrap().id);
        }
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 4);
        // Two instances migrating a fresh schema at the same moment: both come up.
        let (client, connection) = tokio_postgres::connect(&config(), tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client
            .batch_execute("DROP SCHEMA IF EXISTS zvp_dir_race CASCADE")
            .await
            .unwrap();
        let shared = config();
        let (x, y) = tokio::join!(
            PgDirectory::connect(&shared, "zvp_dir_race"),
            PgDirectory::connect(&shared, "zvp_dir_race"),
        );
        x.unwrap();
        y.unwrap();
        let version: i32 = client
            .query_one(
                "SELECT version FROM zvp_dir_race.zvp_directory_version",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(
            usize::try_from(version).unwrap(),
            PgDirectory::schema_version()
        );
        // A schema from a newer zvp is refused.
        client
            .batch_execute("UPDATE zvp_dir_race.zvp_directory_version SET version = 99")
            .await
            .unwrap();
        assert!(matches!(
            PgDirectory::connect(&config(), "zvp_dir_race").await,
            Err(StoreError::Backend(message)) if message.contains("schema version 99")
        ));
        assert!(PgDirectory::connect(&config(), "bad; name").await.is_err());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn damaged_rows_are_refused_not_guessed() {
        let store = fresh("zvp_dir_damaged").await;
        store
            .create_account(&account(1, AccountStatus::Active))
            .await
            .unwrap();
        let (client, connection) = tokio_postgres::connect(&config(), tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client
            .batch_execute("UPDATE zvp_dir_damaged.accounts SET role = '1.015'")
            .await
            .unwrap();
        assert!(matches!(
            store.account(uzi(1)).await,
            Err(StoreError::Corrupt { table: "accounts", detail, .. }) if detail.starts_with("role")
        ));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_directory_connects_again_after_its_connections_are_ended() {
        // PostgreSQL restarted, or an administrator ended the portal's backends: the
        // directory must come back without restarting the portal.
        let name = "zvp_dir_reconnect";
        fresh(name).await;
        let store = PgDirectory::connect(&format!("{} application_name={name}", config()), name)
            .await
            .unwrap();
        let one = account(1, AccountStatus::Active);
        store.create_account(&one).await.unwrap();
        assert_eq!(pg_support::terminate(name).await, 4);
        // Each connection of the pool (taken in turn) may fail once, saying so...
        for _ in 0..4 {
            let read = store.account(uzi(1)).await;
            assert!(
                matches!(&read, Ok(Some(found)) if *found == one)
                    || matches!(&read, Err(StoreError::Backend(_))),
                "{read:?}"
            );
        }
        // ...and then serves again, as does every connection made anew.
        for _ in 0..8 {
            assert_eq!(store.account(uzi(1)).await.unwrap(), Some(one.clone()));
        }
        assert_eq!(pg_support::terminate(name).await, 4);
    }
}
