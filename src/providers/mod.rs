//! What the gateway needs to speak to identity providers, built once at start: an HTTP client
//! that follows no redirects, the discovery cache, the built-in mock provider's signing key,
//! and the key that derives refresh-token successors. Keys are derived from the gateway's own
//! secret, so every instance sharing it agrees on them.

pub mod discovery;

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Why the providers' runtime could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("cannot build the HTTP client for identity providers")]
    Client(#[from] reqwest::Error),
    #[error("cannot make the mock provider's key: {0}")]
    MockKey(String),
}

/// The key id of the mock provider's signing key.
pub const KID: &str = "mock-1";

pub struct Runtime {
    /// No redirects: a token or discovery endpoint that redirects is an error, not a hop.
    pub http: reqwest::Client,
    pub discovery: discovery::Cache,
    pub mock: Option<MockIdp>,
    /// Derives a refresh token's successor, so parallel refreshes agree on it.
    pub refresh_key: [u8; 32],
}

impl Runtime {
    /// `secret`: the gateway's signing key material; the keys derived from it are shared by
    /// every instance with the same secret.
    pub fn new(cfg: &crate::config::Config, secret: &[u8]) -> Result<Self, ProviderError> {
        let derive = |label: &str| -> [u8; 32] {
            let mut h = Sha256::new();
            h.update(label.as_bytes());
            h.update(secret);
            h.finalize().into()
        };
        let has_mock = cfg
            .oauth
            .providers
            .values()
            .any(|p| matches!(p.kind, crate::config::ProviderKind::Mock { .. }));
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(10))
            .build()?;
        Ok(Runtime {
            http,
            discovery: discovery::Cache::default(),
            mock: if has_mock {
                Some(MockIdp::from_seed(&derive("portcullis/mock-idp/"))?)
            } else {
                None
            },
            refresh_key: derive("portcullis/refresh-rotation/"),
        })
    }
}

pub struct MockIdp {
    encoding: EncodingKey,
    decoding: DecodingKey,
    pub public_x: String,
}

impl MockIdp {
    pub fn from_seed(seed: &[u8; 32]) -> Result<Self, ProviderError> {
        let key = |e: &dyn std::fmt::Display| ProviderError::MockKey(e.to_string());
        let pair =
            aws_lc_rs::signature::Ed25519KeyPair::from_seed_unchecked(seed).map_err(|e| key(&e))?;
        let pkcs8 = pair.to_pkcs8().map_err(|e| key(&e))?;
        let public = aws_lc_rs::signature::KeyPair::public_key(&pair)
            .as_ref()
            .to_vec();
        let public_x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&public);
        Ok(MockIdp {
            encoding: EncodingKey::from_ed_der(pkcs8.as_ref()),
            decoding: DecodingKey::from_ed_components(&public_x).map_err(|e| key(&e))?,
            public_x,
        })
    }

    pub fn sign<T: Serialize>(&self, claims: &T) -> Option<String> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(KID.into());
        jsonwebtoken::encode(&header, claims, &self.encoding).ok()
    }

    pub fn verify<T: for<'de> Deserialize<'de>>(&self, token: &str, aud: &str) -> Option<T> {
        let mut v = Validation::new(Algorithm::EdDSA);
        v.set_audience(&[aud]);
        v.set_required_spec_claims(&["exp", "aud"]);
        jsonwebtoken::decode::<T>(token, &self.decoding, &v)
            .ok()
            .map(|d| d.claims)
    }
}
