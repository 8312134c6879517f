//! The hospital the notifier tests poll: the synthetic hospital served over FHIR by
//! `zvp-mock-epd`, read through `FhirEpd`, with one GP account in a directory.

#![allow(dead_code, reason = "each suite uses a part")]

pub(crate) mod smtp;

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveTime, Utc};
use zvp_auth::directory::{Account, AccountStatus, DirectoryStore, MemoryDirectory};
use zvp_core::{AgbCode, RoleCode, UziNumber};
use zvp_epd::client::{FhirEpd, FhirEpdConfig};
use zvp_epd::synthetic::{DEMO_GPS, SyntheticEpd, test_now};
use zvp_epd::{Epd, RequestContext};
use zvp_mock_epd::{Faults, MockEpd};
use zvp_notify::find::Window;
use zvp_notify::{EventKey, NotifyStore, PollSettings, Poller};

pub(crate) fn now() -> DateTime<Utc> {
    test_now()
}

pub(crate) fn ctx() -> RequestContext {
    RequestContext {
        request_id: "test".to_owned(),
    }
}

/// The demo GP: J. de Vries.
pub(crate) fn gp() -> AgbCode {
    AgbCode::new(DEMO_GPS[0].agb).unwrap()
}

pub(crate) fn gp_account() -> Account {
    Account {
        uzi: UziNumber::new(900_000_001).unwrap(),
        agb: Some(gp()),
        name: DEMO_GPS[0].name.to_owned(),
        role: RoleCode::GENERAL_PRACTITIONER,
        practice_agb: None,
        status: AccountStatus::Active,
        created_at: now() - Duration::days(30),
        last_login: Some(now() - Duration::days(1)),
        previous_login: None,
        accepted_terms: Some(1),
        admin: false,
        contact: Default::default(),
    }
}

pub(crate) struct Hospital {
    pub(crate) synthetic: Arc<SyntheticEpd>,
    pub(crate) mock: Arc<MockEpd>,
    pub(crate) epd: Arc<FhirEpd>,
    pub(crate) directory: Arc<MemoryDirectory>,
}

impl Hospital {
    pub(crate) async fn start() -> Self {
        let synthetic = Arc::new(SyntheticEpd::generate(7, now(), 400).unwrap());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/fhir", listener.local_addr().unwrap());
        let mock = Arc::new(MockEpd::new(
            Arc::clone(&synthetic),
            base.clone(),
            Faults::default(),
        ));
        tokio::spawn(zvp_mock_epd::serve(
            listener,
            Arc::clone(&mock),
            std::future::pending(),
        ));
        let mut config = FhirEpdConfig::new(&base);
        config.retries = 0;
        let epd = Arc::new(FhirEpd::new(config).unwrap());
        let directory = Arc::new(MemoryDirectory::new());
        directory.create_account(&gp_account()).await.unwrap();
        Self {
            synthetic,
            mock,
            epd,
            directory,
        }
    }

    pub(crate) fn poller(
        &self,
        store: Arc<dyn NotifyStore>,
        holder: &str,
        window: Window,
    ) -> Poller {
        Poller::new(
            Arc::clone(&self.epd) as Arc<dyn Epd>,
            Arc::clone(&self.directory) as Arc<dyn DirectoryStore>,
            store,
            PollSettings {
                holder: holder.to_owned(),
                lease: Duration::minutes(2),
                window,
                dormant: Duration::days(180),
            },
        )
    }

    /// The keys of the demo GP's events that the hospital recorded (or changed the record of)
    /// in `(from, to]`, as its record stood at `to`, read from the synthetic hospital itself
    /// (not over FHIR): an admission recorded when it began and again at its discharge (then
    /// with the discharge), a letter at the start of its date.
    pub(crate) async fn truth(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> BTreeSet<EventKey> {
        let mut keys = BTreeSet::new();
        let within = |t: DateTime<Utc>| from < t && t <= to;
        for id in self.synthetic.patient_ids() {
            let patient = self.synthetic.patient(id, &ctx()).await.unwrap();
            if patient.registered_gp.map(|g| g.agb) != Some(gp()) {
                continue;
            }
            if let Some(a) = self.synthetic.admission(id).unwrap()
                && a.admitted_at() <= to
            {
                let admitted = a.admitted_at();
                let discharged = a.discharged_at().filter(|&d| d <= to);
                if within(discharged.unwrap_or(admitted)) {
                    keys.insert(EventKey::admission(id, admitted));
                    if discharged.is_some() {
                        keys.insert(EventKey::discharge(id, admitted));
                    }
                }
            }
            for letter in self.synthetic.letters(id, &ctx()).await.unwrap() {
                if within(letter.date.and_time(NaiveTime::MIN).and_utc()) {
                    keys.insert(EventKey::letter(id, &letter.id));
                }
            }
        }
        keys
    }
}

impl Hospital {
    /// An admission of the demo GP's patients that began before `before`, and a letter of
    /// theirs dated two days to a month before it (its patient and id).
    pub(crate) async fn admitted_and_letter_before(
        &self,
        before: DateTime<Utc>,
    ) -> (
        zvp_core::Admission,
        (zvp_core::PatientId, zvp_core::DocumentId),
    ) {
        let mut admission = None;
        let mut letter = None;
        for id in self.synthetic.patient_ids() {
            let patient = self.synthetic.patient(id, &ctx()).await.unwrap();
            if patient.registered_gp.map(|g| g.agb) != Some(gp()) {
                continue;
            }
            if let Some(a) = self.synthetic.admission(id).unwrap()
                && a.admitted_at() < before
                && admission.is_none()
            {
                admission = Some(a.clone());
            }
            let old = (before - Duration::days(30)).date_naive()
                ..(before - Duration::days(2)).date_naive();
            if let Some(l) = self
                .synthetic
                .letters(id, &ctx())
                .await
                .unwrap()
                .into_iter()
                .find(|l| old.contains(&l.date))
                && letter.is_none()
            {
                letter = Some((id.clone(), l.id));
            }
        }
        (admission.unwrap(), letter.unwrap())
    }
}

/// Every key in the store.
pub(crate) async fn stored(store: &dyn NotifyStore) -> BTreeSet<EventKey> {
    store
        .after(0, usize::MAX >> 1)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.event.key)
        .collect()
}
