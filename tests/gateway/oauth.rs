//! OAuth / OIDC sign-in end to end against the built-in mock provider over real sockets: the
//! gateway discovers the mock through its own public URL, exactly as it would a real provider.

use crate::harness::*;
use http::Method;
use serde_json::json;

pub const MOCK: &str = r#"oauth:
  success_url: "/app"
  refresh: { grace: "10s" }
  providers:
    mock:
      kind: mock
      client_id: mock-client
      client_secret: mock-secret
      claims: { tier: { value: "gold" }, nick: { from: "name" } }
      personas:
        - { sub: "p-1", email: "ann@example.test", name: "Ann", picture: "https://img.example/ann.png" }
        - { sub: "p-2", email: "bob@example.test", name: "Bob" }
"#;

async fn start(extra: &str) -> (Upstream, Gateway) {
    let (up, g) = start_with(|o| {
        o.extra = format!("{MOCK}{extra}");
    })
    .await;
    (up, g)
}


fn location(r: &reqwest::Response) -> String {
    assert_eq!(r.status(), 302, "expected a redirect");
    r.headers()["location"].to_str().unwrap().to_string()
}

/// Where a sign-in lands (`/auth/callback?code=…`, or `FAILED <status> <body>`), and the
/// state cookie of the browser that made it, which alone may redeem the code.
pub struct Callback {
    pub location: String,
    pub cookie: String,
}

impl std::ops::Deref for Callback {
    type Target = str;
    fn deref(&self) -> &str {
        &self.location
    }
}

impl std::fmt::Display for Callback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.location)
    }
}

/// Runs the browser side up to `/auth/callback?code=…`.
pub async fn sign_in(g: &Gateway, query: &str) -> Callback {
    let c = no_redirects();
    let r = c
        .get(g.url(&format!("/auth/mock{query}")))
        .send()
        .await
        .unwrap();
    let (state_cookie, full) = set_cookie(&r);
    assert!(
        full.contains("HttpOnly") && full.contains("Path=/auth"),
        "{full}"
    );
    let authorize = location(&r);
    assert!(
        authorize.contains("code_challenge_method=S256") && authorize.contains("nonce="),
        "{authorize}"
    );
    let back = location(&c.get(&authorize).send().await.unwrap());
    let r = c
        .get(&back)
        .header("cookie", &state_cookie)
        .send()
        .await
        .unwrap();
    let location = if r.status() != 302 {
        format!("FAILED {} {}", r.status(), r.text().await.unwrap())
    } else {
        location(&r)
    };
    Callback {
        location,
        cookie: state_cookie,
    }
}

/// `POST /auth/token` with `code`, from the browser holding `cookie` (`name=value`).
pub async fn exchange(g: &Gateway, code: &str, cookie: &str) -> reqwest::Response {
    g.client
        .post(g.url("/auth/token"))
        .header("cookie", cookie)
        .json(&json!({ "code": code }))
        .send()
        .await
        .unwrap()
}

/// Redeems the code of a sign-in from the browser that made it.
pub async fn redeem(g: &Gateway, cb: &Callback) -> reqwest::Response {
    exchange(g, &query_param(cb, "code"), &cb.cookie).await
}

/// A full sign-in: the access token and the refresh cookie (`name=value`).
pub async fn signed_in(g: &Gateway, query: &str) -> (String, String) {
    let cb = sign_in(g, query).await;
    let r = redeem(g, &cb).await;
    assert_eq!(r.status(), 200);
    let (cookie, _) = set_cookie(&r);
    let v: serde_json::Value = r.json().await.unwrap();
    (v["token"].as_str().unwrap().to_string(), cookie)
}

async fn refresh(g: &Gateway, cookie: &str) -> reqwest::Response {
    g.client
        .post(g.url("/auth/refresh"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_whole_flow_against_the_mock_provider() {
    let (up, g) = start("").await;
    let cb = sign_in(&g, "").await;
    assert!(cb.starts_with("/auth/callback?code="), "{cb}");
    let r = redeem(&g, &cb).await;
    assert_eq!(r.status(), 200);
    let (cookie, full) = set_cookie(&r);
    assert!(cookie.starts_with("nuxt-aegis-refresh="), "{full}");
    assert!(
        full.contains("HttpOnly") && full.contains("SameSite=Lax"),
        "{full}"
    );
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["expiresIn"], 3600);
    assert_eq!(v["tokenType"], "Bearer");
    assert_eq!(v["accessToken"], v["token"]);
    let token = v["token"].as_str().unwrap();

    assert_eq!(g.get("/app", Some(token)).await.status(), 200);
    assert_eq!(up.last().headers["x-auth-email"], "ann@example.test");
    let me: serde_json::Value = g
        .get("/api/user/me", Some(token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["provider"], "mock");
    assert_eq!(me["email"], "ann@example.test");
    assert_eq!(me["name"], "Ann");
    assert_eq!(me["picture"], "https://img.example/ann.png");
    assert_eq!(me["role"], "user");
    assert_eq!(me["tier"], "gold");
    assert_eq!(me["nick"], "Ann");
    assert!(me["iat"].is_u64() && me["exp"].is_u64() && me["sub"].is_string());
    error_body(g.get("/api/user/me", None).await, 401).await;

    // The same persona again is the same local user (issuer + subject).
    let (again, _) = signed_in(&g, "").await;
    assert_eq!(payload(&again)["sub"], payload(token)["sub"]);
    let (bob, _) = signed_in(&g, "?user=p-2").await;
    assert_ne!(payload(&bob)["sub"], payload(token)["sub"]);

    // The callback page finishes the flow in the browser.
    let page = g.client.get(g.url(&cb)).send().await.unwrap();
    assert_eq!(page.headers()["referrer-policy"], "no-referrer");
    let html = page.text().await.unwrap();
    assert!(
        html.contains("/auth/token") && html.contains("data-next=\"/app\""),
        "{html}"
    );
}

#[tokio::test]
async fn codes_work_once_and_are_required() {
    let (_up, g) = start("").await;
    let cb = sign_in(&g, "").await;
    let code = query_param(&cb, "code");
    // A code sent to another browser (the victim of a login CSRF) signs nobody in there.
    let elsewhere = sign_in(&g, "?user=p-2").await;
    error_body(exchange(&g, &code, &elsewhere.cookie).await, 401).await;
    error_body(exchange(&g, &code, "other=1").await, 401).await;
    assert_eq!(exchange(&g, &code, &cb.cookie).await.status(), 200);
    let v = error_body(exchange(&g, &code, &cb.cookie).await, 401).await;
    assert_eq!(v["message"], "Invalid or expired authorization code");
    error_body(exchange(&g, "made-up", &cb.cookie).await, 401).await;
    error_body(
        g.call(Method::POST, "/auth/token", None, Some(json!({})))
            .await,
        400,
    )
    .await;
}

#[tokio::test]
async fn state_must_come_back_to_the_browser_that_started() {
    let (_up, g) = start("").await;
    let c = no_redirects();
    // Browser A starts; browser B's cookie cannot finish A's sign-in.
    let a = c.get(g.url("/auth/mock")).send().await.unwrap();
    let back_a = location(&c.get(location(&a)).send().await.unwrap());
    let b = c.get(g.url("/auth/mock")).send().await.unwrap();
    let (cookie_b, _) = set_cookie(&b);
    let r = c
        .get(&back_a)
        .header("cookie", &cookie_b)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Without any state cookie, or without state, or with a made-up state.
    let (cookie_a, _) = set_cookie(&a);
    assert_eq!(c.get(&back_a).send().await.unwrap().status(), 400);
    let no_state = back_a.split("&state=").next().unwrap().to_string();
    assert_eq!(
        c.get(&no_state)
            .header("cookie", &cookie_a)
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    let forged = format!("{no_state}&state=forged");
    assert_eq!(
        c.get(&forged)
            .header("cookie", &cookie_a)
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    // A's state was consumed by the foreign attempt: it cannot be replayed either.
    assert_eq!(
        c.get(&back_a)
            .header("cookie", &cookie_a)
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
}

#[tokio::test]
async fn provider_errors_and_bad_id_tokens_end_in_a_page_and_no_session() {
    let (_up, g) = start("").await;
    let c = no_redirects();
    let r = c
        .get(g.url("/auth/mock?mock_error=access_denied"))
        .send()
        .await
        .unwrap();
    let (cookie, _) = set_cookie(&r);
    let back = location(&c.get(location(&r)).send().await.unwrap());
    let r = c.get(&back).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert!(r.text().await.unwrap().contains("access_denied"));
    for tamper in [
        "wrong_issuer",
        "wrong_audience",
        "bad_nonce",
        "expired",
        "alg_none",
        "unknown_key",
    ] {
        let result = sign_in(&g, &format!("?mock_id_token={tamper}")).await;
        assert!(result.starts_with("FAILED 400"), "{tamper}: {result}");
        assert!(
            result.contains("ID token is not valid"),
            "{tamper}: {result}"
        );
    }
}

#[tokio::test]
async fn refresh_rotates_and_parallel_refreshes_share_the_successor() {
    let (_up, g) = start("").await;
    let (token, cookie) = signed_in(&g, "").await;
    let (r1, r2) = tokio::join!(refresh(&g, &cookie), refresh(&g, &cookie));
    assert_eq!(
        (r1.status(), r2.status()),
        (reqwest::StatusCode::OK, reqwest::StatusCode::OK)
    );
    let (next1, _) = set_cookie(&r1);
    let (next2, _) = set_cookie(&r2);
    assert_ne!(next1, cookie, "rotated");
    assert_eq!(
        next1, next2,
        "both parallel refreshes got the same successor"
    );
    let fresh: serde_json::Value = r1.json().await.unwrap();
    let fresh = fresh["token"].as_str().unwrap();
    assert_eq!(g.get("/app", Some(fresh)).await.status(), 200);
    assert_eq!(
        g.get("/app", Some(&token)).await.status(),
        200,
        "earlier access tokens live out their time"
    );
    assert_eq!(
        payload(fresh)["provider"],
        "mock",
        "custom claims survive a refresh"
    );
    let r3 = refresh(&g, &next1).await;
    assert_eq!(r3.status(), 200);
    error_body(
        g.client.post(g.url("/auth/refresh")).send().await.unwrap(),
        401,
    )
    .await;
}

#[tokio::test]
async fn reusing_a_rotated_refresh_token_revokes_the_session() {
    let (_up, g) = start_with_refresh("{ grace: \"0s\" }").await;
    let (token, cookie) = signed_in(&g, "").await;
    let r = refresh(&g, &cookie).await;
    assert_eq!(r.status(), 200);
    let (next, _) = set_cookie(&r);
    // The old token again, outside the grace window: stolen or replayed.
    let v = error_body(refresh(&g, &cookie).await, 401).await;
    assert_eq!(v["message"], "Invalid or expired refresh token");
    error_body(refresh(&g, &next).await, 401).await;
    assert_eq!(
        g.get("/app", Some(&token)).await.status(),
        401,
        "the whole session is gone"
    );
}

#[tokio::test]
async fn the_absolute_lifetime_caps_refreshing() {
    let (_up, g) = start_with_refresh("{ ttl: \"7 days\", absolute: \"1 hour\" }").await;
    let (_, cookie) = signed_in(&g, "").await;
    let r = refresh(&g, &cookie).await;
    let (_, full) = set_cookie(&r);
    assert!(
        full.contains("Max-Age=3600") || full.contains("Max-Age=3599"),
        "capped by the absolute lifetime: {full}"
    );
    let (_up2, g0) = start_with_refresh("{ absolute: \"0s\" }").await;
    let (_, cookie) = signed_in(&g0, "").await;
    error_body(refresh(&g0, &cookie).await, 401).await;
}

#[tokio::test]
async fn logout_revokes_the_family_and_the_session_on_the_proxy_path() {
    let (_up, g) = start("").await;
    let (token, cookie) = signed_in(&g, "").await;
    let r = g
        .client
        .post(g.url("/auth/logout"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (cleared, full) = set_cookie(&r);
    assert_eq!(cleared, "nuxt-aegis-refresh=");
    assert!(full.contains("Max-Age=0"), "{full}");
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap(),
        json!({"success": true})
    );
    assert_eq!(g.get("/app", Some(&token)).await.status(), 401);
    error_body(refresh(&g, &cookie).await, 401).await;
    // Cross-site use of the refresh cookie is refused.
    let (_, cookie) = signed_in(&g, "").await;
    let r = g
        .client
        .post(g.url("/auth/refresh"))
        .header("cookie", &cookie)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    error_body(r, 403).await;
}

#[tokio::test]
async fn redirect_to_accepts_only_same_origin_paths() {
    let (_up, g) = start("").await;
    let cb = sign_in(&g, "?redirectTo=%2Fapp%2Finbox").await;
    assert_eq!(query_param(&cb, "redirectTo"), "/app/inbox");
    let page = g
        .client
        .get(g.url(&cb))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("data-next=\"/app/inbox\""), "{page}");
    for evil in [
        "//evil.example",
        "/%5Cevil.example",
        "https://evil.example",
        "%2F%2Fevil.example",
        "/%2F%2Fevil.example",
        "/%09/evil.example",
    ] {
        let cb = sign_in(
            &g,
            &format!(
                "?redirectTo={}",
                evil.replace('/', "%2F").replace(':', "%3A")
            ),
        )
        .await;
        assert!(!cb.contains("redirectTo"), "{evil}: {cb}");
        let direct = format!(
            "/auth/callback?code=x&redirectTo={}",
            evil.replace('/', "%2F")
        );
        let page = g
            .client
            .get(g.url(&direct))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("data-next=\"/app\""), "{evil}: {page}");
    }
}

#[tokio::test]
async fn unknown_providers_are_404() {
    let (_up, g) = start("").await;
    assert_eq!(
        g.client
            .get(g.url("/auth/nope"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

async fn start_with_refresh(refresh: &str) -> (Upstream, Gateway) {
    let up = Upstream::start().await;
    let mut o = Options::new(up.addr);
    o.extra = MOCK.replace(
        "refresh: { grace: \"10s\" }",
        &format!("refresh: {refresh}"),
    );
    let g = Gateway::start(o).await;
    (up, g)
}

/// A stand-in for github.com and api.github.com: real HTTP, PKCE checked like the real one.
async fn fake_github() -> std::net::SocketAddr {
    use axum::extract::{Form, Query};
    use axum::response::IntoResponse;
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    let challenges: Arc<Mutex<HashMap<String, String>>> = Arc::default();
    let (c1, c2) = (challenges.clone(), challenges.clone());
    let app = axum::Router::new()
        .route(
            "/login/oauth/authorize",
            axum::routing::get(move |Query(q): Query<HashMap<String, String>>| {
                let c1 = c1.clone();
                async move {
                    assert_eq!(q["code_challenge_method"], "S256");
                    c1.lock().unwrap().insert("gh-code".into(), q["code_challenge"].clone());
                    let to = format!("{}?code=gh-code&state={}", q["redirect_uri"], q["state"]);
                    (http::StatusCode::FOUND, [(http::header::LOCATION, to)]).into_response()
                }
            }),
        )
        .route(
            "/login/oauth/access_token",
            axum::routing::post(move |Form(f): Form<HashMap<String, String>>| {
                let c2 = c2.clone();
                async move {
                    use base64::Engine;
                    use sha2::Digest;
                    let verifier = f.get("code_verifier").cloned().unwrap_or_default();
                    let s256 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
                    let expected = c2.lock().unwrap().get(f.get("code").map(String::as_str).unwrap_or("")).cloned();
                    if expected.as_deref() != Some(s256.as_str()) {
                        return (http::StatusCode::BAD_REQUEST, axum::Json(json!({"error": "bad_verification_code"}))).into_response();
                    }
                    axum::Json(json!({"access_token": "gho_test", "token_type": "bearer", "scope": "read:user,user:email"})).into_response()
                }
            }),
        )
        .route(
            "/user",
            axum::routing::get(|h: http::HeaderMap| async move {
                assert!(h.contains_key("user-agent"));
                assert_eq!(h["authorization"], "Bearer gho_test");
                axum::Json(json!({"id": 4242, "login": "octo", "name": "Octo Cat", "email": null, "avatar_url": "https://avatars.example/octo.png"}))
            }),
        )
        .route(
            "/user/emails",
            axum::routing::get(|| async {
                axum::Json(json!([
                    {"email": "old@example.test", "primary": false, "verified": true},
                    {"email": "octo@example.test", "primary": true, "verified": true}
                ]))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

#[tokio::test]
async fn github_sign_in_uses_pkce_and_the_verified_primary_email() {
    let gh = fake_github().await;
    let up = Upstream::start().await;
    let mut o = Options::new(up.addr);
    o.extra = format!(
        "oauth:\n  providers:\n    gh: {{ kind: github, client_id: gh-client, client_secret: gh-secret, auth_url: \"http://{gh}/login/oauth/authorize\", token_url: \"http://{gh}/login/oauth/access_token\", api_url: \"http://{gh}\" }}\n"
    );
    let g = Gateway::start(o).await;
    let c = no_redirects();
    let r = c.get(g.url("/auth/gh")).send().await.unwrap();
    let (state_cookie, _) = set_cookie(&r);
    let authorize = location(&r);
    assert!(
        authorize.starts_with(&format!("http://{gh}/login/oauth/authorize?")),
        "{authorize}"
    );
    let back = location(&c.get(&authorize).send().await.unwrap());
    let cb = location(
        &c.get(&back)
            .header("cookie", &state_cookie)
            .send()
            .await
            .unwrap(),
    );
    let r = exchange(&g, &query_param(&cb, "code"), &state_cookie).await;
    assert_eq!(r.status(), 200);
    let token = r.json::<serde_json::Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let me: serde_json::Value = g
        .get("/api/user/me", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["provider"], "gh");
    assert_eq!(me["email"], "octo@example.test");
    assert_eq!(me["name"], "Octo Cat");
    assert_eq!(me["picture"], "https://avatars.example/octo.png");
}

#[tokio::test]
async fn an_existing_account_is_linked_only_by_a_verified_email_when_allowed() {
    // Ann already has a local account.
    let (_up, g) = start("").await;
    let admin = g.admin_token().await;
    g.create_user(&admin, "ann@example.test", "user", "ann-password-1")
        .await;
    let result = sign_in(&g, "").await;
    assert!(
        result.starts_with("FAILED 409"),
        "linking is off by default: {result}"
    );

    let (_up2, g2) = start("  link_by_verified_email: true\n").await;
    let admin = g2.admin_token().await;
    let ann = g2
        .create_user(&admin, "ann@example.test", "user", "ann-password-1")
        .await;
    let (token, _) = signed_in(&g2, "").await;
    assert_eq!(
        payload(&token)["sub"],
        ann.to_string(),
        "linked to the existing account"
    );
    // Deactivated, the account cannot sign in through the provider either.
    g2.call(
        Method::PATCH,
        &format!("/api/nuxt-users/{ann}"),
        Some(&admin),
        Some(json!({"active": false})),
    )
    .await;
    assert!(sign_in(&g2, "").await.starts_with("FAILED 403"));
}

#[tokio::test]
async fn unverified_emails_never_link_and_closed_signup_refuses_newcomers() {
    let unverified = MOCK.replace(
        "{ sub: \"p-2\", email: \"bob@example.test\", name: \"Bob\" }",
        "{ sub: \"p-2\", email: \"bob@example.test\", name: \"Bob\", email_verified: false }",
    );
    let (_up, g) = start_with(|o| {
        o.extra = format!("{unverified}  link_by_verified_email: true\n");
    })
    .await;
    let admin = g.admin_token().await;
    g.create_user(&admin, "bob@example.test", "user", "bob-password-1")
        .await;
    assert!(sign_in(&g, "?user=p-2").await.starts_with("FAILED 409"));

    let (_up2, closed) = start("  allow_signup: false\n").await;
    assert!(sign_in(&closed, "").await.starts_with("FAILED 403"));
}

#[tokio::test]
async fn the_mock_is_refused_in_production_and_checks_pkce() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("prod.yaml");
    std::fs::write(
        &cfg,
        format!("server: {{ environment: production }}\n{MOCK}"),
    )
    .unwrap();
    let out = std::process::Command::new(bin())
        .args(["check-config", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("oauth.providers.mock.kind"));

    let (_up, g) = start("").await;
    // The mock endpoints are also under /auth/mock/.
    let r = g
        .client
        .get(g.url("/auth/mock/authorize?client_id=nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // A code with the wrong PKCE verifier is refused by the provider.
    let c = no_redirects();
    let r = c.get(g.url("/auth/mock")).send().await.unwrap();
    let back = location(&c.get(location(&r)).send().await.unwrap());
    let code = query_param(&back, "code");
    let port = g.base.rsplit(':').next().unwrap();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        (
            "redirect_uri",
            &format!("http://localhost:{port}/auth/mock"),
        ),
        (
            "code_verifier",
            "not-the-verifier-not-the-verifier-not-the-verifier",
        ),
        ("client_id", "mock-client"),
        ("client_secret", "mock-secret"),
    ];
    let r = g
        .client
        .post(g.url("/mock/token"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["error"],
        "invalid_grant"
    );
}

#[tokio::test]
async fn a_sign_in_begun_on_one_instance_finishes_on_another() {
    let up = Upstream::start().await;
    let mut oa = Options::new(up.addr);
    oa.extra = MOCK.to_string();
    let a = Gateway::start(oa).await;
    let port_a = a.base.rsplit(':').next().unwrap().to_string();
    let mut ob = Options::new(up.addr);
    ob.extra = MOCK.to_string();
    ob.public_url = Some(format!("http://localhost:{port_a}"));
    ob.database = Some(a.dir.path().join("data/portcullis.db"));
    let b = Gateway::start(ob).await;
    let c = no_redirects();
    // Start on B; the provider sends the browser back to the public URL (A here).
    let r = c.get(b.url("/auth/mock")).send().await.unwrap();
    let (state_cookie, _) = set_cookie(&r);
    let back = location(&c.get(location(&r)).send().await.unwrap());
    assert!(
        back.contains(&format!("localhost:{port_a}/auth/mock")),
        "{back}"
    );
    let cb = location(
        &c.get(&back)
            .header("cookie", &state_cookie)
            .send()
            .await
            .unwrap(),
    );
    // Exchange the code on B.
    let r = exchange(&b, &query_param(&cb, "code"), &state_cookie).await;
    assert_eq!(r.status(), 200);
    let token = r.json::<serde_json::Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(a.get("/app", Some(&token)).await.status(), 200);
    assert_eq!(b.get("/app", Some(&token)).await.status(), 200);
}
