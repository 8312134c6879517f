//! The Dezi JOSE parsing on arbitrary text: the userinfo JWE (decrypted with the fixture's
//! portal key), the signed envelope and revocation list (verified with the fixture's platform
//! keys), the verklaring's jku and the status answer. Never a panic; whatever decrypts and
//! verifies is the fixture's own envelope.
#![no_main]

use chrono::{TimeZone as _, Utc};
use libfuzzer_sys::fuzz_target;
use zvp_auth::dezi::{
    DecryptionKey, DeziSettings, JwkSet, open_userinfo, status_answer, validate_envelope,
    verify_revocation_list, verklaring_key_url,
};

const KEY: &[u8] = include_bytes!("../../fixtures/dezi/portal-key.pk8.pem");
const JWKS: &str = include_str!("../../fixtures/dezi/platform-jwks.json");
const ENVELOPE: &str = include_str!("../../fixtures/dezi/envelope.jws");

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let key = DecryptionKey::from_pkcs8_pem(KEY).expect("the fixture key");
    let keys: JwkSet = serde_json::from_str(JWKS).expect("the fixture keys");
    let mut settings = DeziSettings::new("https://dezi.example", "zvp-portal");
    settings.accept_signed_userinfo = true;
    settings.jku_allow_list = vec!["https://dezi.example/jwks.json".to_owned()];
    let now = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();

    if let Ok(envelope) = open_userinfo(text, Some(&key), &settings) {
        if validate_envelope(&envelope, &keys, &settings, now).is_ok() {
            assert_eq!(
                envelope,
                ENVELOPE.trim(),
                "an envelope the fixture key did not sign"
            );
        }
    }
    let _ = verklaring_key_url(text, &settings);
    let _ = verify_revocation_list(text, &keys, &settings);
    let _ = status_answer(200, data, "v-1");
});
