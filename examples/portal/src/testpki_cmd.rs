//! `zvp-portal testpki generate`: a demo PKI with cards of every kind, written as files.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{Duration, Utc};
use clap::{Subcommand, ValueEnum};
use zvp_auth::testpki::{
    Card, CardSpec, IssuedCertificate, KeyAlgorithm, TestPki, certificates_pem,
};
use zvp_auth::uzi::Environment;
use zvp_core::{AgbCode, CardType, RoleCode, UziNumber};

/// The `testpki` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum TestpkiCommand {
    /// Write a UZI-like test PKI with demo cards, CRLs and a server certificate to a
    /// directory, with a README that lists the cards and what the portal does with each.
    Generate {
        /// The directory to write to (created if missing).
        #[arg(long)]
        out: PathBuf,
        /// Which UZI-register environment to imitate.
        #[arg(long, value_enum, default_value = "test")]
        environment: EnvironmentArg,
        /// The key type: fast ECDSA P-256, or RSA like the real register (slow to generate).
        #[arg(long, value_enum, default_value = "ecdsa-p256")]
        keys: KeysArg,
        /// The password of the PKCS#12 files.
        #[arg(long, default_value = "zvp")]
        password: String,
    },
}

/// `--environment`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum EnvironmentArg {
    /// The TEST (acceptance) environment.
    Test,
    /// Production.
    Production,
}

/// `--keys`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum KeysArg {
    /// ECDSA P-256.
    EcdsaP256,
    /// RSA-4096 CAs and RSA-2048 cards.
    Rsa,
}

/// A demo card: its directory name, what it is, and what the portal does with it.
struct DemoCard {
    name: &'static str,
    spec: CardSpec,
    outcome: &'static str,
}

/// Runs a `testpki` subcommand.
pub(crate) fn run(command: TestpkiCommand) -> ExitCode {
    let TestpkiCommand::Generate {
        out,
        environment,
        keys,
        password,
    } = command;
    let environment = match environment {
        EnvironmentArg::Test => Environment::Test,
        EnvironmentArg::Production => Environment::Production,
    };
    let algorithm = match keys {
        KeysArg::EcdsaP256 => KeyAlgorithm::EcdsaP256,
        KeysArg::Rsa => KeyAlgorithm::RsaLikeUzi,
    };
    match generate(&out, environment, algorithm, &password) {
        Ok(count) => {
            say!("wrote a test PKI with {count} cards to {}", out.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("zvp-portal testpki generate: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Writes the PKI; returns the number of cards.
pub(crate) fn generate(
    out: &Path,
    environment: Environment,
    algorithm: KeyAlgorithm,
    password: &str,
) -> Result<usize, Box<dyn std::error::Error>> {
    let now = Utc::now();
    let pki = TestPki::generate(environment, algorithm, now)?;
    std::fs::create_dir_all(out.join("cards"))?;
    std::fs::create_dir_all(out.join("crl"))?;
    write(out, "root.pem", &certificates_pem(&[pki.root()]))?;
    write(
        out,
        "intermediates.pem",
        &certificates_pem(&pki.intermediates()),
    )?;
    write(out, "tls-root.pem", &certificates_pem(&[pki.tls_root()]))?;
    let server = pki.issue_tls_server(&["localhost"], now)?;
    write(out, "server.pem", &server.chain_pem())?;
    write(out, "server.key.pem", &server.key_pem())?;
    // The demo's Dezi stand-in, on loopback by address.
    let dezi = pki.issue_tls_server(&["127.0.0.1"], now)?;
    write(out, "dezi-server.pem", &dezi.chain_pem())?;
    write(out, "dezi-server.key.pem", &dezi.key_pem())?;

    let cards = demo_cards(now)?;
    let mut issued: Vec<(&DemoCard, Card)> = Vec::new();
    for demo in &cards {
        let card = pki.issue_card(&demo.spec)?;
        write_card(
            &out.join("cards").join(demo.name),
            demo.name,
            &card,
            password,
        )?;
        issued.push((demo, card));
    }
    let revoked: Vec<&IssuedCertificate> = issued
        .iter()
        .filter(|(demo, _)| demo.name == "ingetrokken")
        .map(|(_, card)| &card.authentication)
        .collect();
    for card_type in CardType::ALL {
        let on_list: Vec<&IssuedCertificate> = if card_type == CardType::CareProvider {
            revoked.clone()
        } else {
            Vec::new()
        };
        let crl = pki.crl(
            card_type,
            &on_list,
            now - Duration::hours(1),
            now + Duration::hours(47),
        )?;
        std::fs::write(
            out.join("crl").join(format!("{}.crl", card_type.letter())),
            crl.as_ref(),
        )?;
    }
    write(out, "README.md", &readme(environment, &cards, password))?;
    Ok(cards.len())
}

/// The demo cards.
fn demo_cards(now: chrono::DateTime<Utc>) -> Result<Vec<DemoCard>, Box<dyn std::error::Error>> {
    let uzi = |n: u32| UziNumber::new(n).ok_or("uzi number out of range");
    let person = |n: u32, role: RoleCode, given: &str, surname: &str, title: &str| {
        uzi(n).map(|u| {
            let mut spec = CardSpec::care_provider(u, role, now);
            spec.given_name = given.to_owned();
            spec.surname = surname.to_owned();
            spec.title = Some(title.to_owned());
            // The four eligible demo practitioners carry the AGB codes of the synthetic
            // hospital's demo GPs, whose patients fill the demo's start page; the others get
            // their own.
            spec.agb = zvp_epd::synthetic::DEMO_GPS
                .get((n as usize).wrapping_sub(900_000_001))
                .and_then(|gp| AgbCode::new(gp.agb))
                .or_else(|| AgbCode::new(1_030_000 + n % 1_000));
            spec
        })
    };
    let mut expired = person(
        900_000_009,
        RoleCode::GENERAL_PRACTITIONER,
        "Kees",
        "Bakker",
        "Huisarts",
    )?;
    expired.not_before = now - Duration::days(3 * 365);
    expired.not_after = now - Duration::days(2);
    let mut employee = CardSpec::employee(CardType::NamedEmployee, uzi(900_000_007)?, now);
    employee.given_name = "Sanne".to_owned();
    employee.surname = "Visser".to_owned();
    employee.organization = "Albert Schweitzer ziekenhuis".to_owned();
    Ok(vec![
        DemoCard {
            name: "huisarts",
            spec: person(
                900_000_001,
                RoleCode::GENERAL_PRACTITIONER,
                "Jan",
                "de Vries",
                "Huisarts",
            )?,
            outcome: "logs in (huisarts, 01.015)",
        },
        DemoCard {
            name: "apotheekhoudend-huisarts",
            spec: person(
                900_000_002,
                RoleCode::DISPENSING_GENERAL_PRACTITIONER,
                "Fatma",
                "Yılmaz",
                "Huisarts",
            )?,
            outcome: "logs in (apotheekhoudend huisarts, 01.004)",
        },
        DemoCard {
            name: "specialist-ouderengeneeskunde",
            spec: person(
                900_000_003,
                RoleCode::ELDERLY_CARE_PHYSICIAN,
                "Anna",
                "Jansen",
                "Specialist ouderengeneeskunde",
            )?,
            outcome: "logs in (specialist ouderengeneeskunde, 01.047)",
        },
        DemoCard {
            name: "arts-vg",
            spec: person(
                900_000_004,
                RoleCode::INTELLECTUAL_DISABILITY_PHYSICIAN,
                "Pieter",
                "van den Berg",
                "Arts voor verstandelijk gehandicapten",
            )?,
            outcome: "logs in (arts verstandelijk gehandicapten, 01.056)",
        },
        DemoCard {
            name: "aios",
            spec: person(900_000_005, RoleCode::PHYSICIAN, "Lotte", "Smit", "Arts")?,
            outcome: "refused: role 01.000 (a GP in training) is not eligible",
        },
        DemoCard {
            name: "tandarts",
            spec: person(
                900_000_006,
                "02.000".parse()?,
                "Mohamed",
                "El Amrani",
                "Tandarts",
            )?,
            outcome: "refused: role 02.000 (tandarts) is not eligible",
        },
        DemoCard {
            name: "medewerker",
            spec: employee,
            outcome: "medewerkerpas op naam (N): refused for practitioners; for administrator accounts only",
        },
        DemoCard {
            name: "ingetrokken",
            spec: person(
                900_000_008,
                RoleCode::GENERAL_PRACTITIONER,
                "Eva",
                "Mulder",
                "Huisarts",
            )?,
            outcome: "refused: revoked (on crl/Z.crl)",
        },
        DemoCard {
            name: "verlopen",
            spec: expired,
            outcome: "refused: expired two days before generation",
        },
        DemoCard {
            name: "geblokkeerd",
            spec: person(
                900_000_010,
                RoleCode::GENERAL_PRACTITIONER,
                "Daan",
                "Dekker",
                "Huisarts",
            )?,
            outcome: "a valid card; the demo blocks its account (as after a stolen card)",
        },
        DemoCard {
            name: "zonder-account",
            spec: person(
                900_000_011,
                RoleCode::GENERAL_PRACTITIONER,
                "Noor",
                "Hendriks",
                "Huisarts",
            )?,
            outcome: "a valid card without an account: offered the account request form",
        },
    ])
}

/// Writes one card's files.
fn write_card(
    dir: &Path,
    name: &str,
    card: &Card,
    password: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(dir)?;
    let auth = &card.authentication;
    write(dir, "authenticatie.pem", &auth.chain_pem())?;
    write(dir, "authenticatie.key.pem", &auth.key_pem())?;
    std::fs::write(dir.join("authenticatie.p12"), auth.pkcs12(name, password)?)?;
    if let Some(signature) = &card.signature {
        write(dir, "handtekening.pem", &signature.chain_pem())?;
    }
    if let Some(encryption) = &card.encryption {
        write(dir, "vertrouwelijkheid.pem", &encryption.chain_pem())?;
    }
    Ok(())
}

/// The README of a generated PKI.
fn readme(environment: Environment, cards: &[DemoCard], password: &str) -> String {
    let mut text = format!(
        "# zvp test PKI ({environment:?} environment)\n\n\
         Generated by `zvp-portal testpki generate`. For tests and demos only: these are not\n\
         certificates of the UZI-register.\n\n\
         - `root.pem`: the trust anchor; `intermediates.pem`: the domain CA and the issuing CAs\n\
         - `crl/<card type>.crl`: one CRL per issuing CA (DER), valid for 48 hours from generation\n\
         - `tls-root.pem`, `server.pem`, `server.key.pem`: the portal's own TLS certificate for `localhost`\n\
         - `dezi-server.pem`, `dezi-server.key.pem`: the demo's Dezi stand-in's, for `127.0.0.1`\n\
         - `cards/<name>/`: `authenticatie.pem` (certificate and chain), `authenticatie.key.pem`,\n\
           `authenticatie.p12` (password `{password}`, for a browser), and the card's other certificates\n\n\
         | card | UZI number | role | what the portal does |\n|---|---|---|---|\n"
    );
    for card in cards {
        let _ = writeln!(
            text,
            "| `{}` | {} | {} | {} |",
            card.name, card.spec.uzi_number, card.spec.role, card.outcome
        );
    }
    text.push_str(
        "\nCheck a card: `zvp-portal uzi verify --anchors <dir with root.pem> --intermediates \
         <dir> --crl crl/Z.crl --test-environment cards/huisarts/authenticatie.pem`\n",
    );
    text
}

/// Writes a text file.
fn write(dir: &Path, name: &str, text: &str) -> std::io::Result<()> {
    std::fs::write(dir.join(name), text)
}
