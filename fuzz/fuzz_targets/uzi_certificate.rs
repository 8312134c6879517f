//! Certificate bytes (DER, or PEM as in the real fixtures) through the UZI parser and the full
//! validator: never a panic, and the validator never accepts what the parser refuses.
#![no_main]

use std::sync::OnceLock;

use chrono::{DateTime, TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use zvp_auth::testpki::{KeyAlgorithm, TestPki};
use zvp_auth::uzi::{Environment, UziCertificate, UziValidator};

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2019, 1, 1, 0, 0, 0).unwrap()
}

fn validator() -> &'static UziValidator {
    static VALIDATOR: OnceLock<UziValidator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let pki = TestPki::generate(Environment::Test, KeyAlgorithm::EcdsaP256, at()).unwrap();
        pki.validator().unwrap().without_revocation_checking()
    })
}

fuzz_target!(|data: &[u8]| {
    let der = if data.starts_with(b"-----BEGIN") {
        match CertificateDer::from_pem_slice(data) {
            Ok(der) => der,
            Err(_) => return,
        }
    } else {
        CertificateDer::from(data.to_vec())
    };
    let parsed = UziCertificate::from_der(&der);
    if let Ok(cert) = &parsed {
        let _ = cert.subject_id();
    }
    let verdict = validator().validate(std::slice::from_ref(&der), at());
    if verdict.is_ok() {
        assert!(parsed.is_ok(), "validated a certificate the parser refuses");
    }
});
