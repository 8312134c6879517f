//! The administration (accounts, practices, delegations, account requests, audit reports)
//! and the login, through the portal's routes.

use super::common::{self, TestPortal, Who};

#[tokio::test]
async fn administrators_manage_accounts_practices_and_delegations() {
    let t = TestPortal::new().await;
    let (id, _) = t.own_patient().await;
    let page = format!("/patient/{id}");
    assert_eq!(t.get(Some(Who::Other), &page).await.status, 403);
    // Moving the other GP into demo GP 0's practice opens the patient to them...
    let moved = t
        .post_form(
            Who::Administrator,
            "/beheer/account/900000104/praktijk",
            &[("praktijk_agb", &common::demo_agb(0).to_string())],
        )
        .await;
    assert_eq!((moved.status, moved.location()), (303, Some("/beheer")));
    let seen = t.get(Some(Who::Other), &page).await;
    assert_eq!(seen.status, 200);
    // ...and blocking them closes everything at once.
    let blocked = t
        .post_form(
            Who::Administrator,
            "/beheer/account/900000104/blokkeren",
            &[],
        )
        .await;
    assert_eq!(blocked.status, 303);
    assert_eq!(t.get(Some(Who::Other), &page).await.status, 403);
    // A practitioner cannot do either.
    let refused = t
        .post_form(Who::Own, "/beheer/account/900000104/deblokkeren", &[])
        .await;
    assert_eq!(refused.status, 403);
    // A delegation made by an administrator works at once; revoking it ends it.
    assert_eq!(
        t.get(Some(Who::Practice), "/machtigingen").await.status,
        200
    );
    let made = t
        .post_form(
            Who::Administrator,
            "/beheer/machtiging",
            &[
                ("van", "01012346"),
                ("aan", "900000101"),
                ("vanaf", "2026-11-01"),
                ("tot", ""),
            ],
        )
        .await;
    assert_eq!(made.status, 303, "{}", made.body);
    let listed = t.get(Some(Who::Own), "/machtigingen").await;
    assert!(
        listed.body.contains("AGB 01012346") && listed.body.contains("actief"),
        "{}",
        listed.body
    );
    let bad = t
        .post_form(
            Who::Administrator,
            "/beheer/machtiging",
            &[
                ("van", "01012346"),
                ("aan", "900000101"),
                ("vanaf", "2026-11-01"),
                ("tot", "2026-10-01"),
            ],
        )
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("Deze machtiging kan niet"));
}

#[tokio::test]
async fn an_account_request_is_filled_in_from_the_card_and_waits_for_approval() {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt as _;
    use zvp_auth::directory::{AccountStatus, DirectoryStore as _};

    let t = TestPortal::new().await;
    let uzi = common::uzi(900_000_199);
    let mut spec = zvp_auth::testpki::CardSpec::care_provider(
        uzi,
        zvp_core::RoleCode::GENERAL_PRACTITIONER,
        common::now(),
    );
    spec.agb = zvp_core::AgbCode::new(1_040_199);
    let card = common::pki().issue_card(&spec).unwrap().authentication;
    let send = |request: Request<Body>| {
        let mut request = request;
        request
            .extensions_mut()
            .insert(zvp_portal::ClientCertificate(std::sync::Arc::new(
                card.chain(),
            )));
        let router = t.portal.router();
        async move { router.oneshot(request).await.unwrap() }
    };
    let read = |response: axum::http::Response<Body>| async move {
        use http_body_util::BodyExt as _;
        let cookie = response
            .headers()
            .get("set-cookie")
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned());
        let status = response.status().as_u16();
        let body = String::from_utf8(
            response
                .into_body()
                .collect()
                .await
                .unwrap()
                .to_bytes()
                .to_vec(),
        )
        .unwrap();
        (status, body, cookie)
    };
    let (status, body, _) = read(send(Request::get("/").body(Body::empty()).unwrap()).await).await;
    assert_eq!(status, 403);
    assert!(body.contains("Account aanvragen"));
    let (status, form, cookie) = read(
        send(
            Request::get("/account/aanvragen")
                .body(Body::empty())
                .unwrap(),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200);
    // Pre-filled from the card: the UZI number and the personal AGB code.
    assert!(
        form.contains("900000199") && form.contains("01040199"),
        "{form}"
    );
    let csrf = form
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    // A card without an account gets no session: the token is bound to the card instead.
    assert_eq!(cookie, None);
    let post = |fields: String| {
        Request::post("/account/aanvragen")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(format!("csrf={csrf}&{fields}")))
            .unwrap()
    };
    let (_, bad, _) = read(
        send(post(
            "praktijk=De+Linde&email=geen-adres&telefoon=0781234567".to_owned(),
        ))
        .await,
    )
    .await;
    assert!(bad.contains("geldig e-mailadres"), "{bad}");
    assert_eq!(t.directory.account(uzi).await.unwrap(), None);
    let (status, done, _) = read(
        send(post("praktijk=De+Linde&praktijk_agb=01040200&email=n%40delinde.example&telefoon=078+1234567".to_owned())).await,
    )
    .await;
    assert_eq!(status, 200);
    assert!(done.contains("Aanvraag ontvangen"));
    let account = t.directory.account(uzi).await.unwrap().unwrap();
    assert_eq!(account.status, AccountStatus::Requested);
    assert_eq!(account.agb, zvp_core::AgbCode::new(1_040_199));
    assert_eq!(account.practice_agb, zvp_core::AgbCode::new(1_040_200));
    assert_eq!(account.contact.email.as_deref(), Some("n@delinde.example"));
    assert_eq!(account.contact.phone.as_deref(), Some("078 1234567"));
    // The administrators see it in their queue.
    let queue = t.get(Some(Who::Administrator), "/beheer").await;
    assert!(queue.body.contains("n@delinde.example") && queue.body.contains("De Linde"));
    // Until approved, the requester is told it is pending.
    let (status, pending, _) =
        read(send(Request::get("/").body(Body::empty()).unwrap()).await).await;
    assert_eq!(status, 403);
    assert!(pending.contains("Uw accountaanvraag is in behandeling"));
}

/// The audit report for a patient: who looked, in the period asked for (the last 90 days
/// unless given), and nothing outside it; a period that is no date is said so.
#[tokio::test]
async fn the_audit_report_shows_who_looked_in_the_period() {
    let t = TestPortal::new().await;
    let (id, patient) = t.own_patient().await;
    let bsn = patient.bsn.unwrap().to_string();
    assert_eq!(
        t.get(Some(Who::Own), &format!("/patient/{id}"))
            .await
            .status,
        200
    );
    let report = t
        .get(
            Some(Who::Administrator),
            &format!("/beheer/audit?bsn={bsn}"),
        )
        .await;
    assert_eq!(report.status, 200);
    assert!(
        report.body.contains("Own Test (UZI 900000101)"),
        "{}",
        report.body
    );
    // What was read, in the tabs' Dutch words, not the audit log's codes.
    assert!(
        report.body.contains("Patiëntgegevens")
            && report.body.contains("Zorgmomenten en opname")
            && !report.body.contains("patient-details"),
        "{}",
        report.body
    );
    // A practitioner's report names the patient of each record.
    let by_practitioner = t
        .get(Some(Who::Administrator), "/beheer/audit?uzi=900000101")
        .await;
    assert_eq!(by_practitioner.status, 200);
    assert!(
        by_practitioner.body.contains("<th>Patiënt</th>")
            && by_practitioner
                .body
                .contains(&format!("<td>BSN {bsn}</td>")),
        "{}",
        by_practitioner.body
    );
    assert!(
        report
            .body
            // The two reads and this look-up, which concerns the patient as well.
            .contains("3 vastleggingen, 27-08-2026 tot en met 25-11-2026"),
        "{}",
        report.body
    );
    let before = t
        .get(
            Some(Who::Administrator),
            &format!("/beheer/audit?bsn={bsn}&van=2026-01-01&tot=2026-11-24"),
        )
        .await;
    assert_eq!(before.status, 200);
    assert!(!before.body.contains("Own Test (UZI 900000101)"));
    assert!(before.body.contains("0 vastleggingen"));
    let wrong = t
        .get(
            Some(Who::Administrator),
            &format!("/beheer/audit?bsn={bsn}&van=gisteren"),
        )
        .await;
    assert!(
        wrong.body.contains("Geef de periode als datums"),
        "{}",
        wrong.body
    );
}

/// The login refuses exactly what the policy refuses, for every reason code it can give
/// (`Policy::admit`: rules 1, 2 and 4), and lets in what it admits: the extractor has no rule
/// of its own.
#[tokio::test]
async fn the_login_refuses_exactly_what_the_policy_refuses() {
    use zvp_auth::directory::{Account, AccountStatus, DirectoryStore as _};
    use zvp_auth::policy::{Policy, World};
    use zvp_auth::testpki::CardSpec;
    use zvp_core::{AgbCode, RoleCode, UziNumber};

    let t = TestPortal::new().await;
    let now = common::now();
    let physician: RoleCode = "01.010".parse().unwrap();
    // (status, admin, account AGB, card AGB, card role); None: no account.
    let cases: [(Option<AccountStatus>, bool, u32, u32, RoleCode); 9] = [
        (
            None,
            false,
            1_000_301,
            1_000_301,
            RoleCode::GENERAL_PRACTITIONER,
        ),
        (
            Some(AccountStatus::Requested),
            false,
            1_000_302,
            1_000_302,
            RoleCode::GENERAL_PRACTITIONER,
        ),
        (
            Some(AccountStatus::Rejected),
            false,
            1_000_303,
            1_000_303,
            RoleCode::GENERAL_PRACTITIONER,
        ),
        (
            Some(AccountStatus::Blocked),
            false,
            1_000_304,
            1_000_304,
            RoleCode::GENERAL_PRACTITIONER,
        ),
        (
            Some(AccountStatus::Active),
            false,
            1_000_305,
            1_000_399,
            RoleCode::GENERAL_PRACTITIONER,
        ),
        (
            Some(AccountStatus::Active),
            false,
            1_000_306,
            1_000_306,
            physician,
        ),
        (
            Some(AccountStatus::Active),
            true,
            1_000_307,
            1_000_307,
            physician,
        ),
        (
            Some(AccountStatus::Active),
            false,
            1_000_308,
            1_000_308,
            RoleCode::GENERAL_PRACTITIONER,
        ),
        (
            Some(AccountStatus::Blocked),
            false,
            1_000_309,
            1_000_398,
            physician,
        ),
    ];
    let mut refused = std::collections::BTreeSet::new();
    for (n, (status, admin, account_agb, card_agb, role)) in cases.into_iter().enumerate() {
        let uzi = UziNumber::new(900_000_301 + u32::try_from(n).unwrap()).unwrap();
        let account = status.map(|status| Account {
            uzi,
            agb: AgbCode::new(account_agb),
            name: format!("Case {n}"),
            role,
            practice_agb: None,
            status,
            created_at: now - chrono::Duration::days(10),
            last_login: Some(now - chrono::Duration::days(1)),
            previous_login: None,
            accepted_terms: Some(1),
            admin,
            contact: Default::default(),
        });
        if let Some(account) = &account {
            t.directory.create_account(account).await.unwrap();
        }
        let mut spec = CardSpec::care_provider(uzi, role, now);
        spec.agb = AgbCode::new(card_agb);
        let card = common::pki().issue_card(&spec).unwrap().authentication;
        let mut world = World::new();
        if let Some(account) = account {
            world.add_account(account);
        }
        let decision = Policy::default()
            .admit(&world, uzi, AgbCode::new(card_agb), role)
            .map(|_| ());
        let path = if admin { "/beheer" } else { "/" };
        let mut request = axum::http::Request::get(path)
            .body(axum::body::Body::empty())
            .unwrap();
        request
            .extensions_mut()
            .insert(zvp_portal::ClientCertificate(std::sync::Arc::new(
                card.chain(),
            )));
        let reply = t.send(None, request).await;
        match decision {
            Ok(()) => assert_eq!(reply.status, 200, "case {n}: {}", reply.body),
            Err(reason) => {
                assert_eq!(reply.status, 403, "case {n}");
                assert!(
                    reply.body.contains(&format!("<dd>{}</dd>", reason.code())),
                    "case {n}: {} not in {}",
                    reason.code(),
                    reply.body
                );
                refused.insert(reason.code());
            }
        }
    }
    assert_eq!(
        refused.into_iter().collect::<Vec<_>>(),
        [
            "account-blocked",
            "account-pending",
            "account-rejected",
            "agb-mismatch",
            "no-account",
            "role-not-eligible"
        ]
    );
}
