//! What the provider's tokens say: ID tokens (OpenID Connect Core §2), access tokens as JWTs
//! (RFC 9068), logout tokens (Back-Channel Logout 1.0 §2.4), and the identifiers in them —
//! the subject (public or pairwise, Core §8) and the session id (`sid`), derived so that
//! neither the user's row id (pairwise) nor the gateway's session id leaves the gateway.

use crate::config::{Client, Scope, SigningAlg, Subject};
use crate::store::oidc::Grant;
use crate::store::User;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256, Sha512};

/// `typ` of an access token (RFC 9068 §2.1).
pub const ACCESS_TYP: &str = "at+jwt";
/// `typ` of a logout token (Back-Channel Logout 1.0 §2.4, RFC 8725 §3.11).
pub const LOGOUT_TYP: &str = "logout+jwt";
pub const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// The subject `client` knows the user by.
pub fn subject(client: &Client, user_id: i64, salt: &[u8]) -> String {
    match &client.subject {
        Subject::Public => user_id.to_string(),
        Subject::Pairwise { sector } => {
            let mut h = Sha256::new();
            h.update(sector.as_bytes());
            h.update([0]);
            h.update(user_id.to_be_bytes());
            h.update(salt);
            URL_SAFE_NO_PAD.encode(h.finalize())
        }
    }
}

/// The `sid` of a gateway session: the same for every client, and not the session id itself
/// (which is a value the gateway sends its upstreams).
pub fn sid(session_id: &str) -> String {
    let d = Sha256::digest(format!("oidc-sid\0{session_id}").as_bytes());
    URL_SAFE_NO_PAD.encode(&d[..18])
}

/// `at_hash` (Core §3.1.3.6): the left half of the access token's hash, by the hash of the
/// signature algorithm (SHA-512 for Ed25519).
pub fn at_hash(alg: SigningAlg, access_token: &str) -> String {
    let left = match alg {
        SigningAlg::Rs256 | SigningAlg::Es256 => {
            Sha256::digest(access_token.as_bytes())[..16].to_vec()
        }
        SigningAlg::EdDsa => Sha512::digest(access_token.as_bytes())[..32].to_vec(),
    };
    URL_SAFE_NO_PAD.encode(left)
}

/// The scopes of a grant (space-separated), parsed.
pub fn scopes(s: &str) -> Vec<Scope> {
    s.split(' ').filter_map(Scope::parse).collect()
}

pub fn scope_string(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(|s| s.name())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The user's claims a grant's scopes release (Core §5.4), for the ID token and userinfo.
pub fn user_claims(user: &User, granted: &[Scope], out: &mut Map<String, Value>) {
    if granted.contains(&Scope::Email) {
        out.insert("email".into(), user.email.clone().into());
        out.insert("email_verified".into(), user.email_verified.into());
    }
    if granted.contains(&Scope::Profile) {
        out.insert("name".into(), user.name.clone().into());
        out.insert("preferred_username".into(), user.email.clone().into());
        if let Some(p) = &user.picture {
            out.insert("picture".into(), p.clone().into());
        }
        out.insert("updated_at".into(), user.updated_at.into());
    }
    if granted.contains(&Scope::Groups) {
        out.insert("groups".into(), user.groups.0.clone().into());
    }
}

/// Everything a token issued under a grant needs.
pub struct Issue<'a> {
    pub issuer: &'a str,
    pub client: &'a Client,
    pub grant: &'a Grant,
    pub user: &'a User,
    pub subject: String,
    pub now: i64,
}

/// RFC 9068 §2.2: `iss exp aud sub client_id iat jti`, and the grant's facts. `gid` names the
/// grant, so introspection and userinfo see at once when it ends.
#[derive(Debug, Serialize, Deserialize, Clone)]
pub struct AccessClaims {
    pub iss: String,
    pub exp: i64,
    pub aud: String,
    pub sub: String,
    pub client_id: String,
    pub iat: i64,
    pub jti: String,
    pub scope: String,
    pub gid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
}

impl Issue<'_> {
    fn amr(&self) -> Vec<String> {
        self.grant
            .amr
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }

    pub fn access(&self, lifetime: i64) -> AccessClaims {
        let granted = scopes(&self.grant.scopes);
        let session = self.grant.session_id.as_deref();
        AccessClaims {
            iss: self.issuer.to_string(),
            exp: self.now + lifetime,
            // No resource indicator (RFC 8707) is taken: the provider itself (its userinfo)
            // is the default resource.
            aud: self.issuer.to_string(),
            sub: self.subject.clone(),
            client_id: self.client.id.clone(),
            iat: self.now,
            jti: uuid::Uuid::new_v4().to_string(),
            scope: self.grant.scopes.clone(),
            gid: self.grant.id.clone(),
            sid: session.map(sid),
            auth_time: session.map(|_| self.grant.auth_time),
            acr: session.map(|_| self.grant.acr.clone()),
            amr: if session.is_some() {
                self.amr()
            } else {
                Vec::new()
            },
            groups: granted
                .contains(&Scope::Groups)
                .then(|| self.user.groups.0.clone()),
        }
    }

    /// Core §2 and §3.1.3.6, plus the claims the scopes release.
    pub fn id_token(
        &self,
        lifetime: i64,
        nonce: Option<&str>,
        alg: SigningAlg,
        access_token: &str,
    ) -> Value {
        let mut c = Map::new();
        c.insert("iss".into(), self.issuer.into());
        c.insert("sub".into(), self.subject.clone().into());
        c.insert("aud".into(), self.client.id.clone().into());
        c.insert("exp".into(), (self.now + lifetime).into());
        c.insert("iat".into(), self.now.into());
        c.insert("auth_time".into(), self.grant.auth_time.into());
        if let Some(n) = nonce {
            c.insert("nonce".into(), n.into());
        }
        c.insert("at_hash".into(), at_hash(alg, access_token).into());
        if let Some(s) = &self.grant.session_id {
            c.insert("sid".into(), sid(s).into());
        }
        c.insert("amr".into(), self.amr().into());
        c.insert("acr".into(), self.grant.acr.clone().into());
        c.insert("azp".into(), self.client.id.clone().into());
        user_claims(self.user, &scopes(&self.grant.scopes), &mut c);
        Value::Object(c)
    }
}

/// A logout token (§2.4): no `nonce`, the `events` member, `sid` and `sub`.
pub fn logout_token(
    issuer: &str,
    client_id: &str,
    subject: &str,
    session_id: &str,
    now: i64,
) -> Value {
    serde_json::json!({
        "iss": issuer,
        "aud": client_id,
        "iat": now,
        "exp": now + 120,
        "jti": uuid::Uuid::new_v4().to_string(),
        "sub": subject,
        "sid": sid(session_id),
        "events": { LOGOUT_EVENT: {} },
    })
}

/// The `acr` a sign-in earns: `1` with a second factor (or a passkey), `0` otherwise. These
/// are the values `acr_values` may ask for.
pub fn acr(amr: crate::auth::Amr) -> &'static str {
    if amr.second_factor() {
        "1"
    } else {
        "0"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_is_the_left_half_of_the_hash() {
        // OpenID Connect Core §3.1.3.6, with the example of the spec's Appendix A.4.
        let token = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y";
        assert_eq!(at_hash(SigningAlg::Rs256, token), "77QmUPtjPfzWtF2AnpK9RQ");
        assert_eq!(at_hash(SigningAlg::EdDsa, token).len(), 43);
    }

    #[test]
    fn pairwise_subjects_differ_by_sector_and_are_stable() {
        let mut c = crate::config::from_yaml(
            "oidc_provider:\n  enabled: true\n  clients:\n    a:\n      redirect_uris: [\"https://a.test/cb\"]\n      subject: pairwise\n",
            &Default::default(),
            std::path::Path::new("."),
        )
        .unwrap()
        .oidc_provider
        .unwrap()
        .clients["a"]
        .clone();
        let one = subject(&c, 7, b"salt");
        assert_eq!(one, subject(&c, 7, b"salt"));
        assert_ne!(one, subject(&c, 8, b"salt"));
        assert_ne!(one, "7");
        c.subject = Subject::Pairwise {
            sector: "b.test".into(),
        };
        assert_ne!(one, subject(&c, 7, b"salt"));
        c.subject = Subject::Public;
        assert_eq!(subject(&c, 7, b"salt"), "7");
        assert_ne!(sid("s"), "s");
    }
}
