//! Benchmarks of zvp, each measured side by side with a named peer in the same run; see
//! `README.md` beside this file for the results. Run them with `cargo bench -p zvp-benches`.
