//! The provider's grants, with no HTTP in them: a code for an approved request, its exchange
//! (RFC 6749 §4.1.3, RFC 7636 §4.6), refresh with rotation and reuse detection (RFC 9700
//! §4.14.2), client credentials (RFC 6749 §4.4), and reading an access or refresh token back
//! for userinfo, introspection (RFC 7662) and revocation (RFC 7009). Every token is checked
//! against its grant in the store, so a grant that ended — its session over, a code replayed,
//! the user's "revoke" — refuses its tokens on every instance at once.

use super::claims::{self, AccessClaims, Issue};
use super::error::OAuthError;
use super::request::AuthRequest;
use super::Provider;
use crate::auth::one_time;
use crate::config::{Client, OidcProvider, Scope};
use crate::store::oidc::{Code, Grant, OidcRefresh, Redeemed};
use crate::store::{Session, Store, User};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// What a grant's calls need.
pub struct Ctx<'a> {
    pub store: &'a dyn Store,
    pub op: &'a OidcProvider,
    pub provider: &'a Provider,
    /// How long after a rotation the old refresh token still yields its successor (parallel
    /// refreshes), as for the Aegis refresh (`oauth.refresh.grace`).
    pub grace: Duration,
}

/// A token response (RFC 6749 §5.1, Core §3.1.3.3).
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access_token: String,
    pub expires_in: i64,
    pub id_token: Option<String>,
    pub refresh_token: Option<String>,
    pub scope: String,
}

impl Tokens {
    pub fn body(&self) -> Value {
        let mut v = json!({
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "scope": self.scope,
        });
        if let Some(t) = &self.id_token {
            v["id_token"] = t.clone().into();
        }
        if let Some(t) = &self.refresh_token {
            v["refresh_token"] = t.clone().into();
        }
        v
    }
}

fn secs(d: Duration) -> i64 {
    d.as_secs() as i64
}

/// A new code for an approved request: its grant (with the session's sign-in facts) and the
/// code that hands it over, in one transaction with `audit`.
pub async fn issue_code(
    ctx: &Ctx<'_>,
    req: &AuthRequest,
    client: &Client,
    session: &Session,
    now: i64,
    audit: &[crate::store::NewEvent],
) -> Result<String, OAuthError> {
    let amr = crate::auth::Amr::parse(&session.amr);
    let offline = req.scopes.contains(&Scope::OfflineAccess);
    let grant = Grant {
        id: uuid::Uuid::new_v4().to_string(),
        client_id: client.id.clone(),
        user_id: session.user_id,
        session_id: Some(session.id.clone()),
        scopes: claims::scope_string(&req.scopes),
        offline,
        auth_time: session.auth_time.unwrap_or(session.created_at),
        amr: session.amr.clone(),
        acr: claims::acr(amr).into(),
        created_at: now,
        last_used_at: now,
        expires_at: now + secs(ctx.op.lifetimes.refresh_absolute),
        revoked_at: None,
    };
    let (raw, hash) = one_time::generate();
    let code = Code {
        code_hash: hash,
        grant_id: grant.id.clone(),
        redirect_uri: req.redirect_uri.clone(),
        code_challenge: req.code_challenge.clone(),
        nonce: req.nonce.clone(),
        expires_at: now + secs(ctx.op.lifetimes.code),
        used_at: None,
    };
    ctx.store
        .create_grant_with_code(&grant, &code, audit)
        .await?;
    Ok(raw)
}

/// RFC 7636 §4.6: `BASE64URL(SHA256(verifier)) == challenge`, the verifier being 43–128
/// unreserved characters (§4.1).
pub fn pkce_ok(verifier: &str, challenge: &str) -> bool {
    let shaped = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    shaped && URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) == challenge
}

/// What the token endpoint's `authorization_code` grant got.
pub struct CodeExchange<'a> {
    pub code: &'a str,
    pub redirect_uri: Option<&'a str>,
    pub verifier: Option<&'a str>,
}

/// The outcome worth an audit line beside the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    None,
    /// A code used twice: its grant was revoked.
    CodeReused,
    /// A rotated refresh token presented after the grace: its grant was revoked.
    RefreshReused,
}

/// Redeems a code for tokens.
pub async fn exchange(
    ctx: &Ctx<'_>,
    client: &Client,
    x: CodeExchange<'_>,
    now: i64,
) -> (Result<Tokens, OAuthError>, Notice) {
    let bad = |why: &str| OAuthError::invalid_grant(why.to_string());
    let redeemed = match ctx.store.redeem_code(&one_time::hash(x.code), now).await {
        Ok(r) => r,
        Err(e) => return (Err(e.into()), Notice::None),
    };
    let (code, grant) = match redeemed {
        Redeemed::Fresh(b) => *b,
        Redeemed::Reused { .. } => {
            return (
                Err(bad(
                    "The code was used before; every token issued from it is revoked",
                )),
                Notice::CodeReused,
            )
        }
        Redeemed::Unknown => return (Err(bad("The code is not valid")), Notice::None),
    };
    let checks = || -> Result<(), OAuthError> {
        if grant.client_id != client.id {
            return Err(bad("The code was issued to another client"));
        }
        if code.expires_at <= now {
            return Err(bad("The code has expired"));
        }
        // RFC 6749 §4.1.3: the same redirect_uri as the authorization request, exactly.
        if x.redirect_uri != Some(code.redirect_uri.as_str()) {
            return Err(bad("redirect_uri differs from the authorization request's"));
        }
        match x.verifier {
            None => Err(OAuthError::invalid_request(
                "code_verifier is missing (PKCE)",
            )),
            Some(v) if pkce_ok(v, &code.code_challenge) => Ok(()),
            Some(_) => Err(bad("The code_verifier does not match the code_challenge")),
        }
    };
    if let Err(e) = checks() {
        return (Err(e), Notice::None);
    }
    let tokens = async {
        let user = live_user(ctx, &grant, now).await?;
        issue(ctx, client, &grant, &user, code.nonce.as_deref(), true, now).await
    };
    (tokens.await, Notice::None)
}

/// The grant's user, while the grant and (for a session's grant) the session live.
async fn live_user(ctx: &Ctx<'_>, grant: &Grant, now: i64) -> Result<User, OAuthError> {
    let gone = || OAuthError::invalid_grant("The grant has ended");
    if !grant.live(now) {
        return Err(gone());
    }
    if let (Some(sid), false) = (&grant.session_id, grant.offline) {
        match ctx.store.session(sid).await? {
            Some(s) if s.revoked_at.is_none() && s.expires_at > now => {}
            _ => return Err(gone()),
        }
    }
    match ctx.store.user_by_id(grant.user_id).await? {
        Some(u) if u.active && u.deleted_at.is_none() => Ok(u),
        _ => Err(gone()),
    }
}

/// Access token, ID token (with `openid` and a user sign-in) and refresh token (for a client
/// with the grant) under `grant`.
async fn issue(
    ctx: &Ctx<'_>,
    client: &Client,
    grant: &Grant,
    user: &User,
    nonce: Option<&str>,
    new_refresh: bool,
    now: i64,
) -> Result<Tokens, OAuthError> {
    let keys = ctx.provider.keys();
    let salt = ctx.provider.pairwise_salt();
    let is = Issue {
        issuer: &ctx.op.issuer,
        client,
        grant,
        user,
        subject: claims::subject(client, user.id, &salt),
        now,
    };
    let lifetime = secs(ctx.op.lifetimes.access_token);
    let access = keys
        .sign(claims::ACCESS_TYP, &is.access(lifetime))
        .ok_or_else(OAuthError::server_error)?;
    let granted = claims::scopes(&grant.scopes);
    let id_token = match (&grant.session_id, granted.contains(&Scope::OpenId)) {
        (Some(_), true) => Some(
            keys.sign(
                "JWT",
                &is.id_token(
                    secs(ctx.op.lifetimes.id_token),
                    nonce,
                    keys.current.alg,
                    &access,
                ),
            )
            .ok_or_else(OAuthError::server_error)?,
        ),
        _ => None,
    };
    let refresh_token = if new_refresh && client.grants.refresh_token && grant.session_id.is_some()
    {
        let (raw, hash) = one_time::generate();
        ctx.store
            .save_oidc_refresh(&OidcRefresh {
                token_hash: hash,
                grant_id: grant.id.clone(),
                created_at: now,
                expires_at: (now + secs(ctx.op.lifetimes.refresh_token)).min(grant.expires_at),
                rotated_at: None,
                successor: None,
            })
            .await?;
        Some(raw)
    } else {
        None
    };
    ctx.store.touch_grant(&grant.id, now).await?;
    Ok(Tokens {
        access_token: access,
        expires_in: lifetime,
        id_token,
        refresh_token,
        scope: grant.scopes.clone(),
    })
}

/// The successor of a refresh token: the same on every instance and for every parallel
/// request, so two refreshes within the grace get the same one.
fn successor(provider: &Provider, raw: &str) -> String {
    URL_SAFE_NO_PAD.encode(provider.mac("refresh", raw.as_bytes()))
}

/// A refresh (RFC 6749 §6): a new access and ID token and the rotated refresh token.
pub async fn refresh(
    ctx: &Ctx<'_>,
    client: &Client,
    raw: &str,
    now: i64,
) -> (Result<Tokens, OAuthError>, Notice) {
    let bad = || OAuthError::invalid_grant("The refresh token is not valid");
    let run = async {
        if !client.grants.refresh_token {
            return Err((
                OAuthError::unauthorized_client("This client may not refresh"),
                Notice::None,
            ));
        }
        let plain = |e: OAuthError| (e, Notice::None);
        let row = ctx
            .store
            .oidc_refresh(&one_time::hash(raw))
            .await
            .map_err(|e| plain(e.into()))?;
        let row = row.ok_or_else(|| plain(bad()))?;
        let grant = ctx
            .store
            .grant(&row.grant_id)
            .await
            .map_err(|e| plain(e.into()))?;
        let grant = grant.ok_or_else(|| plain(bad()))?;
        if grant.client_id != client.id || row.expires_at <= now {
            return Err(plain(bad()));
        }
        let next = successor(ctx.provider, raw);
        let new = OidcRefresh {
            token_hash: one_time::hash(&next),
            grant_id: grant.id.clone(),
            created_at: now,
            expires_at: (now + secs(ctx.op.lifetimes.refresh_token)).min(grant.expires_at),
            rotated_at: None,
            successor: None,
        };
        let rotated_now = row.rotated_at.is_none()
            && ctx
                .store
                .rotate_oidc_refresh(&row.token_hash, &new, now)
                .await
                .map_err(|e| plain(e.into()))?;
        if !rotated_now {
            // Rotated already: a parallel refresh (the same successor, within the grace) or
            // a replay of a stolen token, which ends the grant (RFC 9700 §4.14.2).
            let current = ctx
                .store
                .oidc_refresh(&row.token_hash)
                .await
                .map_err(|e| plain(e.into()))?;
            let within = current
                .as_ref()
                .and_then(|c| c.rotated_at)
                .is_some_and(|at| now - at < secs(ctx.grace))
                && current.and_then(|c| c.successor).as_deref() == Some(new.token_hash.as_str());
            if !within {
                ctx.store
                    .revoke_grant(&grant.id, now, &[])
                    .await
                    .map_err(|e| plain(e.into()))?;
                return Err((bad(), Notice::RefreshReused));
            }
        }
        let user = live_user(ctx, &grant, now).await.map_err(plain)?;
        let mut tokens = issue(ctx, client, &grant, &user, None, false, now)
            .await
            .map_err(plain)?;
        tokens.refresh_token = Some(next);
        Ok(tokens)
    };
    match run.await {
        Ok(t) => (Ok(t), Notice::None),
        Err((e, n)) => (Err(e), n),
    }
}

/// `client_credentials` (RFC 6749 §4.4): an access token naming the client's service
/// account, for the scopes asked among the client's (no ID token, no refresh token).
pub async fn client_credentials(
    ctx: &Ctx<'_>,
    client: &Client,
    scope: Option<&str>,
    now: i64,
) -> Result<Tokens, OAuthError> {
    if !client.grants.client_credentials {
        return Err(OAuthError::unauthorized_client(
            "This client may not use client_credentials",
        ));
    }
    let email = client
        .service_account
        .as_deref()
        .ok_or_else(|| OAuthError::unauthorized_client("This client names no service account"))?;
    let user = match ctx.store.user_by_email(email).await? {
        Some(u) if u.active && u.deleted_at.is_none() => u,
        _ => {
            return Err(OAuthError::invalid_grant(
                "The client's service account does not exist or is inactive",
            ))
        }
    };
    let asked: Vec<Scope> = scope
        .unwrap_or("")
        .split(' ')
        .filter_map(Scope::parse)
        .filter(|s| client.scopes.contains(s) && *s != Scope::OpenId && *s != Scope::OfflineAccess)
        .collect();
    let grant = Grant {
        id: uuid::Uuid::new_v4().to_string(),
        client_id: client.id.clone(),
        user_id: user.id,
        session_id: None,
        scopes: claims::scope_string(&asked),
        offline: false,
        auth_time: now,
        amr: String::new(),
        acr: "0".into(),
        created_at: now,
        last_used_at: now,
        expires_at: now + secs(ctx.op.lifetimes.access_token),
        revoked_at: None,
    };
    ctx.store.create_grant(&grant).await?;
    issue(ctx, client, &grant, &user, None, false, now).await
}

/// An access token this provider signed, still valid, whose grant lives (its session and user
/// too): its claims and grant, in one store query. What introspection describes.
pub async fn access_grant(
    ctx: &Ctx<'_>,
    token: &str,
    now: i64,
) -> Result<(AccessClaims, Grant), OAuthError> {
    let invalid = || OAuthError::invalid_token("The access token is not valid");
    let keys = ctx.provider.keys();
    let header = jsonwebtoken::decode_header(token).map_err(|_| invalid())?;
    // RFC 9068 §4: the type is checked, and the algorithm is the key's (RFC 8725 §3.1).
    if header.typ.as_deref() != Some(claims::ACCESS_TYP) {
        return Err(invalid());
    }
    let key = keys.verifier(&header).ok_or_else(invalid)?;
    let alg = header.alg;
    let mut v = jsonwebtoken::Validation::new(alg);
    v.set_issuer(&[ctx.op.issuer.as_str()]);
    v.set_audience(&[ctx.op.issuer.as_str()]);
    v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    v.leeway = 0;
    let c = jsonwebtoken::decode::<AccessClaims>(token, &key.decoding, &v)
        .map_err(|_| invalid())?
        .claims;
    if c.exp <= now {
        return Err(invalid());
    }
    let grant = ctx
        .store
        .live_grant(&c.gid, now)
        .await?
        .ok_or_else(invalid)?;
    Ok((c, grant))
}

/// The same, with the grant's user: what userinfo serves.
pub async fn access(
    ctx: &Ctx<'_>,
    token: &str,
    now: i64,
) -> Result<(AccessClaims, Grant, User), OAuthError> {
    let (c, grant) = access_grant(ctx, token, now).await?;
    match ctx.store.user_by_id(grant.user_id).await? {
        Some(u) if u.active && u.deleted_at.is_none() => Ok((c, grant, u)),
        _ => Err(OAuthError::invalid_token("The access token is not valid")),
    }
}

/// RFC 7662 §2.2: what introspection says of `token` to `client` (access tokens and refresh
/// tokens this provider issued; anything else, or a token of another client's refresh, is
/// `active: false`).
pub async fn introspect(
    ctx: &Ctx<'_>,
    client: &Client,
    token: &str,
    now: i64,
) -> Result<Value, OAuthError> {
    let inactive = json!({ "active": false });
    if let Ok((c, _)) = access_grant(ctx, token, now).await {
        let mut v = serde_json::to_value(&c).map_err(|_| OAuthError::server_error())?;
        v["active"] = true.into();
        v["token_type"] = "Bearer".into();
        return Ok(v);
    }
    let Some(row) = ctx.store.oidc_refresh(&one_time::hash(token)).await? else {
        return Ok(inactive);
    };
    let Some(grant) = ctx.store.grant(&row.grant_id).await? else {
        return Ok(inactive);
    };
    // A refresh token is its client's: nobody else learns of it.
    if grant.client_id != client.id || row.rotated_at.is_some() || row.expires_at <= now {
        return Ok(inactive);
    }
    let Ok(user) = live_user(ctx, &grant, now).await else {
        return Ok(inactive);
    };
    let Some(c) = ctx.op.clients.get(&grant.client_id) else {
        return Ok(inactive);
    };
    Ok(json!({
        "active": true,
        "token_type": "refresh_token",
        "client_id": grant.client_id,
        "scope": grant.scopes,
        "sub": claims::subject(c, user.id, &ctx.provider.pairwise_salt()),
        "exp": row.expires_at,
        "iat": row.created_at,
        "iss": ctx.op.issuer,
    }))
}

/// RFC 7009 §2.1: revoking a refresh token ends its grant (and so its access tokens);
/// revoking an access token ends its grant too. Tokens of other clients, and unknown ones,
/// are left alone with the same answer.
pub async fn revoke(
    ctx: &Ctx<'_>,
    client: &Client,
    token: &str,
    now: i64,
) -> Result<Option<Grant>, OAuthError> {
    let grant = match ctx.store.oidc_refresh(&one_time::hash(token)).await? {
        Some(row) => ctx.store.grant(&row.grant_id).await?,
        None => match access_grant(ctx, token, now).await {
            Ok((_, g)) => Some(g),
            Err(_) => None,
        },
    };
    match grant {
        Some(g) if g.client_id == client.id => {
            ctx.store.revoke_grant(&g.id, now, &[]).await?;
            Ok(Some(g))
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_as_rfc_7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_ok(verifier, challenge));
        assert!(!pkce_ok(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK",
            challenge
        ));
        // The challenge itself (what `plain` would compare) is no verifier.
        assert!(!pkce_ok(challenge, challenge));
        assert!(!pkce_ok("short", challenge));
    }
}
