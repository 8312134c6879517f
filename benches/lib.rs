//! Benchmarks of zvp, each measured side by side with a named peer in the same run; see
//! `README.md` beside this file for the results. Run them with `cargo bench -p zvp-benches`.

/// The peak resident memory of this process so far, in MiB (`VmHWM` of `/proc/self/status`;
/// 0 where there is none).
pub fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .unwrap_or(0.0)
        / 1024.0
}
