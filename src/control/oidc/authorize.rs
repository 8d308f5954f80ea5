//! The authorization endpoint and the consent form (OpenID Connect Core §3.1.2, RFC 6749
//! §4.1, RFC 9207). The sign-in is the gateway's own: a browser without a session (or one
//! asked to sign in again: `prompt=login`, `max_age`) goes to the sign-in page and comes back
//! to a continuation of its request, signed so it cannot be changed on the way; the client's
//! policy is judged as a route's (refused: `access_denied`; a second factor missing: the
//! second-step page); consent is asked where the client wants it; then a code goes back.

use super::{on, params, On};
use crate::decision::policy::{judge, Facts, Verdict, Who};
use crate::oidc::error::OAuthError;
use crate::oidc::request::{self, AuthRequest, Prompt, Refusal, ResponseMode};
use crate::state::State;
use axum::body::Bytes;
use axum::extract::{RawQuery, State as S};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use http::{header, HeaderMap, HeaderValue, StatusCode};
use minijinja::context;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Marks a continuation: the sign-in must be at or after this time (a `prompt=login` or
/// `max_age` that sent the browser to sign in).
const LOGIN_AFTER: &str = "login_after";
const SIG: &str = "continue_sig";

pub async fn get(
    S(state): S<Arc<State>>,
    crate::control::web::extract::Client(client): crate::control::web::extract::Client,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let raw = q.unwrap_or_default();
    entry(&state, &headers, &client, raw.as_bytes()).await
}

pub async fn post(
    S(state): S<Arc<State>>,
    crate::control::web::extract::Client(client): crate::control::web::extract::Client,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    entry(&state, &headers, &client, &body).await
}

async fn entry(
    state: &State,
    headers: &HeaderMap,
    client: &crate::request::ClientInfo,
    raw: &[u8],
) -> Response {
    let Some(on) = on(state) else {
        return crate::error::Reject::NotFound.into_response();
    };
    let p = match params(raw) {
        Ok(p) => p,
        Err(e) => return here(state, headers, &e.description),
    };
    let label = super::client_label(&on.op, p.get("client_id").map(String::as_str)).to_string();
    let (r, outcome) = authorize(state, &on, headers, client, p, false).await;
    crate::metrics::oidc_request("authorize", &label, outcome);
    r
}

/// The continuation's signature: the provider's MAC over the sorted parameters.
fn signature(on: &On<'_>, p: &BTreeMap<String, String>) -> String {
    let canonical: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(p.iter().filter(|(k, _)| *k != SIG))
        .finish();
    URL_SAFE_NO_PAD.encode(on.provider.mac("authorize-continue", canonical.as_bytes()))
}

/// The request again, to come back to after a page, with the sign-in time it now needs.
fn continuation(on: &On<'_>, p: &BTreeMap<String, String>, login_after: Option<i64>) -> String {
    let mut p = p.clone();
    p.remove(SIG);
    if let Some(t) = login_after {
        p.insert(LOGIN_AFTER.into(), t.to_string());
        // Asked and answered: coming back, the sign-in time says it was made.
        if let Some(prompt) = p.get_mut("prompt") {
            *prompt = prompt
                .split(' ')
                .filter(|w| *w != "login")
                .collect::<Vec<_>>()
                .join(" ");
        }
    }
    let sig = signature(on, &p);
    p.insert(SIG.into(), sig);
    let q = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&p)
        .finish();
    format!("{}/authorize?{q}", on.op.path)
}

/// `(login_after)` of a continuation whose signature holds; `Err` for one that was changed.
fn verified(on: &On<'_>, p: &BTreeMap<String, String>) -> Result<Option<i64>, ()> {
    match (p.get(SIG), p.get(LOGIN_AFTER)) {
        (None, None) => Ok(None),
        (Some(sig), after) => {
            let ok = aws_lc_rs::constant_time::verify_slices_are_equal(
                sig.as_bytes(),
                signature(on, p).as_bytes(),
            )
            .is_ok();
            match (ok, after) {
                (false, _) => Err(()),
                (true, None) => Ok(None),
                (true, Some(t)) => t.parse().map(Some).map_err(|_| ()),
            }
        }
        (None, Some(_)) => Err(()),
    }
}

/// The decision on an authorization request: `(answer, client label, outcome label)`.
async fn authorize(
    state: &State,
    on: &On<'_>,
    headers: &HeaderMap,
    client_info: &crate::request::ClientInfo,
    p: BTreeMap<String, String>,
    consented: bool,
) -> (Response, &'static str) {
    let Ok(login_after) = verified(on, &p) else {
        return (
            here(state, headers, "The request was changed on its way back"),
            "invalid_request",
        );
    };
    let req = match request::parse(&p, &on.op.clients) {
        Ok(r) => r,
        Err(Refusal::Here(why)) => return (here(state, headers, &why), "invalid_request"),
        Err(Refusal::There {
            redirect_uri,
            mode,
            state: st,
            error,
        }) => {
            return (
                back(
                    on,
                    &redirect_uri,
                    mode,
                    &[
                        ("error", error.code),
                        ("error_description", &error.description),
                    ],
                    st.as_deref(),
                ),
                error.code,
            )
        }
    };
    let Some(client) = on.op.clients.get(&req.client_id) else {
        return (
            here(state, headers, "The client is not registered"),
            "invalid_request",
        );
    };
    let refuse = |e: OAuthError| {
        let r = back(
            on,
            &req.redirect_uri,
            req.response_mode,
            &[("error", e.code), ("error_description", &e.description)],
            req.state.as_deref(),
        );
        (r, e.code)
    };
    let now = crate::store::now();
    // The browser's session, and when its sign-in was made.
    let id = crate::control::web::page::session(state, headers)
        .await
        .filter(|i| i.key.is_none());
    let session = match &id {
        Some(i) => match state.store.session(&i.session_id.to_string()).await {
            Ok(s) => s.filter(|s| s.revoked_at.is_none() && s.expires_at > now),
            Err(e) => return refuse(e.into()),
        },
        None => None,
    };
    let fresh = |s: &crate::store::Session| {
        let at = s.auth_time.unwrap_or(s.created_at);
        login_after.is_none_or(|t| at >= t) && req.max_age.is_none_or(|m| at >= now - m)
    };
    let (id, session) = match (id, session) {
        (Some(id), Some(s))
            if fresh(&s) && !(req.prompt(Prompt::Login) && login_after.is_none()) =>
        {
            (id, s)
        }
        (signed_in, _) => {
            if req.prompt(Prompt::None) {
                return refuse(OAuthError::login_required(
                    "The user is not signed in (prompt=none)",
                ));
            }
            // Sign in (again): the page shows its form though a session exists.
            let again = signed_in.is_some() || req.prompt(Prompt::Login) || req.max_age.is_some();
            let back_to = continuation(on, &p, again.then_some(now));
            let login = on
                .live
                .pages
                .login_path
                .clone()
                .unwrap_or_else(|| "/login".into());
            let mut to = format!(
                "{login}?returnTo={}",
                crate::redirect::escape_query(&back_to)
            );
            if again {
                to.push_str("&prompt=login");
            }
            if let Some(h) = &req.login_hint {
                to.push_str(&format!("&email={}", crate::redirect::escape_query(h)));
            }
            return (found(&to), "sign_in");
        }
    };
    // Who may sign in to this client: the route policy language, judged as for a route.
    let facts = Facts {
        method: &http::Method::GET,
        ip: client_info.ip,
        at: now,
    };
    let wants_factor = req.wants_second_factor() && !id.session.amr.second_factor();
    let ruling = judge(&client.policy, Who::known(&id), &facts);
    match ruling.verdict {
        Verdict::Allow if !wants_factor => {}
        Verdict::Deny | Verdict::SignIn => {
            return refuse(OAuthError::access_denied(
                "The user may not sign in to this client",
            ));
        }
        Verdict::Allow | Verdict::StepUp => {
            if req.prompt(Prompt::None) {
                return refuse(OAuthError::interaction_required(
                    "A second factor is needed (prompt=none)",
                ));
            }
            let Some(mfa) = on.live.pages.mfa_path() else {
                return refuse(OAuthError::access_denied("A second factor is needed"));
            };
            let to = format!(
                "{mfa}?returnTo={}",
                crate::redirect::escape_query(&continuation(on, &p, None))
            );
            return (found(&to), "step_up");
        }
    }
    // Consent.
    if !consented {
        let stored = match state.store.consent(id.user.id, &client.id, now).await {
            Ok(s) => s,
            Err(e) => return refuse(e.into()),
        };
        let covered = stored.is_some_and(|s| {
            let have = crate::oidc::claims::scopes(&s);
            req.scopes.iter().all(|x| have.contains(x))
        });
        let ask = req.prompt(Prompt::Consent)
            || match client.consent {
                // Core §11: access that outlives the session is granted only with consent.
                crate::config::Consent::Implicit => {
                    req.scopes.contains(&crate::config::Scope::OfflineAccess)
                }
                crate::config::Consent::Explicit => true,
                crate::config::Consent::Remember(_) => !covered,
            };
        if ask {
            if req.prompt(Prompt::None) {
                return refuse(OAuthError::consent_required(
                    "Consent is needed (prompt=none)",
                ));
            }
            return (
                consent_page(state, on, headers, client, &req, &id, &p),
                "consent",
            );
        }
    }
    let event = crate::audit::Event::new(crate::audit::kinds::OIDC_AUTHORIZED)
        .by_user(id.user.id, &id.user.email)
        .change("client", None::<String>, client.id.clone())
        .change(
            "scope",
            None::<String>,
            crate::oidc::claims::scope_string(&req.scopes),
        )
        .client(client_info)
        .build();
    let ctx = on.ctx(state);
    match crate::oidc::flow::issue_code(&ctx, &req, client, &session, now, &[event]).await {
        Ok(code) => (
            back(
                on,
                &req.redirect_uri,
                req.response_mode,
                &[("code", &code)],
                req.state.as_deref(),
            ),
            "ok",
        ),
        Err(e) => refuse(e),
    }
}

fn found(to: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, to.to_string())]).into_response()
}

/// A request that cannot go back to any client: 400 and a page, never a redirect.
fn here(state: &State, headers: &HeaderMap, why: &str) -> Response {
    crate::control::web::page::render(
        &state.config(),
        headers,
        "oidc_message.html",
        StatusCode::BAD_REQUEST,
        context! { title => "This sign-in request cannot be completed", error => why },
    )
}

/// The answer at the client's redirect URI, with `state` and `iss` (RFC 9207), in the
/// response mode asked for.
fn back(
    on: &On<'_>,
    redirect_uri: &str,
    mode: ResponseMode,
    fields: &[(&str, &str)],
    state: Option<&str>,
) -> Response {
    let mut all: Vec<(&str, &str)> = fields.to_vec();
    if let Some(s) = state {
        all.push(("state", s));
    }
    all.push(("iss", &on.op.issuer));
    match mode {
        ResponseMode::Query => {
            let q = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&all)
                .finish();
            let sep = if redirect_uri.contains('?') { '&' } else { '?' };
            found(&format!("{redirect_uri}{sep}{q}"))
        }
        ResponseMode::FormPost => form_post(redirect_uri, &all),
    }
}

const FORM_POST_SCRIPT: &str = "document.forms[0].submit();";

/// Form Post Response Mode §2: a page that posts the answer to the client at once.
fn form_post(redirect_uri: &str, fields: &[(&str, &str)]) -> Response {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&#39;")
    };
    let inputs: String = fields
        .iter()
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                esc(k),
                esc(v)
            )
        })
        .collect();
    let html = format!(
        "<!doctype html><html><head><title>Signing in</title></head><body><form method=\"post\" action=\"{}\">{inputs}<noscript><button type=\"submit\">Continue</button></noscript></form><script>{FORM_POST_SCRIPT}</script></body></html>",
        esc(redirect_uri)
    );
    use sha2::Digest;
    let hash = base64::engine::general_purpose::STANDARD
        .encode(sha2::Sha256::digest(FORM_POST_SCRIPT.as_bytes()));
    let origin = url::Url::parse(redirect_uri)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    let csp = format!("default-src 'none'; script-src 'sha256-{hash}'; form-action {origin}; frame-ancestors 'none'; base-uri 'none'");
    let mut r = (StatusCode::OK, axum::response::Html(html)).into_response();
    if let Ok(v) = HeaderValue::from_str(&csp) {
        r.headers_mut().insert("content-security-policy", v);
    }
    r.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

fn consent_page(
    state: &State,
    on: &On<'_>,
    headers: &HeaderMap,
    client: &crate::config::Client,
    req: &AuthRequest,
    id: &crate::auth::Identity,
    p: &BTreeMap<String, String>,
) -> Response {
    let scopes: Vec<&str> = req.scopes.iter().map(|s| s.in_words()).collect();
    let request = continuation(on, p, None);
    crate::control::web::page::render(
        &state.config(),
        headers,
        "oidc_consent.html",
        StatusCode::OK,
        context! {
            client => client.name,
            email => id.user.email,
            scopes,
            request,
            action => format!("{}/consent", on.op.path),
        },
    )
}

/// `POST {path}/consent`: the user's answer to the consent page.
pub async fn consent(
    S(state): S<Arc<State>>,
    crate::control::web::extract::Client(client_info): crate::control::web::extract::Client,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(on) = on(&state) else {
        return crate::error::Reject::NotFound.into_response();
    };
    let form = crate::control::web::page::form_fields(&body);
    if !crate::control::web::page::csrf_ok(&headers, form.get("csrf").map(String::as_str)) {
        return here(
            &state,
            &headers,
            "The consent form expired; start the sign-in again from the app",
        );
    }
    let Some(p) = form
        .get("request")
        .and_then(|r| r.split_once('?'))
        .and_then(|(_, q)| params(q.as_bytes()).ok())
    else {
        return here(&state, &headers, "The consent form is incomplete");
    };
    if verified(&on, &p).is_err() || !p.contains_key(SIG) {
        return here(&state, &headers, "The request was changed on its way back");
    }
    let req = match request::parse(&p, &on.op.clients) {
        Ok(r) => r,
        Err(_) => return here(&state, &headers, "The request is no longer valid"),
    };
    let Some(client) = on.op.clients.get(&req.client_id) else {
        return here(&state, &headers, "The client is not registered");
    };
    let Some(id) = crate::control::web::page::session(&state, &headers).await else {
        return authorize(&state, &on, &headers, &client_info, p, false)
            .await
            .0;
    };
    let now = crate::store::now();
    if form.get("decision").map(String::as_str) != Some("allow") {
        let e = OAuthError::access_denied("The user did not allow the client");
        crate::metrics::oidc_request("authorize", &client.id, "access_denied");
        return back(
            &on,
            &req.redirect_uri,
            req.response_mode,
            &[("error", e.code), ("error_description", &e.description)],
            req.state.as_deref(),
        );
    }
    let scopes = crate::oidc::claims::scope_string(&req.scopes);
    if let crate::config::Consent::Remember(d) = client.consent {
        if let Err(e) = state
            .store
            .save_consent(id.user.id, &client.id, &scopes, now + d.as_secs() as i64)
            .await
        {
            tracing::error!(error = %e, "saving a consent failed");
        }
    }
    state.audit.record(
        crate::audit::Event::new(crate::audit::kinds::OIDC_CONSENT_GRANTED)
            .by_user(id.user.id, &id.user.email)
            .change("client", None::<String>, client.id.clone())
            .change("scope", None::<String>, scopes)
            .client(&client_info),
    );
    let (r, outcome) = authorize(&state, &on, &headers, &client_info, p, true).await;
    crate::metrics::oidc_request("authorize", &client.id, outcome);
    r
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_form_post_page_escapes_what_it_posts() {
        let r = super::form_post("https://app.test/cb", &[("state", "\"><script>x</script>")]);
        let csp = r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(csp.contains("form-action https://app.test"), "{csp}");
    }
}
