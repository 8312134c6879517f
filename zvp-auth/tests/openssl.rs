//! Cards made by another implementation: OpenSSL builds a UZI-shaped hierarchy with the
//! signature algorithms the validator must accept (RSA-PSS with SHA-256/384/512, RSA PKCS#1
//! v1.5, ECDSA P-256/P-384), and zvp validates them.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation should panic"
)]

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, Utc};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use zvp_auth::uzi::{Environment, UziValidator};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is installed by scripts/test");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// How a hierarchy's keys and signatures are made.
struct Algorithm {
    name: &'static str,
    /// How `req` makes a key.
    key: &'static [&'static str],
    /// Signing options for root, issuing CA and card (digest and padding).
    sign: [&'static [&'static str]; 3],
}

const EXTENSIONS: &str = r#"
[req]
distinguished_name = dn

[dn]

[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[issuing]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
extendedKeyUsage = clientAuth, emailProtection
certificatePolicies = 2.16.528.1.1007.99.211
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[card]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth, emailProtection, 1.3.6.1.4.1.311.10.3.12
certificatePolicies = 2.16.528.1.1007.99.211
subjectAltName = otherName:1.3.6.1.4.1.311.20.2.3;UTF8:900000001@90000382, otherName:2.5.5.5;IA5STRING:2.16.528.1.1007.99.217-1-900000001-Z-90000382-01.015-01012345
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"#;

/// Builds root → issuing CA → card with OpenSSL; returns the directory.
fn build(algorithm: &Algorithm) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("openssl-{}", algorithm.name));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("ext.cnf"), EXTENSIONS).unwrap();
    let [root_sign, ca_sign, card_sign] = algorithm.sign;
    let args = |base: &[&'static str], sign: &[&'static str]| -> Vec<&'static str> {
        base.iter().chain(sign).copied().collect()
    };
    openssl(
        &dir,
        &args(
            &[
                "req",
                "-x509",
                "-nodes",
                "-keyout",
                "root.key",
                "-out",
                "root.pem",
                "-days",
                "3650",
                "-subj",
                "/C=NL/O=zvp openssl/CN=zvp openssl Root",
                "-config",
                "ext.cnf",
                "-extensions",
                "ca",
            ],
            &[algorithm.key, root_sign].concat(),
        ),
    );
    for (name, subject, ext, issuer, sign) in [
        (
            "issuing",
            "/C=NL/O=zvp openssl/CN=TEST UZI-register Zorgverlener CA G3",
            "issuing",
            "root",
            ca_sign,
        ),
        (
            "card",
            "/C=NL/O=Huisartsenpraktijk De Linde/title=Huisarts/SN=de Vries/GN=Jan/CN=Jan de Vries/serialNumber=900000001",
            "card",
            "issuing",
            card_sign,
        ),
    ] {
        let key = format!("{name}.key");
        let csr = format!("{name}.csr");
        let pem = format!("{name}.pem");
        let ca = format!("{issuer}.pem");
        let ca_key = format!("{issuer}.key");
        let mut req: Vec<&str> = vec![
            "req", "-new", "-nodes", "-keyout", &key, "-out", &csr, "-subj", subject, "-config",
            "ext.cnf",
        ];
        req.extend_from_slice(algorithm.key);
        openssl(&dir, &req);
        let mut sign_args: Vec<&str> = vec![
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-out",
            &pem,
            "-days",
            "1000",
            "-extfile",
            "ext.cnf",
            "-extensions",
            ext,
        ];
        sign_args.extend_from_slice(sign);
        openssl(&dir, &sign_args);
    }
    dir
}

fn load(dir: &Path, name: &str) -> CertificateDer<'static> {
    CertificateDer::from_pem_file(dir.join(name)).unwrap()
}

fn validate(algorithm: &Algorithm) {
    let dir = build(algorithm);
    let validator = UziValidator::new(Environment::Test, [load(&dir, "root.pem")])
        .unwrap()
        .with_intermediates([load(&dir, "issuing.pem")])
        .unwrap()
        .without_revocation_checking();
    let now: DateTime<Utc> = std::time::SystemTime::now().into();
    let identity = validator
        .validate(&[load(&dir, "card.pem")], now)
        .unwrap_or_else(|e| panic!("{}: {e:?}", algorithm.name));
    assert_eq!(identity.uzi_number().to_string(), "900000001");
    assert_eq!(identity.role().to_string(), "01.015");
    assert_eq!(identity.title(), Some("Huisarts"));
    assert_eq!(identity.surname(), Some("de Vries"));
}

#[test]
fn rsa_pss_with_sha256_sha384_and_sha512() {
    validate(&Algorithm {
        name: "rsa-pss",
        key: &["-newkey", "rsa:2048"],
        sign: [
            &[
                "-sha256",
                "-sigopt",
                "rsa_padding_mode:pss",
                "-sigopt",
                "rsa_pss_saltlen:digest",
            ],
            &[
                "-sha384",
                "-sigopt",
                "rsa_padding_mode:pss",
                "-sigopt",
                "rsa_pss_saltlen:digest",
            ],
            &[
                "-sha512",
                "-sigopt",
                "rsa_padding_mode:pss",
                "-sigopt",
                "rsa_pss_saltlen:digest",
            ],
        ],
    });
}

#[test]
fn rsa_pkcs1_with_sha256_sha384_and_sha512() {
    validate(&Algorithm {
        name: "rsa-pkcs1",
        key: &["-newkey", "rsa:2048"],
        sign: [&["-sha256"], &["-sha384"], &["-sha512"]],
    });
}

#[test]
fn ecdsa_p256_and_p384() {
    validate(&Algorithm {
        name: "ecdsa-p256",
        key: &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
        sign: [&["-sha256"], &["-sha256"], &["-sha256"]],
    });
    validate(&Algorithm {
        name: "ecdsa-p384",
        key: &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"],
        sign: [&["-sha384"], &["-sha384"], &["-sha384"]],
    });
}
