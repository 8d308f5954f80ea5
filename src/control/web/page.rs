//! What every family with HTML pages shares: rendering a template with the theme and the
//! security headers, the double-submit CSRF token, the page's signed-in caller, and the way to
//! the sign-in page and back.

use crate::config::Config;
use axum::response::{Html, IntoResponse, Response};
use http::{header, HeaderMap, HeaderValue, StatusCode};
use minijinja::Value;
use rand::RngCore;

/// The cookie half of the double-submit CSRF token.
pub const CSRF_COOKIE: &str = "portcullis_csrf";

/// Renders a page with the theme merged into `ctx`. Every page carries a form, so the CSRF
/// token goes in as `csrf`, with its cookie when the browser has none yet.
pub fn render(
    cfg: &Config,
    headers: &HeaderMap,
    name: &str,
    status: StatusCode,
    ctx: Value,
) -> Response {
    let (csrf, set_cookie) = csrf_token(cfg, headers);
    let theme = minijinja::context! {
        product => cfg.pages.product_name,
        logo => cfg.pages.logo_url,
        primary => cfg.pages.primary_color,
        csrf,
        page_script => PAGE_SCRIPT,
        api => cfg.api.auth.as_deref().unwrap_or("/api/auth"),
        webauthn => cfg.mfa.webauthn.is_some(),
        development_banner => !cfg.server.production && cfg.server.exposed,
    };
    let body = cfg
        .pages
        .templates
        .get_template(name)
        .and_then(|t| t.render(minijinja::context! { ..theme, ..ctx }));
    let mut r = match body {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(template = name, error = %e, "page failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html("Something went wrong on our side".to_string()),
            )
                .into_response()
        }
    };
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    secure_headers(cfg, h);
    if let Some(v) = set_cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        h.append(header::SET_COOKIE, v);
    }
    r
}

/// The one script the pages run (passkey and copy buttons), inline; the policy allows it by
/// its hash and nothing else.
pub const PAGE_SCRIPT: &str = include_str!("../../../templates/pages/pages.js");

static SCRIPT_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(PAGE_SCRIPT.as_bytes()))
});

/// Where a page's form may lead, redirects included (browsers check `form-action` on every
/// hop of the redirects a submission starts): this site, and the places a sign-in may send
/// the browser back to — `server.redirect_origins`, the routes' hosts, and the OpenID
/// provider's clients' redirect URIs.
fn form_action(cfg: &Config) -> String {
    let mut out = vec!["'self'".to_string()];
    out.extend(cfg.server.redirect_origins.iter().cloned());
    out.extend(cfg.server.redirect_hosts.iter().cloned());
    for c in cfg.oidc_provider.iter().flat_map(|p| p.clients.values()) {
        for r in &c.redirect_uris {
            let source = match r {
                crate::config::RedirectUri::Exact(u) => match url::Url::parse(u) {
                    Ok(u) if matches!(u.scheme(), "http" | "https") => {
                        u.origin().ascii_serialization()
                    }
                    Ok(u) => format!("{}:", u.scheme()),
                    Err(_) => continue,
                },
                crate::config::RedirectUri::LoopbackAnyPort { host, .. } => {
                    format!("http://{host}:*")
                }
            };
            out.push(source);
        }
    }
    out.sort();
    out.dedup();
    // What cannot be written into the header is left out, never the whole policy.
    out.retain(|s| {
        s.bytes()
            .all(|b| b.is_ascii_graphic() && b != b';' && b != b',')
    });
    out.join(" ")
}

fn policy(cfg: &Config) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "default-src 'none'; script-src 'sha256-{}'; connect-src 'self'; style-src 'unsafe-inline'; img-src 'self' https: data:; form-action {}; frame-ancestors 'none'; base-uri 'none'",
        *SCRIPT_HASH,
        form_action(cfg)
    ))
    .unwrap_or(HeaderValue::from_static("default-src 'none'"))
}

/// Headers every page carries: no sniffing, no framing, no scripts but the passkey one, no
/// referrer leaks, forms only to where a sign-in may lead.
pub fn secure_headers(cfg: &Config, h: &mut HeaderMap) {
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("content-security-policy", policy(cfg));
}

/// The request's CSRF token, or a new one with the cookie that carries it.
pub fn csrf_token(cfg: &Config, headers: &HeaderMap) -> (String, Option<String>) {
    if let Some(t) = crate::request::credentials::cookie(headers, CSRF_COOKIE) {
        return (t, None);
    }
    let mut raw = [0u8; 24];
    rand::rng().fill_bytes(&mut raw);
    let token: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    let cookie = cookie::Cookie::build((CSRF_COOKIE, token.clone()))
        .http_only(true)
        .secure(cfg.cookie.secure)
        .same_site(cookie::SameSite::Strict)
        .path("/")
        .build()
        .to_string();
    (token.clone(), Some(cookie))
}

/// The form's token matches the cookie's (compared in constant time).
pub fn csrf_ok(headers: &HeaderMap, submitted: Option<&str>) -> bool {
    match (
        crate::request::credentials::cookie(headers, CSRF_COOKIE),
        submitted,
    ) {
        (Some(c), Some(s)) if c.len() == s.len() => {
            c.bytes()
                .zip(s.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
        }
        _ => false,
    }
}

/// Signed in: on to `back` (303, so the browser follows with a GET) with the session cookie.
pub fn signed_in_redirect(cfg: &Config, token: &str, remember: bool, back: String) -> Response {
    let cookie = crate::control::web::cookies::session(cfg, token, remember);
    let mut r = (StatusCode::SEE_OTHER, [(header::LOCATION, back)]).into_response();
    r.headers_mut().insert(header::SET_COOKIE, cookie);
    r
}

/// The fields of a submitted `application/x-www-form-urlencoded` form.
/// A value with NUL counts as absent: nothing stores it (PostgreSQL text refuses it).
pub fn form_fields(body: &[u8]) -> std::collections::HashMap<String, String> {
    form_urlencoded::parse(body)
        .into_owned()
        .filter(|(_, v)| !v.contains('\0'))
        .collect()
}

/// The guest rule of the sign-in and sign-up pages (the tutorial's guest middleware): someone
/// already signed in is sent on to `back` instead of being shown the page.
pub async fn guest_rule(
    state: &crate::state::State,
    headers: &HeaderMap,
    back: &str,
) -> Option<Response> {
    session(state, headers)
        .await
        .map(|_| (StatusCode::FOUND, [(header::LOCATION, back.to_string())]).into_response())
}

/// The page's signed-in caller, if any.
pub async fn session(
    state: &crate::state::State,
    headers: &HeaderMap,
) -> Option<crate::auth::Identity> {
    let authn = state
        .auth
        .from_headers(headers, &state.config().cookie.name, crate::store::now())
        .await;
    match authn {
        Some(crate::auth::Authn::Authenticated(id)) => {
            crate::audit::context::authenticated(&id);
            Some(id)
        }
        _ => None,
    }
}

/// To the sign-in page, and on to `back` afterwards.
pub fn to_sign_in(state: &crate::state::State, back: &str) -> Response {
    let login = state
        .config()
        .pages
        .login_path
        .clone()
        .unwrap_or_else(|| "/".into());
    let to = format!("{login}?returnTo={}", crate::redirect::escape_query(back));
    (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
}

/// A place to go back to that the redirect rule allows, or `/`.
pub fn return_to(cfg: &crate::config::Config, raw: Option<&str>) -> String {
    raw.filter(|r| crate::redirect::redirect_allowed(r, &cfg.server.redirects()))
        .unwrap_or("/")
        .to_string()
}
