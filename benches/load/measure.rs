//! What a phase cost and gave, as the bench reads and prints it: CPU time per request by
//! whose threads (`/proc`), the audit logs' group commits and size on disk, and a phase's row.

use zvp_audit::log::FileLog;

use super::generator::Run;
use super::threads;

/// `a` as a percentage of `b`.
pub(crate) fn ratio(a: f64, b: f64) -> f64 {
    100.0 * a / b.max(f64::MIN_POSITIVE)
}

/// Where the machine's time went, in clock ticks since boot: this process (user + system) and
/// the whole machine's idle and I/O wait, from `/proc`.
#[derive(Clone, Copy, Default)]
pub(crate) struct Ticks {
    split: threads::Split,
    idle: u64,
    total: u64,
}

impl Ticks {
    /// `self` plus the ticks between `before` and `after`: a phase run in stretches, summed
    /// (read against `Ticks::default()` as its start).
    pub(crate) fn plus(self, before: Ticks, after: Ticks) -> Ticks {
        let d = before.split.until(&after.split);
        Ticks {
            split: threads::Split {
                process: self.split.process + d.process,
                load: self.split.load + d.load,
                mock: self.split.mock + d.mock,
            },
            idle: self.idle + after.idle.saturating_sub(before.idle),
            total: self.total + after.total.saturating_sub(before.total),
        }
    }
}

pub(crate) fn ticks() -> Ticks {
    let machine = std::fs::read_to_string("/proc/stat").unwrap();
    let cpu: Vec<u64> = machine
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().unwrap())
        .collect();
    Ticks {
        split: threads::now(),
        idle: cpu[3] + cpu[4],
        total: cpu.iter().take(8).sum(),
    }
}

/// The CPU time per request (µs) between two readings around a run of `requests`: the
/// service's (the portal's, or the floor's or bound's: every thread but the load generator's
/// and the FHIR mock's), the load generator's and the mock's, with the machine's idle share.
/// Returns the service's.
pub(crate) fn cpu_line(name: &str, before: Ticks, after: Ticks, requests: f64) -> f64 {
    let split = before.split.until(&after.split);
    // Linux reports these in USER_HZ, 100 per second.
    let per_request = |ticks: u64| ticks as f64 * 1e4 / requests.max(1.0);
    // (The kernel's I/O-wait count may step back: saturate.)
    let idle = after.idle.saturating_sub(before.idle) as f64
        / after.total.saturating_sub(before.total).max(1) as f64;
    let service = per_request(split.portal());
    println!(
        "{name}: {service:.1} µs of the service's CPU per request; the load generator {:.1} µs \
         ({:.0}% of the process){}; machine idle or in I/O wait {:.0}%",
        per_request(split.load),
        100.0 * split.load as f64 / split.process.max(1) as f64,
        if split.mock > 0 {
            format!("; the FHIR mock {:.1} µs", per_request(split.mock))
        } else {
            String::new()
        },
        100.0 * idle
    );
    service
}

/// The audit log's group commit over a phase that began at `syncs` and `records`.
pub(crate) fn audit_line(log: &FileLog, syncs: u64, records: u64, seconds: u64) {
    let (syncs, records) = (log.sync_count() - syncs, log.size().unwrap() - records);
    println!(
        "audit log: {records} records in {syncs} syncs ({:.1} per sync, {:.0} syncs/s)",
        records as f64 / syncs.max(1) as f64,
        syncs as f64 / seconds as f64
    );
}

/// The bytes of the files under `dir`: a log's growth over a phase, divided by its records,
/// is what a record of that phase takes on disk (event, frame and index), so that the
/// portal's records and the bounds' can be seen to be of one size.
pub(crate) fn dir_bytes(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

pub(crate) fn row(name: &str, run: &Run) {
    println!(
        "| {name} | {:.0} | {:.2} ms | {:.2} ms | {} |",
        run.per_second,
        run.p50.as_secs_f64() * 1e3,
        run.p99.as_secs_f64() * 1e3,
        run.errors
    );
}
