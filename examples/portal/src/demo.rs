//! `zvp-portal demo [--dir DIR]`: the whole portal on this machine, in one command.
//!
//! It makes (or reuses) in `DIR` (default `./zvp-demo`): a TEST-environment PKI with demo
//! cards (PEM and PKCS#12, password `zvp`), the configuration `zvp.toml`, the directory
//! (SQLite) seeded with accounts and a delegation, and the audit log. It starts zvp-mock-epd
//! on loopback and talks to it over FHIR, serves <https://localhost:8443>, and prints the
//! cards, what each shows, and a `curl` line that works.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use chrono::{DateTime, Duration, SubsecRound as _, Utc};
use zvp_auth::directory::{Account, AccountStatus, DirectoryStore, NewDelegation, SqliteDirectory};
use zvp_core::{AgbCode, RoleCode, UziNumber};
use zvp_epd::synthetic::{DEMO_GPS, SyntheticEpd};
use zvp_epd::{Epd as _, RequestContext};
use zvp_portal::config::Config;
use zvp_portal::serve;

/// The demo's password of the PKCS#12 files.
const PASSWORD: &str = "zvp";

/// The demo configuration written on the first run.
const CONFIG: &str = r#"# zvp-portal demo configuration (written by `zvp-portal demo`; see zvp_portal::config)
[server]
listen = "127.0.0.1:8443"
admin_listen = "127.0.0.1:9090"
certificate = "pki/server.pem"
private_key = "pki/server.key.pem"
public_url = "https://localhost:8443"

[uzi]
environment = "test"
anchors = "pki/root.pem"
intermediates = "pki/intermediates.pem"
crls = ["pki/crl/Z.crl", "pki/crl/N.crl"]
card_types = ["Z", "N"]

[portal]
hospital = "Demoziekenhuis"
contact_name = "Bureau Huisartsencontacten"
contact_email = "huisartsencontacten@demoziekenhuis.example"
contact_phone = "010 - 123 45 67"

[epd]
# The synthetic hospital over FHIR: the portal starts zvp-mock-epd on a free loopback port
# (`zvp-portal demo`, and `zvp-portal serve --config` with this file). For a real EPD:
# kind = "fhir" and base_url = "https://…/fhir".
kind = "demo"

[directory]
kind = "sqlite"
path = "directory.sqlite"

[audit]
dir = "audit"
# The demo makes this key on its first run; the portal signs a checkpoint every hour in which
# records were added, and one when it stops. `audit verify --config` checks them with it.
signing_key = "audit.key"
key_name = "zvp-demo.localhost"

[notify]
# Meldingen: the portal polls the EPD every minute for admissions, discharges and letters of
# the account holders' patients.
enabled = true
interval_seconds = 60
# The demo's mail sink: each mail the portal sends (J. de Vries has opted in) is written as
# an .eml file into this folder instead of going to an SMTP server.
mail_folder = "mail"
digest_minutes = 5
"#;

/// One row of the printed table: card, who, what it shows.
struct Row {
    card: &'static str,
    who: &'static str,
    shows: &'static str,
}

const ROWS: [Row; 11] = [
    Row {
        card: "huisarts",
        who: "J. de Vries, huisarts",
        shows: "start page with own admitted and discharged patients",
    },
    Row {
        card: "apotheekhoudend-huisarts",
        who: "F. Yılmaz, apotheekhoudend huisarts",
        shows: "own patients and, by delegation, J. de Vries's",
    },
    Row {
        card: "specialist-ouderengeneeskunde",
        who: "A. Jansen, specialist ouderengeneeskunde",
        shows: "own patients",
    },
    Row {
        card: "arts-vg",
        who: "P. van den Berg, arts verstandelijk gehandicapten",
        shows: "own patients",
    },
    Row {
        card: "aios",
        who: "L. Smit, arts (AIOS)",
        shows: "refused: role not eligible",
    },
    Row {
        card: "tandarts",
        who: "M. El Amrani, tandarts",
        shows: "refused: role not eligible",
    },
    Row {
        card: "geblokkeerd",
        who: "D. Dekker, huisarts",
        shows: "refused: account blocked",
    },
    Row {
        card: "ingetrokken",
        who: "E. Mulder, huisarts",
        shows: "refused: card revoked (CRL)",
    },
    Row {
        card: "verlopen",
        who: "K. Bakker, huisarts",
        shows: "refused: card expired",
    },
    Row {
        card: "zonder-account",
        who: "N. Hendriks, huisarts",
        shows: "no account: the account request form",
    },
    Row {
        card: "medewerker",
        who: "S. Visser, Bureau Huisartsencontacten (N card)",
        shows: "administration: requests, accounts, delegations, reviews, audit",
    },
];

/// Where the demo listens, when given on the command line (over the configuration and the
/// `ZVP_SERVER_*` variables).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Listen {
    /// The portal's HTTPS address.
    pub(crate) web: Option<SocketAddr>,
    /// The admin listener's address.
    pub(crate) admin: Option<SocketAddr>,
}

/// Runs the demo until Ctrl-C.
pub(crate) fn run(dir: &Path, listen: Listen) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("zvp-portal demo: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(demo(dir, listen)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("zvp-portal demo: {e}");
            ExitCode::FAILURE
        }
    }
}

type Error = Box<dyn std::error::Error + Send + Sync>;

fn uzi(n: u32) -> Result<UziNumber, Error> {
    UziNumber::new(n).ok_or_else(|| "uzi number out of range".into())
}

/// Whether the PKI in `pki` can be used: it exists and its CRLs are fresh for a while.
fn pki_usable(pki: &Path) -> bool {
    let fresh = std::fs::metadata(pki.join("crl/Z.crl"))
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age < std::time::Duration::from_secs(40 * 3600));
    fresh
        && pki.join("root.pem").exists()
        && pki.join("dezi-server.pem").exists()
        && pki.join("cards/huisarts/authenticatie.p12").exists()
}

async fn demo(dir: &Path, listen: Listen) -> Result<(), Error> {
    let started = std::time::Instant::now();
    std::fs::create_dir_all(dir)?;
    let now = Utc::now().trunc_subsecs(0);
    let config_path = dir.join("zvp.toml");
    if !config_path.exists() {
        std::fs::write(&config_path, CONFIG)?;
    }
    let mut config = Config::load(&config_path, std::env::vars())?;
    if let Some(web) = listen.web {
        config.server.listen = web;
    }
    if let Some(admin) = listen.admin {
        config.server.admin_listen = admin;
    }
    // The listeners first: a busy address is found before anything else is made or started.
    let https = crate::bind(
        config.server.listen,
        "the portal",
        "--listen ADDR (or ZVP_SERVER_LISTEN)",
    )
    .await?;
    let admin = crate::bind(
        config.server.admin_listen,
        "the admin listener",
        "--admin-listen ADDR (or ZVP_SERVER_ADMIN_LISTEN)",
    )
    .await?;
    if let (Some(key), Some(name)) = (&config.audit.signing_key, &config.audit.key_name)
        && !key.exists()
    {
        let (_, pkcs8) =
            zvp_audit::checkpoint::CheckpointSigner::generate(name).map_err(|e| e.to_string())?;
        zvp_portal::write_private_key(key, &pkcs8)?;
    }
    let signing = zvp_portal::assemble::checkpoint_signing(&config)?.map(Arc::new);
    // The verifier key beside it, for `audit verify --verifier-key "$(cat …/audit.vkey)"`.
    let vkey = dir.join("audit.vkey");
    if let Some(signing) = &signing {
        std::fs::write(&vkey, format!("{}\n", signing.signer.verifier().to_vkey()))?;
    }
    let pki = dir.join("pki");
    if !pki_usable(&pki) {
        // The CRLs are valid for 48 hours; an older PKI is made anew (import the new cards).
        let _ = std::fs::remove_dir_all(&pki);
        crate::testpki_cmd::generate(
            &pki,
            zvp_auth::uzi::Environment::Test,
            zvp_auth::testpki::KeyAlgorithm::EcdsaP256,
            PASSWORD,
        )
        .map_err(|e| e.to_string())?;
        say!("made a new test PKI in {}", pki.display());
    }

    // The EPD: the synthetic hospital over FHIR on loopback, whatever [epd] says.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let demo_epd = zvp_portal::demo_epd::demo_epd(&config, now, stopped.clone()).await?;
    let base = demo_epd.base_url;
    let hospital = demo_epd.hospital;
    let config = demo_epd.config;

    seed(&config.directory.path, now).await?;
    // Dezi login beside the cards, with the stand-in of the tests, when it can run here (not
    // behind a reverse proxy: the platform sends the browser back to the portal's own URL).
    let mut config = config;
    let web_port = https.local_addr()?.port();
    let standin = if config.proxy.trusted.is_empty() {
        crate::demo_dezi::start(dir, &pki, web_port)?
    } else {
        None
    };
    let standin = standin.map(|(standin, dezi)| {
        config.dezi = Some(dezi);
        standin
    });
    if standin.is_some() {
        let directory = SqliteDirectory::open(&config.directory.path)?;
        crate::demo_dezi::link(&directory, now).await?;
    }
    let zvp_portal::assemble::Assembled {
        portal,
        notifier,
        dezi,
    } = zvp_portal::assemble::assembled(&config, now).await?;
    // The first revocation list before the first login; then every status_check_minutes.
    if let Some(service) = &dezi {
        service.refresh_round(&portal).await;
    }
    if let Some(notifier) = &notifier
        && notifier.mailer.is_some()
    {
        // J. de Vries (the huisarts card) is mailed about everything.
        let gp = uzi(900_000_001)?;
        if notifier.store.preferences(gp).await?.is_none() {
            let preferences = zvp_notify::mail::MailPreferences {
                address: "j.devries@delinde.example".parse()?,
                kinds: zvp_notify::EventKind::ALL.into_iter().collect(),
            };
            notifier
                .store
                .set_preferences(gp, Some(&preferences))
                .await?;
        }
    }
    let (chain, key) =
        serve::read_identity(&config.server.certificate, &config.server.private_key)?;
    let tls = serve::tls_config(
        &zvp_portal::assemble::validator(&config)?,
        chain,
        key,
        serve::TlsOptions::from(&config.server),
    )?;
    // The bound ports (a configured port 0 picks a free one).
    let https_port = https.local_addr()?.port();
    let admin_addr = admin.local_addr()?;
    // Behind a reverse proxy ([proxy] trusted set, e.g. ZVP_PROXY_TRUSTED='["127.0.0.3"]'),
    // the portal speaks plain HTTP to the proxy, which does the TLS.
    let behind_proxy = !config.proxy.trusted.is_empty();
    let limits = serve::Limits::from(&config.server);
    let web = if behind_proxy {
        let limits = serve::Limits {
            exempt: config.proxy.trusted.clone(),
            ..limits.clone()
        };
        tokio::spawn(serve::serve_plain(
            https,
            portal.router(),
            limits,
            stopped.clone(),
        ))
    } else {
        tokio::spawn(serve::serve_tls(
            https,
            tls,
            portal.router(),
            limits.clone(),
            stopped.clone(),
        ))
    };
    let refresh =
        zvp_portal::assemble::spawn_crl_refresh(portal.clone(), config.clone(), stopped.clone());
    let notifier = notifier.map(|notifier| {
        zvp_portal::notifier::spawn(notifier, config.notify.interval(), stopped.clone())
    });
    let checkpoints = signing.clone().map(|signing| {
        zvp_portal::assemble::spawn_checkpoints(portal.clone(), signing, stopped.clone())
    });
    let dezi = dezi
        .map(|service| zvp_portal::dezi::spawn_refresh(portal.clone(), service, stopped.clone()));
    let admin_task = tokio::spawn(serve::serve_plain(
        admin,
        portal.admin_router(),
        limits,
        stopped,
    ));

    let cards = pki.join("cards");
    say!(
        "\nzvp-portal demo: ready in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    if behind_proxy {
        say!(
            "  portal      http://{}:{https_port}/ (behind the reverse proxy at {:?})",
            config.server.listen.ip(),
            config.proxy.trusted
        );
    } else {
        say!("  portal      https://localhost:{https_port}/");
    }
    say!("  health      http://{admin_addr}/healthz");
    say!("  EPD (FHIR)  {base}");
    match &standin {
        Some(standin) => say!(
            "  Dezi        https://localhost:{https_port}/dezi/inloggen (the Dezi stand-in at {}; \
             J. de Vries, F. Yılmaz and A. Jansen are linked)",
            standin.issuer
        ),
        None if !behind_proxy => say!(
            "  Dezi        not in this demo: it needs Node.js and `npm ci` in peers/, run from the repository"
        ),
        None => {}
    }
    if let Some(folder) = &config.notify.mail_folder
        && config.notify.enabled
    {
        say!(
            "  mail        {} (each mail sent, as an .eml file)",
            folder.display()
        );
    }
    say!(
        "  files       {} (configuration zvp.toml, PKI, directory, audit log)\n",
        dir.display()
    );
    say!(
        "Cards (cards/<card>/authenticatie.p12, password \"{PASSWORD}\"; import one in your browser):\n"
    );
    say!("  {:<31} {:<50} shows", "card", "who");
    for row in &ROWS {
        say!("  {:<31} {:<50} {}", row.card, row.who, row.shows);
    }
    say!("");
    for line in demo_patients(&hospital).await? {
        say!("{line}");
    }
    say!("\nTry it:\n");
    say!(
        "  curl --cacert {tls} --cert {card}/authenticatie.pem --key {card}/authenticatie.key.pem https://localhost:{port}/\n",
        tls = pki.join("tls-root.pem").display(),
        card = cards.join("huisarts").display(),
        port = https_port
    );
    say!(
        "Check the audit log: zvp-portal audit verify --config {}",
        config_path.display()
    );
    if signing.is_some() {
        say!(
            "  or as an auditor, with the verifier key: zvp-portal audit verify --log {} --verifier-key \"$(cat {})\"",
            dir.join("audit").display(),
            vkey.display()
        );
    }
    say!("Stop with Ctrl-C.");
    let _ = tokio::signal::ctrl_c().await;
    let _ = stop.send(true);
    let _ = web.await;
    let _ = admin_task.await;
    let _ = refresh.await;
    if let Some(dezi) = dezi {
        let _ = dezi.await;
    }
    drop(standin);
    if let Some(notifier) = notifier {
        let _ = notifier.await;
    }
    // The last checkpoint, now that the listeners have served their last requests.
    if let (Some(signing), Some(checkpoints)) = (signing, checkpoints) {
        let last = checkpoints.await.unwrap_or(None);
        zvp_portal::assemble::final_checkpoint(&portal, signing, last).await;
    }
    Ok(())
}

/// The demo patients to try: two or three that the `huisarts` card may see, and one it may
/// not (another GP's), for the search page and the emergency procedure. Synthetic people,
/// printed on standard output at start, never in the log.
async fn demo_patients(hospital: &SyntheticEpd) -> Result<Vec<String>, Error> {
    let ctx = RequestContext {
        request_id: "demo-patients".to_owned(),
    };
    let gp = DEMO_GPS
        .first()
        .and_then(|g| AgbCode::new(g.agb))
        .ok_or("no demo GP")?;
    let row = |who: &str, patient: &zvp_core::Patient, what: &str| {
        let bsn = patient.bsn.map(|b| b.to_string()).unwrap_or_default();
        format!(
            "  huisarts {who:<12} {:<28} BSN {bsn:<9}  born {}  {what}",
            patient.name.to_string(),
            patient.birth_date
        )
    };
    let mut lines =
        vec!["Demo patients (Zoeken asks for the BSN and the date of birth):\n".to_owned()];
    let own = hospital.admitted(&[gp], &ctx).await?;
    for listed in own.iter().filter(|l| l.patient.bsn.is_some()).take(2) {
        lines.push(row("may see", &listed.patient, "admitted, own patient"));
    }
    let since = hospital.now() - Duration::days(14);
    let discharged = hospital.discharged_since(&[gp], since, &ctx).await?;
    if let Some(listed) = discharged.iter().find(|l| l.patient.bsn.is_some()) {
        lines.push(row("may see", &listed.patient, "discharged, own patient"));
    }
    let demo_gps: Vec<AgbCode> = DEMO_GPS
        .iter()
        .filter_map(|g| AgbCode::new(g.agb))
        .collect();
    for id in hospital.patient_ids() {
        let patient = hospital.patient(id, &ctx).await?;
        let others = patient
            .registered_gp
            .as_ref()
            .is_some_and(|gp| !demo_gps.contains(&gp.agb));
        if others && patient.bsn.is_some() {
            lines.push(row(
                "may not see",
                &patient,
                "another GP's patient: the emergency procedure",
            ));
            break;
        }
    }
    Ok(lines)
}

/// Seeds the directory on the first run: the demo accounts and a delegation.
async fn seed(path: &Path, now: DateTime<Utc>) -> Result<(), Error> {
    let directory = SqliteDirectory::open(path)?;
    if !directory.accounts().await?.is_empty() {
        return Ok(());
    }
    let gp_agb = |i: usize| DEMO_GPS.get(i).and_then(|g| AgbCode::new(g.agb));
    let account = |n: u32,
                   name: &str,
                   role: RoleCode,
                   agb: Option<AgbCode>,
                   status|
     -> Result<Account, Error> {
        Ok(Account {
            uzi: uzi(n)?,
            agb,
            name: name.to_owned(),
            role,
            practice_agb: None,
            status,
            created_at: now - Duration::days(30),
            last_login: None,
            previous_login: None,
            accepted_terms: Some(1),
            admin: false,
            contact: Default::default(),
        })
    };
    let other = |n: u32| AgbCode::new(1_030_000 + n % 1_000);
    let accounts = [
        // J. de Vries was last here two days ago (half past, as the synthetic hospital's
        // times fall on the hour): what came since is marked as new.
        Account {
            last_login: Some(now - Duration::days(2) + Duration::minutes(30)),
            ..account(
                900_000_001,
                "J. de Vries",
                RoleCode::GENERAL_PRACTITIONER,
                gp_agb(0),
                AccountStatus::Active,
            )?
        },
        account(
            900_000_002,
            "F. Yılmaz",
            RoleCode::DISPENSING_GENERAL_PRACTITIONER,
            gp_agb(1),
            AccountStatus::Active,
        )?,
        account(
            900_000_003,
            "A. Jansen",
            RoleCode::ELDERLY_CARE_PHYSICIAN,
            gp_agb(2),
            AccountStatus::Active,
        )?,
        account(
            900_000_004,
            "P. van den Berg",
            RoleCode::INTELLECTUAL_DISABILITY_PHYSICIAN,
            gp_agb(3),
            AccountStatus::Active,
        )?,
        account(
            900_000_005,
            "L. Smit",
            RoleCode::PHYSICIAN,
            other(900_000_005),
            AccountStatus::Active,
        )?,
        account(
            900_000_006,
            "M. El Amrani",
            "02.000".parse()?,
            other(900_000_006),
            AccountStatus::Active,
        )?,
        account(
            900_000_008,
            "E. Mulder",
            RoleCode::GENERAL_PRACTITIONER,
            other(900_000_008),
            AccountStatus::Active,
        )?,
        account(
            900_000_009,
            "K. Bakker",
            RoleCode::GENERAL_PRACTITIONER,
            other(900_000_009),
            AccountStatus::Active,
        )?,
        account(
            900_000_010,
            "D. Dekker",
            RoleCode::GENERAL_PRACTITIONER,
            other(900_000_010),
            AccountStatus::Blocked,
        )?,
        Account {
            admin: true,
            contact: Default::default(),
            ..account(
                900_000_007,
                "S. Visser",
                RoleCode::NONE,
                None,
                AccountStatus::Active,
            )?
        },
    ];
    for a in &accounts {
        directory.create_account(a).await?;
    }
    if let Some(grantor) = gp_agb(0) {
        directory
            .add_delegation(NewDelegation::new(
                grantor,
                uzi(900_000_002)?,
                now - Duration::days(7),
                Some(now + Duration::days(30)),
                Some(uzi(900_000_007)?),
            )?)
            .await?;
    }
    Ok(())
}
