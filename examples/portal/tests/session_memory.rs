//! Two hundred sessions at once, five rounds: every session is continued (none started
//! again), and the portal's memory stays put once they exist. Alone in its test binary, so that
//! the resident size it measures is this test's and not that of tests running beside it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

mod common;

use std::sync::Arc;

use common::TestPortal;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_sessions_at_once() {
    let t = TestPortal::new().await;
    let (id, _) = t.own_patient().await;
    // Twenty-five GPs of the patient's practice, eight browsers each (the most sessions one
    // card holds): two hundred browsers (cookies), each opening the start page and a patient,
    // five rounds.
    let cards = practice_colleagues(&t, 25).await;
    let mut cookies: Vec<Option<String>> = vec![None; 200];
    let mut rss_after_first = 0;
    for round in 0..5 {
        let mut tasks = tokio::task::JoinSet::new();
        for (n, cookie) in cookies.iter().enumerate() {
            let router = t.portal.router();
            let cookie = cookie.clone();
            let card = cards[n % cards.len()].clone();
            let path = if n % 2 == 0 {
                "/".to_owned()
            } else {
                format!("/patient/{id}")
            };
            tasks.spawn(async move {
                let mut request = axum::http::Request::get(path);
                if let Some(c) = &cookie {
                    request = request.header("cookie", format!("__Host-zvp={c}"));
                }
                let mut request = request.body(axum::body::Body::empty()).unwrap();
                request.extensions_mut().insert(card);
                let response = tower::ServiceExt::oneshot(router, request).await.unwrap();
                let set = response.headers().get("set-cookie").map(|v| {
                    v.to_str()
                        .unwrap()
                        .trim_start_matches("__Host-zvp=")
                        .split(';')
                        .next()
                        .unwrap()
                        .to_owned()
                });
                (n, response.status().as_u16(), set)
            });
        }
        while let Some(r) = tasks.join_next().await {
            let (n, status, set) = r.unwrap();
            assert_eq!(status, 200, "round {round}, session {n}");
            if let Some(set) = set {
                assert!(round == 0, "round {round}: session {n} was started again");
                cookies[n] = Some(set);
            }
        }
        let metrics = t.portal.admin_router();
        let reply = tower::ServiceExt::oneshot(
            metrics,
            axum::http::Request::get("/metrics")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
        let text = String::from_utf8(
            http_body_util::BodyExt::collect(reply.into_body())
                .await
                .unwrap()
                .to_bytes()
                .to_vec(),
        )
        .unwrap();
        assert!(text.contains("zvp_sessions 200"), "round {round}: {text}");
        let rss = rss_kib();
        if round == 0 {
            rss_after_first = rss;
        } else {
            // Memory stays put once the sessions exist (a generous bound: allocator noise).
            assert!(
                rss < rss_after_first + 64 * 1024,
                "round {round}: {rss} KiB after {rss_after_first} KiB"
            );
        }
    }
}

/// This process's resident set, in KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// `n` GPs in demo GP 0's practice, each with a card and an active account.
async fn practice_colleagues(t: &TestPortal, n: u32) -> Vec<zvp_portal::ClientCertificate> {
    use zvp_auth::directory::{Account, AccountStatus, DirectoryStore as _};
    let mut cards = Vec::new();
    for i in 0..n {
        let uzi = common::uzi(900_000_300 + i);
        let agb = zvp_core::AgbCode::new(1_040_300 + i);
        let role = zvp_core::RoleCode::GENERAL_PRACTITIONER;
        let mut spec = zvp_auth::testpki::CardSpec::care_provider(uzi, role, common::now());
        spec.agb = agb;
        let card = common::pki().issue_card(&spec).unwrap().authentication;
        let account = Account {
            uzi,
            agb,
            name: format!("Collega {i}"),
            role,
            practice_agb: Some(common::demo_agb(0)),
            status: AccountStatus::Active,
            created_at: common::now() - chrono::Duration::days(10),
            last_login: Some(common::now() - chrono::Duration::days(1)),
            previous_login: None,
            accepted_terms: Some(1),
            admin: false,
            contact: Default::default(),
        };
        t.directory.create_account(&account).await.unwrap();
        cards.push(zvp_portal::ClientCertificate(Arc::new(card.chain())));
    }
    cards
}
