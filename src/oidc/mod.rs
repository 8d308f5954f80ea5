//! The gateway as an OpenID provider, with no HTTP in it: signing keys, clients' credentials,
//! the authorization request, codes, grants and tokens, and the back-channel logouts owed
//! when a session ends. The endpoints that speak the protocol are `control::oidc`.

pub mod claims;
pub mod client_auth;
pub mod error;
pub mod flow;
pub mod keys;
pub mod logout;
pub mod request;

use crate::auth::keys::KeyError;
use crate::config::OidcProvider;
use arc_swap::ArcSwap;
use hmac::{Hmac, Mac};
use std::sync::Arc;

/// The file in the key directory with the provider's own secret (pairwise subjects, signed
/// continuations, refresh successors): shared by every replica with the keys.
const SECRET_FILE: &str = "secret";

/// What the provider keeps between requests.
pub struct Provider {
    keys: ArcSwap<keys::KeyRing>,
    secret: Vec<u8>,
    pub client_auth: client_auth::ClientAuthState,
    /// For clients' `jwks_uri` and back-channel logouts.
    pub http: reqwest::Client,
}

impl Provider {
    pub fn load(p: &OidcProvider, now: i64) -> Result<Self, KeyError> {
        let ring = keys::KeyRing::load(&p.key_dir, p.signing, p.lifetimes.longest_signed(), now)?;
        let secret = secret(&p.key_dir)?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(5))
            .build()
            .map_err(|e| KeyError::Unusable {
                what: "the OpenID provider's HTTP client",
                detail: e.to_string(),
            })?;
        Ok(Provider {
            keys: ArcSwap::from_pointee(ring),
            secret,
            client_auth: client_auth::ClientAuthState::default(),
            http,
        })
    }

    pub fn keys(&self) -> Arc<keys::KeyRing> {
        self.keys.load_full()
    }

    /// Reads the key directory again (a `rotate-key` on any replica, or a new algorithm).
    pub fn reload_keys(&self, p: &OidcProvider, now: i64) -> Result<(), KeyError> {
        let ring = keys::KeyRing::load(&p.key_dir, p.signing, p.lifetimes.longest_signed(), now)?;
        self.keys.store(Arc::new(ring));
        Ok(())
    }

    /// HMAC-SHA256 under the provider's secret, for one `purpose`.
    pub fn mac(&self, purpose: &str, data: &[u8]) -> [u8; 32] {
        let Ok(mut m) = Hmac::<sha2::Sha256>::new_from_slice(&self.secret) else {
            return [0; 32];
        };
        m.update(purpose.as_bytes());
        m.update(&[0]);
        m.update(data);
        m.finalize().into_bytes().into()
    }

    /// The salt of pairwise subjects.
    pub fn pairwise_salt(&self) -> [u8; 32] {
        self.mac("pairwise", b"")
    }
}

/// The provider's secret, generated once into the key directory.
fn secret(dir: &std::path::Path) -> Result<Vec<u8>, KeyError> {
    use base64::Engine;
    let path = dir.join(SECRET_FILE);
    match std::fs::read_to_string(&path) {
        Ok(t) => base64::engine::general_purpose::STANDARD
            .decode(t.trim())
            .ok()
            .filter(|k| k.len() >= 32)
            .ok_or(KeyError::Invalid {
                path,
                problem: "is not a base64 secret of 32 bytes or more",
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = vec![0u8; 32];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut key);
            let text = base64::engine::general_purpose::STANDARD.encode(&key);
            match crate::auth::keys::write_private(&path, text.as_bytes()) {
                Ok(()) => Ok(key),
                // Another replica wrote it first: take theirs.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => secret(dir),
                Err(e) => Err(KeyError::write(&path)(e)),
            }
        }
        Err(e) => Err(KeyError::read(&path)(e)),
    }
}
