//! `zvp-portal audit`: verify the audit log, sign checkpoints, and report from it.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::{Subcommand, ValueEnum};
use zvp_audit::checkpoint::{CheckpointSigner, CheckpointVerifier};
use zvp_audit::event::AuditEvent;
use zvp_audit::log::{FileLog, FileLogOptions, LogError, read_events, verify, verify_structure};
use zvp_audit::render::{CSV_HEADER, basis_code, to_csv_row, to_fhir};
use zvp_audit::report::{Period, patient_view, practitioner_view};
use zvp_core::{Bsn, UziNumber};

/// The `audit` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Make a checkpoint signing key: writes the private key (PKCS#8) to FILE and prints the
    /// verifier key that `verify` needs.
    Keygen {
        /// The key's name (usually the log's origin host).
        #[arg(long)]
        name: String,
        /// Where to write the private key.
        #[arg(long)]
        out: PathBuf,
    },
    /// Sign a checkpoint of the log as it is now and store it in the log.
    Checkpoint {
        /// Where the log is.
        #[command(flatten)]
        log: LogSource,
        /// The private key file from `keygen`.
        #[arg(long)]
        key: PathBuf,
        /// The key's name.
        #[arg(long)]
        name: String,
        /// The origin line of the checkpoint.
        #[arg(long)]
        origin: String,
    },
    /// Re-read the whole log and check every record and checkpoint. Exits 0 only when all is
    /// well; otherwise prints the first bad record and exits 1.
    Verify {
        /// Where the log is.
        #[command(flatten)]
        log: LogSource,
        /// The verifier key (`name+id+key`, as `keygen` printed it; the demo writes it to
        /// `zvp-demo/audit.vkey`). Without it (and without a --config that names a signing
        /// key) the records, the chain and the checkpoints' roots are checked, not the
        /// signatures.
        #[arg(long)]
        verifier_key: Option<String>,
    },
    /// Report from the log: who looked at a patient's record, or what a practitioner did.
    Report {
        /// Where the log is.
        #[command(flatten)]
        log: LogSource,
        /// The patient's BSN.
        #[arg(
            long,
            conflicts_with = "practitioner",
            required_unless_present = "practitioner"
        )]
        patient: Option<Bsn>,
        /// The practitioner's UZI number.
        #[arg(long)]
        practitioner: Option<UziNumber>,
        /// From (RFC 3339, inclusive).
        #[arg(long)]
        from: Option<DateTime<Utc>>,
        /// To (RFC 3339, exclusive).
        #[arg(long)]
        to: Option<DateTime<Utc>>,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
}

/// `--log DIR` or `--config FILE`: the file log directly, or the one the portal's
/// configuration names.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
pub(crate) struct LogSource {
    /// The log directory.
    #[arg(long)]
    log: Option<PathBuf>,
    /// The portal's configuration (`zvp.toml`), whose `[audit]` names the log.
    #[arg(long)]
    config: Option<PathBuf>,
}

/// Where a log is: a directory, or a PostgreSQL schema.
enum Log {
    File(PathBuf),
    Postgres { connection: String, schema: String },
}

impl LogSource {
    /// The checkpoint key of the configuration, when `--config` names one.
    fn signing(&self) -> Result<Option<zvp_portal::assemble::CheckpointSigning>, String> {
        let Some(path) = self.config.as_deref() else {
            return Ok(None);
        };
        let config =
            zvp_portal::config::Config::load(path, std::env::vars()).map_err(|e| e.to_string())?;
        zvp_portal::assemble::checkpoint_signing(&config).map_err(|e| e.to_string())
    }

    /// The log the arguments name.
    fn log(&self) -> Result<Log, String> {
        if let Some(dir) = &self.log {
            return Ok(Log::File(dir.clone()));
        }
        let path = self.config.as_deref().ok_or("give --log or --config")?;
        let config =
            zvp_portal::config::Config::load(path, std::env::vars()).map_err(|e| e.to_string())?;
        if config.stores.kind == zvp_portal::config::StoresKind::Postgres {
            return Ok(Log::Postgres {
                connection: config.stores.postgres,
                schema: config.stores.schema,
            });
        }
        Ok(Log::File(config.audit.dir))
    }

    /// The log directory (commands that work on file logs only).
    fn dir(&self) -> Result<PathBuf, String> {
        match self.log()? {
            Log::File(dir) => Ok(dir),
            Log::Postgres { .. } => {
                Err("this command works on file logs; the log is in PostgreSQL".to_owned())
            }
        }
    }
}

/// Runs `work` on a fresh runtime (the PostgreSQL client is async).
fn block_on<T>(work: impl Future<Output = T>) -> Result<T, String> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map(|r| r.block_on(work))
        .map_err(|e| e.to_string())
}

/// Every event of the log.
fn events_of(log: &Log) -> Result<Vec<(u64, AuditEvent)>, String> {
    match log {
        Log::File(dir) => read_events(dir).map_err(|e| e.to_string()),
        Log::Postgres { connection, schema } => block_on(async {
            use zvp_audit::log::AuditLog as _;
            let log = zvp_audit::log::pg::PgLog::connect(connection, schema)
                .await
                .map_err(|e| e.to_string())?;
            log.events().await.map_err(|e| e.to_string())
        })?,
    }
}

/// `--format`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum Format {
    /// A readable table.
    Text,
    /// CSV with a header.
    Csv,
    /// A FHIR R4 Bundle (collection) of AuditEvents.
    Fhir,
}

/// Runs an `audit` subcommand.
pub(crate) fn run(command: AuditCommand) -> ExitCode {
    match command {
        AuditCommand::Keygen { name, out } => match CheckpointSigner::generate(&name) {
            Ok((signer, pkcs8)) => match zvp_portal::write_private_key(&out, &pkcs8) {
                Ok(()) => {
                    say!("{}", signer.verifier().to_vkey());
                    ExitCode::SUCCESS
                }
                Err(e) => usage(&format!("{}: {e}", out.display())),
            },
            Err(e) => usage(&e.to_string()),
        },
        AuditCommand::Checkpoint {
            log,
            key,
            name,
            origin,
        } => {
            let signed = std::fs::read(&key)
                .map_err(|e| format!("{}: {e}", key.display()))
                .and_then(|pkcs8| {
                    CheckpointSigner::from_pkcs8(&name, &pkcs8).map_err(|e| e.to_string())
                })
                .and_then(|signer| {
                    let log = FileLog::open(&log.dir()?, FileLogOptions::default()).map_err(
                        |e| match e {
                            LogError::Locked => format!(
                                "{e}: a running portal holds it; it signs checkpoints itself \
                                 when [audit] signing_key is set"
                            ),
                            e => e.to_string(),
                        },
                    )?;
                    log.checkpoint(&signer, &origin).map_err(|e| e.to_string())
                });
            match signed {
                Ok(note) => {
                    say_raw!("{note}");
                    ExitCode::SUCCESS
                }
                Err(e) => usage(&e),
            }
        }
        AuditCommand::Verify { log, verifier_key } => verify_cmd(&log, verifier_key.as_deref()),
        AuditCommand::Report {
            log,
            patient,
            practitioner,
            from,
            to,
            format,
        } => match log
            .log()
            .and_then(|log| report(&log, patient, practitioner, Period { from, to }, format))
        {
            Ok(report) => {
                say_raw!("{}", report.text);
                if report.records == 0 {
                    // On stderr, so that a CSV or FHIR answer stays what its format says.
                    eprintln!("{}", no_records(patient, practitioner, from, to));
                }
                ExitCode::SUCCESS
            }
            Err(e) => usage(&e),
        },
    }
}

/// What `verify` says when it has no key to check signatures with.
const NO_KEY: &str = "no verifier key given: structure checked, signatures not. Give the key \
    that `zvp-portal audit keygen` printed with --verifier-key NAME+ID+KEY, or --config with \
    the configuration whose [audit] signing_key signs the checkpoints";

/// `audit verify`: with the given key, else the configuration's, else the structure only.
fn verify_cmd(log: &LogSource, verifier_key: Option<&str>) -> ExitCode {
    let verifier = match verifier_key {
        Some(key) => match CheckpointVerifier::parse(key) {
            Ok(v) => Some(v),
            Err(e) => {
                return usage(&format!(
                    "--verifier-key: {e} (give it as `zvp-portal audit keygen` printed it, \
                     e.g. --verifier-key \"$(cat audit.vkey)\")"
                ));
            }
        },
        None => match log.signing() {
            Ok(signing) => signing.map(|s| s.signer.verifier().clone()),
            Err(e) => return usage(&e),
        },
    };
    let result = match (log.log(), &verifier) {
        (Ok(Log::File(dir)), Some(key)) => verify(&dir, key),
        (Ok(Log::File(dir)), None) => verify_structure(&dir),
        (Ok(Log::Postgres { connection, schema }), key) => {
            let checked = match key {
                Some(key) => block_on(zvp_audit::log::pg::verify(&connection, &schema, key)),
                None => block_on(zvp_audit::log::pg::verify_structure(&connection, &schema)),
            };
            match checked {
                Ok(r) => r,
                Err(e) => return usage(&e),
            }
        }
        (Err(e), _) => return usage(&e),
    };
    let unsigned = if verifier.is_none() {
        format!("\n{NO_KEY}")
    } else {
        String::new()
    };
    match result {
        Ok(report) => {
            let checkpoints = if report.signatures_checked {
                "signed checkpoints"
            } else {
                "checkpoints"
            };
            say!(
                "ok: {} records, {} {checkpoints}, root {}{unsigned}",
                report.records,
                report.checkpoints,
                hex(&report.root)
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            say!("FAILED: {e}{unsigned}");
            ExitCode::FAILURE
        }
    }
}

/// A report: its text, and how many records it holds.
struct Report {
    text: String,
    records: usize,
}

/// What `report` says when the log holds nothing for its question.
fn no_records(
    patient: Option<Bsn>,
    practitioner: Option<UziNumber>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> String {
    let whom = match (patient, practitioner) {
        (Some(bsn), _) => format!("patient {bsn}"),
        (None, Some(uzi)) => format!("practitioner {uzi}"),
        (None, None) => "this question".to_owned(),
    };
    let when =
        |t: Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    let period = match (when(from), when(to)) {
        (None, None) => String::new(),
        (Some(f), None) => format!(" from {f}"),
        (None, Some(t)) => format!(" before {t}"),
        (Some(f), Some(t)) => format!(" from {f} before {t}"),
    };
    format!("no records: the audit log holds nothing for {whom}{period}")
}

/// The report's text.
fn report(
    log: &Log,
    patient: Option<Bsn>,
    practitioner: Option<UziNumber>,
    period: Period,
    format: Format,
) -> Result<Report, String> {
    let events = events_of(log)?;
    let selected: Vec<&AuditEvent> = match (patient, practitioner) {
        (Some(bsn), _) => patient_view(&events, bsn, period),
        (None, Some(uzi)) => practitioner_view(&events, uzi, period),
        (None, None) => return Err("give --patient or --practitioner".to_owned()),
    }
    .into_iter()
    .map(|(_, e)| e)
    .collect();
    let text = match format {
        Format::Csv => {
            let mut out = format!("{CSV_HEADER}\n");
            for e in &selected {
                out.push_str(&to_csv_row(e));
                out.push('\n');
            }
            out
        }
        Format::Fhir => {
            let bundle = serde_json::json!({
                "resourceType": "Bundle",
                "type": "collection",
                "entry": selected.iter().map(|e| serde_json::json!({ "resource": to_fhir(e) })).collect::<Vec<_>>(),
            });
            format!("{bundle:#}\n")
        }
        Format::Text => {
            let mut out = String::from(
                "when (UTC)                user       role    on behalf of  patient       part                      basis           outcome\n",
            );
            for e in &selected {
                out.push_str(&format!(
                    "{:<25} {:<10} {:<7} {:<13} {:<13} {:<25} {:<15} {:?}\n",
                    e.recorded
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    // A refused card has no verified user: the UZI number it claimed.
                    e.user_uzi()
                        .or_else(|| e.card.as_ref().and_then(|c| c.uzi))
                        .map(|u| u.to_string())
                        .unwrap_or_default(),
                    e.user
                        .as_ref()
                        .map(|u| u.role.to_string())
                        .unwrap_or_default(),
                    e.on_behalf_of
                        .as_ref()
                        .map(|r| r.agb.to_string())
                        .unwrap_or_default(),
                    e.patient
                        .as_ref()
                        .map(|p| p.id.to_string())
                        .unwrap_or_default(),
                    e.part
                        .as_ref()
                        .map(|p| p.section.to_string())
                        .unwrap_or_default(),
                    e.basis.as_ref().map(basis_code).unwrap_or_default(),
                    e.outcome,
                ));
            }
            out
        }
    };
    Ok(Report {
        text,
        records: selected.len(),
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A problem with the command's input: message on stderr, exit 2.
fn usage(message: &str) -> ExitCode {
    eprintln!("zvp-portal audit: {message}");
    ExitCode::from(2)
}
