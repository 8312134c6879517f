//! `zvp-portal policy decide`: one decision of the policy engine, for test engineers.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use zvp_auth::policy::{Policy, RequestFile, WorldFile};
use zvp_core::RoleCode;

/// The `policy` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum PolicyCommand {
    /// Decide a request on a world and print the decision as JSON:
    /// `{"decision":"permit","basis":"own"|"practice"|"delegation"|"emergency"|"administrator",..}`,
    /// `{"decision":"requires-emergency"}` or `{"decision":"deny","reason":"<code>"}`.
    /// The formats are documented in `zvp_auth::policy`; ready files in `examples/policy/`.
    #[command(after_help = DECIDE_HELP)]
    Decide {
        /// The world: `now`, accounts, delegations, emergency grants, patients.
        #[arg(long)]
        world: PathBuf,
        /// The request: uzi, card_agb, card_role, action, section, patient.
        #[arg(long)]
        request: PathBuf,
        /// Eligible roles, comma-separated (default: 01.015,01.004,01.047,01.056).
        #[arg(long, value_delimiter = ',')]
        eligible_roles: Option<Vec<RoleCode>>,
    },
}

/// What `policy decide --help` adds: the names a request may use, and the example files.
const DECIDE_HELP: &str = "\
Actions (\"action\"):
  list-admitted, list-discharged            the start page's lists
  search-patient, request-emergency         with \"patient\"
  view-patient                              with \"patient\" and \"section\"
  approve-account, reject-account, block-account, manage-delegations,
  read-audit, review-emergency              administration

Sections (\"section\", for view-patient; the codes the audit log records):
  patient-details, care-moments,
  dossier/allergies, dossier/conclusion-and-plan, dossier/letters,
  dossier/diagnoses, dossier/medication,
  results/clinical-chemistry, results/microbiology, results/nuclear-lab,
  results/pathology, results/radiology, results/other,
  document

Example (files in the repository's examples/policy/, each with its decision in its README):
  zvp-portal policy decide --world examples/policy/world.json \\
      --request examples/policy/request-own.json";

/// Runs a `policy` subcommand.
pub(crate) fn run(command: PolicyCommand) -> ExitCode {
    let PolicyCommand::Decide {
        world,
        request,
        eligible_roles,
    } = command;
    let read = |path: &PathBuf| {
        std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
    };
    let decided = (|| -> Result<serde_json::Value, String> {
        let world_file = WorldFile::from_json(&read(&world)?)
            .map_err(|e| format!("{}: {e}", world.display()))?;
        let request_value = RequestFile::from_json(&read(&request)?)
            .and_then(|r| r.to_request())
            .map_err(|e| format!("{}: {e}", request.display()))?;
        let mut policy = Policy::default();
        if let Some(roles) = &eligible_roles {
            policy = policy.with_eligible_roles(roles);
        }
        let indexed = world_file
            .to_world()
            .map_err(|e| format!("{}: {e}", world.display()))?;
        Ok(policy
            .decide(&indexed, &request_value, world_file.now)
            .to_json())
    })();
    match decided {
        Ok(json) => {
            say!("{json}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("zvp-portal policy decide: {e}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::DECIDE_HELP;

    #[test]
    fn the_help_names_every_action_and_section() {
        for name in zvp_auth::policy::ACTION_NAMES
            .iter()
            .chain(&zvp_auth::policy::SECTION_NAMES)
        {
            assert!(DECIDE_HELP.contains(name), "{name} is not in the help");
        }
    }
}
