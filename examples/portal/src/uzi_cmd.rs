//! `zvp-portal uzi inspect` and `zvp-portal uzi verify`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::Subcommand;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer};
use serde::Serialize;
use serde_json::json;
use zvp_auth::uzi::{Environment, ErrorReport, UziCertificate, UziValidator, VerifiedUziIdentity};
use zvp_core::{CardType, RoleCode};

/// The `uzi` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum UziCommand {
    /// Print the UZI fields of a certificate (PEM or DER) as JSON, without judging them.
    Inspect {
        /// The certificate file; with a PEM chain, the first certificate.
        cert: PathBuf,
    },
    /// Validate a certificate as the portal does at login and print the verdict as JSON:
    /// `{"ok":true,"identity":{..}}` (exit 0) or `{"ok":false,"error":"<code>",..}` (exit 1).
    Verify {
        /// A directory of CA certificates (PEM or DER files, not recursive). Self-signed ones
        /// are the trust anchors; the others are used as intermediates.
        #[arg(long)]
        anchors: PathBuf,
        /// A directory of further intermediate CA certificates.
        #[arg(long)]
        intermediates: Option<PathBuf>,
        /// A CRL file (DER or PEM); repeat for several. With CRLs revocation is required
        /// (a stale CRL fails closed); without any, revocation is not checked and the verdict
        /// says so.
        #[arg(long = "crl")]
        crls: Vec<PathBuf>,
        /// The time to validate at (RFC 3339); default: now.
        #[arg(long)]
        at: Option<DateTime<Utc>>,
        /// Validate for the UZI-register's TEST environment instead of production.
        #[arg(long)]
        test_environment: bool,
        /// Also refuse roles outside this comma-separated list with `role-not-eligible`.
        #[arg(long, value_delimiter = ',')]
        eligible_roles: Option<Vec<RoleCode>>,
        /// Accepted card types, comma-separated (default: Z).
        #[arg(long, value_delimiter = ',', default_value = "Z")]
        card_types: Vec<CardType>,
        /// The certificate file; a PEM file may hold the chain, leaf first.
        cert: PathBuf,
    },
}

/// Runs a `uzi` subcommand.
pub(crate) fn run(command: UziCommand) -> ExitCode {
    match command {
        UziCommand::Inspect { cert } => match inspect(&cert) {
            Ok(report) => {
                say!("{report:#}");
                ExitCode::SUCCESS
            }
            Err(e) => fail_usage(&e),
        },
        UziCommand::Verify {
            anchors,
            intermediates,
            crls,
            at,
            test_environment,
            eligible_roles,
            card_types,
            cert,
        } => {
            let environment = if test_environment {
                Environment::Test
            } else {
                Environment::Production
            };
            let setup = || -> Result<_, String> {
                let validator =
                    build_validator(environment, &anchors, intermediates.as_deref(), &crls)?
                        .with_accepted_card_types(&card_types);
                Ok((validator, read_certificates(&cert)?))
            };
            let (validator, chain) = match setup() {
                Ok(setup) => setup,
                Err(e) => return fail_usage(&e),
            };
            let at = at.unwrap_or_else(Utc::now);
            let verdict = validator.validate(&chain, at).and_then(|identity| {
                if let Some(roles) = &eligible_roles {
                    identity.require_role(roles)?;
                }
                Ok(identity)
            });
            let revocation = if crls.is_empty() {
                "not-checked"
            } else {
                "checked"
            };
            let (output, code) = match verdict {
                Ok(identity) => (
                    VerifyOutput::Verified {
                        ok: true,
                        identity,
                        revocation,
                    },
                    ExitCode::SUCCESS,
                ),
                Err(e) => {
                    let report = ErrorReport::from(&e);
                    (
                        VerifyOutput::Refused {
                            ok: false,
                            error: report.error,
                            message: report.message,
                            advice_nl: report.advice_nl,
                        },
                        ExitCode::FAILURE,
                    )
                }
            };
            match serde_json::to_string_pretty(&output) {
                Ok(json) => {
                    say!("{json}");
                    code
                }
                Err(e) => fail_usage(&e.to_string()),
            }
        }
    }
}

/// What `uzi verify` prints.
#[derive(Serialize)]
#[serde(untagged)]
enum VerifyOutput {
    /// The certificate validated.
    Verified {
        ok: bool,
        identity: VerifiedUziIdentity,
        revocation: &'static str,
    },
    /// It was refused.
    Refused {
        ok: bool,
        error: &'static str,
        message: String,
        advice_nl: &'static str,
    },
}

/// The JSON of `inspect`.
fn inspect(path: &Path) -> Result<serde_json::Value, String> {
    let chain = read_certificates(path)?;
    let Some(leaf) = chain.first() else {
        return Err(format!("{}: no certificate", path.display()));
    };
    let cert = UziCertificate::from_der(leaf).map_err(|e| format!("{}: {e}", path.display()))?;
    let subject_id = match cert.subject_id() {
        Ok(id) => json!({"ok": true, "value": id.to_string(), "fields": id}),
        Err(e) => json!({"ok": false, "error": e.code(), "message": e.to_string()}),
    };
    let mut value = serde_json::to_value(&cert).map_err(|e| e.to_string())?;
    if let Some(object) = value.as_object_mut() {
        object.insert("subject_id".to_owned(), subject_id);
    }
    Ok(value)
}

/// A validator from the files given on the command line.
fn build_validator(
    environment: Environment,
    anchors_dir: &Path,
    intermediates_dir: Option<&Path>,
    crl_files: &[PathBuf],
) -> Result<UziValidator, String> {
    let mut anchors = Vec::new();
    let mut intermediates = Vec::new();
    for der in read_directory(anchors_dir)? {
        let self_issued = UziCertificate::from_der(&der).is_ok_and(|c| c.self_issued);
        if self_issued {
            anchors.push(der);
        } else {
            intermediates.push(der);
        }
    }
    if let Some(dir) = intermediates_dir {
        intermediates.extend(read_directory(dir)?);
    }
    let mut crls = Vec::new();
    for file in crl_files {
        crls.push(read_crl(file)?);
    }
    UziValidator::new(environment, anchors)
        .and_then(|v| v.with_intermediates(intermediates))
        .and_then(|v| v.with_crls(crls))
        .map(|v| {
            if crl_files.is_empty() {
                v.without_revocation_checking()
            } else {
                v
            }
        })
        .map_err(|e| e.to_string())
}

/// Every certificate in the files directly in `dir`, in file-name order.
fn read_directory(dir: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    let mut certificates = Vec::new();
    for file in files {
        certificates.extend(read_certificates(&file)?);
    }
    Ok(certificates)
}

/// The certificates in a PEM file, or the one in a DER file.
fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.starts_with(b"-----BEGIN") || bytes.iter().take(64).all(u8::is_ascii) {
        CertificateDer::pem_slice_iter(&bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("{}: {e}", path.display()))
    } else {
        Ok(vec![CertificateDer::from(bytes)])
    }
}

/// A CRL from a DER or PEM file.
fn read_crl(path: &Path) -> Result<CertificateRevocationListDer<'static>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.starts_with(b"-----BEGIN") {
        CertificateRevocationListDer::from_pem_slice(&bytes)
            .map_err(|e| format!("{}: {e}", path.display()))
    } else {
        Ok(CertificateRevocationListDer::from(bytes))
    }
}

/// Reports a problem with the command's input (not a verdict) and exits with 2.
fn fail_usage(message: &str) -> ExitCode {
    eprintln!("zvp-portal: {message}");
    ExitCode::from(2)
}
