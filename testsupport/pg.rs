//! PostgreSQL helpers shared by the test suites of several crates (each includes this file
//! with `#[path]`): the server on the machine, ending a client's backends, and a proxy that
//! plays a database gone away.

#![allow(dead_code, reason = "each suite uses a part")]

use std::sync::Arc;

/// The test server's connection string (`ZVP_TEST_PG` overrides).
pub(crate) fn config() -> String {
    std::env::var("ZVP_TEST_PG")
        .unwrap_or_else(|_| "host=127.0.0.1 port=5432 user=postgres dbname=test".to_owned())
}

/// Ends every backend of the connections made with `application_name` `name` (as a restart
/// of PostgreSQL or its administrator would), each waited for until it has exited
/// (`pg_terminate_backend` with a timeout, PostgreSQL 14 and later); returns how many there
/// were.
pub(crate) async fn terminate(name: &str) -> i64 {
    let (client, connection) = tokio_postgres::connect(&config(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let row = client
        .query_one(
            "SELECT count(*), count(*) FILTER (WHERE pg_terminate_backend(pid, 30000))
             FROM pg_stat_activity WHERE application_name = $1",
            &[&name],
        )
        .await
        .unwrap();
    let (found, ended): (i64, i64) = (row.get(0), row.get(1));
    assert_eq!(found, ended, "backends of {name} still running");
    ended
}

/// A TCP proxy in front of the test server that counts the connections made through it and
/// can play a database gone away: in `Down` it cuts connections and closes new ones; in
/// `Hold` it accepts new ones and then says nothing until told (a hung server, or a proxy
/// in front of a dead one).
pub(crate) struct Proxy {
    port: u16,
    made: Arc<tokio::sync::watch::Sender<usize>>,
    /// What the proxy does from now on.
    pub(crate) mode: tokio::sync::watch::Sender<Mode>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Forwards to PostgreSQL.
    Up,
    /// Cuts every forwarded connection, and closes new ones at once.
    Down,
    /// Cuts every forwarded connection, and holds new ones open, unanswered, until `Down`.
    Hold,
}

impl Proxy {
    /// Starts a proxy to the test server, forwarding.
    pub(crate) async fn start() -> Self {
        let target: tokio_postgres::Config = config().parse().unwrap();
        let host = match &target.get_hosts()[0] {
            tokio_postgres::config::Host::Tcp(host) => host.clone(),
            other => panic!("a TCP host, not {other:?}"),
        };
        let server = format!("{host}:{}", target.get_ports()[0]);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let made = Arc::new(tokio::sync::watch::Sender::new(0));
        let (mode, watch) = tokio::sync::watch::channel(Mode::Up);
        let counter = Arc::clone(&made);
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                counter.send_modify(|made| *made += 1);
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
    pub(crate) fn config(&self, name: &str) -> String {
        let target: tokio_postgres::Config = config().parse().unwrap();
        format!(
            "host=127.0.0.1 port={} user={} dbname={} application_name={name}",
            self.port,
            target.get_user().unwrap(),
            target.get_dbname().unwrap()
        )
    }

    /// The connections made through the proxy so far.
    pub(crate) fn made(&self) -> usize {
        *self.made.borrow()
    }

    /// Returns once more than `count` connections have been made through the proxy.
    pub(crate) async fn made_more_than(&self, count: usize) {
        let mut made = self.made.subscribe();
        let _ = made.wait_for(|made| *made > count).await;
    }
}
