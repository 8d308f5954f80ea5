//! The signed identity assertion: for upstreams that ask for it, an EdDSA JWT of the caller's
//! identity in `X-Auth-Assertion` (`{prefix}Assertion`), valid 60 s and addressed (`aud`) to that upstream by name.
//! An app that verifies it against `/.well-known/jwks.json` knows the identity came from the
//! gateway, even if someone reaches the app directly. Its key is its own — never the session
//! key — and its `typ` is `identity+jwt`, so an assertion is no session token anywhere.

use super::keys::KeyError;
use super::Identity;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use sha2::Digest;
use std::path::Path;
use std::sync::Arc;

/// The assertion's header is `{identity_headers.prefix}Assertion`; before it followed the
/// prefix it was this, whatever the prefix, so the proxy strips this name too.
pub const LEGACY_HEADER: &str = "x-auth-assertion";
pub use crate::config::JWKS_PATH;
pub const TYP: &str = "identity+jwt";
/// Lifetime of one assertion.
pub const LIFETIME: u64 = 60;
/// A cached assertion is handed out while it has at least this long left.
const REUSE_FOR: u64 = 30;
const KEY_FILE: &str = "assertion-ed25519.pk8";

#[derive(Serialize)]
struct AssertionClaims<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: String,
    sid: String,
    email: &'a str,
    name: &'a str,
    role: &'a str,
    /// Sorted; empty when the user is in none.
    groups: &'a [String],
    iat: u64,
    nbf: u64,
    exp: u64,
}

struct Cached {
    token: Arc<str>,
    iat: u64,
    /// The user record it was made from: a changed user (role, email) gets a new one.
    user: Arc<super::CachedUser>,
}

pub struct Asserter {
    encoding: EncodingKey,
    header: Header,
    jwks: bytes::Bytes,
    issuer: String,
    /// (session, upstream) → the assertion last made for it. Signing costs more than the
    /// rest of a request, so one is reused for half its life.
    cache: scc::HashMap<(uuid::Uuid, u64), Cached>,
}

impl Asserter {
    /// The key from `key_file` (PKCS#8 PEM or DER), else one generated once into `data_dir`.
    pub fn load(key_file: Option<&Path>, data_dir: &Path, issuer: &str) -> Result<Self, KeyError> {
        let pkcs8 = match key_file {
            Some(p) => read_pkcs8(p)?,
            None => load_or_generate(&data_dir.join(KEY_FILE))?,
        };
        Self::from_pkcs8(&pkcs8, issuer)
    }

    pub fn from_pkcs8(pkcs8: &[u8], issuer: &str) -> Result<Self, KeyError> {
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8).map_err(|e| KeyError::Unusable {
            what: "assertion key (not an Ed25519 PKCS#8 key)",
            detail: e.to_string(),
        })?;
        let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(pair.public_key());
        // RFC 7638 thumbprint: members in lexical order, no spaces.
        let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
        let kid = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(canonical.as_bytes()));
        let jwks = serde_json::json!({
            "keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": "EdDSA", "use": "sig"}]
        });
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some(TYP.into());
        header.kid = Some(kid);
        Ok(Asserter {
            encoding: EncodingKey::from_ed_der(pkcs8),
            header,
            jwks: serde_json::to_vec(&jwks).unwrap_or_default().into(),
            issuer: issuer.to_string(),
            cache: scc::HashMap::new(),
        })
    }

    /// The public keys, as a JWK set.
    pub fn jwks(&self) -> bytes::Bytes {
        self.jwks.clone()
    }

    /// The assertion of `id` for the upstream called `audience`.
    pub fn assert(&self, id: &Identity, audience: &str, now: u64) -> Option<Arc<str>> {
        let key = (id.session_id, audience_key(audience));
        let fresh = |c: &Cached| now < c.iat + REUSE_FOR && Arc::ptr_eq(&c.user, &id.user);
        if let Some(token) = self
            .cache
            .read_sync(&key, |_, c| fresh(c).then(|| c.token.clone()))
            .flatten()
        {
            return Some(token);
        }
        let u = &id.user;
        let claims = AssertionClaims {
            iss: &self.issuer,
            aud: audience,
            sub: u.id.to_string(),
            sid: id.session_id.to_string(),
            email: &u.email,
            name: &u.name,
            role: &u.role,
            groups: &u.groups,
            iat: now,
            nbf: now,
            exp: now + LIFETIME,
        };
        let token: Arc<str> = jsonwebtoken::encode(&self.header, &claims, &self.encoding)
            .ok()?
            .into();
        self.cache.upsert_sync(
            key,
            Cached {
                token: token.clone(),
                iat: now,
                user: id.user.clone(),
            },
        );
        Some(token)
    }

    /// Drops assertions too old to hand out; run periodically.
    pub fn sweep(&self, now: u64) {
        self.cache.retain_sync(|_, c| now < c.iat + REUSE_FOR);
    }
}

fn audience_key(name: &str) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = foldhash::fast::FixedState::default().build_hasher();
    h.write(name.as_bytes());
    h.finish()
}

/// PKCS#8 from a PEM file (`-----BEGIN PRIVATE KEY-----`) or raw DER.
fn read_pkcs8(path: &Path) -> Result<Vec<u8>, KeyError> {
    let raw = std::fs::read(path).map_err(KeyError::read(path))?;
    let Ok(text) = std::str::from_utf8(&raw) else {
        return Ok(raw);
    };
    let body: String = text
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .concat();
    base64::engine::general_purpose::STANDARD
        .decode(body.trim())
        .map_err(|_| KeyError::Invalid {
            path: path.to_path_buf(),
            problem: "is not a PEM private key",
        })
}

fn load_or_generate(path: &Path) -> Result<Vec<u8>, KeyError> {
    match std::fs::read(path) {
        Ok(der) => Ok(der),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let doc = Ed25519KeyPair::generate_pkcs8(&aws_lc_rs::rand::SystemRandom::new())
                .map_err(|_| KeyError::Generate("an Ed25519 key"))?;
            let der = doc.as_ref().to_vec();
            super::keys::write_private(path, &der).map_err(KeyError::write(path))?;
            tracing::info!(path = %path.display(), "generated the identity assertion key");
            Ok(der)
        }
        Err(e) => Err(KeyError::read(path)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{CachedUser, SessionEntry};
    use jsonwebtoken::{DecodingKey, Validation};

    fn identity(role: &str) -> Identity {
        Identity {
            user: Arc::new(CachedUser {
                id: 7,
                email: "ann@example.test".into(),
                name: "Ann".into(),
                role: role.into(),
                active: true,
                picture: None,
                email_verified: true,
                groups: vec!["eng".into(), "ops".into()],
                header_values: Default::default(),
            }),
            session_id: uuid::Uuid::new_v4(),
            session: SessionEntry {
                user_id: 7,
                token_id: uuid::Uuid::nil(),
                expires_at: 0,
                remember: false,
                revoked: false,
                amr: crate::auth::Amr::PWD,
            },
            key: None,
            claims: None,
        }
    }

    #[test]
    fn verifiable_with_the_jwks_alone_for_its_audience_only() {
        let dir = tempfile::tempdir().unwrap();
        let a = Asserter::load(None, dir.path(), "https://gw.example").unwrap();
        let now = jsonwebtoken::get_current_timestamp();
        let id = identity("admin");
        let t = a.assert(&id, "billing", now).unwrap();
        let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_slice(&a.jwks()).unwrap();
        let key = DecodingKey::from_jwk(&jwks.keys[0]).unwrap();
        let mut v = Validation::new(Algorithm::EdDSA);
        v.set_audience(&["billing"]);
        v.set_issuer(&["https://gw.example"]);
        let claims = jsonwebtoken::decode::<serde_json::Value>(&*t, &key, &v)
            .unwrap()
            .claims;
        assert_eq!(claims["sub"], "7");
        assert_eq!(claims["role"], "admin");
        assert_eq!(claims["groups"], serde_json::json!(["eng", "ops"]));
        assert!(claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap() <= 60);
        v.set_audience(&["other"]);
        assert!(jsonwebtoken::decode::<serde_json::Value>(&*t, &key, &v).is_err());
        // Reused while fresh, remade for a changed user or once half its life is gone.
        assert_eq!(a.assert(&id, "billing", now + 29), Some(t.clone()));
        assert_ne!(a.assert(&id, "billing", now + 30), Some(t.clone()));
        let mut changed = id.clone();
        changed.user = Arc::new(CachedUser {
            role: "user".into(),
            ..(*id.user).clone()
        });
        assert_ne!(a.assert(&changed, "billing", now), Some(t.clone()));
        // So is one whose groups changed: the cache publishes a new user record.
        changed.user = Arc::new(CachedUser {
            groups: vec!["eng".into()],
            ..(*id.user).clone()
        });
        assert_ne!(a.assert(&changed, "billing", now), Some(t));
        // The key survives a restart.
        let again = Asserter::load(None, dir.path(), "https://gw.example").unwrap();
        assert_eq!(again.jwks(), a.jwks());
    }
}
