//! "Why was I denied?": which route a request matches, what that route requires, and what the
//! gateway would decide, with its reason — the same decision functions the proxy runs. Served
//! by `portcullis explain` and by `GET /explain` on the admin listener; a token is
//! authenticated for real (signature, claims, its session and user in the database).

use crate::auth::{Authn, CachedUser, Identity, Rejection, SessionEntry};
use crate::config::{AuthRule, Config};
use crate::error::Reject;
use crate::proxy::decide::{authorize, is_control};
use crate::proxy::routes::RouteIndex;
use crate::proxy::target::{self, Parsed};
use crate::state::State;
use axum::extract::{Query, State as S};
use http::Method;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;

/// Who is asking, as the operator describes them.
pub enum Caller {
    Anonymous,
    /// A signed-in user with this role (no token needed).
    Role(String),
    /// What authenticating this token found.
    Token(Authn),
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Explanation {
    pub method: String,
    pub path: String,
    /// The matched route's name and pattern, if any.
    pub route: Option<String>,
    pub pattern: Option<String>,
    pub upstream: Option<String>,
    pub requires: String,
    /// `forward`, `control`, `redirect` or `deny` (with the status).
    pub decision: String,
    pub status: u16,
    pub reason: String,
}

fn requirement(rule: &AuthRule) -> String {
    match rule {
        AuthRule::None => "nothing (public)".into(),
        AuthRule::Optional => "nothing; identity is forwarded when a valid token comes".into(),
        AuthRule::Required => "a valid session".into(),
        AuthRule::Roles(r) => format!("a valid session with role {}", r.join(" or ")),
    }
}

/// A caller with `role` and nothing else known about them.
fn with_role(role: &str) -> Authn {
    Authn::Authenticated(Identity {
        user: Arc::new(CachedUser {
            id: 0,
            email: String::new(),
            name: String::new(),
            role: role.to_string(),
            active: true,
            picture: None,
        }),
        session_id: uuid::Uuid::nil(),
        session: SessionEntry {
            user_id: 0,
            token_id: uuid::Uuid::nil(),
            expires_at: i64::MAX,
            remember: false,
            revoked: false,
        },
    })
}

pub fn explain(cfg: &Config, method: &Method, url: &str, caller: Caller) -> Explanation {
    let (raw_path, host) = split_url(url);
    let mut e = Explanation {
        method: method.to_string(),
        path: raw_path.clone(),
        route: None,
        pattern: None,
        upstream: None,
        requires: String::new(),
        decision: "deny".into(),
        status: 0,
        reason: String::new(),
    };
    let target = match target::parse(raw_path.as_bytes(), method, |_| false) {
        Ok(Parsed::Path(t)) => t,
        Ok(Parsed::ServerOptions) => {
            e.decision = "options".into();
            e.status = 204;
            e.reason = "OPTIONS * is answered by the gateway itself".into();
            return e;
        }
        Err(why) => {
            e.status = 400;
            e.reason = format!("the request target is refused before routing: {why}");
            return e;
        }
    };
    if is_control(cfg, &target.path) {
        e.decision = "control".into();
        e.status = 200;
        e.requires = "whatever that endpoint requires".into();
        e.reason = "the gateway serves this path itself (auth API or page)".into();
        return e;
    }
    // The proxy's own route lookup, so the answer cannot drift from what it would do.
    let index = RouteIndex::new(&cfg.routes);
    let i = match crate::proxy::readings::route(
        &index,
        &cfg.routes,
        host.as_deref(),
        method,
        &target,
    ) {
        Ok(Some(i)) => i,
        Ok(None) => {
            e.status = 404;
            e.reason = "no route matches this method, host and path (routes are first match; nothing is forwarded without one)".into();
            return e;
        }
        Err(why) => {
            e.status = 400;
            e.reason = format!("the request target is refused before routing: {why}");
            return e;
        }
    };
    let route = &cfg.routes[i];
    e.route = Some(route.name.clone());
    e.pattern = Some(route.path.as_str().to_string());
    e.upstream = Some(route.upstream.clone());
    e.requires = requirement(&route.auth);
    let authn = match caller {
        Caller::Anonymous => None,
        Caller::Role(r) => Some(with_role(&r)),
        Caller::Token(a) => Some(a),
    };
    let why_token = match &authn {
        Some(Authn::Rejected(r)) => Some(match r {
            Rejection::Malformed => "the credentials are malformed",
            Rejection::Expired => "the token or its session has expired",
            Rejection::Revoked => "the session was revoked (logout, renewal or an admin)",
            Rejection::Inactive => "the account is deactivated",
            Rejection::Invalid => {
                "the token is invalid (signature, algorithm, issuer, audience or claims)"
            }
        }),
        _ => None,
    };
    match authorize(&route.auth, authn) {
        Ok(id) => {
            e.decision = "forward".into();
            e.status = 200;
            e.reason = match id {
                Some(id) => format!(
                    "forwarded to upstream {} with the identity headers of a user with role {}",
                    route.upstream, id.user.role
                ),
                None => format!("forwarded to upstream {} without identity", route.upstream),
            };
        }
        Err(reject) => {
            e.status = reject.status().as_u16();
            e.reason = match (&reject, why_token) {
                (_, Some(why)) => why.to_string(),
                (Reject::Forbidden(_), _) => {
                    format!("the caller's role is not allowed ({})", e.requires)
                }
                (Reject::Unavailable, _) => "the database is unavailable".into(),
                _ => "no credentials were presented".into(),
            };
            if matches!(reject, Reject::Unauthenticated { .. })
                && route.redirect_browsers
                && cfg.pages.login_path.is_some()
            {
                e.decision = "redirect".into();
                e.status = 302;
                e.reason.push_str(
                    "; a browser's page load is sent to the sign-in page (302), an API client gets 401",
                );
            }
        }
    }
    e
}

/// The path (with no query) and host of a URL given as `http://host/path` or `/path`.
fn split_url(url: &str) -> (String, Option<String>) {
    let (host, rest) = match url.split_once("://") {
        Some((_, after)) => match after.find('/') {
            Some(i) => (Some(after[..i].to_string()), after[i..].to_string()),
            None => (Some(after.to_string()), "/".to_string()),
        },
        None => (None, url.to_string()),
    };
    let path = rest.split(['?', '#']).next().unwrap_or("/").to_string();
    let host = host.map(|h| h.rsplit('@').next().unwrap_or(&h).to_string());
    (if path.is_empty() { "/".into() } else { path }, host)
}

/// `GET /explain?method=GET&url=/admin/x[&role=R | &token=T]` on the admin listener, or with
/// the token in `Authorization: Bearer`.
pub async fn admin(
    S(state): S<Arc<State>>,
    Query(q): Query<HashMap<String, String>>,
    headers: http::HeaderMap,
) -> Result<axum::Json<Explanation>, Reject> {
    let method = q
        .get("method")
        .map(String::as_str)
        .unwrap_or("GET")
        .parse::<Method>()
        .map_err(|_| Reject::BadRequest("method is not an HTTP method".into()))?;
    let url = q
        .get("url")
        .ok_or_else(|| Reject::BadRequest("url is required".into()))?;
    let bearer = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    let caller = match (q.get("role"), q.get("token").cloned().or(bearer)) {
        (_, Some(t)) => Caller::Token(state.auth.authenticate(&t, crate::store::now()).await),
        (Some(r), None) => Caller::Role(r.clone()),
        (None, None) => Caller::Anonymous,
    };
    Ok(axum::Json(explain(&state.config(), &method, url, caller)))
}

/// The CLI's rendering.
pub fn render(e: &Explanation) -> String {
    let mut out = format!("{} {}\n", e.method, e.path);
    match (&e.route, &e.pattern) {
        (Some(r), Some(p)) => out.push_str(&format!(
            "  route:    {r} ({p}) -> upstream {}\n",
            e.upstream.as_deref().unwrap_or("")
        )),
        _ => out.push_str("  route:    none\n"),
    }
    if !e.requires.is_empty() {
        out.push_str(&format!("  requires: {}\n", e.requires));
    }
    out.push_str(&format!("  decision: {} ({})\n", e.decision, e.status));
    out.push_str(&format!("  because:  {}\n", e.reason));
    out
}

/// `portcullis explain`: the config's routes; a token is authenticated against the config's
/// keys and database.
pub fn cli(
    config_path: &std::path::Path,
    method: &str,
    url: &str,
    role: Option<&str>,
    token: Option<&str>,
) -> anyhow::Result<Explanation> {
    let cfg = crate::app::load_config(config_path)?;
    let method = method
        .to_ascii_uppercase()
        .parse::<Method>()
        .map_err(|_| anyhow::anyhow!("{method:?} is not an HTTP method"))?;
    let caller = match (role, token) {
        (_, Some(t)) => {
            let (keys, _) = crate::auth::keys::token_keys(&cfg).map_err(anyhow::Error::msg)?;
            let rt = crate::app::control_runtime()?;
            let authn = rt.block_on(async {
                let store = crate::store::open(&cfg.database.url, 1).await?;
                let auth = crate::auth::Authenticator::new(
                    keys,
                    crate::auth::SessionCache::new(16),
                    store,
                );
                Ok::<_, anyhow::Error>(auth.authenticate(t, crate::store::now()).await)
            })?;
            Caller::Token(authn)
        }
        (Some(r), None) => Caller::Role(r.to_string()),
        (None, None) => Caller::Anonymous,
    };
    Ok(explain(&cfg, &method, url, caller))
}
