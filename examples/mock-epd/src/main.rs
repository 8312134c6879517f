//! `zvp-mock-epd --listen 127.0.0.1:8080`: the synthetic hospital over FHIR R4.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SubsecRound as _, Utc};
use clap::Parser;
use zvp_epd::synthetic::SyntheticEpd;
use zvp_epd::{Epd as _, RequestContext};
use zvp_mock_epd::{Faults, MockEpd};

/// A FHIR R4 server over a synthetic hospital: Dutch patients with valid BSNs, admissions,
/// discharges, the whole record and lab histories — current for the moment it starts.
#[derive(Debug, Parser)]
#[command(name = "zvp-mock-epd", version)]
struct Args {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The seed of the hospital: the same seed and time give the same hospital.
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// The number of patients.
    #[arg(long, default_value_t = 5000)]
    patients: usize,
    /// The hospital's "now" (RFC 3339); default: the current time.
    #[arg(long)]
    now: Option<DateTime<Utc>>,
    /// Added latency per response, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// The percentage of requests answered with 503 (the first N of every hundred).
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100))]
    error_percent: u8,
    /// The percentage of requests answered with a truncated JSON body.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100))]
    garbage_percent: u8,
    /// Bytes added to every successful answer (a member the reader ignores).
    #[arg(long, default_value_t = 0)]
    padding_bytes: usize,
    /// Refuse a search parameter with 400, as a server without it does:
    /// `Type:parameter`, e.g. `Encounter:patient.general-practitioner:identifier` (repeatable).
    #[arg(long, value_name = "TYPE:PARAMETER")]
    refuse: Vec<String>,
}

/// The BSN of the hospital's first patient that has one.
async fn example_bsn(epd: &SyntheticEpd) -> Option<zvp_core::Bsn> {
    let ctx = RequestContext {
        request_id: "example".to_owned(),
    };
    for id in epd.patient_ids() {
        if let Ok(patient) = epd.patient(id, &ctx).await
            && let Some(bsn) = patient.bsn
        {
            return Some(bsn);
        }
    }
    None
}

/// The log: each event as a JSON line on standard error, as the portal writes its own, at the
/// level of `RUST_LOG` (default `info`). The banner and the example search stay on standard
/// output: they are for the person who started the server.
fn install_log() {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|text| text.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO));
    let lines = tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .without_time()
        .with_writer(std::io::stderr);
    // Fails only when a subscriber is installed already, which then keeps logging.
    let _ = tracing_subscriber::registry()
        .with(lines)
        .with(filter)
        .try_init();
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    install_log();
    let epd = match SyntheticEpd::generate(
        args.seed,
        args.now.unwrap_or_else(|| Utc::now().trunc_subsecs(0)),
        args.patients,
    ) {
        Ok(epd) => epd,
        Err(e) => {
            tracing::error!(event = "hospital-not-generated", error = %e);
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(event = "cannot-listen", address = %args.listen, error = %e);
            return ExitCode::from(2);
        }
    };
    let addr = listener.local_addr().unwrap_or(args.listen);
    let base = format!("http://{addr}/fhir");
    let faults = Faults {
        latency: Duration::from_millis(args.latency_ms),
        error_percent: args.error_percent,
        garbage_percent: args.garbage_percent.min(100 - args.error_percent),
        padding_bytes: args.padding_bytes,
    };
    // A patient to try the server with: a search that works as printed.
    let example = example_bsn(&epd).await;
    let state = Arc::new(MockEpd::new(Arc::new(epd), base.clone(), faults));
    state.refuse_searches(args.refuse);
    println!("zvp-mock-epd: {} patients, FHIR base {base}", args.patients);
    if let Some(bsn) = example {
        println!(
            "try: curl -s '{base}/Patient?identifier=http://fhir.nl/fhir/NamingSystem/bsn%7C{bsn}'"
        );
    }
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match zvp_mock_epd::serve(listener, state, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(event = "serve-failed", error = %e);
            ExitCode::FAILURE
        }
    }
}
