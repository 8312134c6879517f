//! The in-memory store: timeouts, certificates, the caps and eviction.

use chrono::TimeZone;

use super::*;

fn at(minute: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 8, 0, 0).unwrap() + Duration::minutes(minute)
}

fn timeouts() -> Timeouts {
    Timeouts {
        idle: Duration::minutes(15),
        absolute: Duration::hours(12),
    }
}

#[test]
fn a_session_continues_for_its_certificate_until_it_is_idle() {
    let sessions = MemorySessions::default();
    let (first, cookie) = sessions.start_now("cert-a", at(0)).unwrap();
    assert!(first.is_new_login());
    let (again, none) = sessions
        .resume_now(&cookie, "cert-a", at(14), timeouts())
        .unwrap();
    assert!(none.is_none() && !again.is_new_login());
    assert_eq!(again.csrf, first.csrf);
    assert_eq!(
        sessions
            .resume_now(&cookie, "cert-a", at(29), timeouts())
            .err(),
        Some(Ended::Idle)
    );
    assert_eq!(
        sessions
            .resume_now(&cookie, "cert-a", at(30), timeouts())
            .err(),
        Some(Ended::Unknown)
    );
}

#[test]
fn another_certificate_or_the_absolute_timeout_ends_it() {
    let sessions = MemorySessions::default();
    let (_, cookie) = sessions.start_now("cert-a", at(0)).unwrap();
    assert_eq!(
        sessions
            .resume_now(&cookie, "cert-b", at(1), timeouts())
            .err(),
        Some(Ended::OtherCertificate)
    );
    let (_, cookie) = sessions.start_now("cert-a", at(0)).unwrap();
    for minute in (10..720).step_by(10) {
        sessions
            .resume_now(&cookie, "cert-a", at(minute), timeouts())
            .unwrap();
    }
    assert_eq!(
        sessions
            .resume_now(&cookie, "cert-a", at(720), timeouts())
            .err(),
        Some(Ended::Absolute)
    );
}

#[test]
fn csrf_tokens_compare_exactly() {
    let sessions = MemorySessions::default();
    let (session, _) = sessions.start_now("c", at(0)).unwrap();
    let token = session.csrf.to_string();
    assert!(session.csrf_ok(&token));
    assert!(!session.csrf_ok(&token[1..]));
    assert!(!session.csrf_ok(""));
}

#[test]
fn one_certificate_flooding_the_store_keeps_a_few_and_others_stay_logged_in() {
    let sessions = MemorySessions::default();
    let (_, other) = sessions.start_now("gp", at(0)).unwrap();
    let mut last = String::new();
    for _ in 0..1_000 {
        last = sessions.start_now("flood", at(1)).unwrap().1;
    }
    assert_eq!(
        sessions.lock().by_id.len(),
        1 + MAX_SESSIONS_PER_CERTIFICATE
    );
    assert!(sessions.resume_now(&other, "gp", at(2), timeouts()).is_ok());
    assert!(
        sessions
            .resume_now(&last, "flood", at(2), timeouts())
            .is_ok()
    );
}

#[test]
fn a_full_store_drops_an_ended_session_never_an_active_one() {
    let sessions = MemorySessions::with_capacity(timeouts(), 3);
    let (_, idle) = sessions.start_now("a", at(0)).unwrap();
    let (_, active_b) = sessions.start_now("b", at(10)).unwrap();
    let (_, active_c) = sessions.start_now("c", at(10)).unwrap();
    // At minute 20, a's session has been idle for 20 minutes: it makes room.
    let (_, d) = sessions.start_now("d", at(20)).unwrap();
    assert_eq!(
        sessions.resume_now(&idle, "a", at(20), timeouts()).err(),
        Some(Ended::Unknown)
    );
    // Every session still in use: a new one is refused, none is dropped.
    assert_eq!(
        sessions.start_now("e", at(21)).err(),
        Some(SessionError("3 sessions, all in use".to_owned()))
    );
    for (id, certificate) in [(&active_b, "b"), (&active_c, "c"), (&d, "d")] {
        assert!(
            sessions
                .resume_now(id, certificate, at(22), timeouts())
                .is_ok()
        );
    }
}

#[tokio::test]
async fn an_ended_session_is_gone() {
    let sessions = MemorySessions::default();
    let (_, cookie) = sessions.start_now("a", at(0)).unwrap();
    sessions.end(&cookie).await.unwrap();
    assert_eq!(sessions.count().await.unwrap(), 0);
    assert_eq!(
        sessions.resume_now(&cookie, "a", at(1), timeouts()).err(),
        Some(Ended::Unknown)
    );
}
