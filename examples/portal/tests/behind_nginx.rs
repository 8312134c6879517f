//! Two `zvp-portal serve` processes behind Debian's nginx (round robin, `deploy/nginx/zvp.conf`)
//! sharing PostgreSQL, reading one zvp-mock-epd over FHIR: a session continues across the
//! instances, a block through the directory holds on both, and an instance killed under load
//! loses no acknowledged audit record — every page a client received has its records in the
//! one log, which verifies.

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
use std::time::Duration;

use chrono::Utc;
use common::{Who, pki};
use http_body_util::{BodyExt as _, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls_pki_types::{PrivateKeyDer, ServerName};
use zvp_audit::log::AuditLog as _;
use zvp_auth::directory::{AccountStatus, DirectoryStore as _, PgDirectory};
use zvp_auth::testpki::certificates_pem;
use zvp_mock_epd::{Faults, MockEpd};

const SCHEMA: &str = "zvp_behind_nginx";

fn pg() -> String {
    std::env::var("ZVP_TEST_PG")
        .unwrap_or_else(|_| "host=127.0.0.1 port=5432 user=postgres dbname=test".to_owned())
}

/// A free port on `ip` (bound and released; the instance binds it right after).
fn free_port(ip: &str) -> u16 {
    std::net::TcpListener::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running instance, killed when dropped: a failing test leaves no portal behind holding
/// database connections.
struct Instance(Child);

impl std::ops::Deref for Instance {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Instance {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

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

/// GET through nginx as `who`; status, the request id, a new session cookie.
async fn get(
    port: u16,
    who: Who,
    path: &str,
    cookie: Option<&str>,
) -> Result<(u16, String, Option<String>), String> {
    let card = who.card();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki().tls_root()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(zvp_portal::serve::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(card.chain(), PrivateKeyDer::Pkcs8(card.private_key()))
        .unwrap();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| e.to_string())?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let mut request = hyper::Request::get(path).header("host", "localhost");
    if let Some(c) = cookie {
        request = request.header("cookie", format!("__Host-zvp={c}"));
    }
    let response = sender
        .send_request(request.body(Empty::<Bytes>::new()).unwrap())
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let set = response.headers().get("set-cookie").map(|v| {
        v.to_str()
            .unwrap()
            .trim_start_matches("__Host-zvp=")
            .split(';')
            .next()
            .unwrap()
            .to_owned()
    });
    let _ = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?;
    Ok((status, id, set))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_behind_nginx() {
    let dir = common::scratch("behind-nginx");
    let now = Utc::now();
    // The files every instance and nginx read: the UZI hierarchy, CRLs, nginx's certificate.
    let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
    write("root.pem", &certificates_pem(&[pki().root()]));
    write(
        "intermediates.pem",
        &certificates_pem(&pki().intermediates()),
    );
    write(
        "uzi-cas.pem",
        &certificates_pem(&[&[pki().root()][..], &pki().intermediates()].concat()),
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
    let server = pki().issue_tls_server(&["localhost"], now).unwrap();
    write("server.pem", &server.chain_pem());
    write("server.key.pem", &server.key_pem());

    // The shared state: a fresh schema with the test accounts; one EPD over FHIR.
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
    for account in template.directory.accounts().await.unwrap() {
        directory.create_account(&account).await.unwrap();
    }
    let (id, _) = template.own_patient().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/fhir", listener.local_addr().unwrap());
    let mock = Arc::new(MockEpd::new(
        template.epd.clone(),
        base.clone(),
        Faults::default(),
    ));
    tokio::spawn(zvp_mock_epd::serve(listener, mock, std::future::pending()));

    // Two instances in proxy mode, trusting only nginx's source address.
    let mut instances = Vec::new();
    let mut upstreams = String::new();
    for (n, ip) in [(0, "127.0.0.2"), (1, "127.0.0.4")] {
        let port = free_port(ip);
        upstreams.push_str(&format!("server {ip}:{port}; "));
        let config = dir.join(format!("portal-{n}.toml"));
        std::fs::write(
            &config,
            format!(
                "[server]\nlisten = \"{ip}:{port}\"\nadmin_listen = \"127.0.0.1:0\"\n\
                 [proxy]\ntrusted = [\"127.0.0.3\"]\n\
                 [uzi]\nenvironment = \"test\"\nanchors = \"root.pem\"\nintermediates = \"intermediates.pem\"\n\
                 crls = [\"Z.crl\", \"N.crl\"]\n\
                 [portal]\ninstance = \"portal-{n}\"\n\
                 [epd]\nkind = \"fhir\"\nbase_url = \"{base}\"\n\
                 [stores]\nkind = \"postgres\"\npostgres = \"{}\"\nschema = \"{SCHEMA}\"\n",
                pg()
            ),
        )
        .unwrap();
        instances.push(serve(&config));
    }
    let nginx_port = free_port("127.0.0.1");
    let run = dir.join("nginx");
    std::fs::create_dir_all(&run).unwrap();
    let conf = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/nginx/zvp.conf"
    ))
    .unwrap()
    .replace("@RUN@", run.to_str().unwrap())
    .replace("@LISTEN@", &format!("127.0.0.1:{nginx_port}"))
    .replace(
        "@PKI@/uzi-cas.pem",
        dir.join("uzi-cas.pem").to_str().unwrap(),
    )
    .replace("@PKI@", dir.to_str().unwrap())
    .replace("@UPSTREAMS@", &upstreams)
    .replace("@PROXY_FROM@", "127.0.0.3");
    std::fs::write(run.join("nginx.conf"), format!("user root;\n{conf}")).unwrap();
    let nginx_bin = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("nginx installed");
    // As a daemon, the nginx command returns once its listening socket is bound: ready.
    let nginx_args = |extra: &[&str]| {
        let mut command = Command::new(nginx_bin);
        command
            .arg("-p")
            .arg(&run)
            .arg("-c")
            .arg(run.join("nginx.conf"))
            .args(extra);
        command.stdout(Stdio::null()).stderr(Stdio::null());
        command
    };
    assert!(nginx_args(&[]).status().unwrap().success(), "nginx starts");
    // Stopped when the test ends, whether it passes or fails.
    struct Nginx(Command);
    impl Drop for Nginx {
        fn drop(&mut self) {
            let _ = self.0.status();
        }
    }
    let _nginx = Nginx(nginx_args(&["-s", "quit"]));

    // A session opened through one instance continues on the other (round robin).
    let (status, first, cookie) = get(nginx_port, Who::Own, "/", None).await.unwrap();
    assert_eq!(status, 200);
    let cookie = cookie.unwrap();
    let mut ids = vec![first];
    for _ in 0..5 {
        let (status, id, again) = get(nginx_port, Who::Own, "/", Some(&cookie)).await.unwrap();
        assert_eq!(status, 200);
        assert!(again.is_none(), "the session continued");
        ids.push(id);
    }
    let log = zvp_audit::log::pg::PgLog::connect(&pg(), SCHEMA)
        .await
        .unwrap();
    let events = log.events().await.unwrap();
    let served_by = |instance: &str| {
        events
            .iter()
            .any(|(_, e)| e.source.instance == instance && ids.contains(&e.request_id))
    };
    assert!(
        served_by("portal-0") && served_by("portal-1"),
        "both instances served the session"
    );

    // A block in the shared directory holds on both instances at the next request.
    let page = format!("/patient/{id}");
    directory
        .set_status(common::uzi(900_000_102), AccountStatus::Blocked)
        .await
        .unwrap();
    for _ in 0..4 {
        assert_eq!(
            get(nginx_port, Who::Practice, &page, None).await.unwrap().0,
            403
        );
    }

    // Load, then one instance killed: every page received has its audit records.
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let page = page.clone();
        tasks.spawn(async move {
            let mut acknowledged = Vec::new();
            for _ in 0..25 {
                if let Ok((200, id, _)) = get(nginx_port, Who::Own, &page, None).await {
                    acknowledged.push(id);
                }
            }
            acknowledged
        });
    }
    let first_done = tasks.join_next().await.unwrap().unwrap();
    instances[0].kill().unwrap();
    instances[0].wait().unwrap();
    let mut acknowledged = first_done;
    while let Some(r) = tasks.join_next().await {
        acknowledged.extend(r.unwrap());
    }
    assert!(
        acknowledged.len() > 100,
        "{} pages received",
        acknowledged.len()
    );
    let events = log.events().await.unwrap();
    for id in &acknowledged {
        assert!(
            events.iter().any(|(_, e)| &e.request_id == id),
            "request {id} has no audit record"
        );
    }
    let verifier = zvp_audit::checkpoint::CheckpointSigner::generate("x")
        .unwrap()
        .0
        .verifier()
        .clone();
    let report = zvp_audit::log::pg::verify(&pg(), SCHEMA, &verifier)
        .await
        .unwrap();
    assert_eq!(report.records, events.len() as u64);

    assert!(nginx_args(&["-s", "quit"]).status().unwrap().success());
    let _ = Command::new("kill")
        .args(["-INT", &instances[1].id().to_string()])
        .status();
    instances[1].wait().unwrap();
}
