//! Sealed cookies: what the portal hands the browser to keep for it during a Dezi login, and
//! reads back unchanged or not at all.
//!
//! AES-256-GCM under a key derived from the portal's request key (so instances behind one
//! load balancer, which share that key, read each other's cookies), with a random nonce per
//! seal and the cookie's name as associated data: a cookie is only ever read as what it was
//! sealed as, and a sealed value carries its own end.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::auth::RandomSource as _;

/// The largest sealed cookie read: a cookie beyond it was not made by the portal.
const MAX_SEALED_CHARS: usize = 3000;

/// The key cookies are sealed with.
pub(crate) struct CookieKey(LessSafeKey);

impl std::fmt::Debug for CookieKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CookieKey")
    }
}

/// Sealing failed: the secure random source gave no nonce. Nothing is handed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a cookie could not be sealed: the secure random source failed")]
pub(crate) struct SealFailed;

/// A value with the moment after which it is no longer read.
#[derive(serde::Serialize, serde::Deserialize)]
struct Dated<T> {
    until: DateTime<Utc>,
    value: T,
}

impl CookieKey {
    /// The key derived from the portal's request key: HMAC-SHA256 of a fixed label, so the
    /// request key's other use (the account request's tokens) never meets this one.
    pub(crate) fn derive(request_key: &aws_lc_rs::hmac::Key) -> Self {
        let tag = aws_lc_rs::hmac::sign(request_key, b"zvp sealed cookie v1");
        let key = UnboundKey::new(&AES_256_GCM, tag.as_ref())
            .map(LessSafeKey::new)
            .unwrap_or_else(|_| unreachable_key());
        Self(key)
    }

    /// `value` sealed as the cookie `name`, readable until `until`.
    pub(crate) fn seal<T: Serialize>(
        &self,
        name: &str,
        value: &T,
        until: DateTime<Utc>,
    ) -> Result<String, SealFailed> {
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| SealFailed)?;
        let mut data = serde_json::to_vec(&Dated { until, value }).map_err(|_| SealFailed)?;
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(name.as_bytes()),
                &mut data,
            )
            .map_err(|_| SealFailed)?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&data);
        Ok(URL_SAFE_NO_PAD.encode(sealed))
    }

    /// The value of the cookie `name` if this key sealed it as that cookie and `now` is
    /// before its end; `None` for anything else.
    pub(crate) fn open<T: DeserializeOwned>(
        &self,
        name: &str,
        sealed: &str,
        now: DateTime<Utc>,
    ) -> Option<T> {
        if sealed.len() > MAX_SEALED_CHARS {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        let (nonce, data) = bytes.split_at_checked(NONCE_LEN)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut data = data.to_vec();
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(name.as_bytes()), &mut data)
            .ok()?;
        let dated: Dated<T> = serde_json::from_slice(plain).ok()?;
        (now < dated.until).then_some(dated.value)
    }
}

/// AES-256-GCM takes any 32-byte key, and an HMAC-SHA256 tag is 32 bytes: never reached.
#[cold]
fn unreachable_key() -> LessSafeKey {
    #[allow(clippy::unwrap_used, reason = "a 32-byte key is always an AES-256 key")]
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[0u8; 32]).unwrap())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use super::*;

    fn key(seed: &[u8]) -> CookieKey {
        CookieKey::derive(&aws_lc_rs::hmac::Key::new(
            aws_lc_rs::hmac::HMAC_SHA256,
            seed,
        ))
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_sealed_cookie_opens_only_as_itself_with_its_key_before_its_end() {
        let k = key(&[7; 32]);
        let until = at("2026-12-07T12:00:00Z");
        let sealed = k.seal("a", &"value".to_owned(), until).unwrap();
        let before = at("2026-12-07T11:59:59Z");
        assert_eq!(
            k.open::<String>("a", &sealed, before).as_deref(),
            Some("value")
        );
        assert_eq!(k.open::<String>("a", &sealed, until), None);
        assert_eq!(k.open::<String>("b", &sealed, before), None);
        assert_eq!(key(&[8; 32]).open::<String>("a", &sealed, before), None);
        // One changed character anywhere, and nothing opens.
        let mut bytes = sealed.into_bytes();
        if let Some(b) = bytes.get_mut(20) {
            *b = if *b == b'A' { b'B' } else { b'A' };
        }
        let tampered = String::from_utf8(bytes).unwrap();
        assert_eq!(k.open::<String>("a", &tampered, before), None);
        assert_eq!(k.open::<String>("a", "not base64!", before), None);
        assert_eq!(k.open::<String>("a", "", before), None);
    }
}
