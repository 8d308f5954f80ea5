//! `GET /auth/callback`: the small page that finishes a sign-in in the browser. It exchanges the
//! one-time code at `/auth/token`, keeps the access token where the Nuxt Aegis client keeps it
//! (`sessionStorage`, key `nuxt-aegis-token`), and goes on to the success URL (or `redirectTo`).

use crate::state::State;
use axum::extract::{Query, State as S};
use axum::response::{Html, IntoResponse, Response};
use http::{header, HeaderValue};
use std::collections::HashMap;
use std::sync::Arc;

const PAGE: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><meta name="referrer" content="no-referrer"><title>Signing in…</title></head>
<body><p id="status">Signing in…</p>
<script>
(async () => {
  const params = new URLSearchParams(location.search);
  const code = params.get('code');
  const next = document.body.dataset.next;
  const status = document.getElementById('status');
  if (!code) { status.textContent = 'Sign-in failed: no code.'; return; }
  try {
    const r = await fetch('/auth/token', { method: 'POST', credentials: 'same-origin',
      headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) });
    if (!r.ok) { status.textContent = 'Sign-in failed: ' + ((await r.json()).message || r.status); return; }
    const { token } = await r.json();
    sessionStorage.setItem('nuxt-aegis-token', token);
    history.replaceState(null, '', '/auth/callback');
    location.replace(next);
  } catch (e) { status.textContent = 'Sign-in failed.'; }
})();
</script></body></html>"#;

pub async fn page(S(state): S<Arc<State>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let next = q
        .get("redirectTo")
        .filter(|r| crate::redirect::redirect_allowed(r, &state.config().server.redirects()))
        .cloned()
        .unwrap_or_else(|| state.config().oauth.success_url.clone());
    let html = PAGE.replace(
        "<body>",
        &format!("<body data-next=\"{}\">", super::page::escape_html(&next)),
    );
    let mut r = Html(html).into_response();
    let h = r.headers_mut();
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // The one inline script is this page's own; nothing else may run or frame it.
    h.insert(
        "content-security-policy",
        HeaderValue::from_static("default-src 'none'; script-src 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'"),
    );
    r
}
