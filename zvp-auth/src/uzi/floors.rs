//! Key and algorithm floors (PKIoverheid's minimums): RSA keys of at least 2048 bits, EC keys
//! on P-256, P-384 or P-521, and no SHA-1 signatures, for the card and every CA on its path.
//!
//! rustls-webpki already refuses SHA-1 and small keys for the keys that *verify* a signature
//! (the CAs'); the card's own key verifies nothing during path building, so without this
//! check a card with an RSA-1024 key was accepted.

use x509_cert::der::Decode as _;
use x509_cert::der::asn1::ObjectIdentifier;
use x509_cert::spki::SubjectPublicKeyInfoOwned;

use super::UziError;

/// The smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// P-256, P-384 and P-521.
const CURVES: [ObjectIdentifier; 3] = [
    ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7"),
    ObjectIdentifier::new_unwrap("1.3.132.0.34"),
    ObjectIdentifier::new_unwrap("1.3.132.0.35"),
];
/// sha1WithRSAEncryption, ecdsa-with-SHA1, dsa-with-sha1, and the old OIW sha1WithRSA.
const SHA1_SIGNATURES: [ObjectIdentifier; 4] = [
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.5"),
    ObjectIdentifier::new_unwrap("1.2.840.10045.4.1"),
    ObjectIdentifier::new_unwrap("1.2.840.10040.4.3"),
    ObjectIdentifier::new_unwrap("1.3.14.3.2.29"),
];

/// Whether the certificate `der` meets the floors: its signature algorithm, then its key.
pub(super) fn check(der: &[u8]) -> Result<(), UziError> {
    let cert = x509_cert::Certificate::from_der(der)
        .map_err(|e| UziError::MalformedCertificate(e.to_string()))?;
    if SHA1_SIGNATURES.contains(&cert.signature_algorithm().oid) {
        return Err(UziError::Sha1Signature);
    }
    check_key(cert.tbs_certificate().subject_public_key_info())
}

/// Whether any of `ders` is signed with SHA-1 (to name the cause when path building refused
/// an algorithm).
pub(super) fn any_sha1_signed<'a>(ders: impl IntoIterator<Item = &'a [u8]>) -> bool {
    ders.into_iter().any(|der| {
        x509_cert::Certificate::from_der(der)
            .is_ok_and(|c| SHA1_SIGNATURES.contains(&c.signature_algorithm().oid))
    })
}

fn check_key(spki: &SubjectPublicKeyInfoOwned) -> Result<(), UziError> {
    let algorithm = spki.algorithm.oid;
    if algorithm == RSA_ENCRYPTION {
        let bits = rsa_modulus_bits(spki.subject_public_key.raw_bytes()).ok_or_else(|| {
            UziError::MalformedCertificate("the RSA public key does not parse".to_owned())
        })?;
        return if bits < MIN_RSA_BITS {
            Err(UziError::RsaKeyTooSmall {
                bits,
                min: MIN_RSA_BITS,
            })
        } else {
            Ok(())
        };
    }
    if algorithm == EC_PUBLIC_KEY {
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
        return match curve {
            Some(curve) if CURVES.contains(&curve) => Ok(()),
            Some(curve) => Err(UziError::EcCurveNotAccepted {
                curve: curve.to_string(),
            }),
            // Explicit or implicit curve parameters: never a named curve PKIoverheid allows.
            None => Err(UziError::EcCurveNotAccepted {
                curve: "not a named curve".to_owned(),
            }),
        };
    }
    Err(UziError::KeyAlgorithmNotAccepted {
        algorithm: algorithm.to_string(),
    })
}

/// The size in bits of the modulus of a PKCS#1 `RSAPublicKey`.
fn rsa_modulus_bits(key: &[u8]) -> Option<usize> {
    let (0x30, sequence, _) = tlv(key)? else {
        return None;
    };
    let (0x02, modulus, _) = tlv(sequence)? else {
        return None;
    };
    let start = modulus.iter().position(|b| *b != 0)?;
    let significant = modulus.get(start..)?;
    let first = significant.first()?;
    Some((significant.len() - 1) * 8 + (8 - first.leading_zeros() as usize))
}

/// One DER element: its tag, its content and what follows it.
pub(crate) fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (length, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return None;
        }
        let (bytes, rest) = rest.split_at_checked(count)?;
        let length = bytes.iter().fold(0usize, |n, b| (n << 8) | usize::from(*b));
        (length, rest)
    };
    let (content, rest) = rest.split_at_checked(length)?;
    Some((tag, content, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modulus_sizes_are_counted_in_significant_bits() {
        let key = |modulus: &[u8]| {
            let mut int = vec![0x02, u8::try_from(modulus.len()).unwrap()];
            int.extend_from_slice(modulus);
            int.extend_from_slice(&[0x02, 0x03, 0x01, 0x00, 0x01]);
            let mut seq = vec![0x30, u8::try_from(int.len()).unwrap()];
            seq.extend(int);
            seq
        };
        assert_eq!(rsa_modulus_bits(&key(&[0x00, 0x80, 0x01])), Some(16));
        assert_eq!(rsa_modulus_bits(&key(&[0x01, 0x00])), Some(9));
        assert_eq!(rsa_modulus_bits(&key(&[0x00])), None);
        assert_eq!(rsa_modulus_bits(&[0x30, 0x05, 0x02]), None);
    }
}
