//! A session store written outside the crate, as a hospital would for its own database: with
//! `new_session`, `ended` and `Session::new` it implements `SessionStore`, and the portal
//! logs in and keeps the session through it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use common::{TestPortal, Who};
use zvp_portal::{Ended, Portal, Session, SessionError, SessionStore, Timeouts};

/// One stored session.
struct Stored {
    certificate: String,
    csrf: Arc<str>,
    started: DateTime<Utc>,
    last_seen: DateTime<Utc>,
}

/// Sessions in a map, by id.
#[derive(Default)]
struct Outside(Mutex<HashMap<String, Stored>>);

#[async_trait::async_trait]
impl SessionStore for Outside {
    async fn resume(
        &self,
        cookie: Option<&str>,
        certificate: &str,
        now: DateTime<Utc>,
        timeouts: Timeouts,
    ) -> Result<Result<(Session, Option<String>), Ended>, SessionError> {
        let Some(id) = cookie else {
            let (session, cookie) = self.start(certificate, now).await?;
            return Ok(Ok((session, Some(cookie))));
        };
        let mut map = self.0.lock().unwrap();
        let Some(stored) = map.get_mut(id) else {
            return Ok(Err(Ended::Unknown));
        };
        let same = stored.certificate == certificate;
        if let Some(end) = zvp_portal::ended(same, stored.started, stored.last_seen, now, timeouts)
        {
            map.remove(id);
            return Ok(Err(end));
        }
        stored.last_seen = now;
        Ok(Ok((Session::new(Arc::clone(&stored.csrf), false), None)))
    }

    async fn start(
        &self,
        certificate: &str,
        now: DateTime<Utc>,
    ) -> Result<(Session, String), SessionError> {
        let (id, csrf) = zvp_portal::new_session()?;
        let stored = Stored {
            certificate: certificate.to_owned(),
            csrf: Arc::clone(&csrf),
            started: now,
            last_seen: now,
        };
        self.0.lock().unwrap().insert(id.clone(), stored);
        Ok((Session::new(csrf, true), id))
    }

    async fn end(&self, cookie: &str) -> Result<(), SessionError> {
        self.0.lock().unwrap().remove(cookie);
        Ok(())
    }

    async fn count(&self) -> Result<u64, SessionError> {
        Ok(self.0.lock().unwrap().len() as u64)
    }
}

#[tokio::test]
async fn a_store_from_outside_the_crate_keeps_the_session() {
    let mut t = TestPortal::new().await;
    let store = Arc::new(Outside::default());
    let fixed = common::now();
    t.portal = Portal::builder()
        .epd(t.epd.clone())
        .directory(t.directory.clone())
        .audit(t.audit.clone())
        .validator(Arc::new(common::validator()))
        .clock(Arc::new(move || fixed))
        .sessions(store.clone())
        .build()
        .unwrap();
    let first = t.get(Some(Who::Own), "/").await;
    assert_eq!(first.status, 200);
    let cookie = first.cookie.clone().expect("a session cookie");
    assert_eq!(store.count().await.unwrap(), 1);
    assert!(store.0.lock().unwrap().contains_key(&cookie));
    // The same browser, the same session: none started.
    let request = axum::http::Request::get("/")
        .header(axum::http::header::COOKIE, format!("__Host-zvp={cookie}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let again = t.send(Some(Who::Own), request).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.cookie, None);
    assert_eq!(store.count().await.unwrap(), 1);
    // A cookie the store does not know ends nothing it holds: a new login.
    let request = axum::http::Request::get("/")
        .header(axum::http::header::COOKIE, "__Host-zvp=onbekend")
        .body(axum::body::Body::empty())
        .unwrap();
    let unknown = t.send(Some(Who::Own), request).await;
    assert_ne!(unknown.status, 500);
}
