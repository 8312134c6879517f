//! `zvp-portal`: the reference Zorgverlenersportaal, and its operator commands.
//!
//! ```text
//! zvp-portal demo [--dir DIR] [--listen ADDR] [--admin-listen ADDR]
//!                                      the whole portal on this machine (see the README)
//! zvp-portal serve --config FILE       the portal with a configuration file
//! zvp-portal migrate --config FILE     create or update the stores the configuration names
//! zvp-portal uzi inspect CERT          print the UZI fields of a certificate as JSON
//! zvp-portal uzi verify --anchors DIR [--intermediates DIR] [--crl FILE]...
//!            [--at RFC3339] [--test-environment] [--eligible-roles 01.015,...]
//!            [--card-types Z,N] CERT   validate a certificate; JSON verdict, exit 0 or 1
//! zvp-portal audit keygen|checkpoint|verify|report ...
//!                                      the audit log (see `zvp-portal audit --help`)
//! zvp-portal policy decide --world WORLD.json --request REQUEST.json
//!                                      one policy decision as JSON
//! zvp-portal testpki generate --out DIR  write a demo PKI with cards of every kind
//! ```
//!
//! Run with `cargo run -p zvp-portal -- <command>`.

#[macro_use]
mod output;

mod audit_cmd;
#[cfg(feature = "demo")]
mod demo;
#[cfg(feature = "demo")]
mod demo_dezi;
mod log;
mod policy_cmd;
#[cfg(feature = "demo")]
mod testpki_cmd;
mod uzi_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

// mimalloc rather than the system allocator: requests allocate on one worker thread and free
// on another, which glibc's arenas serialise on a lock; with mimalloc the results page
// serves about 50% more requests per second on the 2-core machine (benches/README.md).
// The library leaves the choice to the program that embeds it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The reference Zorgverlenersportaal.
#[derive(Debug, Parser)]
#[command(name = "zvp-portal", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole portal on this machine: a test PKI with demo cards, the synthetic
    /// hospital over FHIR, https://localhost:8443.
    #[cfg(feature = "demo")]
    #[command(after_help = DEMO_ENV)]
    Demo {
        /// Where the demo keeps its PKI, configuration, directory and audit log (reused by
        /// the next run).
        #[arg(long, default_value = "zvp-demo")]
        dir: std::path::PathBuf,
        /// The portal's HTTPS address [default: [server] listen of DIR/zvp.toml,
        /// 127.0.0.1:8443]; port 0 picks a free one.
        #[arg(long, value_name = "ADDR")]
        listen: Option<std::net::SocketAddr>,
        /// The address of /healthz and /metrics [default: [server] admin_listen,
        /// 127.0.0.1:9090].
        #[arg(long, value_name = "ADDR")]
        admin_listen: Option<std::net::SocketAddr>,
    },
    /// Create or bring up to date the stores a configuration names (PostgreSQL schema, or the
    /// embedded directory and audit log), then exit. `serve` does the same at start.
    Migrate {
        /// The configuration.
        #[arg(long)]
        config: std::path::PathBuf,
    },
    /// Run the portal with a configuration file.
    Serve {
        /// The configuration (TOML; see the zvp_portal::config docs).
        #[arg(long)]
        config: std::path::PathBuf,
    },
    /// Check the connection to the configured FHIR EPD.
    #[command(subcommand)]
    Epd(EpdCommand),
    /// Inspect and verify UZI-pas certificates.
    #[command(subcommand)]
    Uzi(uzi_cmd::UziCommand),
    /// Verify the audit log, sign checkpoints, report from it.
    #[command(subcommand)]
    Audit(audit_cmd::AuditCommand),
    /// Decide requests with the authorization policy.
    #[command(subcommand)]
    Policy(policy_cmd::PolicyCommand),
    /// Generate a UZI-like test PKI.
    #[cfg(feature = "demo")]
    #[command(subcommand)]
    Testpki(testpki_cmd::TestpkiCommand),
}

/// The `epd` subcommands.
#[derive(Debug, Subcommand)]
enum EpdCommand {
    /// Connect to the [epd] of a configuration, authenticate, and run every query the portal
    /// makes for a test GP and patient: a table of query, strategy, result count and time.
    /// Exits 1 when a query fails, 2 for a configuration that cannot be used.
    Check {
        /// The configuration ([epd] kind = "fhir").
        #[arg(long)]
        config: std::path::PathBuf,
        /// A test patient's BSN [default: the first patient on the GP's lists].
        #[arg(long)]
        bsn: Option<zvp_core::Bsn>,
        /// A test GP's AGB code, for the start page's lists.
        #[arg(long)]
        agb: Option<zvp_core::AgbCode>,
    },
}

/// `zvp-portal epd check`.
fn epd_check_cmd(
    path: &std::path::Path,
    agb: Option<zvp_core::AgbCode>,
    bsn: Option<zvp_core::Bsn>,
) -> ExitCode {
    let prepared = zvp_portal::config::Config::load(path, std::env::vars())
        .map_err(|e| e.to_string())
        .and_then(|config| {
            if config.epd.kind != zvp_portal::config::EpdKind::Fhir {
                return Err(format!(
                    "{}: [epd] kind is not \"fhir\"; epd check is for a FHIR server",
                    path.display()
                ));
            }
            let fhir =
                zvp_portal::epd_connection::fhir_config(&config.epd).map_err(|e| e.to_string())?;
            let epd = zvp_epd::client::FhirEpd::new(fhir).map_err(|e| e.to_string())?;
            Ok((config, epd))
        });
    let (config, epd) = match prepared {
        Ok(p) => p,
        Err(e) => {
            eprintln!("zvp-portal epd check: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("zvp-portal epd check: {e}");
            return ExitCode::from(2);
        }
    };
    let report = runtime.block_on(zvp_portal::epd_check::run(
        &epd,
        agb,
        bsn,
        chrono::Utc::now(),
    ));
    say_raw!("{}", report.table(&config.epd.base_url));
    if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The environment variables `demo --help` names.
#[cfg(feature = "demo")]
const DEMO_ENV: &str = "Environment (over DIR/zvp.toml; the flags win over both):
  ZVP_SERVER_LISTEN=ADDR        the portal's HTTPS address, e.g. 127.0.0.1:8444
  ZVP_SERVER_ADMIN_LISTEN=ADDR  the admin listener's address
  ZVP_<SECTION>_<KEY>=VALUE     any other key of zvp.toml (see the zvp_portal::config docs)";

/// Binds `address` for `what`, with an error that names the address and says how to choose
/// another (`how`).
pub(crate) async fn bind(
    address: std::net::SocketAddr,
    what: &str,
    how: &str,
) -> Result<tokio::net::TcpListener, String> {
    zvp_portal::serve::listen(address).map_err(|e| {
        let busy = if e.kind() == std::io::ErrorKind::AddrInUse {
            " Another program (an earlier zvp-portal?) is listening there: stop it, or"
        } else {
            ""
        };
        format!(
            "cannot listen on {address} for {what}: {e}.{busy} choose another address with {how}"
        )
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    log::install();
    match cli.command {
        #[cfg(feature = "demo")]
        Command::Demo {
            dir,
            listen,
            admin_listen,
        } => demo::run(
            &dir,
            demo::Listen {
                web: listen,
                admin: admin_listen,
            },
        ),
        Command::Serve { config } => serve_cmd(&config),
        Command::Migrate { config } => migrate_cmd(&config),
        Command::Epd(EpdCommand::Check { config, bsn, agb }) => epd_check_cmd(&config, agb, bsn),
        Command::Uzi(command) => uzi_cmd::run(command),
        Command::Audit(command) => audit_cmd::run(command),
        Command::Policy(command) => policy_cmd::run(command),
        #[cfg(feature = "demo")]
        Command::Testpki(command) => testpki_cmd::run(command),
    }
}

/// `zvp-portal serve --config FILE`.
fn serve_cmd(path: &std::path::Path) -> ExitCode {
    let run = async {
        let config =
            zvp_portal::config::Config::load(path, std::env::vars()).map_err(|e| e.to_string())?;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let admin = bind(
            config.server.admin_listen,
            "the admin listener",
            "[server] admin_listen or ZVP_SERVER_ADMIN_LISTEN",
        )
        .await?;
        let web_listener = bind(
            config.server.listen,
            "the portal",
            "[server] listen or ZVP_SERVER_LISTEN",
        )
        .await?;
        // The bound addresses (a configured port 0 picks a free one).
        let web_address = web_listener.local_addr().map_err(|e| e.to_string())?;
        let admin_address = admin.local_addr().map_err(|e| e.to_string())?;
        let now = chrono::Utc::now();
        #[cfg(feature = "demo")]
        let config = if config.epd.kind == zvp_portal::config::EpdKind::Demo {
            let demo = zvp_portal::demo_epd::demo_epd(&config, now, stopped.clone())
                .await
                .map_err(|e| e.to_string())?;
            say!(
                "zvp-portal: [epd] kind = \"demo\": the synthetic hospital of zvp-mock-epd at {}",
                demo.base_url
            );
            demo.config
        } else {
            config
        };
        let zvp_portal::assemble::Assembled {
            portal,
            notifier,
            dezi,
        } = zvp_portal::assemble::assembled(&config, now)
            .await
            .map_err(|e| e.to_string())?;
        epd_check(&config, now).await;
        // A bad checkpoint key stops the start, rather than a log that is never checkpointed.
        let signing = zvp_portal::assemble::checkpoint_signing(&config)
            .map_err(|e| e.to_string())?
            .map(std::sync::Arc::new);
        let limits = zvp_portal::serve::Limits::from(&config.server);
        let admin_task = tokio::spawn(zvp_portal::serve::serve_plain(
            admin,
            portal.admin_router(),
            limits.clone(),
            stopped.clone(),
        ));
        let web = if config.proxy.trusted.is_empty() {
            let (chain, key) = zvp_portal::serve::read_identity(
                &config.server.certificate,
                &config.server.private_key,
            )
            .map_err(|e| e.to_string())?;
            let validator = zvp_portal::assemble::validator(&config).map_err(|e| e.to_string())?;
            let tls = zvp_portal::serve::tls_config(
                &validator,
                chain,
                key,
                zvp_portal::serve::TlsOptions::from(&config.server),
            )
            .map_err(|e| e.to_string())?;
            tokio::spawn(zvp_portal::serve::serve_tls(
                web_listener,
                tls,
                portal.router(),
                limits,
                stopped,
            ))
        } else {
            // The proxies carry every user's connections: no caps per address for them.
            let limits = zvp_portal::serve::Limits {
                exempt: config.proxy.trusted.clone(),
                ..limits
            };
            tokio::spawn(zvp_portal::serve::serve_plain(
                web_listener,
                portal.router(),
                limits,
                stopped,
            ))
        };
        let refresh = zvp_portal::assemble::spawn_crl_refresh(
            portal.clone(),
            config.clone(),
            stop.subscribe(),
        );
        let dezi = dezi.map(|service| {
            zvp_portal::dezi::spawn_refresh(portal.clone(), service, stop.subscribe())
        });
        let checkpoints = signing.clone().map(|signing| {
            zvp_portal::assemble::spawn_checkpoints(portal.clone(), signing, stop.subscribe())
        });
        let notifier = notifier.map(|notifier| {
            zvp_portal::notifier::spawn(notifier, config.notify.interval(), stop.subscribe())
        });
        say!("zvp-portal: serving {web_address} (admin {admin_address})");
        let _ = tokio::signal::ctrl_c().await;
        let _ = stop.send(true);
        let _ = web.await;
        let _ = admin_task.await;
        let _ = refresh.await;
        if let Some(dezi) = dezi {
            let _ = dezi.await;
        }
        if let Some(notifier) = notifier {
            let _ = notifier.await;
        }
        // The last checkpoint, now that the listeners have served their last requests.
        if let (Some(signing), Some(checkpoints)) = (signing, checkpoints) {
            let last = checkpoints.await.unwrap_or(None);
            zvp_portal::assemble::final_checkpoint(&portal, signing, last).await;
        }
        Ok::<(), String>(())
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("zvp-portal serve: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("zvp-portal serve: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Says at the start when the EPD does not answer, so that an operator who sees every page
/// say "tijdelijk niet beschikbaar" knows where to look. The portal starts anyway: an EPD
/// that comes back later is used, and `/healthz` says `degraded` until then.
async fn epd_check(config: &zvp_portal::config::Config, now: chrono::DateTime<chrono::Utc>) {
    let ctx = zvp_epd::RequestContext {
        request_id: "start".to_owned(),
    };
    // A FHIR server's CapabilityStatement decides how each search is made; the log says how.
    if config.epd.kind == zvp_portal::config::EpdKind::Fhir
        && let Ok(fhir) = zvp_portal::epd_connection::fhir_config(&config.epd)
        && let Ok(fhir) = zvp_epd::client::FhirEpd::new(fhir)
        && let Ok(strategies) = fhir.strategies(&ctx).await
    {
        tracing::info!(
            event = "epd-capabilities",
            software = %strategies.software,
            base_url = %config.epd.base_url,
        );
        for (search, how) in strategies.describe() {
            tracing::info!(event = "epd-search-strategy", search = %search, how = %how);
        }
        return;
    }
    let Ok(epd) = zvp_portal::assemble::epd(config, now) else {
        return;
    };
    if let Err(e) = epd.check(&ctx).await {
        tracing::warn!(
            event = "epd-not-answering",
            base_url = %config.epd.base_url,
            error = %e,
            advice = "pages show \"tijdelijk niet beschikbaar\" until it answers; for the demo's \
                      hospital, set [epd] kind = \"demo\" or run `zvp-portal demo`",
        );
    }
}

/// `zvp-portal migrate --config FILE`.
fn migrate_cmd(path: &std::path::Path) -> ExitCode {
    let run = async {
        let config =
            zvp_portal::config::Config::load(path, std::env::vars()).map_err(|e| e.to_string())?;
        match config.stores.kind {
            zvp_portal::config::StoresKind::Postgres => {
                zvp_portal::assemble::postgres_stores(&config)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok::<String, String>(format!(
                    "PostgreSQL schema {}: directory at version {}, audit log and sessions ready",
                    config.stores.schema,
                    zvp_auth::directory::PgDirectory::schema_version()
                ))
            }
            zvp_portal::config::StoresKind::Embedded => {
                zvp_portal::assemble::directory(&config).map_err(|e| e.to_string())?;
                zvp_portal::assemble::checked_audit(&config).map_err(|e| e.to_string())?;
                Ok(format!(
                    "embedded stores ready: {} and {}",
                    config.directory.path.display(),
                    config.audit.dir.display()
                ))
            }
        }
    };
    let outcome = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
        .and_then(|r| r.block_on(run));
    match outcome {
        Ok(text) => {
            say!("zvp-portal migrate: {text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("zvp-portal migrate: {e}");
            ExitCode::FAILURE
        }
    }
}
