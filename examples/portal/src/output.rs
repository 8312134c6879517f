//! Standard output that survives a reader who stops reading.
//!
//! `println!` panics when stdout is a closed pipe (`zvp-portal uzi verify … | head`). The
//! commands print through [`say!`] instead: a closed pipe ends the output quietly and the
//! command goes on to its exit code; any other write error is reported on stderr once.

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether a write error other than a closed pipe was reported already.
static REPORTED: AtomicBool = AtomicBool::new(false);

/// Writes `text` to stdout, flushing it.
pub(crate) fn write(text: std::fmt::Arguments<'_>) {
    let mut stdout = std::io::stdout().lock();
    let written = stdout.write_fmt(text).and_then(|()| stdout.flush());
    if let Err(e) = written
        && e.kind() != std::io::ErrorKind::BrokenPipe
        && !REPORTED.swap(true, Ordering::Relaxed)
    {
        eprintln!("zvp-portal: cannot write to standard output: {e}");
    }
}

/// `println!` that does not panic on a closed stdout.
macro_rules! say {
    () => {
        $crate::output::write(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::output::write(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` that does not panic on a closed stdout.
macro_rules! say_raw {
    ($($arg:tt)*) => {
        $crate::output::write(format_args!($($arg)*))
    };
}
