//! The peers in `peers/`: servers this project did not write (Medplum's FHIR router, panva's
//! oidc-provider and jose), run by Node.js with a settings file. Each prints its addresses as
//! one JSON line once it listens; that line, not a delay, says it is ready.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

/// The repository's root.
pub fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A running peer and the addresses it printed; stopped however the test ends.
pub struct Peer {
    child: Child,
    /// The line of addresses the peer printed when it was ready.
    pub addresses: Value,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Peer {
    /// The address named `name` in the peer's line.
    pub fn address(&self, name: &str) -> String {
        self.addresses[name]
            .as_str()
            .unwrap_or_else(|| panic!("the peer names no {name}: {}", self.addresses))
            .to_owned()
    }
}

/// Starts `peers/<script>` with `settings` and waits for its line of addresses (60 s at most).
pub fn start(script: &str, settings: &Path) -> Peer {
    let peers = repository().join("peers");
    assert!(
        peers.join("node_modules").is_dir(),
        "peers/node_modules is missing: the test command installs it (npm ci in peers/)"
    );
    let mut child = Command::new("node")
        .arg(peers.join(script))
        .arg(settings)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("node (Debian's nodejs) runs the peers");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("{script} prints its addresses"));
    let addresses = serde_json::from_str(&line).unwrap_or_else(|_| panic!("{line:?}"));
    Peer { child, addresses }
}
