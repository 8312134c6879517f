//! The operator log: every `tracing` event of the portal and its crates as one JSON object per
//! line on standard error, where a process manager (systemd, a container runtime) collects it.
//!
//! A line is `{"level":"INFO","event":"audit-checkpoint","records":12}`: the event's fields at
//! the top level, after its level. No timestamp (the process manager stamps each line, as it
//! did before), no module path and no span list, which say nothing to an operator. serde_json
//! escapes the values, so an error text with quotes or newlines (a database's DETAIL line)
//! stays one line. Callers put no patient data in an event.

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// Installs the log for the whole process. The level comes from `RUST_LOG` (`info`, `warn`,
/// or per target: `info,zvp_web=debug`); without it, `info`. A `RUST_LOG` that does not parse
/// is said in the log, and `info` is used, rather than the portal not starting over its log.
pub(crate) fn install() {
    let (filter, refused) = match std::env::var("RUST_LOG") {
        Ok(text) if !text.trim().is_empty() => match text.parse::<Targets>() {
            Ok(filter) => (filter, None),
            Err(e) => (default_filter(), Some((text, e))),
        },
        _ => (default_filter(), None),
    };
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
    if let Some((text, e)) = refused {
        tracing::warn!(event = "rust-log-invalid", rust_log = %text, error = %e);
    }
}

fn default_filter() -> Targets {
    Targets::new().with_default(LevelFilter::INFO)
}
