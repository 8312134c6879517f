//! The same portal around a hospital's own EPD: implement [`zvp_epd::Epd`] for whatever your
//! hospital has (here: a tiny in-memory ward), hand it to `Portal::builder()`, and serve.
//!
//! Run: `cargo run -p zvp-portal --example custom_epd`, then open the printed URL with a card
//! of the printed test PKI (`curl` line included). Stop with Ctrl-C.

#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "an example"
)]

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use zvp_audit::log::{FileLog, FileLogOptions};
use zvp_auth::directory::{Account, AccountStatus, DirectoryStore, MemoryDirectory};
use zvp_auth::testpki::{CardSpec, KeyAlgorithm, TestPki, certificates_pem};
use zvp_auth::uzi::Environment;
use zvp_core::{
    Admission, AgbCode, Bsn, CareMoment, Patient, PatientId, Period, PersonName, RegisteredGp,
    RoleCode, UziNumber,
};
use zvp_epd::{Epd, EpdError, ListedPatient, RequestContext};
use zvp_portal::{Portal, serve};

/// The hospital's own EPD: here, one ward kept in memory.
struct OneWard {
    patients: HashMap<PatientId, (Patient, Admission)>,
}

#[async_trait]
impl Epd for OneWard {
    async fn admitted(
        &self,
        gps: &[AgbCode],
        _: &RequestContext,
    ) -> Result<Vec<ListedPatient>, EpdError> {
        Ok(self
            .patients
            .values()
            .filter(|(p, _)| {
                p.registered_gp
                    .as_ref()
                    .is_some_and(|gp| gps.contains(&gp.agb))
            })
            .map(|(patient, admission)| ListedPatient {
                patient: patient.clone(),
                admission: admission.clone(),
            })
            .collect())
    }
    async fn discharged_since(
        &self,
        _: &[AgbCode],
        _: DateTime<Utc>,
        _: &RequestContext,
    ) -> Result<Vec<ListedPatient>, EpdError> {
        Ok(Vec::new())
    }
    async fn find_by_bsn(
        &self,
        bsn: Bsn,
        birth: Option<NaiveDate>,
        _: &RequestContext,
    ) -> Result<Option<PatientId>, EpdError> {
        Ok(self
            .patients
            .values()
            .find(|(p, _)| p.bsn == Some(bsn) && birth.is_none_or(|b| b == p.birth_date))
            .map(|(p, _)| p.id.clone()))
    }
    async fn patient(&self, id: &PatientId, _: &RequestContext) -> Result<Patient, EpdError> {
        self.patients
            .get(id)
            .map(|(p, _)| p.clone())
            .ok_or_else(|| EpdError::NotFound(format!("patient {id}")))
    }
    // The sections this EPD gives; every other one shows "levert het ziekenhuisdossier
    // niet" (the trait's defaults), never an empty list a GP would take for "none".
    async fn care_moments(
        &self,
        id: &PatientId,
        _: &RequestContext,
    ) -> Result<Vec<CareMoment>, EpdError> {
        Ok(self
            .patients
            .get(id)
            .map(|(_, admission)| vec![zvp_epd::fhir::admission_moment(admission)])
            .unwrap_or_default())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let now = Utc::now();
    let gp = AgbCode::new(1_012_345).expect("an agb code");
    let id: PatientId = "w-1".parse()?;
    let patient = Patient {
        id: id.clone(),
        bsn: Some("111222333".parse()?),
        name: PersonName::new("Jansen")?.with_given_names("Maria"),
        gender: zvp_core::Gender::Female,
        birth_date: NaiveDate::from_ymd_opt(1948, 3, 1).expect("a date"),
        address: None,
        registered_gp: Some(RegisteredGp {
            agb: gp,
            name: Some("J. de Vries".to_owned()),
        }),
        treatment_restrictions: Vec::new(),
        sharing_objection: None,
    };
    let admission = Admission {
        patient: id.clone(),
        ward: "Interne geneeskunde, 4 noord".to_owned(),
        specialism: "Interne geneeskunde".to_owned(),
        period: Period::open(now - Duration::days(2)),
        reason: Some("Pneumonie".to_owned()),
        specialist: None,
        room: None,
        ward_phone: None,
        expected_discharge: None,
    };
    let epd = OneWard {
        patients: HashMap::from([(id, (patient, admission))]),
    };

    // A test PKI, a card for the GP, and the GP's account.
    let pki = TestPki::generate(Environment::Test, KeyAlgorithm::EcdsaP256, now)?;
    let uzi = UziNumber::new(900_000_001).expect("a uzi number");
    let mut spec = CardSpec::care_provider(uzi, RoleCode::GENERAL_PRACTITIONER, now);
    spec.agb = Some(gp);
    let card = pki.issue_card(&spec)?.authentication;
    let directory = Arc::new(MemoryDirectory::new());
    directory
        .create_account(&Account {
            uzi,
            agb: Some(gp),
            name: "J. de Vries".to_owned(),
            role: RoleCode::GENERAL_PRACTITIONER,
            practice_agb: None,
            status: AccountStatus::Active,
            created_at: now,
            last_login: None,
            previous_login: None,
            accepted_terms: Some(1),
            admin: false,
            contact: Default::default(),
        })
        .await?;
    let dir = std::env::temp_dir().join("zvp-custom-epd");
    std::fs::create_dir_all(&dir)?;
    let validator = Arc::new(pki.validator()?.without_revocation_checking());

    // The portal around the hospital's EPD.
    let portal = Portal::builder()
        .epd(Arc::new(epd))
        .directory(directory)
        .audit(Arc::new(FileLog::open(
            &dir.join("audit"),
            FileLogOptions::default(),
        )?))
        .validator(Arc::clone(&validator))
        .build()?;

    let server = pki.issue_tls_server(&["localhost"], now)?;
    std::fs::write(
        dir.join("tls-root.pem"),
        certificates_pem(&[pki.tls_root()]),
    )?;
    std::fs::write(dir.join("card.pem"), card.chain_pem())?;
    std::fs::write(dir.join("card.key.pem"), card.key_pem())?;
    let tls = serve::tls_config(
        &validator,
        vec![server.der.clone()],
        rustls_pki_types::PrivateKeyDer::Pkcs8(server.private_key()),
        serve::TlsOptions::default(),
    )?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    println!("serving https://localhost:{port}/ — try:");
    println!(
        "curl --cacert {d}/tls-root.pem --cert {d}/card.pem --key {d}/card.key.pem https://localhost:{port}/",
        d = dir.display()
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(serve::serve_tls(
        listener,
        tls,
        portal.router(),
        serve::Limits::default(),
        stopped,
    ));
    tokio::signal::ctrl_c().await?;
    let _ = stop.send(true);
    server.await??;
    Ok(())
}
