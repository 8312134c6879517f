//! A flood of refusals (`ZVP_LOAD_ONLY=refusals`): what the audit log's group commit lets
//! the portal refuse.

use std::sync::Arc;
use std::time::{Duration, Instant};

use zvp_audit::log::{FileLog, FileLogOptions};

use super::{Setup, audit_line, cpu_line, row, saturate_expecting, ticks};

/// ZVP_LOAD_ONLY=refusals: every card asks for another GP's patient, so every request is
/// refused (the emergency procedure is the way in) and its refusal recorded before the page;
/// beside it, as many appenders as connections writing records of the same size to a log of
/// their own: the refusal rate the log sustains. A flood of refusals is bounded by the log's
/// group commit, not by one sync per refusal.
pub(crate) async fn refusals(
    setup: &Setup,
    port: u16,
    log: &FileLog,
    own: &[Vec<String>],
    seconds: u64,
) {
    let own = own.to_vec();
    let foreign: Arc<dyn Fn(usize, usize) -> String + Send + Sync> = Arc::new(move |n, i| {
        let list = &own[(n + 1) % own.len()];
        format!("/patient/{}", list[i % list.len()])
    });
    println!(
        "\n| refusals (closed loop) | per second | p50 | p99 | errors |\n|---|---|---|---|---|"
    );
    let _ = saturate_expecting(setup, &[port], Arc::clone(&foreign), 1, 403).await;
    let (syncs, records) = (log.sync_count(), log.size().unwrap());
    let t0 = ticks();
    let pages = saturate_expecting(setup, &[port], foreign, seconds, 403).await;
    let t1 = ticks();
    row(
        "refusal page (another GP's patient, recorded first)",
        &pages,
    );
    let page_records = (log.size().unwrap() - records) as f64 / seconds as f64;
    let dir = std::env::temp_dir().join(format!("zvp-load-refusals-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let alone = Arc::new(FileLog::open(&dir, FileLogOptions::default()).unwrap());
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..setup.cards.len() as u64 {
        let alone = Arc::clone(&alone);
        tasks.spawn(async move {
            let mut n = 0u64;
            while Instant::now() < deadline {
                let mut event = zvp_audit::event::AuditEvent::example(t * 1_000_000 + n);
                event.event_type = zvp_audit::event::EventType::SecurityAlert;
                alone.append(&event).await.unwrap();
                n += 1;
            }
            n
        });
    }
    let mut appended = 0;
    while let Some(n) = tasks.join_next().await {
        appended += n.unwrap();
    }
    let t2 = ticks();
    let sustained = appended as f64 / seconds as f64;
    println!("| refusal records the log sustains alone | {sustained:.0} | | | |");
    println!();
    audit_line(log, syncs, records, seconds);
    cpu_line("refusal page", t0, t1, pages.per_second * seconds as f64);
    cpu_line("log alone", t1, t2, appended as f64);
    println!(
        "records per refusal page: {:.1}; refusal pages / records the log sustains: {:.0}%",
        page_records / pages.per_second.max(1.0),
        100.0 * page_records / sustained.max(1.0)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
