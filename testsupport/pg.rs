//! PostgreSQL helpers shared by the test suites of several crates (each includes this file
//! with `#[path]`): the server on the machine, and ending a client's backends.

/// The test server's connection string (`ZVP_TEST_PG` overrides).
pub(crate) fn config() -> String {
    std::env::var("ZVP_TEST_PG")
        .unwrap_or_else(|_| "host=127.0.0.1 port=5432 user=postgres dbname=test".to_owned())
}

/// Ends every backend of the connections made with `application_name` `name` (as a restart
/// of PostgreSQL or its administrator would), and waits until PostgreSQL no longer lists
/// them; returns how many there were.
pub(crate) async fn terminate(name: &str) -> i64 {
    let (client, connection) = tokio_postgres::connect(&config(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let ended: i64 = client
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE application_name = $1",
            &[&name],
        )
        .await
        .unwrap()
        .get(0);
    for _ in 0..1000 {
        let left: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
                &[&name],
            )
            .await
            .unwrap()
            .get(0);
        if left == 0 {
            return ended;
        }
        // Polling a condition PostgreSQL reports, not a guess at how long it takes.
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the backends of {name} did not end");
}
