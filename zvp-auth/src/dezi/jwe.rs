//! The userinfo JWE (compact, RFC 7516): `RSA-OAEP` key transport and `A256CBC-HS512`
//! content encryption (RFC 7518 §4.3 and §5.2.5), the only combination Dezi uses.
//!
//! The primitives are aws-lc-rs's (RSA-OAEP with SHA-1, AES-256-CBC with PKCS#7, HMAC-SHA-512
//! and a constant-time comparison); this module only composes them as RFC 7518 §5.2.2.2 says.
//! `docs/dezi.md` says why no JOSE crate does it. The integrity tag is checked before anything
//! is decrypted, so padding errors cannot be told apart from a forged tag.

use aws_lc_rs::cipher::{AES_256, DecryptionContext, PaddedBlockDecryptingKey, UnboundCipherKey};
use aws_lc_rs::iv::FixedLength;
use aws_lc_rs::rsa::{OAEP_SHA1_MGF1SHA1, OaepPrivateDecryptingKey, PrivateDecryptingKey};
use aws_lc_rs::{constant_time, hmac};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::jws::{self, MAX_TOKEN_BYTES};
use super::{DeziError, Token};

/// The smallest RSA decryption key accepted, in bits.
pub const MIN_DECRYPTION_KEY_BITS: usize = 2048;

/// The portal's private key for the userinfo JWE: the key of the certificate the hospital
/// registered with Dezi.
pub struct DecryptionKey {
    key: OaepPrivateDecryptingKey,
}

impl std::fmt::Debug for DecryptionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecryptionKey")
            .field("bits", &self.key.key_size_bits())
            .finish_non_exhaustive()
    }
}

/// Why a decryption key was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecryptionKeyError {
    /// Not an RSA private key in PKCS#8 DER.
    #[error("not an RSA private key in PKCS#8")]
    NotRsaPkcs8,
    /// The key is smaller than [`MIN_DECRYPTION_KEY_BITS`].
    #[error("an RSA key of {bits} bits, at least {MIN_DECRYPTION_KEY_BITS} are required")]
    TooSmall {
        /// Its size.
        bits: usize,
    },
}

impl DecryptionKey {
    /// Reads an RSA private key in PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    ///
    /// # Errors
    ///
    /// [`DecryptionKeyError`].
    pub fn from_pkcs8_pem(pem: &[u8]) -> Result<Self, DecryptionKeyError> {
        use rustls_pki_types::PrivatePkcs8KeyDer;
        use rustls_pki_types::pem::PemObject as _;
        let der =
            PrivatePkcs8KeyDer::from_pem_slice(pem).map_err(|_| DecryptionKeyError::NotRsaPkcs8)?;
        Self::from_pkcs8_der(der.secret_pkcs8_der())
    }

    /// Reads an RSA private key in PKCS#8 DER.
    ///
    /// # Errors
    ///
    /// [`DecryptionKeyError`].
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, DecryptionKeyError> {
        let key =
            PrivateDecryptingKey::from_pkcs8(der).map_err(|_| DecryptionKeyError::NotRsaPkcs8)?;
        let bits = key.key_size_bits();
        if bits < MIN_DECRYPTION_KEY_BITS {
            return Err(DecryptionKeyError::TooSmall { bits });
        }
        let key =
            OaepPrivateDecryptingKey::new(key).map_err(|_| DecryptionKeyError::NotRsaPkcs8)?;
        Ok(Self { key })
    }
}

fn malformed(detail: &str) -> DeziError {
    DeziError::Malformed {
        token: Token::Userinfo,
        detail: detail.to_owned(),
    }
}

fn b64(part: &str, what: &str) -> Result<Vec<u8>, DeziError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| malformed(&format!("the {what} is not base64url")))
}

/// Decrypts a compact JWE to the JWT it carries.
///
/// # Errors
///
/// `Malformed` (not five parts, bad base64, a `zip`), `AlgorithmNotAccepted` (anything but
/// `RSA-OAEP` with `A256CBC-HS512`), `CriticalHeader`, `JweContentType` (`cty` not `JWT`),
/// `NotForThisPortal` (the key transport does not open with this key, or the tag does not
/// verify: one error for both, RFC 7516 §11.5), `JweIntegrity` (the content does not
/// decrypt although the tag verified), `PlatformUnreachable` (no randomness).
pub fn decrypt(token: &str, key: &DecryptionKey) -> Result<String, DeziError> {
    let header = jws::read_header(token, Token::Userinfo)?;
    if token.len() > MAX_TOKEN_BYTES {
        return Err(malformed("longer than any Dezi token"));
    }
    let [protected, encrypted_key, iv, ciphertext, tag] = token
        .split('.')
        .collect::<Vec<_>>()
        .try_into()
        .map_err(|_| malformed("not a compact JWE (five parts)"))?;
    if header.alg != "RSA-OAEP" {
        return Err(DeziError::AlgorithmNotAccepted {
            token: Token::Userinfo,
            alg: header.alg,
        });
    }
    let enc = header.enc.unwrap_or_default();
    if enc != "A256CBC-HS512" {
        return Err(DeziError::AlgorithmNotAccepted {
            token: Token::Userinfo,
            alg: enc,
        });
    }
    if header.crit.is_some() {
        return Err(DeziError::CriticalHeader {
            token: Token::Userinfo,
        });
    }
    if header.zip.is_some() {
        return Err(malformed("compressed content is not accepted"));
    }
    if !header
        .cty
        .as_deref()
        .is_some_and(|c| c.eq_ignore_ascii_case("JWT"))
    {
        return Err(DeziError::JweContentType { cty: header.cty });
    }

    let encrypted_key = b64(encrypted_key, "encrypted key")?;
    let iv: [u8; 16] = b64(iv, "initialisation vector")?
        .try_into()
        .map_err(|_| malformed("the initialisation vector is not 16 bytes"))?;
    let mut ciphertext = b64(ciphertext, "ciphertext")?;
    let tag = b64(tag, "tag")?;

    // RFC 7516 §11.5: a key transport that does not open goes on with a random key, so it
    // fails at the tag like a changed ciphertext does, with the same error, and whether the
    // unwrap succeeded is no oracle.
    let mut random = [0u8; 64];
    aws_lc_rs::rand::fill(&mut random).map_err(|_| DeziError::PlatformUnreachable {
        detail: "no randomness for the userinfo decryption".to_owned(),
    })?;
    let mut unwrapped = vec![0u8; key.key.min_output_size()];
    let cek: &[u8] =
        match key
            .key
            .decrypt(&OAEP_SHA1_MGF1SHA1, &encrypted_key, &mut unwrapped, None)
        {
            Ok(cek) if cek.len() == 64 => cek,
            _ => &random,
        };
    let (mac_key, enc_key) = cek.split_at(32);

    // RFC 7518 §5.2.2.2: the tag is the first half of HMAC-SHA-512 over the AAD (the encoded
    // protected header), the IV, the ciphertext and the AAD's length in bits (64-bit BE).
    let aad = protected.as_bytes();
    let al = u64::try_from(aad.len())
        .ok()
        .and_then(|n| n.checked_mul(8))
        .ok_or_else(|| malformed("the header is too long"))?;
    let mut mac = hmac::Context::with_key(&hmac::Key::new(hmac::HMAC_SHA512, mac_key));
    mac.update(aad);
    mac.update(&iv);
    mac.update(&ciphertext);
    mac.update(&al.to_be_bytes());
    let full = mac.sign();
    let expected = full.as_ref().get(..32).ok_or(DeziError::JweIntegrity)?;
    constant_time::verify_slices_are_equal(expected, &tag)
        .map_err(|_| DeziError::NotForThisPortal)?;

    let cipher = UnboundCipherKey::new(&AES_256, enc_key)
        .and_then(PaddedBlockDecryptingKey::cbc_pkcs7)
        .map_err(|_| DeziError::JweIntegrity)?;
    let plain = cipher
        .decrypt(
            &mut ciphertext,
            DecryptionContext::Iv128(FixedLength::from(iv)),
        )
        .map_err(|_| DeziError::JweIntegrity)?;
    String::from_utf8(plain.to_vec()).map_err(|_| malformed("the content is not UTF-8"))
}
