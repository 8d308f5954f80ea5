//! Who is calling the token, introspection and revocation endpoints (RFC 6749 §2.3, OpenID
//! Connect Core §9): a registered client by its one registered method. Secrets are compared
//! in constant time (or checked against their argon2 hash off the reactor); a
//! `private_key_jwt` assertion (RFC 7523 §3) is verified with the client's own keys, its
//! algorithm taken from the key, never from the token, and its `jti` used once.

use super::error::OAuthError;
use crate::config::{Client, ClientAuth, ClientKeys, ClientSecret, Clients};
use base64::Engine;
use jsonwebtoken::jwk::JwkSet;
use secrecy::ExposeSecret;
use std::time::Duration;

pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// What the request carried.
#[derive(Debug, Default, Clone)]
pub struct Presented {
    /// `Authorization: Basic`, both halves form-decoded (RFC 6749 §2.3.1).
    pub basic: Option<(String, String)>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub assertion_type: Option<String>,
    pub assertion: Option<String>,
}

impl Presented {
    /// Reads `Authorization: Basic` and the form's client parameters.
    pub fn read(
        authorization: Option<&str>,
        form: &std::collections::BTreeMap<String, String>,
    ) -> Result<Self, OAuthError> {
        let basic = match authorization.map(str::trim) {
            Some(v) if v.len() > 6 && v[..6].eq_ignore_ascii_case("basic ") => {
                let raw = base64::engine::general_purpose::STANDARD
                    .decode(v[6..].trim())
                    .map_err(|_| {
                        OAuthError::invalid_client("The Basic credentials are not base64")
                    })?;
                let text = String::from_utf8(raw).map_err(|_| {
                    OAuthError::invalid_client("The Basic credentials are not UTF-8")
                })?;
                let (id, secret) = text.split_once(':').ok_or_else(|| {
                    OAuthError::invalid_client("The Basic credentials have no ':'")
                })?;
                let decode = |s: &str| -> String {
                    form_urlencoded::parse(format!("x={s}").as_bytes())
                        .next()
                        .map(|(_, v)| v.into_owned())
                        .unwrap_or_default()
                };
                Some((decode(id), decode(secret)))
            }
            _ => None,
        };
        let get = |k: &str| form.get(k).filter(|v| !v.is_empty()).cloned();
        Ok(Presented {
            basic,
            client_id: get("client_id"),
            client_secret: get("client_secret"),
            assertion_type: get("client_assertion_type"),
            assertion: get("client_assertion"),
        })
    }

    /// The client it names (Basic's user, or the form's `client_id`), before any proof.
    pub fn claimed(&self) -> Option<&str> {
        self.basic
            .as_ref()
            .map(|(id, _)| id.as_str())
            .or(self.client_id.as_deref())
    }
}

/// What client authentication keeps between requests, one per provider: replay and key
/// caches for `private_key_jwt`, and the secrets lately found to match a `secret_hash`.
#[derive(Default)]
pub struct ClientAuthState {
    /// `jti` → until when it is remembered (its `exp`).
    seen: scc::HashMap<String, i64>,
    /// `jwks_uri` → (fetched at, keys).
    keys: scc::HashMap<String, (i64, std::sync::Arc<JwkSet>)>,
    /// SHA-256 of (registered hash, presented secret) → until when it is trusted. A resource
    /// server introspecting every request would otherwise pay an argon2 check (tens of ms of
    /// CPU) per call; a changed `secret_hash` is a different key.
    matched: scc::HashMap<[u8; 32], i64>,
}

/// How long a secret that matched its `secret_hash` is trusted without argon2 again.
const MATCH_KEPT: i64 = 300;
/// At most this many remembered matches (one per client and secret in use, in practice).
const MATCHES_MAX: usize = 4096;

impl ClientAuthState {
    /// Forgets assertions and matched secrets past their time.
    pub fn sweep(&self, now: i64) {
        self.seen.retain_sync(|_, exp| *exp > now);
        self.matched.retain_sync(|_, until| *until > now);
    }
}

/// The calling client, or why it is not one.
pub async fn authenticate<'c>(
    clients: &'c Clients,
    p: &Presented,
    audiences: &[String],
    state: &ClientAuthState,
    hasher: &crate::auth::PasswordHasher,
    http: &reqwest::Client,
    now: i64,
) -> Result<&'c Client, OAuthError> {
    let methods = [
        p.basic.is_some(),
        p.client_secret.is_some(),
        p.assertion.is_some(),
    ];
    if methods.iter().filter(|m| **m).count() > 1 {
        return Err(OAuthError::invalid_request(
            "Use one way of client authentication, not several",
        ));
    }
    let unknown =
        || OAuthError::invalid_client("The client is unknown or its credentials are wrong");
    if let Some((id, secret)) = &p.basic {
        if p.client_id.as_ref().is_some_and(|c| c != id) {
            return Err(OAuthError::invalid_request(
                "client_id differs from the Basic credentials",
            ));
        }
        let c = clients.get(id).ok_or_else(unknown)?;
        return match &c.auth {
            ClientAuth::Secret {
                secret: s,
                in_body: false,
            } if secret_ok(s, secret, state, hasher, now).await? => Ok(c),
            _ => Err(unknown()),
        };
    }
    if let Some(secret) = &p.client_secret {
        let c = p
            .client_id
            .as_ref()
            .and_then(|id| clients.get(id))
            .ok_or_else(unknown)?;
        return match &c.auth {
            ClientAuth::Secret {
                secret: s,
                in_body: true,
            } if secret_ok(s, secret, state, hasher, now).await? => Ok(c),
            _ => Err(unknown()),
        };
    }
    if let Some(assertion) = &p.assertion {
        if p.assertion_type.as_deref() != Some(JWT_BEARER) {
            return Err(OAuthError::invalid_request(format!(
                "client_assertion_type must be {JWT_BEARER}"
            )));
        }
        return assertion_client(
            clients,
            p.client_id.as_deref(),
            assertion,
            audiences,
            state,
            http,
            now,
        )
        .await;
    }
    // A public client names itself, and PKCE binds the code to it.
    let c = p
        .client_id
        .as_ref()
        .and_then(|id| clients.get(id))
        .ok_or_else(unknown)?;
    if c.is_public() {
        Ok(c)
    } else {
        Err(OAuthError::invalid_client("This client must authenticate"))
    }
}

/// Whether `presented` is the registered secret. A `secret_hash` is checked through the
/// password hasher's bounded queue, as sign-ins are, so wrong secrets sent to introspection
/// or revocation cannot pile up argon2 work; a full queue is `temporarily_unavailable`.
async fn secret_ok(
    registered: &ClientSecret,
    presented: &str,
    state: &ClientAuthState,
    hasher: &crate::auth::PasswordHasher,
    now: i64,
) -> Result<bool, OAuthError> {
    let h = match registered {
        ClientSecret::Plain(s) => {
            return Ok(aws_lc_rs::constant_time::verify_slices_are_equal(
                s.expose_secret().as_bytes(),
                presented.as_bytes(),
            )
            .is_ok())
        }
        ClientSecret::Hash(h) => h,
    };
    let key: [u8; 32] = {
        use sha2::Digest;
        let mut d = sha2::Sha256::new();
        d.update(h.as_bytes());
        d.update([0]);
        d.update(presented.as_bytes());
        d.finalize().into()
    };
    if state.matched.read_sync(&key, |_, until| *until > now) == Some(true) {
        return Ok(true);
    }
    let secret = secrecy::SecretString::from(presented.to_string());
    let ok = match hasher.verify(&secret, Some(h)).await {
        Ok(ok) => ok,
        Err(crate::auth::password::HashError::Busy) => {
            return Err(OAuthError::temporarily_unavailable())
        }
        Err(crate::auth::password::HashError::Failed) => return Err(OAuthError::server_error()),
    };
    if ok && state.matched.len() < MATCHES_MAX {
        let _ = state.matched.upsert_sync(key, now + MATCH_KEPT);
    }
    Ok(ok)
}

#[derive(serde::Deserialize)]
struct AssertionClaims {
    iss: String,
    sub: String,
    aud: serde_json::Value,
    exp: i64,
    jti: String,
}

async fn assertion_client<'c>(
    clients: &'c Clients,
    named: Option<&str>,
    assertion: &str,
    audiences: &[String],
    state: &ClientAuthState,
    http: &reqwest::Client,
    now: i64,
) -> Result<&'c Client, OAuthError> {
    let bad =
        |why: &str| OAuthError::invalid_client(format!("The client assertion is not valid: {why}"));
    let header = jsonwebtoken::decode_header(assertion).map_err(|_| bad("not a JWT"))?;
    // Who it claims to be, unverified, only to find the keys to verify it with.
    let claimed: AssertionClaims = {
        let part = assertion
            .split('.')
            .nth(1)
            .ok_or_else(|| bad("not a JWT"))?;
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| bad("not a JWT"))?;
        serde_json::from_slice(&raw).map_err(|_| bad("iss, sub, aud, exp and jti are required"))?
    };
    if named.is_some_and(|n| n != claimed.iss) {
        return Err(OAuthError::invalid_request(
            "client_id differs from the assertion's issuer",
        ));
    }
    let c = clients
        .get(&claimed.iss)
        .ok_or_else(|| bad("unknown client"))?;
    let ClientAuth::PrivateKeyJwt(keys) = &c.auth else {
        return Err(bad(
            "this client does not authenticate with private_key_jwt",
        ));
    };
    let set = match keys {
        ClientKeys::Inline(v) => std::sync::Arc::new(
            serde_json::from_value::<JwkSet>(v.clone())
                .map_err(|_| bad("the client's registered keys do not parse"))?,
        ),
        ClientKeys::Uri(u) => fetch_keys(state, http, u, now)
            .await
            .ok_or_else(|| bad("the client's keys could not be fetched"))?,
    };
    let jwk = match &header.kid {
        Some(kid) => set.find(kid),
        None => set.keys.first().filter(|_| set.keys.len() == 1),
    }
    .ok_or_else(|| bad("no registered key matches its kid"))?;
    // The algorithm is the key's, never the token's (RFC 8725 §3.1).
    let alg = key_algorithm(jwk)
        .ok_or_else(|| bad("the client's key is of no algorithm this provider takes"))?;
    if header.alg != alg {
        return Err(bad("its alg is not its key's"));
    }
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk)
        .map_err(|_| bad("the client's key does not parse"))?;
    let mut v = jsonwebtoken::Validation::new(alg);
    v.set_audience(audiences);
    v.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    v.set_issuer(&[c.id.as_str()]);
    v.leeway = 30;
    let verified = jsonwebtoken::decode::<serde_json::Value>(assertion, &key, &v)
        .map_err(|e| bad(&e.to_string()))?;
    if verified.claims.get("sub").and_then(|s| s.as_str()) != Some(c.id.as_str())
        || claimed.sub != c.id
    {
        return Err(bad("sub must be the client_id"));
    }
    let _ = &claimed.aud;
    if claimed.exp > now + 3600 {
        return Err(bad("it lives longer than an hour"));
    }
    // RFC 7523 §3: a jti once.
    if state
        .seen
        .insert_sync(claimed.jti.clone(), claimed.exp.max(now) + 60)
        .is_err()
    {
        return Err(bad("it was used before (jti)"));
    }
    Ok(c)
}

/// The algorithm a JWK is for: its `alg`, or the one its key type implies.
pub fn key_algorithm(jwk: &jsonwebtoken::jwk::Jwk) -> Option<jsonwebtoken::Algorithm> {
    use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, KeyAlgorithm};
    use jsonwebtoken::Algorithm as A;
    let from_key = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => A::RS256,
        AlgorithmParameters::EllipticCurve(e) if e.curve == EllipticCurve::P256 => A::ES256,
        AlgorithmParameters::OctetKeyPair(o) if o.curve == EllipticCurve::Ed25519 => A::EdDSA,
        _ => return None,
    };
    match jwk.common.key_algorithm {
        None => Some(from_key),
        Some(KeyAlgorithm::RS256) if from_key == A::RS256 => Some(A::RS256),
        Some(KeyAlgorithm::PS256) if from_key == A::RS256 => Some(A::PS256),
        Some(KeyAlgorithm::ES256) if from_key == A::ES256 => Some(A::ES256),
        Some(KeyAlgorithm::EdDSA) if from_key == A::EdDSA => Some(A::EdDSA),
        _ => None,
    }
}

/// A client's keys from its `jwks_uri`, kept five minutes.
async fn fetch_keys(
    state: &ClientAuthState,
    http: &reqwest::Client,
    uri: &str,
    now: i64,
) -> Option<std::sync::Arc<JwkSet>> {
    if let Some(set) = state
        .keys
        .read_async(uri, |_, (at, set)| (now - at < 300).then(|| set.clone()))
        .await
        .flatten()
    {
        return Some(set);
    }
    let r = http
        .get(uri)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .ok()?;
    if !r.status().is_success() {
        return None;
    }
    let set: JwkSet = r.json().await.ok()?;
    let set = std::sync::Arc::new(set);
    state
        .keys
        .upsert_async(uri.to_string(), (now, set.clone()))
        .await;
    Some(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clients() -> Clients {
        crate::config::from_yaml(
            "oidc_provider:\n  enabled: true\n  clients:\n    basic:\n      secret: \"s3cret-s3cret-s3cret\"\n      redirect_uris: [\"https://a.test/cb\"]\n    post:\n      secret: \"s3cret-s3cret-s3cret\"\n      auth_method: client_secret_post\n      redirect_uris: [\"https://a.test/cb\"]\n    spa:\n      redirect_uris: [\"https://a.test/cb\"]\n",
            &Default::default(),
            std::path::Path::new("."),
        )
        .unwrap()
        .oidc_provider
        .unwrap()
        .clients
        .clone()
    }

    async fn who(p: Presented) -> Result<String, String> {
        let cs = clients();
        authenticate(
            &cs,
            &p,
            &[],
            &ClientAuthState::default(),
            &crate::auth::PasswordHasher::new(1).unwrap(),
            &reqwest::Client::new(),
            1_000,
        )
        .await
        .map(|c| c.id.clone())
        .map_err(|e| e.code.to_string())
    }

    #[tokio::test]
    async fn each_client_by_its_registered_method_only() {
        let basic = |id: &str, s: &str| Presented {
            basic: Some((id.into(), s.into())),
            ..Default::default()
        };
        let post = |id: &str, s: &str| Presented {
            client_id: Some(id.into()),
            client_secret: Some(s.into()),
            ..Default::default()
        };
        assert_eq!(
            who(basic("basic", "s3cret-s3cret-s3cret")).await,
            Ok("basic".into())
        );
        assert_eq!(
            who(basic("basic", "s3cret-s3cret-s3creT")).await,
            Err("invalid_client".into())
        );
        assert_eq!(
            who(post("basic", "s3cret-s3cret-s3cret")).await,
            Err("invalid_client".into()),
            "registered for basic"
        );
        assert_eq!(
            who(post("post", "s3cret-s3cret-s3cret")).await,
            Ok("post".into())
        );
        assert_eq!(
            who(basic("post", "s3cret-s3cret-s3cret")).await,
            Err("invalid_client".into())
        );
        let public = |id: &str| Presented {
            client_id: Some(id.into()),
            ..Default::default()
        };
        assert_eq!(who(public("spa")).await, Ok("spa".into()));
        assert_eq!(
            who(public("basic")).await,
            Err("invalid_client".into()),
            "a confidential client without its secret"
        );
        assert_eq!(who(public("nobody")).await, Err("invalid_client".into()));
        let both = Presented {
            basic: Some(("basic".into(), "s3cret-s3cret-s3cret".into())),
            client_secret: Some("x".into()),
            client_id: Some("basic".into()),
            ..Default::default()
        };
        assert_eq!(who(both).await, Err("invalid_request".into()));
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let v = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("my%20app:a%2Bb")
        );
        let p = Presented::read(Some(&v), &Default::default()).unwrap();
        assert_eq!(p.basic, Some(("my app".into(), "a+b".into())));
        assert!(Presented::read(Some("Basic !!"), &Default::default()).is_err());
    }
}
