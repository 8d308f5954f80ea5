//! One-time tokens (password reset, email confirmation): 256 random bits for the link, only a
//! SHA-256 hash in the store, each bound to a purpose.

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    PasswordReset,
    EmailConfirmation,
    MagicLink,
    /// A new address for an account, confirmed by its holder.
    EmailChange,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::PasswordReset => "password_reset",
            Purpose::EmailConfirmation => "email_confirmation",
            Purpose::MagicLink => "magic_link",
            Purpose::EmailChange => "email_change",
        }
    }
}

/// A fresh token for a link, and the hash to store.
pub fn generate() -> (String, String) {
    let mut raw = [0u8; 32];
    rand::rng().fill_bytes(&mut raw);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    let hash = hash(&token);
    (token, hash)
}

/// Issues a token for `user_id` and `purpose` valid for `ttl` (voiding older ones); returns the
/// token for the link.
pub async fn issue(
    store: &dyn crate::store::Store,
    user_id: i64,
    purpose: Purpose,
    ttl: std::time::Duration,
) -> crate::store::StoreResult<String> {
    let (token, hash) = generate();
    let now = crate::store::now();
    store
        .issue_one_time_token(
            user_id,
            purpose.as_str(),
            &hash,
            now,
            now + ttl.as_secs() as i64,
        )
        .await?;
    Ok(token)
}

/// 32 bytes written as 64 hex digits (as [`hash`] writes a digest, or a key file holds a
/// key); `None` for anything else.
pub fn unhex32(h: &str) -> Option<[u8; 32]> {
    if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&h[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// What the store keeps: a leaked table cannot be turned back into working links.
pub fn hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_stored_hashed() {
        let (a, ha) = generate();
        let (b, _) = generate();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43, "256 bits in base64url");
        assert_eq!(ha, hash(&a));
        assert_eq!(ha.len(), 64);
        assert!(!ha.contains(&a));
    }
}
