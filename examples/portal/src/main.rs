//! `zvp-portal`: the reference Zorgverlenersportaal, and its operator commands.
//!
//! ```text
//! zvp-portal demo                      the portal (lands with the portal issue)
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

mod audit_cmd;
mod policy_cmd;
mod testpki_cmd;
mod uzi_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The reference Zorgverlenersportaal.
#[derive(Debug, Parser)]
#[command(name = "zvp-portal", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the portal demo (lands with the portal issue).
    Demo,
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
    #[command(subcommand)]
    Testpki(testpki_cmd::TestpkiCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Demo => {
            eprintln!(
                "zvp-portal demo: the portal is not built yet (it lands with the portal issue); \
                 nothing was started"
            );
            ExitCode::from(2)
        }
        Command::Uzi(command) => uzi_cmd::run(command),
        Command::Audit(command) => audit_cmd::run(command),
        Command::Policy(command) => policy_cmd::run(command),
        Command::Testpki(command) => testpki_cmd::run(command),
    }
}
