//! *Meldingen*: the notifier's events on the portal's page and in its header, for the GP's
//! own patients and delegated ones, each shown only after its audit record; marking one read.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

#[path = "common/mod.rs"]
mod common;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, header};
use chrono::Duration;
use common::{TestPortal, Who, demo_agb, now, validator};
use zvp_audit::log::AuditLog as _;
use zvp_auth::directory::DirectoryStore;
use zvp_core::{AgbCode, RecordSection};
use zvp_epd::Epd;
use zvp_notify::find::Window;
use zvp_notify::{MemoryNotifyStore, NotifyStore, PollOutcome, PollSettings, Poller};
use zvp_portal::Portal;

/// The test portal with notifications, after one poll of its hospital.
async fn with_notices() -> (TestPortal, Arc<MemoryNotifyStore>) {
    let base = TestPortal::new().await;
    let store = Arc::new(MemoryNotifyStore::new());
    let poller = Poller::new(
        base.epd.clone() as Arc<dyn Epd>,
        base.directory.clone() as Arc<dyn DirectoryStore>,
        store.clone() as Arc<dyn NotifyStore>,
        PollSettings {
            holder: "test".to_owned(),
            lease: Duration::minutes(2),
            // Back further than the delegation (three days), to see it cut off.
            window: Window {
                lookback: Duration::days(7),
                ..Window::default()
            },
            dormant: Duration::days(180),
        },
    );
    assert!(matches!(
        poller.poll(now()).await.unwrap(),
        PollOutcome::Polled { recorded, .. } if recorded > 0
    ));
    let fixed = now();
    let portal = Portal::builder()
        .epd(base.epd.clone())
        .directory(base.directory.clone())
        .audit(base.audit.clone())
        .validator(Arc::new(validator()))
        .clock(Arc::new(move || fixed))
        .notifications(store.clone())
        .build()
        .unwrap();
    (TestPortal { portal, ..base }, store)
}

/// The events of `gp`'s patients in the store, with time.
async fn events_of(store: &MemoryNotifyStore, gp: AgbCode) -> Vec<zvp_notify::Recorded> {
    store
        .after(0, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.event.gp == gp)
        .collect()
}

fn links(body: &str) -> usize {
    body.matches("Bekijk patiënt").count()
}

fn header_count(body: &str) -> Option<u64> {
    let (_, rest) = body.split_once("aria-label=\"ongelezen\">")?;
    rest.split('<').next()?.trim().parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gp_sees_their_patients_events_each_recorded_first() {
    let (t, store) = with_notices().await;
    let own = events_of(&store, demo_agb(0)).await;
    assert!(own.len() > 1, "{}", own.len());
    let before = t.audit.events().await.unwrap().len();
    let page = t.get(Some(Who::Own), "/meldingen").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(links(&page.body), own.len());
    assert_eq!(header_count(&page.body), Some(own.len() as u64));
    for r in &own {
        assert!(page.body.contains(&format!("/patient/{}", r.event.patient)));
    }
    // One audit record per event shown, naming the patient and the event.
    let id = page.headers["x-request-id"].to_str().unwrap();
    let records: Vec<_> = t
        .audit
        .events()
        .await
        .unwrap()
        .into_iter()
        .skip(before)
        .map(|(_, e)| e)
        .filter(|e| e.request_id == id && e.patient.is_some())
        .collect();
    assert_eq!(records.len(), own.len());
    for r in &own {
        let item = format!("melding:{}", r.event.key);
        let record = records
            .iter()
            .find(|e| e.part.as_ref().and_then(|p| p.item.as_deref()) == Some(item.as_str()))
            .unwrap_or_else(|| panic!("no record of {item}"));
        assert_eq!(record.patient.as_ref().unwrap().id, r.event.patient);
        let section = record.part.as_ref().unwrap().section;
        assert!(matches!(
            section,
            RecordSection::AdmittedList | RecordSection::DischargedList
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn others_see_only_their_own_and_a_delegate_the_delegation_s_period() {
    let (t, store) = with_notices().await;
    // demo GP 1 sees their own patients' events, none of demo GP 0's.
    let other = t.get(Some(Who::Other), "/meldingen").await;
    assert_eq!(other.status, 200);
    assert_eq!(
        links(&other.body),
        events_of(&store, demo_agb(1)).await.len()
    );
    for r in events_of(&store, demo_agb(0)).await {
        assert!(
            !other
                .body
                .contains(&format!("/patient/{}\"", r.event.patient))
        );
    }
    // The delegate (from three days ago) sees demo GP 0's events since then.
    let since = now() - Duration::days(3);
    let delegated: Vec<_> = events_of(&store, demo_agb(0))
        .await
        .into_iter()
        .filter(|r| r.event.at >= since)
        .collect();
    assert!(delegated.len() < events_of(&store, demo_agb(0)).await.len());
    let page = t.get(Some(Who::Delegated), "/meldingen").await;
    assert_eq!(page.status, 200);
    assert_eq!(links(&page.body), delegated.len());
    // A blocked account gets nothing: it does not get in.
    assert_eq!(t.get(Some(Who::Blocked), "/meldingen").await.status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_is_marked_read_by_its_gp_only() {
    let (t, store) = with_notices().await;
    let own = events_of(&store, demo_agb(0)).await;
    let seq = own[0].seq;
    let path = format!("/meldingen/{seq}/gelezen");
    // Another GP cannot mark demo GP 0's event.
    let refused = t.post_form(Who::Other, &path, &[]).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    // Without the session's token: refused.
    let forged = t
        .send(
            Some(Who::Own),
            Request::post(&path)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from("csrf=wrong"))
                .unwrap(),
        )
        .await;
    assert_eq!(forged.status, 403);
    let marked = t.post_form(Who::Own, &path, &[]).await;
    assert_eq!(marked.status, 303, "{}", marked.body);
    assert_eq!(marked.location(), Some("/meldingen"));
    let page = t.get(Some(Who::Own), "/meldingen").await;
    assert_eq!(header_count(&page.body), Some(own.len() as u64 - 1));
    assert_eq!(page.body.matches("Gelezen").count(), 1);
    // An event that does not exist.
    let missing = t
        .post_form(Who::Own, "/meldingen/999999/gelezen", &[])
        .await;
    assert_eq!(missing.status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_portal_without_notifications_shows_no_count() {
    let t = TestPortal::new().await;
    let start = t.get(Some(Who::Own), "/").await;
    assert_eq!(start.status, 200);
    assert_eq!(header_count(&start.body), None);
    let page = t.get(Some(Who::Own), "/meldingen").await;
    assert!(page.body.contains("Dit portaal verstuurt geen meldingen."));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_email_form_on_mijn_account_refuses_a_malformed_address_and_saves_a_good_one() {
    let (t, store) = with_notices().await;
    let uzi = t
        .directory
        .accounts()
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.agb == Some(demo_agb(0)))
        .unwrap()
        .uzi;
    // Every page's header leads to the account page; Meldingen points to it for e-mail.
    let notices = t.get(Some(Who::Own), "/meldingen").await;
    assert!(
        notices
            .body
            .contains("<a href=\"/account\">Mijn account</a>")
    );
    assert!(notices.body.contains("href=\"/account#email\""));
    assert!(!notices.body.contains("name=\"adres\""));
    let page = t.get(Some(Who::Own), "/account").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("<h1>Mijn account</h1>"), "{}", page.body);
    assert!(page.body.contains(&uzi.to_string()));
    assert!(page.body.contains("value=\"\""));
    assert_eq!(page.body.matches(" checked").count(), 0);
    let refused = t
        .post_form(
            Who::Own,
            "/account/meldingen",
            &[
                ("adres", "j.devries@<b>"),
                ("opname", "ja"),
                ("brief", "ja"),
            ],
        )
        .await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(refused.body.contains("Dit is geen geldig e-mailadres"));
    // What was typed and ticked is shown again, escaped.
    assert!(
        refused.body.contains("value=\"j.devries@&lt;b&gt;\""),
        "{}",
        refused.body
    );
    assert_eq!(refused.body.matches(" checked").count(), 2);
    assert!(
        refused
            .body
            .contains("name=\"opname\" value=\"ja\" checked")
    );
    assert!(refused.body.contains("name=\"brief\" value=\"ja\" checked"));
    assert_eq!(store.preferences(uzi).await.unwrap(), None);
    let no_address = t
        .post_form(
            Who::Own,
            "/account/meldingen",
            &[("adres", " "), ("brief", "ja")],
        )
        .await;
    assert_eq!(no_address.status, 400);
    assert!(no_address.body.contains("Vul een e-mailadres in."));
    assert!(
        no_address
            .body
            .contains("name=\"brief\" value=\"ja\" checked")
    );
    let saved = t
        .post_form(
            Who::Own,
            "/account/meldingen",
            &[("adres", " j.devries@praktijk.example "), ("brief", "ja")],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    assert_eq!(saved.headers["location"], "/account#email");
    let preferences = store.preferences(uzi).await.unwrap().unwrap();
    assert_eq!(
        preferences.address.to_string(),
        "j.devries@praktijk.example"
    );
    assert_eq!(
        preferences.kinds.into_iter().collect::<Vec<_>>(),
        [zvp_notify::EventKind::Letter]
    );
    let page = t.get(Some(Who::Own), "/account").await;
    assert!(page.body.contains("value=\"j.devries@praktijk.example\""));
    assert_eq!(page.body.matches(" checked").count(), 1);
    // Opting out: no address, no kinds.
    let off = t
        .post_form(Who::Own, "/account/meldingen", &[("adres", "")])
        .await;
    assert_eq!(off.status, 303);
    assert_eq!(store.preferences(uzi).await.unwrap(), None);
    // An administrator is told nothing, and has no form to save.
    let admin = t.get(Some(Who::Administrator), "/account").await;
    assert_eq!(admin.status, 200);
    assert!(admin.body.contains("Dit portaal verstuurt geen meldingen."));
    let refused = t
        .post_form(
            Who::Administrator,
            "/account/meldingen",
            &[("adres", "beheer@ziekenhuis.example"), ("opname", "ja")],
        )
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.body.contains("<dd>not-permitted</dd>"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_administrator_sees_the_mail_queue() {
    let (t, store) = with_notices().await;
    let page = t.get(Some(Who::Administrator), "/beheer").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("0 verstuurd, 0 in de wachtrij."),
        "{}",
        page.body
    );
    let gp = t.directory.accounts().await.unwrap()[0].uzi;
    let mail = zvp_notify::mail::NewMail {
        account: gp,
        address: "huisarts@praktijk.example".parse().unwrap(),
        counts: vec![(zvp_notify::EventKind::Admission, 2)],
    };
    let queued = store.digest(gp, 1, now(), Some(&mail), 10).await.unwrap();
    let zvp_notify::mail::Queued::Mail(id) = queued else {
        panic!("{queued:?}")
    };
    store
        .mail_failed(
            id,
            1,
            now() + Duration::minutes(1),
            "the mail server is unreachable",
        )
        .await
        .unwrap();
    let page = t.get(Some(Who::Administrator), "/beheer").await;
    assert!(
        page.body
            .contains("0 verstuurd, 1 in de wachtrij, waarvan <strong>1 mislukt"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("Laatste fout van de mailserver: the mail server is unreachable")
    );
}
