//! Full UZI validation of a chain shaped like the real register's (RSA-4096 root, domain CA
//! and issuing CA; RSA-2048 card), side by side with
//!
//! - rustls-webpki verifying the same chain for client authentication (the peer: what a
//!   plain rustls client-auth server would do), and
//! - the three RSA signature verifications alone (the floor no validator can go below).
//!
//! Each is measured without and with a CRL (the CRL's signature is one more verification).
//! Run: `cargo bench -p zvp-benches --bench uzi_validation`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs,
    reason = "benchmark code"
)]

use std::hint::black_box;
use std::time::Duration as StdDuration;

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use chrono::{DateTime, Duration, TimeZone, Utc};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, TrustAnchor, UnixTime};
use webpki::{
    BorrowedCertRevocationList, CertRevocationList, EndEntityCert, KeyUsage, RevocationCheckDepth,
    RevocationOptionsBuilder, UnknownStatusPolicy,
};
use x509_cert::Certificate;
use x509_cert::der::{Decode, Encode};
use zvp_auth::testpki::{CardSpec, KeyAlgorithm, TestPki};
use zvp_auth::uzi::Environment;
use zvp_core::{CardType, RoleCode, UziNumber};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 8, 0, 0).unwrap()
}

struct Setup {
    card: CertificateDer<'static>,
    root: CertificateDer<'static>,
    intermediates: Vec<CertificateDer<'static>>,
    crl: CertificateRevocationListDer<'static>,
    pki: TestPki,
}

fn setup() -> Setup {
    let pki = TestPki::generate(Environment::Test, KeyAlgorithm::RsaLikeUzi, now()).unwrap();
    let spec = CardSpec::care_provider(
        UziNumber::new(900_000_001).unwrap(),
        RoleCode::GENERAL_PRACTITIONER,
        now(),
    );
    let card = pki.issue_card(&spec).unwrap().authentication;
    let crl = pki
        .crl(
            CardType::CareProvider,
            &[],
            now() - Duration::hours(1),
            now() + Duration::hours(47),
        )
        .unwrap();
    Setup {
        card: card.der.clone(),
        root: pki.root(),
        // The chain a portal builds: the card's issuing CA and the domain CA.
        intermediates: card.intermediates.clone(),
        crl,
        pki,
    }
}

/// The three (message, signature, signer's public key) triples of the chain.
fn signatures(s: &Setup) -> Vec<(Vec<u8>, Vec<u8>, Vec<u8>)> {
    let chain: Vec<Certificate> = std::iter::once(&s.card)
        .chain(&s.intermediates)
        .chain(std::iter::once(&s.root))
        .map(|der| Certificate::from_der(der).unwrap())
        .collect();
    chain
        .windows(2)
        .map(|pair| {
            let (subject, issuer) = (&pair[0], &pair[1]);
            let tbs = subject.tbs_certificate().to_der().unwrap();
            let signature = subject.signature().raw_bytes().to_vec();
            let key = issuer
                .tbs_certificate()
                .subject_public_key_info()
                .subject_public_key
                .raw_bytes()
                .to_vec();
            (tbs, signature, key)
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let s = setup();
    let time = UnixTime::since_unix_epoch(StdDuration::from_secs(now().timestamp() as u64));
    let anchors: Vec<TrustAnchor<'_>> = vec![webpki::anchor_from_trusted_cert(&s.root).unwrap()];
    let crl = CertRevocationList::Owned(
        BorrowedCertRevocationList::from_der(&s.crl)
            .unwrap()
            .to_owned()
            .unwrap(),
    );
    let crls = [&crl];

    let zvp = s.pki.validator().unwrap().without_revocation_checking();
    let zvp_crl = s
        .pki
        .validator()
        .unwrap()
        .with_crls([s.crl.clone()])
        .unwrap();
    let presented = [s.card.clone()];
    // The two validators see the same certificates: the card presented, the CAs configured.
    let intermediates = s.pki.intermediates();
    // The first validation verifies the whole path and keeps the card's issuing CA as an
    // anchor; every one after it is the next login of a card of that CA.
    assert!(zvp.validate(&presented, now()).is_ok());
    assert!(zvp_crl.validate(&presented, now()).is_ok());
    assert_eq!(zvp.learned_issuing_cas(), 1);
    // The whole path: a validator that has learned nothing yet, as at the first login of a
    // card of its CA (made afresh for every validation, outside the timing).
    let fresh = || s.pki.validator().unwrap().without_revocation_checking();

    let webpki_verify = |with_crl: bool| {
        let ee = EndEntityCert::try_from(&s.card).unwrap();
        let revocation = with_crl.then(|| {
            RevocationOptionsBuilder::new(&crls)
                .unwrap()
                .with_depth(RevocationCheckDepth::EndEntity)
                .with_status_policy(UnknownStatusPolicy::Deny)
                .build()
        });
        ee.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &anchors,
            &intermediates,
            time,
            KeyUsage::client_auth(),
            revocation,
            None,
        )
        .map(|_| ())
    };
    assert!(webpki_verify(false).is_ok());
    assert!(webpki_verify(true).is_ok());

    let triples = signatures(&s);
    assert_eq!(triples.len(), 3);
    for (message, signature, key) in &triples {
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key)
            .verify(message, signature)
            .unwrap();
    }

    let mut group = c.benchmark_group("uzi_validation");
    group.bench_function("zvp_full_validation", |b| {
        b.iter(|| zvp.validate(black_box(&presented), now()).unwrap())
    });
    group.bench_function("zvp_whole_path", |b| {
        b.iter_batched(
            fresh,
            |validator| validator.validate(black_box(&presented), now()).unwrap(),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("one_signature_floor", |b| {
        let (message, signature, key) = &triples[0];
        b.iter(|| {
            UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key)
                .verify(black_box(message), black_box(signature))
                .unwrap();
        })
    });
    group.bench_function("webpki_client_auth", |b| {
        b.iter(|| webpki_verify(black_box(false)).unwrap())
    });
    group.bench_function("three_signatures_floor", |b| {
        b.iter(|| {
            for (message, signature, key) in &triples {
                UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key)
                    .verify(black_box(message), black_box(signature))
                    .unwrap();
            }
        })
    });
    group.bench_function("zvp_full_validation_with_crl", |b| {
        b.iter(|| zvp_crl.validate(black_box(&presented), now()).unwrap())
    });
    group.bench_function("webpki_client_auth_with_crl", |b| {
        b.iter(|| webpki_verify(black_box(true)).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
