//! Token parsing and verification: any bytes, as a Bearer header or a bare token, end in a
//! refusal (never a panic, never an acceptance without our key).
//!
//! Shared by the fuzz target of the same name and by `tests/fuzz_corpus.rs`, which replays
//! the committed corpus in `cargo test`.

use once_cell::sync::Lazy;
use portcullis::auth::{KeyMaterial, TokenKeys};
use portcullis::config::{TokenKey, Tokens};
use portcullis::request::credentials;
use std::time::Duration;

static KEYS: Lazy<TokenKeys> = Lazy::new(|| {
    let cfg = Tokens {
        key: TokenKey::Hs256(None),
        issuer: "portcullis".into(),
        audience: "portcullis".into(),
        expiration: Duration::from_secs(3600),
        expiration_long: Duration::from_secs(3600),
        leeway: Duration::from_secs(5),
        idle_timeout: None,
        max_session_age: None,
        fresh_for: std::time::Duration::from_secs(600),
        assertion_key_file: None,
    };
    TokenKeys::new(
        &cfg,
        &KeyMaterial::Hmac(b"fuzzing-secret-that-is-long-enough!!".to_vec()),
    )
    .expect("keys")
});

/// Panics when the property does not hold for `data`.
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The fuzzer cannot forge an HMAC: anything it makes must be refused.
    assert!(KEYS.verify(text).is_err());
    assert!(KEYS.verify_value(text).is_err());
    if let Ok(v) = http::HeaderValue::from_bytes(data) {
        let mut h = http::HeaderMap::new();
        h.insert(http::header::AUTHORIZATION, v);
        if let credentials::Credentials::Token(t) = credentials::extract(&h, "s") {
            assert!(KEYS.verify(&t).is_err());
        }
    }
}
