//! API keys: `pck_<8-character prefix>_<secret>`, the secret 32 random bytes in base62. The
//! store keeps the prefix (to find the key) and the secret's SHA-256 (a high-entropy secret
//! needs no slow hash); a key is checked from memory like a session, compared in constant
//! time. Revocations reach every instance by polling the store (see `tasks.rs`).

use http::HeaderValue;
use rand::Rng;
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

pub const MARK: &str = "pck_";
const PREFIX_LEN: usize = 8;
const SECRET_LEN: usize = 43; // 32 bytes in base62
const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn base62(n: usize) -> String {
    let mut rng = rand::rng();
    (0..n)
        .map(|_| BASE62[rng.random_range(0..BASE62.len())] as char)
        .collect()
}

/// A new key: (the whole key, shown once; its prefix; the hash to store).
pub fn generate() -> (String, String, String) {
    let prefix = base62(PREFIX_LEN);
    let secret = base62(SECRET_LEN);
    let hash = hash(&secret);
    (format!("{MARK}{prefix}_{secret}"), prefix, hash)
}

/// Whether a credential is shaped as one of our keys at all (the rest of it may be wrong).
pub fn looks_like_key(token: &str) -> bool {
    token.starts_with(MARK)
}

/// `(prefix, secret)` of a well-formed key.
pub fn parse(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix(MARK)?;
    let (prefix, secret) = rest.split_at_checked(PREFIX_LEN)?;
    let secret = secret.strip_prefix('_')?;
    let ok = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric());
    (ok(prefix) && secret.len() == SECRET_LEN && ok(secret)).then_some((prefix, secret))
}

pub fn hash(secret: &str) -> String {
    super::one_time::hash(secret)
}

/// The SHA-256 of a secret, as compared on every request (no hex on the request path).
pub fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Equal, in time that does not depend on where they differ.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What a key lets its holder do, as the proxy forwards it.
#[derive(Debug)]
pub struct KeyGrant {
    pub id: String,
    /// The id as a UUID: what the key's tunnels are held under (a session's id for a
    /// session), so that revoking the key closes them, and its rate limit's key.
    pub holder: uuid::Uuid,
    pub scopes: Vec<String>,
    pub id_header: HeaderValue,
    pub scopes_header: HeaderValue,
}

impl KeyGrant {
    pub fn new(id: &str, scopes: Vec<String>) -> KeyGrant {
        let joined = scopes.join(" ");
        KeyGrant {
            id_header: HeaderValue::from_str(id).unwrap_or(HeaderValue::from_static("")),
            scopes_header: HeaderValue::from_str(&joined).unwrap_or(HeaderValue::from_static("")),
            id: id.to_string(),
            // Key ids are v4 UUIDs (`accounts::api_keys`); a damaged one holds nothing.
            holder: uuid::Uuid::parse_str(id).unwrap_or_else(|_| uuid::Uuid::new_v4()),
            scopes,
        }
    }

    pub fn holds(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// A key as the cache holds it.
#[derive(Debug)]
pub struct KeyEntry {
    pub user_id: i64,
    /// `None` when the stored hash is damaged: nothing matches it.
    pub digest: Option<[u8; 32]>,
    pub expires_at: Option<i64>,
    pub revoked: bool,
    pub grant: Arc<KeyGrant>,
    /// When its use was last noted for `lastUsedAt` (seconds), so a busy key costs one note
    /// a minute.
    pub noted_at: AtomicI64,
}

impl KeyEntry {
    pub fn from_row(r: &crate::store::ApiKeyRow) -> KeyEntry {
        KeyEntry {
            user_id: r.user_id,
            // `None` for a damaged row: no key matches it.
            digest: super::one_time::unhex32(&r.secret_hash),
            expires_at: r.expires_at,
            revoked: r.revoked_at.is_some(),
            grant: Arc::new(KeyGrant::new(&r.id, scopes(&r.scopes))),
            noted_at: AtomicI64::new(r.last_used_at.unwrap_or(0)),
        }
    }

    /// Whether this use should be written as `lastUsedAt` (at most once a minute).
    pub fn note_use(&self, now: i64) -> bool {
        let last = self.noted_at.load(Ordering::Relaxed);
        now - last >= 60
            && self
                .noted_at
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}

pub fn scopes(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

/// Keys by prefix, and the uses waiting to be written.
#[derive(Default)]
pub struct KeyCache {
    keys: scc::HashMap<String, Arc<KeyEntry>>,
    used: scc::HashMap<String, i64>,
    /// Prefixes the store had no key for, until when (seconds): a flood of made-up keys
    /// costs one store read per prefix a minute, not one per request. Bounded by
    /// [`ABSENT_MAX`]; past it, lookups go to the store again. A prefix is 47 random bits, so
    /// a key created elsewhere meanwhile is never one of them in practice (and one created
    /// here clears its prefix).
    absent: scc::HashMap<String, i64>,
    absent_count: std::sync::atomic::AtomicUsize,
}

/// How many unknown prefixes are remembered at most (about 100 bytes each).
pub const ABSENT_MAX: usize = 65_536;
/// How long an unknown prefix is remembered (seconds).
pub const ABSENT_FOR: i64 = 60;

impl KeyCache {
    /// Whether the store had no key with this prefix a moment ago.
    pub fn known_absent(&self, prefix: &str, now: i64) -> bool {
        self.absent
            .read_sync(prefix, |_, until| *until > now)
            .unwrap_or(false)
    }

    /// Remembers that the store has no key with this prefix (unless the record is full).
    pub fn note_absent(&self, prefix: &str, now: i64) {
        if self.absent_count.load(Ordering::Relaxed) >= ABSENT_MAX {
            return;
        }
        if self
            .absent
            .insert_sync(prefix.to_string(), now + ABSENT_FOR)
            .is_ok()
        {
            self.absent_count.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Forgets unknown prefixes whose time is up (the upkeep's sweep).
    pub fn sweep_absent(&self, now: i64) {
        let mut gone = 0;
        self.absent.retain_sync(|_, until| {
            let keep = *until > now;
            gone += usize::from(!keep);
            keep
        });
        self.absent_count.fetch_sub(gone, Ordering::Relaxed);
    }

    pub fn get(&self, prefix: &str) -> Option<Arc<KeyEntry>> {
        self.keys.read_sync(prefix, |_, e| e.clone())
    }

    pub fn put(&self, prefix: &str, e: Arc<KeyEntry>) {
        let _ = self.keys.upsert_sync(prefix.to_string(), e);
    }

    /// A key was just created with this prefix: it is no longer unknown.
    pub fn created(&self, prefix: &str) {
        if self.absent.remove_sync(prefix).is_some() {
            self.absent_count.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Forgets a key (revoked, here or elsewhere): the next use reads the store.
    pub fn evict(&self, prefix: &str) {
        let _ = self.keys.remove_sync(prefix);
    }

    pub fn used(&self, id: &str, now: i64) {
        let _ = self.used.upsert_sync(id.to_string(), now);
    }

    /// The uses noted since the last call.
    pub fn take_used(&self) -> Vec<(String, i64)> {
        let mut out = Vec::new();
        self.used.retain_sync(|k, v| {
            out.push((k.clone(), *v));
            false
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_prefixes_are_remembered_for_a_while_within_a_bound() {
        let c = KeyCache::default();
        assert!(!c.known_absent("aaaaaaaa", 100));
        c.note_absent("aaaaaaaa", 100);
        assert!(c.known_absent("aaaaaaaa", 100 + ABSENT_FOR - 1));
        assert!(
            !c.known_absent("aaaaaaaa", 100 + ABSENT_FOR),
            "only for a while"
        );
        // A key created here with that prefix is not refused.
        c.created("aaaaaaaa");
        assert!(!c.known_absent("aaaaaaaa", 101));
        // Bounded: past the limit nothing more is remembered; the sweep makes room again.
        for i in 0..ABSENT_MAX + 10 {
            c.note_absent(&format!("{i:08}"), 100);
        }
        assert_eq!(c.absent_count.load(Ordering::Relaxed), ABSENT_MAX);
        assert!(!c.known_absent(&format!("{:08}", ABSENT_MAX + 5), 100));
        c.sweep_absent(100 + ABSENT_FOR);
        assert_eq!(c.absent_count.load(Ordering::Relaxed), 0);
        c.note_absent("bbbbbbbb", 200);
        assert!(c.known_absent("bbbbbbbb", 200));
    }

    #[test]
    fn keys_parse_and_hash() {
        let (key, prefix, h) = generate();
        assert!(
            key.starts_with("pck_") && key.len() == 4 + 8 + 1 + 43,
            "{key}"
        );
        let (p, s) = parse(&key).unwrap();
        assert_eq!(p, prefix);
        assert_eq!(hash(s), h);
        assert_eq!(crate::auth::one_time::unhex32(&h), Some(digest(s)));
        assert!(same(
            &digest(s),
            &crate::auth::one_time::unhex32(&h).unwrap()
        ));
        assert!(!same(
            &digest("other"),
            &crate::auth::one_time::unhex32(&h).unwrap()
        ));
        assert_eq!(crate::auth::one_time::unhex32("zz"), None);
        for bad in [
            "pck_",
            "pck_abc",
            &key[..key.len() - 1],
            &format!("{key}x"),
            &key.replacen('_', "-", 2),
            &format!("pck_{}-{}", &key[4..12], &key[13..]),
            "pck_abcdefgh_!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
        ] {
            assert!(parse(bad).is_none(), "{bad}");
        }
        assert_ne!(generate().0, key);
    }

    #[test]
    fn a_busy_key_is_noted_once_a_minute() {
        let row = crate::store::ApiKeyRow {
            id: "k".into(),
            user_id: 1,
            name: "n".into(),
            prefix: "p".into(),
            secret_hash: "h".into(),
            scopes: "a:read  b:write".into(),
            created_at: 0,
            expires_at: None,
            last_used_at: Some(1000),
            revoked_at: None,
        };
        let e = KeyEntry::from_row(&row);
        assert_eq!(e.grant.scopes, vec!["a:read", "b:write"]);
        assert_eq!(e.grant.scopes_header, "a:read b:write");
        assert!(!e.note_use(1059));
        assert!(e.note_use(1060));
        assert!(!e.note_use(1100));
        assert!(e.note_use(1120));
    }
}
