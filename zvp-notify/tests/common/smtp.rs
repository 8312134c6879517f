//! A real SMTP server for the tests: `aiosmtpd` from PyPI (in the virtual environment that
//! `scripts/python-env` makes), delivering into a Maildir that the tests read.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A fresh directory under the target dir.
pub(crate) fn scratch(name: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "notify-{name}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The Python of the virtual environment (made on first use).
fn python() -> PathBuf {
    let repository = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new(repository.join("scripts/python-env"))
        .output()
        .expect("scripts/python-env runs");
    assert!(
        out.status.success(),
        "scripts/python-env failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .last()
            .unwrap()
            .trim(),
    )
}

/// A free port on loopback (bound and released; the server binds it right after).
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `aiosmtpd` listening on `port`, delivering into `maildir`; stopped when dropped.
pub(crate) struct SmtpServer {
    child: Child,
    pub(crate) maildir: PathBuf,
}

impl SmtpServer {
    /// Starts the server, delivering into a Maildir it makes in `dir`, and returns once it
    /// accepts connections.
    pub(crate) fn start(port: u16, dir: &Path) -> Self {
        Self::start_with(port, dir, &[])
    }

    /// [`SmtpServer::start`] with more of aiosmtpd's options (`--tlscert`, `--smtpscert`).
    pub(crate) fn start_with(port: u16, dir: &Path, options: &[std::ffi::OsString]) -> Self {
        let maildir = dir.join("Maildir");
        let child = Command::new(python())
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(options)
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "aiosmtpd did not start on {port}"
            );
            std::thread::yield_now();
        }
        Self { child, maildir }
    }

    /// Every message delivered so far, as text.
    pub(crate) fn messages(&self) -> Vec<String> {
        messages(&self.maildir)
    }
}

/// The messages in a Maildir, as text.
pub(crate) fn messages(maildir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for sub in ["new", "cur"] {
        let Ok(entries) = std::fs::read_dir(maildir.join(sub)) else {
            continue;
        };
        for entry in entries {
            out.push(std::fs::read_to_string(entry.unwrap().path()).unwrap());
        }
    }
    out
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
