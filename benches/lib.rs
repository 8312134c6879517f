//! Benchmarks of zvp, each measured side by side with a named peer in the same run; see
//! `README.md` beside this file for the results. Run them with `cargo bench -p zvp-benches`.

/// The peak resident memory of this process so far, in MiB (`VmHWM` of `/proc/self/status`;
/// 0 where there is none). [`reset_peak_rss`] starts it again from the present.
pub fn peak_rss_mib() -> f64 {
    status_mib("VmHWM:")
}

/// The resident memory of this process now, in MiB (`VmRSS`; 0 where there is none).
pub fn rss_mib() -> f64 {
    status_mib("VmRSS:")
}

/// Sets the peak resident memory to the present one (writes `5` to `/proc/self/clear_refs`),
/// so that [`peak_rss_mib`] gives the peak of what follows; false where that cannot be done.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn status_mib(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .unwrap_or(0.0)
        / 1024.0
}
