//! Certificates below PKIoverheid's floors, for the validator's tests: the public half of a
//! weak key, or a SHA-1 label, written into an issued certificate, which the issuing CA then
//! signs again (see [`WeakKey`](super::WeakKey)).

use rcgen::{KeyPair, SigningKey as _};

use super::{TestPkiError, WeakKey};
use crate::uzi::floors::tlv;

/// sha1WithRSAEncryption with its NULL parameters.
const SHA1_WITH_RSA: &[u8] = &[
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05, 0x05, 0x00,
];
/// ecdsa-with-SHA1.
const ECDSA_WITH_SHA1: &[u8] = &[
    0x30, 0x09, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01,
];

/// `der` with `key` as its subject public key and/or a SHA-1 signature label, signed again
/// with `issuer`.
pub(super) fn resign(
    der: &[u8],
    key: Option<WeakKey>,
    sha1: bool,
    issuer: &KeyPair,
) -> Result<Vec<u8>, TestPkiError> {
    let malformed = || TestPkiError::Rcgen(rcgen::Error::CouldNotParseCertificate);
    let (_, certificate, _) = tlv(der).ok_or_else(malformed)?;
    let (_, tbs, rest) = tlv(certificate).ok_or_else(malformed)?;
    let (_, _, _) = tlv(rest).ok_or_else(malformed)?;
    let mut fields = elements(tbs).ok_or_else(malformed)?;
    // [0] version, serial, signature, issuer, validity, subject, subjectPublicKeyInfo, ...
    let first = usize::from(fields.first().is_some_and(|f| f.first() == Some(&0xa0)));
    let algorithm = if issuer.algorithm() == &rcgen::PKCS_RSA_SHA256 {
        SHA1_WITH_RSA
    } else {
        ECDSA_WITH_SHA1
    };
    let signature_field = first + 1;
    let key_field = first + 5;
    let outer_algorithm = if sha1 {
        if let Some(field) = fields.get_mut(signature_field) {
            *field = algorithm.to_vec();
        }
        algorithm.to_vec()
    } else {
        fields.get(signature_field).cloned().ok_or_else(malformed)?
    };
    if let Some(key) = key
        && let Some(field) = fields.get_mut(key_field)
    {
        *field = public_key(key);
    }
    let tbs = wrap(0x30, &fields.concat());
    let signature = issuer.sign(&tbs)?;
    let mut bits = vec![0x00];
    bits.extend(signature);
    Ok(wrap(
        0x30,
        &[tbs, outer_algorithm, wrap(0x03, &bits)].concat(),
    ))
}

/// The DER elements of a SEQUENCE's content, each whole.
fn elements(mut content: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    while !content.is_empty() {
        let (_, _, rest) = tlv(content)?;
        out.push(content.get(..content.len() - rest.len())?.to_vec());
        content = rest;
    }
    Some(out)
}

/// A DER element of `tag` around `content`.
fn wrap(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// The SubjectPublicKeyInfo of a weak key (a public half only; the values are fixed, since
/// nothing ever verifies with them).
fn public_key(key: WeakKey) -> Vec<u8> {
    match key {
        WeakKey::Rsa1024 => {
            // rsaEncryption, NULL.
            let algorithm = [
                0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05,
                0x00,
            ];
            let mut modulus = vec![0x00, 0xc3];
            modulus.extend(std::iter::repeat_n(0x5a, 126));
            modulus.push(0x01);
            let exponent = wrap(0x02, &[0x01, 0x00, 0x01]);
            let rsa = wrap(0x30, &[wrap(0x02, &modulus), exponent].concat());
            let bits = [&[0x00][..], &rsa].concat();
            wrap(0x30, &[&algorithm[..], &wrap(0x03, &bits)].concat())
        }
        WeakKey::EcP192 => {
            // id-ecPublicKey, prime192v1.
            let algorithm = [
                0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
                0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x01,
            ];
            let mut point = vec![0x00, 0x04];
            point.extend(std::iter::repeat_n(0x11, 48));
            wrap(0x30, &[&algorithm[..], &wrap(0x03, &point)].concat())
        }
    }
}
