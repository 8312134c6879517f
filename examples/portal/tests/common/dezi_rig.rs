//! The portal with Dezi login against the Dezi stand-in, and a browser's cookies for it: what
//! the portal's Dezi tests share.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, header};
use base64::Engine as _;
use serde_json::json;
use zvp_audit::event::{AuditEvent, EventType, Outcome};
use zvp_audit::log::AuditLog as _;
use zvp_portal::config::DeziConfig;
use zvp_portal::dezi::DeziService;

use super::dezi::{Dezi, Files, REDIRECT};
use super::{Reply, TestPortal, Who};

/// The portal with Dezi login against a running stand-in, its revocation list fetched.
pub struct Rig {
    pub t: TestPortal,
    pub dezi: Dezi,
    pub service: Arc<DeziService>,
    _files: Files,
}

/// The cookies a browser holds for the portal.
#[derive(Debug, Clone, Default)]
pub struct Jar {
    pub session: Option<String>,
    pub login: Option<String>,
}

impl Jar {
    pub fn header(&self) -> String {
        [
            self.session.as_ref().map(|v| format!("__Host-zvp={v}")),
            self.login.as_ref().map(|v| format!("__Host-zvp-dezi={v}")),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("; ")
    }
}

/// The value `reply` sets for the cookie `name`, if it sets one.
pub fn set_cookie(reply: &Reply, name: &str) -> Option<String> {
    reply
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}=")))
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
}

/// The callback with the login's cookie `pending` and `query`, as `card`.
pub async fn callback(t: &TestPortal, card: Option<Who>, pending: &str, query: &str) -> Reply {
    let request = Request::get(format!("/dezi/callback?{query}"))
        .header(header::COOKIE, format!("__Host-zvp-dezi-start={pending}"))
        .body(Body::empty())
        .unwrap();
    t.send(card, request).await
}

/// The patients a page links to.
pub fn patients(body: &str) -> BTreeSet<String> {
    body.split("href=\"/patient/")
        .skip(1)
        .filter_map(|rest| rest.split(['"', '/']).next())
        .map(str::to_owned)
        .collect()
}

impl Rig {
    pub async fn new(name: &str) -> Self {
        let files = Files::make(name);
        let dezi = Dezi::start(&files);
        let der = base64::engine::general_purpose::STANDARD.encode(&files.key_der);
        let lines: Vec<&str> = der
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            lines.join("\n")
        );
        std::fs::write(files.path("portal.key.pem"), pem).unwrap();
        let config: DeziConfig = serde_json::from_value(json!({
            "issuer": dezi.issuer,
            "client_id": super::dezi::CLIENT,
            "redirect_uri": REDIRECT,
            "decryption_key": files.path("portal.key.pem"),
            "ca_file": files.path("ca.pem"),
            "jku_allow_list": [dezi.jku],
            "verklaring_issuers": ["https://abonnee.dezi.nl"],
        }))
        .unwrap();
        let service = Arc::new(DeziService::new(&config).unwrap());
        let t = TestPortal::new().await.with_dezi(service.login());
        service.refresh_round(&t.portal).await;
        Self {
            t,
            dezi,
            service,
            _files: files,
        }
    }

    /// A request with the jar's cookies, as `card` (None: no card).
    pub async fn get(&self, card: Option<Who>, jar: &Jar, path: &str) -> Reply {
        let request = Request::get(path)
            .header(header::COOKIE, jar.header())
            .body(Body::empty())
            .unwrap();
        self.t.send(card, request).await
    }

    /// The start of a Dezi login: the login's sealed cookie and where the browser is sent.
    pub async fn start(&self) -> (String, String) {
        let start = self.t.get(None, "/dezi/inloggen").await;
        assert_eq!(start.status, 303, "{}", start.body);
        let pending = set_cookie(&start, "__Host-zvp-dezi-start").expect("the login's cookie");
        (pending, start.location().unwrap().to_owned())
    }

    /// A Dezi login as the stand-in's `person`, the browser presenting `card` at the callback:
    /// the callback's answer and the cookies it leaves.
    pub async fn login(&self, person: &str, card: Option<Who>) -> (Reply, Jar) {
        let (pending, location) = self.start().await;
        let (state, code) = self.dezi.browser(&location, person);
        let query = format!(
            "state={}&code={}",
            super::encode(&state),
            super::encode(&code)
        );
        let reply = callback(&self.t, card, &pending, &query).await;
        let jar = Jar {
            session: set_cookie(&reply, "__Host-zvp").filter(|v| !v.is_empty()),
            login: set_cookie(&reply, "__Host-zvp-dezi").filter(|v| !v.is_empty()),
        };
        (reply, jar)
    }

    /// The reasons of the denied logins in the audit log, in order.
    pub async fn denied_logins(&self) -> Vec<String> {
        self.events()
            .await
            .into_iter()
            .filter(|e| e.event_type == EventType::Login && e.outcome == Outcome::Denied)
            .filter_map(|e| e.reason)
            .collect()
    }

    pub async fn events(&self) -> Vec<AuditEvent> {
        self.t
            .audit
            .events()
            .await
            .unwrap()
            .into_iter()
            .map(|(_, e)| e)
            .collect()
    }
}
