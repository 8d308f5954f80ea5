//! The Pruvious auth API as documented: login, logout, logout-others, logout-all, renew-token,
//! profile — each success and each documented error.

use crate::harness::*;
use serde_json::json;

#[tokio::test]
async fn login_returns_a_jwt_string_and_remember_gives_the_long_lifetime() {
    let (_up, g) = start().await;
    let short = g.login(ADMIN_EMAIL, ADMIN_PASSWORD, false).await;
    let long = g
        .login(&ADMIN_EMAIL.to_uppercase(), ADMIN_PASSWORD, true)
        .await;
    let (s, l) = (payload(&short), payload(&long));
    assert_eq!(
        s["exp"].as_u64().unwrap() - s["iat"].as_u64().unwrap(),
        3600
    );
    assert_eq!(
        l["exp"].as_u64().unwrap() - l["iat"].as_u64().unwrap(),
        7 * 86400
    );
    for claim in ["sub", "sid", "role", "iat", "exp", "iss", "aud", "jti"] {
        assert!(!s[claim].is_null(), "missing {claim}");
    }
    assert_eq!(s["role"], "admin");
    assert_eq!(s["iss"], "portcullis");
}

#[tokio::test]
async fn bad_credentials_are_400_for_wrong_password_and_unknown_user() {
    let (_up, g) = start().await;
    let r = g
        .post_json(
            "/api/login",
            json!({"email": ADMIN_EMAIL, "password": "wrong-password"}),
            None,
        )
        .await;
    let v = error_body(r, 400).await;
    assert_eq!(v["message"], "Incorrect credentials");
    let r = g
        .post_json(
            "/api/login",
            json!({"email": "nobody@example.test", "password": "whatever-123"}),
            None,
        )
        .await;
    let v2 = error_body(r, 400).await;
    assert_eq!(v, v2, "unknown user and wrong password must look the same");
}

#[tokio::test]
async fn invalid_login_fields_are_422_with_a_field_map() {
    let (_up, g) = start().await;
    let v = error_body(g.post_json("/api/login", json!({}), None).await, 422).await;
    assert_eq!(v["data"]["email"], "is required");
    assert_eq!(v["data"]["password"], "is required");
    let v = error_body(
        g.post_json(
            "/api/login",
            json!({"email": "not-an-email", "password": 5, "remember": "yes"}),
            None,
        )
        .await,
        422,
    )
    .await;
    assert_eq!(v["data"]["email"], "must be a valid email address");
    assert_eq!(v["data"]["password"], "must be a string");
    assert_eq!(v["data"]["remember"], "must be true or false");
}

#[tokio::test]
async fn malformed_json_is_400_and_oversized_bodies_are_413() {
    let (_up, g) = start().await;
    let r = g
        .client
        .post(g.url("/api/login"))
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    let v = error_body(r, 400).await;
    assert!(v["message"].as_str().unwrap().contains("not valid JSON"));
    let r = g
        .client
        .post(g.url("/api/login"))
        .body("[1,2]")
        .send()
        .await
        .unwrap();
    error_body(r, 400).await;
    let big = format!("{{\"email\":\"{}\"}}", "a".repeat(200_000));
    let r = g
        .client
        .post(g.url("/api/login"))
        .body(big)
        .send()
        .await
        .unwrap();
    error_body(r, 413).await;
    // Chunked, no Content-Length: the limit holds while reading.
    let chunk = format!("{:x}\r\n{}\r\n", 40_000, "x".repeat(40_000));
    let raw = format!(
        "POST /api/login HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n{chunk}{chunk}0\r\n\r\n"
    );
    let head = raw_request(&g.base, raw.as_bytes()).await;
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    // The gateway is still fine afterwards.
    g.admin_token().await;
}

#[tokio::test]
async fn logout_returns_true_and_kills_the_token_at_once() {
    let (up, g) = start().await;
    let t = g.admin_token().await;
    assert_eq!(g.get("/app", Some(&t)).await.status(), 200);
    let r = g.post("/api/logout", Some(&t)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap(), json!(true));
    let before = up.count();
    let r = g.get("/app", Some(&t)).await;
    assert_eq!(
        r.headers()["www-authenticate"],
        "Bearer realm=\"portcullis\", error=\"invalid_token\""
    );
    error_body(r, 401).await;
    assert_eq!(up.count(), before, "upstream must not be contacted");
    error_body(g.post("/api/logout", Some(&t)).await, 401).await;
    let r = g.post("/api/logout", None).await;
    assert_eq!(
        r.headers()["www-authenticate"],
        "Bearer realm=\"portcullis\""
    );
    error_body(r, 401).await;
}

#[tokio::test]
async fn logout_others_counts_and_keeps_the_current_session() {
    let (_up, g) = start().await;
    let a = g.admin_token().await;
    let b = g.admin_token().await;
    let c = g.admin_token().await;
    let r = g.post("/api/logout-others", Some(&a)).await;
    assert_eq!(r.json::<usize>().await.unwrap(), 2);
    assert_eq!(g.get("/app", Some(&a)).await.status(), 200);
    assert_eq!(g.get("/app", Some(&b)).await.status(), 401);
    assert_eq!(g.get("/app", Some(&c)).await.status(), 401);
    assert_eq!(
        g.post("/api/logout-others", Some(&a))
            .await
            .json::<usize>()
            .await
            .unwrap(),
        0
    );
    error_body(g.post("/api/logout-others", Some(&b)).await, 401).await;
}

#[tokio::test]
async fn logout_all_counts_the_current_session_too() {
    let (_up, g) = start().await;
    let a = g.admin_token().await;
    let b = g.admin_token().await;
    assert_eq!(
        g.post("/api/logout-all", Some(&a))
            .await
            .json::<usize>()
            .await
            .unwrap(),
        2
    );
    assert_eq!(g.get("/app", Some(&a)).await.status(), 401);
    assert_eq!(g.get("/app", Some(&b)).await.status(), 401);
    error_body(g.post("/api/logout-all", None).await, 401).await;
}

#[tokio::test]
async fn renew_token_replaces_the_token_and_keeps_its_lifetime_class() {
    let (_up, g) = start().await;
    let old = g.login(ADMIN_EMAIL, ADMIN_PASSWORD, true).await;
    let r = g.post("/api/renew-token", Some(&old)).await;
    assert_eq!(r.status(), 200);
    let new = r.json::<String>().await.unwrap();
    assert_ne!(new, old);
    let p = payload(&new);
    assert_eq!(
        p["exp"].as_u64().unwrap() - p["iat"].as_u64().unwrap(),
        7 * 86400
    );
    assert_eq!(p["sid"], payload(&old)["sid"], "same session, new token");
    assert_eq!(g.get("/app", Some(&old)).await.status(), 401);
    assert_eq!(g.get("/app", Some(&new)).await.status(), 200);
    error_body(g.post("/api/renew-token", Some(&old)).await, 401).await;
    error_body(g.post("/api/renew-token", None).await, 401).await;
}

#[tokio::test]
async fn profile_get_shows_the_user_without_secrets() {
    let (_up, g) = start().await;
    let t = g.admin_token().await;
    let r = g.get("/api/profile", Some(&t)).await;
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["email"], ADMIN_EMAIL);
    assert_eq!(v["role"], "admin");
    assert_eq!(v["active"], true);
    assert!(v["createdAt"].as_str().is_some());
    let text = v.to_string();
    assert!(
        !text.contains("argon2") && !text.to_lowercase().contains("password"),
        "{text}"
    );
    error_body(g.get("/api/profile", None).await, 401).await;
}

#[tokio::test]
async fn profile_patch_changes_name_and_password_only() {
    let (up, g) = start().await;
    let t = g.admin_token().await;
    let other = g.admin_token().await;
    let patch = |body: serde_json::Value, tok: String| {
        let g = &g;
        async move {
            g.client
                .patch(g.url("/api/profile"))
                .bearer_auth(tok)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let r = patch(json!({"name": "Renamed Root"}), t.clone()).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["name"],
        "Renamed Root"
    );
    // The proxy path sees the new name on the very next request.
    assert_eq!(g.get("/app", Some(&t)).await.status(), 200);
    assert_eq!(up.last().headers["x-auth-name"], "Renamed Root");

    let v = error_body(
        patch(
            json!({"email": "x@example.test", "role": "user", "active": false}),
            t.clone(),
        )
        .await,
        422,
    )
    .await;
    for f in ["email", "role", "active"] {
        assert_eq!(v["data"][f], "cannot be changed here");
    }
    let v = error_body(patch(json!({"password": "short"}), t.clone()).await, 422).await;
    assert!(v["data"]["password"]
        .as_str()
        .unwrap()
        .contains("at least 8"));
    let v = error_body(
        patch(json!({"password": "x".repeat(129)}), t.clone()).await,
        422,
    )
    .await;
    assert!(v["data"]["password"]
        .as_str()
        .unwrap()
        .contains("at most 128"));
    error_body(patch(json!({"name": ""}), t.clone()).await, 422).await;

    let r = patch(json!({"password": "a brand new passphrase"}), t.clone()).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        g.get("/app", Some(&t)).await.status(),
        200,
        "current session is kept"
    );
    assert_eq!(
        g.get("/app", Some(&other)).await.status(),
        401,
        "other sessions end"
    );
    let r = g
        .post_json(
            "/api/login",
            json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}),
            None,
        )
        .await;
    error_body(r, 400).await;
    g.login(ADMIN_EMAIL, "a brand new passphrase", false).await;
}

#[tokio::test]
async fn api_routes_can_be_renamed_or_disabled() {
    let (up, g) = start_with(|o| {
        o.extra = "api: { routes: { login: \"/auth/signin\", logout-all: false } }".into();
    })
    .await;
    let r = g
        .post_json(
            "/auth/signin",
            json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}),
            None,
        )
        .await;
    assert_eq!(r.status(), 200);
    let t = r.json::<String>().await.unwrap();
    // The old path is no longer the gateway's: it falls to the proxy routes.
    let before = up.count();
    assert_eq!(g.post("/api/login", None).await.status(), 401);
    assert_eq!(g.post("/api/logout-all", Some(&t)).await.status(), 200);
    assert_eq!(
        up.count(),
        before + 1,
        "a disabled route is proxied like any other path"
    );
    assert_eq!(up.last().path, "/api/logout-all");
    assert_eq!(
        g.get("/app", Some(&t)).await.status(),
        200,
        "logout-all did not run"
    );
}

#[tokio::test]
async fn wrong_method_on_an_api_route_is_405_json() {
    let (_up, g) = start().await;
    error_body(g.get("/api/login", None).await, 405).await;
}
