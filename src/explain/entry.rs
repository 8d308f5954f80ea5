//! The two ways in: `GET /explain` on the admin listener (against the running gateway's
//! state) and `portcullis explain` (against a config file and its database), and the text
//! rendering.

use super::{explain, Asked, Caller, Described, Explanation};
use crate::auth::Authn;
use crate::error::Reject;
use crate::live::Live;
use crate::state::State;
use axum::extract::{Query, State as S};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use std::net::IpAddr;
use std::sync::Arc;

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

/// An address (`203.0.113.7`, `2001:db8::1`), or why not.
fn parse_ip(text: &str) -> Result<IpAddr, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("{text:?} is not an IP address"))
}

/// An RFC 3339 time (`2026-12-05T08:30:00+01:00`) as Unix seconds, or why not.
fn parse_at(text: &str) -> Result<i64, String> {
    text.trim()
        .parse::<jiff::Timestamp>()
        .map(|t| t.as_second())
        .map_err(|_| format!("{text:?} is not an RFC 3339 time like 2026-12-05T08:30:00Z"))
}

/// A caller described by traits (`role`, `email`, `group`, `mfa`), if any was given.
fn described(
    role: Option<String>,
    email: Option<String>,
    groups: Vec<String>,
    mfa: bool,
) -> Option<Described> {
    let any = role.is_some() || email.is_some() || !groups.is_empty() || mfa;
    any.then(|| Described {
        role: role.unwrap_or_else(|| "user".into()),
        email,
        groups,
        mfa,
    })
}

/// `GET /explain?method=GET&url=/admin/x[&ip=A][&at=T][&role=R&email=E&group=G&mfa=true |
/// &token=T][&header=Accept:%20text/html]…` on the admin listener, or with the token in
/// `Authorization: Bearer`. `url` is the request target exactly as a client would send it.
pub async fn admin(
    S(state): S<Arc<State>>,
    Query(q): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Result<axum::Json<Explanation>, Reject> {
    let get = |k: &str| q.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    let all = |k: &str| -> Vec<String> {
        q.iter()
            .filter(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .collect()
    };
    let method = get("method")
        .unwrap_or_else(|| "GET".into())
        .parse::<Method>()
        .map_err(|_| Reject::BadRequest("method is not an HTTP method".into()))?;
    let url = get("url").ok_or_else(|| Reject::BadRequest("url is required".into()))?;
    let described_headers = parse_headers(all("header").iter().map(String::as_str))
        .map_err(|e| Reject::BadRequest(e.to_string()))?;
    let ip = get("ip")
        .map(|i| parse_ip(&i))
        .transpose()
        .map_err(|e| Reject::BadRequest(format!("ip: {e}")))?;
    let at = get("at")
        .map(|t| parse_at(&t))
        .transpose()
        .map_err(|e| Reject::BadRequest(format!("at: {e}")))?
        .unwrap_or_else(crate::clock::now);
    let bearer = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    let traits = described(
        get("role"),
        get("email"),
        all("group"),
        get("mfa").is_some_and(|m| m == "true" || m == "1"),
    );
    let caller = match (traits, get("token").or(bearer)) {
        (_, Some(t)) => Caller::Token(state.auth.credential(&t, crate::store::now()).await),
        (Some(d), None) => Caller::Described(d),
        (None, None) => Caller::Anonymous,
    };
    let asked = Asked {
        method: &method,
        target: &url,
        headers: &described_headers,
        ip,
        at,
    };
    Ok(axum::Json(explain(&state.config(), &asked, caller)))
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
    if let Some(b) = &e.block {
        out.push_str(&format!("  block:    {b}\n"));
    }
    out.push_str(&format!("  because:  {}\n", e.reason));
    if !e.blocks.is_empty() {
        out.push_str(&format!(
            "  policy (client {}, at {}):\n",
            e.ip.as_deref().unwrap_or("unknown"),
            e.at
        ));
        for b in &e.blocks {
            out.push_str(&format!("    {} {:<16} {}\n", b.kind, b.block, b.result));
            for c in &b.criteria {
                out.push_str(&format!(
                    "      {:<14} {:<14} {}\n",
                    c.criterion, c.result, c.expects
                ));
            }
        }
    }
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
    #[error("--{0}")]
    Fact(String),
    #[error("the token could not be checked")]
    Keys(#[from] crate::auth::keys::KeyError),
    #[error("the token could not be checked")]
    Store(#[from] crate::store::StoreError),
    #[error("the token could not be checked")]
    Runtime(#[from] std::io::Error),
}

/// What `portcullis explain` was asked, as typed.
pub struct CliArgs<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub headers: &'a [String],
    pub ip: Option<&'a str>,
    pub at: Option<&'a str>,
    pub role: Option<&'a str>,
    pub email: Option<&'a str>,
    pub groups: &'a [String],
    pub mfa: bool,
    pub token: Option<&'a str>,
}

/// `portcullis explain`: the config's routes; a token is authenticated against the config's
/// keys and database.
pub fn cli(config_path: &std::path::Path, a: &CliArgs<'_>) -> Result<Explanation, ExplainError> {
    let cfg = crate::config::load(config_path, &crate::config::Overrides::from_env())?;
    let method = a
        .method
        .to_ascii_uppercase()
        .parse::<Method>()
        .map_err(|_| ExplainError::Method(a.method.to_string()))?;
    let described_headers =
        parse_headers(a.headers.iter().map(String::as_str)).map_err(ExplainError::Header)?;
    let ip =
        a.ip.map(parse_ip)
            .transpose()
            .map_err(|e| ExplainError::Fact(format!("ip: {e}")))?;
    let at =
        a.at.map(parse_at)
            .transpose()
            .map_err(|e| ExplainError::Fact(format!("at: {e}")))?
            .unwrap_or_else(crate::clock::now);
    let traits = described(
        a.role.map(str::to_string),
        a.email.map(str::to_string),
        a.groups.to_vec(),
        a.mfa,
    );
    let caller = match (traits, a.token) {
        (_, Some(t)) => Caller::Token(authenticate(&cfg, t)?),
        (Some(d), None) => Caller::Described(d),
        (None, None) => Caller::Anonymous,
    };
    let asked = Asked {
        method: &method,
        target: a.url,
        headers: &described_headers,
        ip,
        at,
    };
    Ok(explain(&Live::new(cfg), &asked, caller))
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
