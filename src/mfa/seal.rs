//! TOTP secrets at rest: AES-256-GCM under a key the database does not hold (derived from
//! the token secret, or `mfa.encryption_key_file`), with the user id as associated data so a
//! sealed secret copied to another user's row does not open.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

const PREFIX: &str = "v1.";

pub struct Sealer {
    key: LessSafeKey,
}

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("mfa.encryption_key_file {path}: {why}")]
    KeyFile { path: String, why: String },
    #[error("the sealing key could not be made")]
    Key,
}

impl Sealer {
    /// A key from `key_file` (32 raw bytes or 64 hex characters) or derived from `secret`.
    pub fn new(secret: &[u8], key_file: Option<&std::path::Path>) -> Result<Sealer, SealError> {
        let key: Vec<u8> = match key_file {
            Some(path) => read_key(path)?,
            None => {
                // HMAC as the extract step of a KDF over a high-entropy secret: a key for
                // this one purpose, independent of the token-signing use of the secret.
                let mut mac =
                    <Hmac<Sha256> as Mac>::new_from_slice(secret).map_err(|_| SealError::Key)?;
                mac.update(b"portcullis mfa seal v1");
                mac.finalize().into_bytes().to_vec()
            }
        };
        let unbound = UnboundKey::new(&AES_256_GCM, &key).map_err(|_| SealError::Key)?;
        Ok(Sealer {
            key: LessSafeKey::new(unbound),
        })
    }

    pub fn seal(&self, user_id: i64, plain: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let mut buf = plain.to_vec();
        let aad = user_id.to_string();
        // Sealing with a valid key and a fresh nonce cannot fail.
        let _ = self.key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad.as_bytes()),
            &mut buf,
        );
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        format!(
            "{PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(out)
        )
    }

    /// `None` when the value was not sealed with this key for this user (or is damaged).
    pub fn open(&self, user_id: i64, sealed: &str) -> Option<Vec<u8>> {
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(sealed.strip_prefix(PREFIX)?)
            .ok()?;
        if raw.len() < NONCE_LEN {
            return None;
        }
        let (nonce, body) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut body = body.to_vec();
        let aad = user_id.to_string();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(aad.as_bytes()), &mut body)
            .ok()?;
        Some(plain.to_vec())
    }
}

fn read_key(path: &std::path::Path) -> Result<Vec<u8>, SealError> {
    let err = |why: String| SealError::KeyFile {
        path: path.display().to_string(),
        why,
    };
    let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    if bytes.len() == 32 {
        return Ok(bytes);
    }
    if let Some(key) = crate::auth::one_time::unhex32(String::from_utf8_lossy(&bytes).trim()) {
        return Ok(key.to_vec());
    }
    Err(err(
        "must hold 32 random bytes, raw or as 64 hex characters".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_only_for_the_same_user_and_key() {
        let s = Sealer::new(b"a secret of some length", None).unwrap();
        let sealed = s.seal(7, b"totp secret");
        assert!(!sealed.contains("totp"));
        assert_eq!(s.open(7, &sealed).as_deref(), Some(&b"totp secret"[..]));
        assert_eq!(s.open(8, &sealed), None, "another user's row");
        let other = Sealer::new(b"another secret", None).unwrap();
        assert_eq!(other.open(7, &sealed), None, "another key");
        assert_ne!(s.seal(7, b"x"), s.seal(7, b"x"), "fresh nonces");
        assert_eq!(s.open(7, "v1.AAAA"), None);
        assert_eq!(s.open(7, "garbage"), None);
    }

    #[test]
    fn a_key_file_holds_raw_or_hex_bytes() {
        let d = tempfile::tempdir().unwrap();
        let hex = d.path().join("k.hex");
        std::fs::write(&hex, format!("{}\n", "ab".repeat(32))).unwrap();
        let raw = d.path().join("k.raw");
        std::fs::write(&raw, [0xabu8; 32]).unwrap();
        let a = Sealer::new(b"", Some(&hex)).unwrap();
        let b = Sealer::new(b"", Some(&raw)).unwrap();
        assert_eq!(b.open(1, &a.seal(1, b"s")).as_deref(), Some(&b"s"[..]));
        let short = d.path().join("k.short");
        std::fs::write(&short, "abc").unwrap();
        assert!(Sealer::new(b"", Some(&short)).is_err());
    }
}
