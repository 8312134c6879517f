//! Dezi login in the demo: the Dezi stand-in of the tests (`peers/dezi-provider.mjs`, panva's
//! oidc-provider and jose) started beside the portal, with the demo's practitioners as its
//! persons, and `[dezi]` pointing at it. It needs Node.js and `npm ci` in `peers/`, run from
//! the repository; without them the demo runs without Dezi and says so.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rsa::{KeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::json;
use zvp_core::RoleCode;
use zvp_portal::config::DeziConfig;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// One of the demo's Dezi persons: the login on the stand-in's page, the UZI number of the
/// account the Dezi number is linked to (none: not linked), the Dezi number, initials,
/// prefix, surname and role.
type Person = (
    &'static str,
    Option<u32>,
    &'static str,
    &'static str,
    Option<&'static str>,
    &'static str,
    RoleCode,
);

/// The demo's Dezi persons.
pub(crate) const PERSONS: [Person; 5] = [
    (
        "huisarts",
        Some(900_000_001),
        "900100001",
        "J.",
        Some("de"),
        "Vries",
        RoleCode::GENERAL_PRACTITIONER,
    ),
    (
        "apotheekhoudend-huisarts",
        Some(900_000_002),
        "900100002",
        "F.",
        None,
        "Yılmaz",
        RoleCode::DISPENSING_GENERAL_PRACTITIONER,
    ),
    (
        "specialist-ouderengeneeskunde",
        Some(900_000_003),
        "900100003",
        "A.",
        None,
        "Jansen",
        RoleCode::ELDERLY_CARE_PHYSICIAN,
    ),
    (
        "nog-niet-gekoppeld",
        None,
        "900100010",
        "N.",
        None,
        "Hendriks",
        RoleCode::GENERAL_PRACTITIONER,
    ),
    (
        "aios",
        None,
        "900100005",
        "L.",
        None,
        "Smit",
        RoleCode::PHYSICIAN,
    ),
];

/// The role's name as the Dezi register gives it.
fn role_name(role: RoleCode) -> &'static str {
    match role {
        RoleCode::GENERAL_PRACTITIONER => "huisarts",
        RoleCode::DISPENSING_GENERAL_PRACTITIONER => "apotheekhoudend huisarts",
        RoleCode::ELDERLY_CARE_PHYSICIAN => "specialist ouderengeneeskunde",
        _ => "arts",
    }
}

/// Links the demo persons' Dezi numbers to their accounts, once (a second run finds them
/// linked).
pub(crate) async fn link(
    directory: &dyn zvp_auth::directory::DirectoryStore,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), Error> {
    for (_, uzi, number, ..) in PERSONS {
        let Some(uzi) = uzi else { continue };
        let number: zvp_auth::dezi::DeziNumber = number.parse()?;
        if directory.dezi_account(&number).await?.is_none() {
            directory
                .link_dezi(
                    zvp_core::UziNumber::new(uzi).ok_or("a demo UZI number")?,
                    &number,
                    now,
                )
                .await?;
        }
    }
    Ok(())
}

/// The running stand-in; stopped when dropped.
pub(crate) struct Standin {
    child: Child,
    /// Its issuer URL.
    pub(crate) issuer: String,
}

impl Drop for Standin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where the stand-in is, when the demo runs from the repository with `npm ci` done in
/// `peers/` and Node.js on the path.
fn script() -> Option<PathBuf> {
    let peers = std::env::current_dir().ok()?.join("peers");
    let usable = peers.join("node_modules/oidc-provider").is_dir()
        && Command::new("node")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    usable.then(|| peers.join("dezi-provider.mjs"))
}

/// The portal's userinfo key (made once, PKCS#8 PEM) and its public half as a JWKS, for the
/// stand-in to encrypt to.
fn userinfo_key(dir: &Path) -> Result<PathBuf, Error> {
    let key_path = dir.join("userinfo.key.pem");
    let jwks_path = dir.join("portal-jwks.json");
    if key_path.exists() && jwks_path.exists() {
        return Ok(key_path);
    }
    let key = KeyPair::generate(KeySize::Rsa2048).map_err(|e| e.to_string())?;
    let der = key.as_der().map_err(|e| e.to_string())?;
    let body = STANDARD.encode(der.as_ref());
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .filter_map(|c| std::str::from_utf8(c).ok())
        .collect();
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    );
    zvp_portal::write_private_key(&key_path, pem.as_bytes())?;
    let public = PublicKeyComponents::<Vec<u8>>::from(key.public_key());
    let jwks = json!({"keys": [{"kty": "RSA", "use": "enc", "alg": "RSA-OAEP", "kid": "zvp-demo",
        "n": URL_SAFE_NO_PAD.encode(&public.n), "e": URL_SAFE_NO_PAD.encode(&public.e)}]});
    std::fs::write(&jwks_path, jwks.to_string())?;
    Ok(key_path)
}

/// Starts the stand-in for a portal at `https://localhost:{port}`: `None` (and the demo
/// without Dezi) when the stand-in cannot run here.
pub(crate) fn start(
    dir: &Path,
    pki: &Path,
    port: u16,
) -> Result<Option<(Standin, DeziConfig)>, Error> {
    let Some(script) = script() else {
        return Ok(None);
    };
    let dezi_dir = dir.join("dezi");
    std::fs::create_dir_all(&dezi_dir)?;
    let key = userinfo_key(&dezi_dir)?;
    let persons: serde_json::Map<String, serde_json::Value> = PERSONS
        .iter()
        .map(|(login, _, number, initials, prefix, surname, role)| {
            (
                (*login).to_owned(),
                json!({"dezi_nummer": number, "voorletters": initials, "voorvoegsel": prefix,
                       "achternaam": surname, "abonnee_nummer": "90000123",
                       "abonnee_naam": "Huisartsenpraktijk De Linde", "rol_code": role.to_string(),
                       "rol_naam": role_name(*role)}),
            )
        })
        .collect();
    let redirect = format!("https://localhost:{port}/dezi/callback");
    let settings = json!({
        "certificate": pki.join("dezi-server.pem"),
        "key": pki.join("dezi-server.key.pem"),
        "ca": pki.join("tls-root.pem"),
        "client_id": "zvp-demo",
        "acceptance_client_id": "zvp-demo-acceptatie",
        "redirect_uris": [redirect],
        "portal_jwks": dezi_dir.join("portal-jwks.json"),
        "persons": persons,
    });
    let settings_path = dezi_dir.join("standin.json");
    std::fs::write(&settings_path, settings.to_string())?;
    let mut child = Command::new("node")
        .arg(&script)
        .arg(&settings_path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let Some(stdout) = child.stdout.take() else {
        let _ = child.kill();
        return Err("the Dezi stand-in has no output".into());
    };
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    let mut standin = Standin {
        child,
        issuer: String::new(),
    };
    let ready: serde_json::Value = serde_json::from_str(&line)
        .map_err(|e| format!("the Dezi stand-in did not start: {e}: {line:?}"))?;
    let field = |name: &str| ready.get(name).and_then(serde_json::Value::as_str);
    let (Some(issuer), Some(jku)) = (field("issuer"), field("jku")) else {
        return Err(format!("the Dezi stand-in did not start: {line:?}").into());
    };
    standin.issuer = issuer.to_owned();
    let config: DeziConfig = serde_json::from_value(json!({
        "issuer": issuer,
        "client_id": "zvp-demo",
        "redirect_uri": redirect,
        "decryption_key": key,
        "ca_file": pki.join("tls-root.pem"),
        "jku_allow_list": [jku],
        "verklaring_issuers": ["https://abonnee.dezi.nl"],
    }))?;
    Ok(Some((standin, config)))
}
