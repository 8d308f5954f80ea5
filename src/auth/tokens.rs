//! JWT access tokens. The verifier pins the algorithm from config and never reads it from
//! the token, so `alg: none` and HS/RS confusion cannot work.

use super::all_claims::AllClaims;
use crate::config::Tokens;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::time::Duration;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub sub: String,
    pub sid: String,
    pub role: String,
    pub iat: u64,
    pub nbf: u64,
    pub exp: u64,
    pub iss: String,
    pub aud: String,
    pub jti: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token is expired")]
    Expired,
    #[error("token is invalid")]
    Invalid,
    #[error("token could not be signed")]
    Sign,
}

fn unusable(what: &'static str, e: impl std::fmt::Display) -> super::keys::KeyError {
    super::keys::KeyError::Unusable {
        what,
        detail: e.to_string(),
    }
}

pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    header: Header,
    validation: Validation,
    issuer: String,
    audience: String,
}

/// The key material for the configured algorithm, already loaded.
pub enum KeyMaterial {
    Hmac(Vec<u8>),
    Ed25519 {
        private_pem: Vec<u8>,
        public_pem: Vec<u8>,
    },
}

impl TokenKeys {
    pub fn new(cfg: &Tokens, key: &KeyMaterial) -> Result<Self, super::keys::KeyError> {
        let (alg, encoding, decoding) = match key {
            KeyMaterial::Hmac(secret) => (
                Algorithm::HS256,
                EncodingKey::from_secret(secret),
                DecodingKey::from_secret(secret),
            ),
            KeyMaterial::Ed25519 {
                private_pem,
                public_pem,
            } => (
                Algorithm::EdDSA,
                EncodingKey::from_ed_pem(private_pem).map_err(|e| unusable("private key", e))?,
                DecodingKey::from_ed_pem(public_pem).map_err(|e| unusable("public key", e))?,
            ),
        };
        let mut validation = Validation::new(alg);
        validation.algorithms = vec![alg];
        // jsonwebtoken's default accepts tokens without iss/aud; we require them.
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.set_issuer(&[&cfg.issuer]);
        validation.set_audience(&[&cfg.audience]);
        // `exp`, `nbf` and `iat` are checked in `verify`, against the gateway's clock (the one
        // every session expiry reads), with the same leeway.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = cfg.leeway.as_secs();
        Ok(TokenKeys {
            encoding,
            decoding,
            header: Header::new(alg),
            validation,
            issuer: cfg.issuer.clone(),
            audience: cfg.audience.clone(),
        })
    }

    /// Whether a token claims to be one of ours (its unverified `iss` is our issuer): such a
    /// token is the caller's credential for the gateway, valid or not, and no app gets it.
    pub fn claims_our_issuer(&self, token: &str) -> bool {
        use base64::Engine;
        #[derive(Deserialize)]
        struct Iss<'a> {
            #[serde(borrow)]
            iss: Option<std::borrow::Cow<'a, str>>,
        }
        let mut parts = token.split('.');
        let (Some(_), Some(payload), Some(_), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return false;
        };
        if payload.len() > MAX_TOKEN_BYTES {
            return false;
        }
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .ok()
            .and_then(|json| {
                serde_json::from_slice::<Iss>(&json)
                    .ok()
                    .map(|c| c.iss.as_deref() == Some(self.issuer.as_str()))
            })
            .unwrap_or(false)
    }

    /// Claims for a new token issued now for `lifetime`.
    pub fn claims(
        &self,
        user_id: i64,
        session_id: &str,
        role: &str,
        jti: &str,
        lifetime: Duration,
    ) -> Claims {
        let now = crate::clock::now().max(0) as u64;
        Claims {
            sub: user_id.to_string(),
            sid: session_id.to_string(),
            role: role.to_string(),
            iat: now,
            nbf: now,
            exp: now + lifetime.as_secs(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            jti: jti.to_string(),
        }
    }

    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, TokenError> {
        encode(&self.header, claims, &self.encoding).map_err(|_| TokenError::Sign)
    }

    /// Core claims plus extra ones (provider, profile, custom); the core ones win a clash.
    pub fn sign_with(
        &self,
        claims: &Claims,
        extra: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<String, TokenError> {
        let mut all = extra.clone();
        if let Ok(serde_json::Value::Object(core)) = serde_json::to_value(claims) {
            all.extend(core);
        }
        self.sign(&all)
    }

    /// Verifies like [`verify`](Self::verify) and returns every claim.
    pub fn verify_value(
        &self,
        token: &str,
    ) -> Result<serde_json::Map<String, serde_json::Value>, TokenError> {
        self.verify(token)?;
        decode::<serde_json::Map<String, serde_json::Value>>(
            token,
            &self.decoding,
            &self.validation,
        )
        .map(|d| d.claims)
        .map_err(|_| TokenError::Invalid)
    }

    /// The clock skew allowed on `exp` and `nbf`.
    pub fn leeway(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.validation.leeway)
    }

    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        self.verify_all(token).map(|(claims, _)| claims)
    }

    /// Verifies like [`verify`](Self::verify); also the claims beyond the core ones (an OAuth
    /// sign-in's provider, profile and mapped claims), which route policies can match. One
    /// decoding either way.
    pub fn verify_all(&self, token: &str) -> Result<(Claims, Map<String, Value>), TokenError> {
        // Bounded work whatever arrives: an oversized token is refused before any decoding.
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::Invalid);
        }
        let data =
            decode::<AllClaims>(token, &self.decoding, &self.validation).map_err(|e| {
                match e.kind() {
                    jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                    _ => TokenError::Invalid,
                }
            })?;
        // The header `decode` parsed: checked here rather than parsed a second time.
        if !plain_header(&data.header) {
            return Err(TokenError::Invalid);
        }
        let AllClaims {
            core: claims,
            extra,
        } = data.claims;
        let (now, leeway) = (crate::clock::now().max(0) as u64, self.validation.leeway);
        if claims.exp.saturating_add(leeway) < now {
            return Err(TokenError::Expired);
        }
        // Not valid yet, or issued in the future (jsonwebtoken does not look at `iat`): not
        // a token of ours.
        if claims.nbf > now + leeway || claims.iat > now + leeway {
            return Err(TokenError::Invalid);
        }
        Ok((claims, extra))
    }
}

/// The largest token looked at. Ours are a few hundred bytes; profile claims from an OAuth
/// provider stay well under this.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// We issue headers of `alg` and `typ: JWT` only. Any key-locating or key-carrying field
/// (`jku`, `jwk`, `x5u`, `x5c`, `kid`…), `crit` extensions or encryption parameters mean the
/// token was not made here, so it is refused even if the signature happened to check out
/// (RFC 8725 §3.1, §3.10).
fn plain_header(h: &jsonwebtoken::Header) -> bool {
    matches!(h.typ.as_deref(), None | Some("JWT"))
        && h.cty.is_none()
        && h.jku.is_none()
        && h.jwk.is_none()
        && h.kid.is_none()
        && h.x5u.is_none()
        && h.x5c.is_none()
        && h.x5t.is_none()
        && h.x5t_s256.is_none()
        && h.crit.is_none()
        && h.enc.is_none()
        && h.zip.is_none()
        && h.url.is_none()
        && h.nonce.is_none()
        && h.extras.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    fn cfg() -> Tokens {
        Tokens {
            key: crate::config::TokenKey::Hs256(None),
            issuer: "portcullis".into(),
            audience: "portcullis".into(),
            expiration: Duration::from_secs(3600),
            expiration_long: Duration::from_secs(7200),
            leeway: Duration::from_secs(0),
            idle_timeout: None,
            max_session_age: None,
            fresh_for: Duration::from_secs(600),
            assertion_key_file: None,
        }
    }

    fn keys() -> TokenKeys {
        TokenKeys::new(&cfg(), &KeyMaterial::Hmac(vec![7u8; 32])).unwrap()
    }

    #[test]
    fn round_trip() {
        let k = keys();
        let c = k.claims(1, "s", "admin", "j", Duration::from_secs(60));
        assert_eq!(k.verify(&k.sign(&c).unwrap()), Ok(c.clone()));
        let (_, extra) = k.verify_all(&k.sign(&c).unwrap()).unwrap();
        assert!(extra.is_empty());
        // Extra claims come back apart from the core ones.
        let more = serde_json::json!({"provider": "kc", "dept": {"id": 7}});
        let t = k.sign_with(&c, more.as_object().unwrap()).unwrap();
        let (core, extra) = k.verify_all(&t).unwrap();
        assert_eq!((core, Value::Object(extra)), (c.clone(), more));
        // A core claim of the wrong type is no token of ours.
        let mut bad = serde_json::to_value(&c).unwrap();
        bad["exp"] = serde_json::json!("soon");
        assert_eq!(k.verify(&k.sign(&bad).unwrap()), Err(TokenError::Invalid));
    }

    #[test]
    fn rejects_alg_none_wrong_issuer_expired_and_other_keys() {
        let k = keys();
        let mut c = k.claims(1, "s", "admin", "j", Duration::from_secs(60));
        let b64 = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        let none = format!(
            "{}.{}.",
            b64(br#"{"alg":"none","typ":"JWT"}"#),
            b64(&serde_json::to_vec(&c).unwrap())
        );
        assert_eq!(k.verify(&none), Err(TokenError::Invalid));
        let other = TokenKeys::new(&cfg(), &KeyMaterial::Hmac(vec![8u8; 32])).unwrap();
        assert_eq!(k.verify(&other.sign(&c).unwrap()), Err(TokenError::Invalid));
        c.iss = "someone-else".into();
        assert_eq!(k.verify(&k.sign(&c).unwrap()), Err(TokenError::Invalid));
        let mut c = k.claims(1, "s", "admin", "j", Duration::from_secs(60));
        c.exp = c.iat - 120;
        c.nbf = c.iat - 200;
        assert_eq!(k.verify(&k.sign(&c).unwrap()), Err(TokenError::Expired));
        let mut c = k.claims(1, "s", "admin", "j", Duration::from_secs(60));
        c.nbf = c.iat + 600;
        assert_eq!(k.verify(&k.sign(&c).unwrap()), Err(TokenError::Invalid));
    }
}
