//! GitHub sign-in: OAuth 2.0 (no OpenID Connect), with state and PKCE like every provider, then
//! the user API for the profile and the emails API for a verified primary address.

use super::identity::Profile;
use super::page::{fail, Failure};
use crate::config::{Provider, ProviderKind};
use crate::state::State;
use http::StatusCode;
use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse, TokenUrl,
};
use secrecy::ExposeSecret;
use serde_json::Value;

type Client = BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

struct Endpoints<'a> {
    auth: &'a str,
    token: &'a str,
    api: &'a str,
}

fn endpoints(p: &Provider) -> Option<Endpoints<'_>> {
    match &p.kind {
        ProviderKind::Github {
            auth_url,
            token_url,
            api_url,
        } => Some(Endpoints {
            auth: auth_url,
            token: token_url,
            api: api_url,
        }),
        _ => None,
    }
}

fn client(state: &State, p: &Provider) -> Result<(Client, String), Failure> {
    let e = endpoints(p)
        .ok_or_else(|| fail(StatusCode::INTERNAL_SERVER_ERROR, "Not a GitHub provider"))?;
    let bad_config = |_| {
        fail(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The GitHub provider is misconfigured",
        )
    };
    let c = BasicClient::new(ClientId::new(p.client_id.clone()))
        .set_client_secret(ClientSecret::new(
            p.client_secret.expose_secret().to_string(),
        ))
        .set_auth_uri(AuthUrl::new(e.auth.to_string()).map_err(bad_config)?)
        .set_token_uri(TokenUrl::new(e.token.to_string()).map_err(bad_config)?)
        .set_redirect_uri(
            RedirectUrl::new(format!(
                "{}/auth/{}",
                state.config().server.public_url,
                p.name
            ))
            .map_err(bad_config)?,
        );
    Ok((c, e.api.to_string()))
}

/// Where to send the browser, the CSRF state and the PKCE verifier to keep.
pub fn authorize(state: &State, p: &Provider) -> Result<(String, String, String), Failure> {
    let (c, _) = client(state, p)?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut req = c
        .authorize_url(CsrfToken::new_random)
        .set_pkce_challenge(challenge);
    for s in &p.scopes {
        req = req.add_scope(Scope::new(s.clone()));
    }
    let (url, csrf) = req.url();
    Ok((
        url.to_string(),
        csrf.secret().clone(),
        verifier.secret().clone(),
    ))
}

/// Exchanges the code and reads who signed in.
pub async fn profile(
    state: &State,
    p: &Provider,
    code: &str,
    verifier: &str,
) -> Result<Profile, Failure> {
    let (c, api) = client(state, p)?;
    let token = c
        .exchange_code(AuthorizationCode::new(code.to_string()))
        .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_string()))
        .request_async(&state.oauth.http)
        .await
        .map_err(|e| {
            tracing::warn!(provider = %p.name, error = %e, "GitHub code exchange failed");
            fail(StatusCode::BAD_REQUEST, "The provider refused the sign-in")
        })?;
    let access = token.access_token().secret();
    let get = |path: &str| {
        state
            .oauth
            .http
            .get(format!("{api}{path}"))
            .bearer_auth(access)
            .header(http::header::USER_AGENT, "portcullis")
            .header(http::header::ACCEPT, "application/vnd.github+json")
            .send()
    };
    let unreachable = |e: reqwest::Error| {
        tracing::warn!(error = %e, "GitHub API failed");
        fail(
            StatusCode::BAD_GATEWAY,
            "The provider's user API cannot be reached",
        )
    };
    let user: Value = get("/user")
        .await
        .map_err(unreachable)?
        .json()
        .await
        .map_err(unreachable)?;
    let id = user
        .get("id")
        .and_then(Value::as_i64)
        .ok_or_else(|| fail(StatusCode::BAD_GATEWAY, "The provider sent no user id"))?;
    let emails: Vec<Value> = match get("/user/emails").await {
        Ok(r) if r.status().is_success() => r.json().await.unwrap_or_default(),
        _ => Vec::new(),
    };
    // Only the primary, verified address may stand for the person.
    let primary = emails
        .iter()
        .find(|e| e["primary"] == true && e["verified"] == true);
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let issuer = url_origin(endpoints(p).map(|e| e.auth).unwrap_or("https://github.com"));
    Ok(Profile {
        issuer,
        subject: id.to_string(),
        email: primary
            .and_then(|e| s(e, "email"))
            .or_else(|| s(&user, "email")),
        email_verified: primary.is_some(),
        name: s(&user, "name").or_else(|| s(&user, "login")),
        picture: s(&user, "avatar_url"),
        raw: user.as_object().cloned().unwrap_or_default(),
    })
}

/// `https://github.com/login/...` → `https://github.com`: the identity namespace of the host.
fn url_origin(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("https", url));
    format!("{scheme}://{}", rest.split('/').next().unwrap_or(""))
}
