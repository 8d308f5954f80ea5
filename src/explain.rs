//! "Why was I denied?": what the gateway does with a request an operator describes — method,
//! target, headers (`Accept`, `Origin`, `Sec-Fetch-*`, `Host`, …) and caller — and which check
//! decided. It runs the proxy's own decision functions ([`crate::decision`]), so its answer is
//! the proxy's. Served by `portcullis explain` and by `GET /explain` on the admin listener; a
//! token is authenticated for real (signature, claims, its session and user in the store).

use crate::auth::{Authn, CachedUser, Identity, Rejection, SessionEntry};
use crate::config::AuthRule;
use crate::decision::{self, Check, Decision, RequestFacts};
use crate::error::Reject;
use crate::live::Live;
use crate::state::State;
use axum::extract::{Query, State as S};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde::Serialize;
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
    /// The request target as given.
    pub target: String,
    /// The matched route's name and pattern, if any.
    pub route: Option<String>,
    pub pattern: Option<String>,
    pub upstream: Option<String>,
    pub requires: String,
    /// `forward`, `control`, `redirect`, `options` or `deny`.
    pub decision: String,
    /// What the client gets: the app's answer for `forward` (shown as 200), the gateway's
    /// otherwise; 0 for `control`, where the endpoint itself answers.
    pub status: u16,
    /// The check that decided: `head size`, `request target`, `route`, `rate limit`,
    /// `cross-site`, `credentials`, `role`, or `rule` when the route's rule let it through.
    pub check: String,
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
            header_values: Default::default(),
        }),
        session_id: uuid::Uuid::nil(),
        session: SessionEntry {
            user_id: 0,
            token_id: uuid::Uuid::nil(),
            expires_at: i64::MAX,
            remember: false,
            revoked: false,
            // A password sign-in: what a route demanding a second factor refuses.
            amr: crate::auth::Amr::PWD,
        },
        key: None,
    })
}

fn why_token(authn: Option<&Authn>) -> Option<&'static str> {
    match authn? {
        Authn::Rejected(r) => Some(match r {
            Rejection::Malformed => "the credentials are malformed",
            Rejection::Expired => "the token or its session has expired",
            Rejection::Revoked => "the session was revoked (logout, renewal or an admin)",
            Rejection::Inactive => "the account is deactivated",
            Rejection::Invalid => {
                "the token is invalid (signature, algorithm, issuer, audience or claims), or the API key is unknown"
            }
            Rejection::KeyNotAllowed => "API keys are not accepted here",
        }),
        Authn::Unavailable => Some("the database is unavailable"),
        Authn::Authenticated(_) => None,
    }
}

/// What the proxy would do with this request, from this caller.
pub fn explain(
    live: &Live,
    method: &Method,
    target: &str,
    headers: &HeaderMap,
    caller: Caller,
) -> Explanation {
    let facts = RequestFacts {
        method,
        raw_target: target.as_bytes(),
        host: headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok()),
        headers,
        // Explaining counts against no limit.
        client_ip: None,
        forwarded: false,
    };
    let authn = match caller {
        Caller::Anonymous => None,
        Caller::Role(r) => Some(with_role(&r)),
        Caller::Token(a) => Some(a),
    };
    let why = why_token(authn.as_ref());
    let decided = match decision::pre_auth(live, &facts) {
        decision::PreAuth::Decided(decided) => decided,
        decision::PreAuth::Needs(needs) => {
            let authn = if needs.credentials(live) { authn } else { None };
            decision::authorize(live, needs, authn, &facts)
        }
    };
    describe(live, method, target, &decided, why)
}

fn describe(
    live: &Live,
    method: &Method,
    target: &str,
    d: &Decision,
    why: Option<&'static str>,
) -> Explanation {
    let mut e = Explanation {
        method: method.to_string(),
        target: target.to_string(),
        route: None,
        pattern: None,
        upstream: None,
        requires: String::new(),
        decision: d.kind().to_string(),
        status: 0,
        check: String::new(),
        reason: String::new(),
    };
    if let Some(r) = d.route().map(|i| &live.routes[i]) {
        e.route = Some(r.name.clone());
        e.pattern = Some(r.path.as_str().to_string());
        e.upstream = Some(r.upstream.clone());
        e.requires = requirement(&r.auth);
        if r.mfa {
            e.requires.push_str(", signed in with a second factor");
        }
        if !r.scopes.is_empty() {
            e.requires
                .push_str(&format!(", an API key with scopes {}", r.scopes.join(" ")));
        }
    }
    let upstream = e.upstream.clone().unwrap_or_default();
    match d {
        Decision::Control(_) => {
            e.requires = "whatever that endpoint requires".into();
            e.check = "route".into();
            e.reason = "the gateway serves this path itself (auth API or page)".into();
        }
        Decision::EdgeCheck(_) => {
            e.requires = "a peer in server.trusted_proxies".into();
            e.check = "route".into();
            e.reason = "an edge proxy's forward-auth check: the request it describes gets its own decision".into();
        }
        Decision::ServerOptions => {
            e.status = 204;
            e.check = "request target".into();
            e.reason = "OPTIONS * is answered by the gateway itself".into();
        }
        Decision::Forward(f) => {
            e.status = 200;
            e.check = "rule".into();
            e.reason = match &f.identity {
                Some(id) => format!(
                    "forwarded to upstream {upstream} with the identity headers of a user with role {}",
                    id.user.role
                ),
                None => format!("forwarded to upstream {upstream} without identity"),
            };
        }
        Decision::Redirect { failure, .. } if *failure == crate::decision::STEP_UP => {
            e.status = 302;
            e.check = Check::SecondFactor.name().into();
            e.reason = "the session's sign-in used no second factor; a browser's page load is sent to the second-step page (an API client gets 401)".into();
        }
        Decision::Redirect { .. } => {
            e.status = 302;
            e.check = Check::Credentials.name().into();
            e.reason = format!(
                "{}; a browser's page load is sent to the sign-in page (an API client gets 401)",
                why.unwrap_or("no credentials were presented")
            );
        }
        Decision::Deny(denial) => {
            e.status = denial.reject.status().as_u16();
            e.check = denial.check.name().into();
            e.reason = match (denial.check, &denial.reject) {
                (Check::Target(_) | Check::HeadSize | Check::RateLimit, r) => r.message(),
                (Check::Route, _) => "no route matches this method, host and path (routes are first match; nothing is forwarded without one)".into(),
                (Check::CrossSite, _) => "a state-changing request with the session cookie, from another site".into(),
                (Check::Role, _) => format!("the caller's role is not allowed ({})", e.requires),
                (Check::SecondFactor, _) => "the session's sign-in used no second factor (the route has mfa: true)".into(),
                (Check::Credentials, Reject::Unavailable) => "the database is unavailable".into(),
                (Check::Credentials, _) => why.unwrap_or("no credentials were presented").into(),
            };
        }
    }
    e
}

/// A described header that is not one.
#[derive(Debug, thiserror::Error)]
pub enum HeaderError {
    #[error("{0:?} is not `Name: value`")]
    Shape(String),
    #[error("{0:?} is not a header name")]
    Name(String),
    #[error("the value of {0:?} is not a header value")]
    Value(String),
}

/// Headers given as `Name: value`.
fn parse_headers<'a>(lines: impl Iterator<Item = &'a str>) -> Result<HeaderMap, HeaderError> {
    let mut h = HeaderMap::new();
    for line in lines {
        let (k, v) = line
            .split_once(':')
            .ok_or_else(|| HeaderError::Shape(line.to_string()))?;
        let name = HeaderName::from_bytes(k.trim().as_bytes())
            .map_err(|_| HeaderError::Name(k.to_string()))?;
        let value =
            HeaderValue::from_str(v.trim()).map_err(|_| HeaderError::Value(k.to_string()))?;
        h.append(name, value);
    }
    Ok(h)
}

/// `GET /explain?method=GET&url=/admin/x[&role=R | &token=T][&header=Accept:%20text/html]…`
/// on the admin listener, or with the token in `Authorization: Bearer`. `url` is the request
/// target exactly as a client would send it.
pub async fn admin(
    S(state): S<Arc<State>>,
    Query(q): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Result<axum::Json<Explanation>, Reject> {
    let get = |k: &str| q.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    let method = get("method")
        .unwrap_or_else(|| "GET".into())
        .parse::<Method>()
        .map_err(|_| Reject::BadRequest("method is not an HTTP method".into()))?;
    let url = get("url").ok_or_else(|| Reject::BadRequest("url is required".into()))?;
    let described = parse_headers(
        q.iter()
            .filter(|(k, _)| k == "header")
            .map(|(_, v)| v.as_str()),
    )
    .map_err(|e| Reject::BadRequest(e.to_string()))?;
    let bearer = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    let caller = match (get("role"), get("token").or(bearer)) {
        (_, Some(t)) => Caller::Token(state.auth.credential(&t, crate::store::now()).await),
        (Some(r), None) => Caller::Role(r),
        (None, None) => Caller::Anonymous,
    };
    Ok(axum::Json(explain(
        &state.config(),
        &method,
        &url,
        &described,
        caller,
    )))
}

/// The CLI's rendering.
pub fn render(e: &Explanation) -> String {
    let mut out = format!("{} {}\n", e.method, e.target);
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
    out.push_str(&format!("  check:    {}\n", e.check));
    out.push_str(&format!("  because:  {}\n", e.reason));
    out
}

/// Why `portcullis explain` could not run.
#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigErrors),
    #[error("{0:?} is not an HTTP method")]
    Method(String),
    #[error("--header {0}")]
    Header(#[from] HeaderError),
    #[error("the token could not be checked")]
    Keys(#[from] crate::auth::keys::KeyError),
    #[error("the token could not be checked")]
    Store(#[from] crate::store::StoreError),
    #[error("the token could not be checked")]
    Runtime(#[from] std::io::Error),
}

/// `portcullis explain`: the config's routes; a token is authenticated against the config's
/// keys and database.
pub fn cli(
    config_path: &std::path::Path,
    method: &str,
    url: &str,
    headers: &[String],
    role: Option<&str>,
    token: Option<&str>,
) -> Result<Explanation, ExplainError> {
    let cfg = crate::config::load(config_path, &crate::config::Overrides::from_env())?;
    let method = method
        .to_ascii_uppercase()
        .parse::<Method>()
        .map_err(|_| ExplainError::Method(method.to_string()))?;
    let described =
        parse_headers(headers.iter().map(String::as_str)).map_err(ExplainError::Header)?;
    let caller = match (role, token) {
        (_, Some(t)) => Caller::Token(authenticate(&cfg, t)?),
        (Some(r), None) => Caller::Role(r.to_string()),
        (None, None) => Caller::Anonymous,
    };
    Ok(explain(&Live::new(cfg), &method, url, &described, caller))
}

/// A token checked against the config's keys and database, as the proxy checks it.
fn authenticate(cfg: &crate::config::Config, token: &str) -> Result<Authn, ExplainError> {
    let (keys, _) = crate::auth::keys::token_keys(cfg)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let store = crate::store::open(&cfg.database.url, 1).await?;
        let auth = crate::auth::Authenticator::new(keys, crate::auth::SessionCache::new(16), store);
        Ok::<_, ExplainError>(auth.credential(token, crate::store::now()).await)
    })
}
