//! Signed checkpoints: the log's size and root, in the C2SP tlog-checkpoint format, signed as
//! a C2SP signed note with Ed25519.
//!
//! A checkpoint reads
//!
//! ```text
//! <origin>
//! <tree size>
//! <base64 root hash>
//!
//! — <key name> <base64(key id ‖ signature)>
//! ```
//!
//! where the key id is the first four bytes of `SHA-256(key name ‖ "\n" ‖ 0x01 ‖ public key)`
//! and the Ed25519 signature covers the text above the blank line. Anyone with the verifier
//! key (`<name>+<hex key id>+<base64(0x01 ‖ public key)>`) can check it, with zvp or any
//! signed-note implementation.

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::merkle::Hash;

/// The signature algorithm byte of Ed25519 in signed notes.
const ED25519_ALGORITHM: u8 = 0x01;

/// The longest checkpoint text accepted, in bytes: a bound on what a verifier reads.
pub const MAX_CHECKPOINT_LEN: usize = 8 * 1024;

/// A tree head: the log's identity, size and root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line, e.g. `zvp.asz.nl/audit`.
    pub origin: String,
    /// The number of records.
    pub size: u64,
    /// The Merkle root over them.
    pub root: Hash,
}

/// Why a checkpoint or key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// Not in the signed-note shape (body, blank line, signature lines) or too long.
    #[error("malformed checkpoint: {0}")]
    Malformed(&'static str),
    /// No signature line by the expected key.
    #[error("no signature by key {0:?}")]
    NotSignedByKey(String),
    /// The signature by the expected key does not verify.
    #[error("the signature by key {0:?} does not verify")]
    BadSignature(String),
    /// A key could not be made or read.
    #[error("key: {0}")]
    Key(String),
}

/// The longest origin line accepted, in bytes.
pub const MAX_ORIGIN_LEN: usize = 256;

/// Checks that `origin` can be a checkpoint's origin line: not empty, at most
/// [`MAX_ORIGIN_LEN`] bytes, no control characters (a newline would end the line and make every
/// later reading of the note fail).
///
/// # Errors
///
/// [`CheckpointError::Malformed`].
pub fn check_origin(origin: &str) -> Result<(), CheckpointError> {
    if origin.is_empty() {
        return Err(CheckpointError::Malformed("the origin is empty"));
    }
    if origin.len() > MAX_ORIGIN_LEN {
        return Err(CheckpointError::Malformed("the origin is too long"));
    }
    if origin.chars().any(char::is_control) {
        return Err(CheckpointError::Malformed(
            "the origin holds a control character",
        ));
    }
    Ok(())
}

impl Checkpoint {
    /// The checkpoint's note text (origin, size, root), each line ending in a newline.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root)
        )
    }

    /// The checkpoint a signed note states, read without checking its signature (for a note
    /// this log stored itself, e.g. the last one, whose size and root a new one must extend).
    ///
    /// # Errors
    ///
    /// [`CheckpointError::Malformed`].
    pub fn of_note(note: &str) -> Result<Self, CheckpointError> {
        let (body, _) = note.split_once("\n\n").ok_or(CheckpointError::Malformed(
            "no blank line before the signatures",
        ))?;
        Self::parse_body(&format!("{body}\n"))
    }

    /// Parses a checkpoint body.
    ///
    /// # Errors
    ///
    /// [`CheckpointError::Malformed`].
    pub fn parse_body(body: &str) -> Result<Self, CheckpointError> {
        let malformed = CheckpointError::Malformed;
        let mut lines = body.split('\n');
        let origin = lines
            .next()
            .filter(|o| !o.is_empty())
            .ok_or(malformed("no origin"))?;
        let size = lines
            .next()
            .filter(|s| {
                !s.is_empty()
                    && s.bytes().all(|b| b.is_ascii_digit())
                    && (s.len() == 1 || !s.starts_with('0'))
            })
            .and_then(|s| s.parse().ok())
            .ok_or(malformed("tree size is not a decimal number"))?;
        let root = lines
            .next()
            .and_then(|r| STANDARD.decode(r).ok())
            .and_then(|r| Hash::try_from(r.as_slice()).ok())
            .ok_or(malformed("root is not a base64 SHA-256 hash"))?;
        if !body.ends_with('\n') {
            return Err(malformed("the body does not end in a newline"));
        }
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
        })
    }
}

/// The key that signs the log's checkpoints.
#[derive(Debug)]
pub struct CheckpointSigner {
    name: String,
    key: Ed25519KeyPair,
    verifier: CheckpointVerifier,
}

impl CheckpointSigner {
    /// A new key named `name`; returns it with its PKCS#8 document, to be stored safely.
    ///
    /// # Errors
    ///
    /// [`CheckpointError::Key`] for a name with spaces, `+` or newlines, or when key
    /// generation fails.
    pub fn generate(name: &str) -> Result<(Self, Vec<u8>), CheckpointError> {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|e| CheckpointError::Key(e.to_string()))?;
        let signer = Self::from_pkcs8(name, pkcs8.as_ref())?;
        Ok((signer, pkcs8.as_ref().to_vec()))
    }

    /// The key named `name` from its PKCS#8 document.
    ///
    /// # Errors
    ///
    /// [`CheckpointError::Key`] for a bad name or document.
    pub fn from_pkcs8(name: &str, pkcs8: &[u8]) -> Result<Self, CheckpointError> {
        let key =
            Ed25519KeyPair::from_pkcs8(pkcs8).map_err(|e| CheckpointError::Key(e.to_string()))?;
        let public: [u8; 32] = key
            .public_key()
            .as_ref()
            .try_into()
            .map_err(|_| CheckpointError::Key("unexpected public key length".to_owned()))?;
        let verifier = CheckpointVerifier::new(name, public)?;
        Ok(Self {
            name: name.to_owned(),
            key,
            verifier,
        })
    }

    /// The matching verifier.
    pub fn verifier(&self) -> &CheckpointVerifier {
        &self.verifier
    }

    /// The signed note of `checkpoint`.
    pub fn sign(&self, checkpoint: &Checkpoint) -> String {
        let body = checkpoint.body();
        let signature = self.key.sign(body.as_bytes());
        let mut blob = self.verifier.key_id.to_vec();
        blob.extend_from_slice(signature.as_ref());
        format!("{body}\n\u{2014} {} {}\n", self.name, STANDARD.encode(blob))
    }
}

/// Checks checkpoints signed by one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointVerifier {
    name: String,
    public: [u8; 32],
    key_id: [u8; 4],
}

impl CheckpointVerifier {
    /// A verifier for the Ed25519 public key `public` named `name`.
    ///
    /// # Errors
    ///
    /// [`CheckpointError::Key`] for a name that is empty or has spaces, `+` or newlines.
    pub fn new(name: &str, public: [u8; 32]) -> Result<Self, CheckpointError> {
        if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '+') {
            return Err(CheckpointError::Key(format!(
                "key name {name:?} has a space, '+' or nothing"
            )));
        }
        let mut material = name.as_bytes().to_vec();
        material.push(b'\n');
        material.push(ED25519_ALGORITHM);
        material.extend_from_slice(&public);
        let hash = digest(&SHA256, &material);
        let mut key_id = [0u8; 4];
        key_id.copy_from_slice(hash.as_ref().get(..4).unwrap_or(&[0; 4]));
        Ok(Self {
            name: name.to_owned(),
            public,
            key_id,
        })
    }

    /// Reads a verifier key `<name>+<hex key id>+<base64(0x01 ‖ public key)>`.
    ///
    /// # Errors
    ///
    /// [`CheckpointError::Key`] when it is not such a key or its id does not match.
    pub fn parse(vkey: &str) -> Result<Self, CheckpointError> {
        let bad = |why: &str| CheckpointError::Key(format!("verifier key: {why}"));
        let mut parts = vkey.splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("expected name+id+key"));
        };
        let key = STANDARD.decode(key).map_err(|_| bad("key is not base64"))?;
        let [algorithm, public @ ..] = key.as_slice() else {
            return Err(bad("empty key"));
        };
        if *algorithm != ED25519_ALGORITHM {
            return Err(bad("not an Ed25519 key"));
        }
        let public: [u8; 32] = public.try_into().map_err(|_| bad("not 32 bytes"))?;
        let verifier = Self::new(name, public)?;
        if id != hex::encode(verifier.key_id) {
            return Err(bad("the key id does not match the key"));
        }
        Ok(verifier)
    }

    /// The verifier key string.
    pub fn to_vkey(&self) -> String {
        let mut key = vec![ED25519_ALGORITHM];
        key.extend_from_slice(&self.public);
        format!(
            "{}+{}+{}",
            self.name,
            hex::encode(self.key_id),
            STANDARD.encode(key)
        )
    }

    /// Checks a signed checkpoint and returns it.
    ///
    /// # Errors
    ///
    /// [`CheckpointError::Malformed`], [`CheckpointError::NotSignedByKey`] or
    /// [`CheckpointError::BadSignature`].
    pub fn verify(&self, note: &str) -> Result<Checkpoint, CheckpointError> {
        let body = self.verify_note(note)?;
        Checkpoint::parse_body(&body)
    }

    /// Checks any signed note (not only a checkpoint) and returns its text.
    ///
    /// # Errors
    ///
    /// [`CheckpointError::Malformed`], [`CheckpointError::NotSignedByKey`] or
    /// [`CheckpointError::BadSignature`].
    pub fn verify_note(&self, note: &str) -> Result<String, CheckpointError> {
        if note.len() > MAX_CHECKPOINT_LEN {
            return Err(CheckpointError::Malformed("too long"));
        }
        let Some((body, signatures)) = note.split_once("\n\n") else {
            return Err(CheckpointError::Malformed(
                "no blank line before the signatures",
            ));
        };
        let body = format!("{body}\n");
        for line in signatures.lines() {
            let Some(rest) = line.strip_prefix("\u{2014} ") else {
                return Err(CheckpointError::Malformed(
                    "a signature line does not start with '— '",
                ));
            };
            let Some((name, blob)) = rest.split_once(' ') else {
                return Err(CheckpointError::Malformed(
                    "a signature line has no signature",
                ));
            };
            let Ok(blob) = STANDARD.decode(blob) else {
                return Err(CheckpointError::Malformed("a signature is not base64"));
            };
            let Some((id, signature)) = blob.split_first_chunk::<4>() else {
                return Err(CheckpointError::Malformed("a signature is too short"));
            };
            if name != self.name || *id != self.key_id {
                continue;
            }
            return UnparsedPublicKey::new(&ED25519, &self.public)
                .verify(body.as_bytes(), signature)
                .map(|()| body)
                .map_err(|_| CheckpointError::BadSignature(self.name.clone()));
        }
        Err(CheckpointError::NotSignedByKey(self.name.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkpoint() -> Checkpoint {
        Checkpoint {
            origin: "zvp.example/audit".to_owned(),
            size: 42,
            root: [7; 32],
        }
    }

    #[test]
    fn a_signed_checkpoint_verifies_and_reads_back() {
        let (signer, _) = CheckpointSigner::generate("zvp.example").unwrap();
        let note = signer.sign(&checkpoint());
        assert!(note.starts_with("zvp.example/audit\n42\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n\n\u{2014} zvp.example "));
        assert_eq!(signer.verifier().verify(&note), Ok(checkpoint()));
        let vkey = signer.verifier().to_vkey();
        assert_eq!(
            CheckpointVerifier::parse(&vkey).unwrap().verify(&note),
            Ok(checkpoint())
        );
    }

    /// The example of golang.org/x/mod/sumdb/note, an independent signed-note implementation.
    #[test]
    fn the_go_sumdb_note_example_verifies() {
        let vkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
        let text = "If you think cryptography is the answer to your problem,\n\
                    then you don't know what your problem is.\n";
        let note = format!(
            "{text}\n\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
        );
        let verifier = CheckpointVerifier::parse(vkey).unwrap();
        assert_eq!(verifier.to_vkey(), vkey);
        assert_eq!(verifier.verify_note(&note), Ok(text.to_owned()));
        let changed = note.replace("cryptography", "Cryptography");
        assert_eq!(
            verifier.verify_note(&changed),
            Err(CheckpointError::BadSignature("PeterNeumann".to_owned()))
        );
    }

    #[test]
    fn a_changed_checkpoint_fails() {
        let (signer, _) = CheckpointSigner::generate("zvp.example").unwrap();
        let note = signer.sign(&checkpoint()).replacen("\n42\n", "\n43\n", 1);
        assert_eq!(
            signer.verifier().verify(&note),
            Err(CheckpointError::BadSignature("zvp.example".to_owned()))
        );
    }

    #[test]
    fn another_key_is_not_enough() {
        let (signer, _) = CheckpointSigner::generate("zvp.example").unwrap();
        let (other, _) = CheckpointSigner::generate("zvp.example").unwrap();
        // Same name, other key: a different key id, so no signature by the expected key.
        assert_eq!(
            other.verifier().verify(&signer.sign(&checkpoint())),
            Err(CheckpointError::NotSignedByKey("zvp.example".to_owned()))
        );
    }

    #[test]
    fn the_stored_key_signs_the_same() {
        let (signer, pkcs8) = CheckpointSigner::generate("zvp.example").unwrap();
        let again = CheckpointSigner::from_pkcs8("zvp.example", &pkcs8).unwrap();
        assert_eq!(again.verifier(), signer.verifier());
        assert_eq!(
            signer.verifier().verify(&again.sign(&checkpoint())),
            Ok(checkpoint())
        );
    }

    #[test]
    fn malformed_notes_and_keys_are_refused() {
        let (signer, _) = CheckpointSigner::generate("zvp.example").unwrap();
        let v = signer.verifier();
        assert!(matches!(
            v.verify("zvp.example/audit\n42\n"),
            Err(CheckpointError::Malformed(_))
        ));
        assert_eq!(
            Checkpoint::parse_body(
                "zvp.example/audit\n042\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n"
            ),
            Err(CheckpointError::Malformed(
                "tree size is not a decimal number"
            ))
        );
        assert_eq!(
            v.verify("zvp.example/audit\n42\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n\n\u{2014} zvp.example AAAA\n"),
            Err(CheckpointError::Malformed("a signature is too short"))
        );
        assert!(matches!(
            v.verify(&"x".repeat(MAX_CHECKPOINT_LEN + 1)),
            Err(CheckpointError::Malformed("too long"))
        ));
        assert!(matches!(
            CheckpointVerifier::parse("name+00000000+AAAA"),
            Err(CheckpointError::Key(_))
        ));
        assert!(matches!(
            CheckpointSigner::generate("two words"),
            Err(CheckpointError::Key(_))
        ));
    }
}
