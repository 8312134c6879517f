//! `zvp-portal`: the reference Zorgverlenersportaal.
//!
//! Run `cargo run -p zvp-portal -- demo`. The portal itself (mutual TLS with the UZI-pas,
//! accounts, the pages of the seed FAQ, the emergency procedure, audit reports) lands with the
//! portal issue; until then this binary says so and exits with status 2, starting nothing.

use std::process::ExitCode;

fn main() -> ExitCode {
    let command = std::env::args().nth(1);
    let message = match command.as_deref() {
        Some("demo") => {
            "zvp-portal demo: the portal is not built yet (it lands with the portal issue); \
             nothing was started"
        }
        _ => "usage: zvp-portal demo",
    };
    eprintln!("{message}");
    ExitCode::from(2)
}
