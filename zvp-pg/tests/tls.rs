//! The stores' connections over TLS, against a PostgreSQL the test starts itself: a
//! throwaway cluster with `ssl = on`, a server certificate for `localhost` and 127.0.0.1 from
//! a CA made here, and `hostssl` as the only rule in `pg_hba.conf`, so that a connection
//! without TLS is refused. The cluster is shared by the tests that run at the same time and
//! stopped (`pg_ctl stop -m immediate`) when the last of them ends, however it ends.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failed expectation should panic"
)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, Weak};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use zvp_pg::ConnectError;

/// A running throwaway cluster; stopped and removed when dropped.
struct Server {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
}

impl Server {
    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// The CA that signed the server's certificate.
    fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// A CA that signed nothing the server has.
    fn other_ca(&self) -> PathBuf {
        self.dir.join("other-ca.pem")
    }

    /// A connection string to this server, with `extra` appended.
    fn config(&self, extra: &str) -> String {
        format!(
            "host=localhost hostaddr=127.0.0.1 port={} user=postgres dbname=postgres \
             connect_timeout=5 {extra}",
            self.port
        )
    }

    fn start() -> Self {
        let bin = pg_bin();
        let dir = std::env::temp_dir().join(format!(
            "zvp-pgtls-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        give_to_server_user(&dir);
        let port = free_port();
        // Constructed before the cluster exists, so that a failure from here on still
        // removes the directory (and stops whatever was started).
        let server = Self { dir, bin, port };
        run(server.as_server_user(server.bin.join("initdb")).args([
            "-D",
            path(&server.data()),
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
            "--no-instructions",
        ]));
        server.write_certificates();
        let data = server.data();
        let mut conf = std::fs::read_to_string(data.join("postgresql.conf")).unwrap();
        conf.push_str(&format!(
            "\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
             ssl = on\nssl_cert_file = 'server.pem'\nssl_key_file = 'server.key'\n\
             fsync = off\n",
            server.dir.display()
        ));
        std::fs::write(data.join("postgresql.conf"), conf).unwrap();
        std::fs::write(
            data.join("pg_hba.conf"),
            "hostssl all all 127.0.0.1/32 trust\n",
        )
        .unwrap();
        run(server.as_server_user(server.bin.join("pg_ctl")).args([
            "-D",
            path(&data),
            "-l",
            path(&server.dir.join("log")),
            "-w",
            "-t",
            "20",
            "start",
        ]));
        server
    }

    /// The CA, another CA, and the server's certificate and key (in the data directory, owned
    /// by the server's user and readable by it only, or PostgreSQL refuses the key).
    fn write_certificates(&self) {
        let ca = |name: &str| {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.distinguished_name.push(DnType::CommonName, name);
            let cert = params.self_signed(&key).unwrap();
            (params, key, cert)
        };
        let (ca_params, ca_key, ca_cert) = ca("zvp test PostgreSQL CA");
        let (_, _, other_cert) = ca("zvp test other CA");
        std::fs::write(self.ca(), ca_cert.pem()).unwrap();
        std::fs::write(self.other_ca(), other_cert.pem()).unwrap();
        let issuer = Issuer::from_params(&ca_params, &ca_key);
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        let cert = params.signed_by(&key, &issuer).unwrap();
        let data = self.data();
        std::fs::write(data.join("server.pem"), cert.pem()).unwrap();
        std::fs::write(data.join("server.key"), key.serialize_pem()).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            data.join("server.key"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        give_to_server_user(&data.join("server.pem"));
        give_to_server_user(&data.join("server.key"));
    }

    fn as_server_user(&self, program: PathBuf) -> Command {
        as_server_user(program)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.data().join("postmaster.pid").exists() {
            let _ = self
                .as_server_user(self.bin.join("pg_ctl"))
                .args(["-D", path(&self.data()), "stop", "-m", "immediate", "-w"])
                .output();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The cluster of the tests running now, started by the first of them.
fn server() -> Arc<Server> {
    static SHARED: Mutex<Weak<Server>> = Mutex::new(Weak::new());
    let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(running) = shared.upgrade() {
        return running;
    }
    let started = Arc::new(Server::start());
    *shared = Arc::downgrade(&started);
    started
}

/// The newest PostgreSQL's binaries on this machine.
fn pg_bin() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL's binaries under /usr/lib/postgresql/*/bin")
        .filter_map(|entry| Some(entry.ok()?.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    found.sort_by_key(|bin| {
        bin.parent()
            .and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok())
            .unwrap_or(0)
    });
    found.pop().expect("an initdb under /usr/lib/postgresql")
}

fn is_root() -> bool {
    // The owner of this process's own /proc entry.
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(1)
        == 0
}

/// `program`, as the `postgres` user when this runs as root (initdb and postgres refuse root).
fn as_server_user(program: PathBuf) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

fn give_to_server_user(path: &Path) {
    if is_root() {
        run(Command::new("chown").args(["postgres:postgres", self::path(path)]));
    }
}

fn run(command: &mut Command) {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{command:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn path(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_with_the_right_ca_connects_and_the_stores_open() {
    let server = server();
    let config = server.config(&format!(
        "sslmode=verify-full sslrootcert={}",
        server.ca().display()
    ));
    let client = zvp_pg::connect(&config).await.unwrap();
    let row = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0), "the connection is encrypted");

    let log = zvp_audit::log::pg::PgLog::connect(&config, "tls_audit")
        .await
        .unwrap();
    assert_eq!(log.size().await.unwrap(), 0);
    zvp_auth::directory::PgDirectory::connect(&config, "tls_directory")
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_ca_is_refused_as_tls() {
    let server = server();
    for mode in ["verify-full", "verify-ca", "require"] {
        let made = zvp_pg::connect(&server.config(&format!(
            "sslmode={mode} sslrootcert={}",
            server.other_ca().display()
        )))
        .await;
        let e = made.err().unwrap();
        assert!(matches!(e, ConnectError::Tls(_)), "{mode}: {e:?}");
        assert!(e.to_string().contains("TLS"), "{mode}: {e}");
        assert!(e.to_string().contains("UnknownIssuer"), "{mode}: {e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_host_name_is_refused_by_verify_full_only() {
    let server = server();
    let wrong = format!(
        "host=db.wrong.invalid hostaddr=127.0.0.1 port={} user=postgres dbname=postgres \
         connect_timeout=5 sslrootcert={}",
        server.port,
        server.ca().display()
    );
    let made = zvp_pg::connect(&format!("{wrong} sslmode=verify-full")).await;
    let e = made.err().unwrap();
    assert!(matches!(e, ConnectError::Tls(_)), "{e:?}");
    assert!(e.to_string().contains("not valid for name"), "{e}");
    // verify-ca checks the chain only, as libpq's does.
    zvp_pg::connect(&format!("{wrong} sslmode=verify-ca"))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_tls_a_hostssl_only_server_refuses() {
    let server = server();
    let made = zvp_pg::connect(&server.config("sslmode=disable")).await;
    let e = made.err().unwrap();
    assert!(matches!(e, ConnectError::Failed(_)), "{e:?}");
    assert!(e.to_string().contains("no encryption"), "{e}");
    // And the same server takes the same string with TLS: the refusal is the missing TLS.
    zvp_pg::connect(&server.config("sslmode=require"))
        .await
        .unwrap();
}
