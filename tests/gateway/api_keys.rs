//! API keys and service accounts through the real gateway: create, list, use (Bearer and
//! `X-API-Key`), scopes, expiry, the per-key rate limit, revocation here, on another instance
//! and from the CLI, owners deactivated, keys kept off the account API, and service accounts
//! that cannot sign in.

use crate::harness::*;
use http::Method;
use serde_json::{json, Value};
use crate::cluster::within;
use std::time::Duration;

const KEYS: &str = "/api/auth/api-keys";

fn key_routes(o: &mut Options) {
    o.routes = r#"
  - { name: billing, path: "/billing/**", upstream: app, auth: { scopes: ["billing:read"] } }
  - { name: admin, path: "/admin/**", upstream: app, auth: { roles: [admin] } }
  - { name: app, path: "/**", upstream: app, auth: required }
"#
    .into();
}

async fn create(g: &Gateway, session: &str, body: Value) -> Value {
    let r = g.post_json(KEYS, body, Some(session)).await;
    assert_eq!(r.status(), 201);
    r.json().await.unwrap()
}

async fn with_key_header(g: &Gateway, path: &str, key: &str) -> reqwest::Response {
    g.client.get(g.url(path)).header("x-api-key", key).send().await.unwrap()
}

#[tokio::test]
async fn keys_are_made_once_listed_without_secrets_used_with_scopes_and_revoked_at_once() {
    let (up, g) = start_with(key_routes).await;
    let admin = g.admin_token().await;
    let k = create(&g, &admin, json!({"name": "CI deploys", "scopes": ["billing:read", "deploy"], "expiresIn": "90d"})).await;
    let key = k["key"].as_str().unwrap().to_string();
    let prefix = k["prefix"].as_str().unwrap();
    assert_eq!(prefix.len(), 8);
    assert!(key.starts_with(&format!("pck_{prefix}_")) && key.len() >= 4 + 8 + 1 + 43, "{key}");
    assert_eq!(k["scopes"], json!(["billing:read", "deploy"]));
    assert_eq!(k["name"], "CI deploys");
    assert!(k["expiresAt"].is_string() && k["createdAt"].is_string() && k["id"].is_string());

    let list: Value = g.get(KEYS, Some(&admin)).await.json().await.unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["prefix"], prefix);
    assert!(list[0].get("key").is_none() && !list.to_string().contains(&key[13..]), "{list}");

    // Used as Bearer or X-API-Key: the owner's identity, the key's id and scopes, no session;
    // the app never sees the key.
    for r in [g.get("/billing/invoices", Some(&key)).await, with_key_header(&g, "/billing/invoices", &key).await] {
        assert_eq!(r.status(), 200);
        let seen = up.last();
        assert_eq!(seen.headers["x-auth-email"], ADMIN_EMAIL);
        assert_eq!(seen.headers["x-auth-key-id"], k["id"].as_str().unwrap());
        assert_eq!(seen.headers["x-auth-scopes"], "billing:read deploy");
        assert!(seen.headers.get("x-auth-session-id").is_none());
        assert!(seen.headers.get("x-api-key").is_none() && seen.headers.get("authorization").is_none());
    }
    // Routes without scopes take keys like their owner's sessions (roles included).
    assert_eq!(g.get("/admin/x", Some(&key)).await.status(), 200);
    assert_eq!(g.get("/anything", Some(&key)).await.status(), 200);
    // A scoped route: a session holds no scopes; a key without the scope neither.
    assert_eq!(g.get("/billing/x", Some(&admin)).await.status(), 403);
    let other = create(&g, &admin, json!({"name": "no scopes"})).await;
    let other_key = other["key"].as_str().unwrap();
    let r = g.get("/billing/x", Some(other_key)).await;
    assert_eq!(error_body(r, 403).await["statusCode"], 403);

    // Revoked: refused from that very request on.
    let seen = up.count();
    let r = g.call(Method::DELETE, &format!("{KEYS}/{}", k["id"].as_str().unwrap()), Some(&admin), None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap(), json!({"success": true}));
    let r = g.get("/anything", Some(&key)).await;
    assert!(r.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
    assert_eq!(error_body(r, 401).await["statusCode"], 401);
    assert_eq!(up.count(), seen, "a revoked key reaches nothing");
    let r = g.call(Method::DELETE, &format!("{KEYS}/{}", k["id"].as_str().unwrap()), Some(&admin), None).await;
    assert_eq!(r.status(), 404, "revoked already");

    // Bad keys: 401 in the JSON shape, counted by reason, never in a log line.
    for bad in ["pck_short", "pck_AAAAAAAA_0000000000000000000000000000000000000000000", &key] {
        let r = g.get("/anything", Some(bad)).await;
        assert_eq!(error_body(r, 401).await["statusCode"], 401, "{bad}");
    }
    assert_eq!(up.count(), seen);
    let m = g.metrics().await;
    for reason in ["malformed", "unknown", "revoked"] {
        assert!(m.contains(&format!("portcullis_api_key_rejections_total{{reason=\"{reason}\"}}")), "{reason}: {m}");
    }
    assert!(m.contains("portcullis_authenticated_requests_total{kind=\"api_key\"}"), "{m}");
    assert!(m.contains("portcullis_authenticated_requests_total{kind=\"session\"}"), "{m}");
    let revoked = crate::audit::all_events(&g, &admin, "&type=credential.api_key.revoked").await;
    assert_eq!(revoked.len(), 1, "{revoked:?}");
    assert_eq!(revoked[0]["changes"]["key"]["from"], k["id"], "{revoked:?}");
    assert!(!g.log().contains(&key[13..]), "a key in the log");

    // A flood of one made-up key reads the store once: the prefix is then known to be absent.
    let value = |m: &str, result: &str| -> f64 {
        let name = format!("portcullis_api_key_cache_lookups_total{{result=\"{result}\"}} ");
        m.lines().find_map(|l| l.strip_prefix(name.as_str())).map_or(0.0, |v| v.parse().unwrap())
    };
    let before = g.metrics().await;
    let made_up = "pck_ZZZZZZZZ_0000000000000000000000000000000000000000000";
    for _ in 0..5 {
        assert_eq!(g.get("/anything", Some(made_up)).await.status(), 401);
    }
    let after = g.metrics().await;
    assert_eq!(value(&after, "miss") - value(&before, "miss"), 1.0, "{after}");
    assert_eq!(value(&after, "absent") - value(&before, "absent"), 4.0, "{after}");
    assert_eq!(up.count(), seen);
}

#[tokio::test]
async fn keys_expire_are_rate_limited_and_die_with_their_owner() {
    let (_up, g) = start_with(|o| {
        o.extra = "rate_limits:\n  api_key: { per_minute: 60, burst: 3 }\n".into();
    })
    .await;
    let admin = g.admin_token().await;
    let uid = g.create_user(&admin, "owner@example.com", "user", "owner-password-1").await;
    let session = g.login("owner@example.com", "owner-password-1", false).await;
    let k = create(&g, &session, json!({"name": "short", "expiresIn": "2m"})).await;
    let key = k["key"].as_str().unwrap().to_string();
    let statuses: Vec<u16> = {
        let mut v = Vec::new();
        for _ in 0..5 {
            v.push(g.get("/anything", Some(&key)).await.status().as_u16());
        }
        v
    };
    assert_eq!(&statuses[..3], &[200, 200, 200], "{statuses:?}");
    assert!(statuses[3..].contains(&429), "{statuses:?}");
    let r = g.get("/anything", Some(&key)).await;
    assert!(r.headers().contains_key("retry-after"));
    // Expired: refused.
    g.advance_clock(Duration::from_secs(121)).await;
    let r = g.get("/anything", Some(&key)).await;
    assert_eq!(r.status(), 401);
    assert!(g.metrics().await.contains("portcullis_api_key_rejections_total{reason=\"expired\"}"));
    // A live key dies with its owner's deactivation.
    let k = create(&g, &session, json!({"name": "long"})).await;
    let key = k["key"].as_str().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(1100)).await; // a fresh allowance
    assert_eq!(g.get("/anything", Some(&key)).await.status(), 200);
    let r = g.call(Method::PATCH, &format!("/api/nuxt-users/{uid}"), Some(&admin), Some(json!({"active": false}))).await;
    assert_eq!(r.status(), 200);
    assert_eq!(g.get("/anything", Some(&key)).await.status(), 401);
}

#[tokio::test]
async fn keys_cannot_touch_the_account_api() {
    let (_up, g) = start().await;
    let admin = g.admin_token().await;
    let k = create(&g, &admin, json!({"name": "script"})).await;
    let key = k["key"].as_str().unwrap();
    for (method, path, body) in [
        (Method::PATCH, "/api/profile", json!({"password": "a-new-password-1", "currentPassword": ADMIN_PASSWORD})),
        (Method::PATCH, "/api/nuxt-users/password", json!({"currentPassword": ADMIN_PASSWORD, "newPassword": "a-new-password-1"})),
        (Method::PATCH, "/api/nuxt-users/me", json!({"email": "new@example.com"})),
        (Method::POST, "/api/auth/mfa/totp/setup", json!({})),
        (Method::POST, KEYS, json!({"name": "another"})),
        (Method::GET, KEYS, json!({})),
    ] {
        let r = g.call(method.clone(), path, Some(key), Some(body)).await;
        let e = error_body(r, 403).await;
        assert!(e["message"].as_str().unwrap().contains("API keys"), "{method} {path}: {e}");
        let r = g.client.request(method.clone(), g.url(path)).header("x-api-key", key).send().await.unwrap();
        assert_eq!(r.status(), 403, "{method} {path} with X-API-Key");
    }
    // A session beside a stray X-API-Key header is still the session.
    let r = g
        .client
        .get(g.url("/api/auth/mfa"))
        .bearer_auth(&admin)
        .header("x-api-key", key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Bad input to creation: 400 naming the field.
    for body in [json!({}), json!({"name": ""}), json!({"name": "x", "scopes": "a"}), json!({"name": "x", "scopes": ["a b"]}), json!({"name": "x", "expiresIn": "soon"}), json!({"name": "x", "owner": "me"}), json!({"name": "x", "extra": 1})] {
        let r = g.post_json(KEYS, body.clone(), Some(&admin)).await;
        assert_eq!(r.status(), 400, "{body}");
    }
}

#[tokio::test]
async fn service_accounts_cannot_sign_in_and_act_only_through_their_keys() {
    let (up, smtp, g) = gateway_with_mail("").await;
    let admin = g.admin_token().await;
    let r = g
        .call(Method::POST, "/api/nuxt-users", Some(&admin), Some(json!({"email": "ci@example.com", "name": "CI", "role": "deployer", "kind": "service"})))
        .await;
    assert_eq!(r.status(), 200);
    let sa = r.json::<Value>().await.unwrap()["user"]["id"].as_i64().unwrap();
    let r = g.call(Method::POST, "/api/nuxt-users", Some(&admin), Some(json!({"email": "x@example.com", "name": "X", "kind": "service", "password": "a-password-123"}))).await;
    assert_eq!(r.status(), 400, "no password for a service account");
    // No password sign-in, no magic link.
    for pw in ["", "anything-at-all"] {
        let r = g.post_json("/api/login", json!({"email": "ci@example.com", "password": pw}), None).await;
        assert!(r.status() == 400 || r.status() == 422, "{}", r.status());
    }
    let sent = smtp.count();
    g.post_json("/api/auth/magic-link", json!({"email": "ci@example.com"}), None).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(smtp.count(), sent, "no link for a service account");
    // Its keys are made by an admin; a user may not make keys for someone else.
    let k = create(&g, &admin, json!({"name": "deploy", "owner": sa, "scopes": ["deploy"]})).await;
    let key = k["key"].as_str().unwrap();
    assert_eq!(g.get("/app/deploy", Some(key)).await.status(), 200);
    assert_eq!(up.last().headers["x-auth-email"], "ci@example.com");
    assert_eq!(up.last().headers["x-auth-role"], "deployer");
    g.create_user(&admin, "u@example.com", "user", "user-password-1").await;
    let user = g.login("u@example.com", "user-password-1", false).await;
    let r = g.post_json(KEYS, json!({"name": "steal", "owner": sa}), Some(&user)).await;
    assert_eq!(r.status(), 403);
    // Deleting the owner kills its keys.
    let r = g.call(Method::DELETE, &format!("/api/nuxt-users/{sa}"), Some(&admin), None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(g.get("/app/deploy", Some(key)).await.status(), 401);
}

#[tokio::test]
async fn a_revocation_reaches_another_instance_within_a_second_and_the_cli_within_two() {
    let (_up, a) = start().await;
    let b = Gateway::start({
        let mut o = Options::new("127.0.0.1:9".parse().unwrap());
        o.database = Some(a.dir.path().join("data/portcullis.db"));
        o
    })
    .await;
    let admin = a.admin_token().await;
    let k = create(&a, &admin, json!({"name": "two"})).await;
    let key = k["key"].as_str().unwrap().to_string();
    // B knows the key (cached) before it is revoked on A.
    assert_ne!(b.get("/anything", Some(&key)).await.status(), 401);
    let r = a.call(Method::DELETE, &format!("{KEYS}/{}", k["id"].as_str().unwrap()), Some(&admin), None).await;
    assert_eq!(r.status(), 200);
    let took = within(Duration::from_secs(1), "revocation on B", || async {
        b.get("/anything", Some(&key)).await.status() == 401
    })
    .await;
    eprintln!("revocation reached the other instance in {took:?}");

    // From the CLI (another process): create, list, revoke.
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(bin())
            .args(args)
            .arg("--config")
            .arg(a.dir.path().join("portcullis.yaml"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let key = cli(&["key", "create", "--user", ADMIN_EMAIL, "--name", "cli", "--scope", "a:b", "--expires", "30d"]).trim().to_string();
    assert!(key.starts_with("pck_"), "{key}");
    let list = cli(&["key", "list", "--user", ADMIN_EMAIL]);
    assert!(list.contains("cli") && list.contains(&key[4..12]) && !list.contains(&key[13..]), "{list}");
    assert_eq!(a.get("/anything", Some(&key)).await.status(), 200);
    let id = list.lines().find(|l| l.contains(&key[4..12])).unwrap().split_whitespace().next().unwrap().to_string();
    cli(&["key", "revoke", &id]);
    let took = within(Duration::from_secs(2), "CLI revocation", || async {
        a.get("/anything", Some(&key)).await.status() == 401
    })
    .await;
    eprintln!("the CLI's revocation reached the gateway in {took:?}");
}

#[tokio::test]
async fn the_account_page_lists_creates_and_revokes_keys() {
    let (_up, g) = start().await;
    let admin = g.admin_token().await;
    let browser = no_redirects();
    let r = browser.get(g.url("/account")).bearer_auth(&admin).send().await.unwrap();
    let (csrf_cookie, _) = set_cookie(&r);
    let csrf = crate::mfa::field_value(&r.text().await.unwrap(), "csrf");
    let post = |path: &str, fields: Vec<(&'static str, String)>| {
        let r = browser
            .post(g.url(path))
            .bearer_auth(&admin)
            .header("cookie", &csrf_cookie)
            .form(&fields);
        async move { r.send().await.unwrap() }
    };
    let r = post("/account/api-keys", vec![("csrf", csrf.clone()), ("name", "laptop script".into()), ("scopes", "reports:read".into()), ("expires", "30d".into())]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let html = r.text().await.unwrap();
    let at = html.find("id=\"new-key\"").unwrap();
    let start = at + html[at..].find('>').unwrap() + 1;
    let key = html[start..start + html[start..].find('<').unwrap()].to_string();
    assert!(key.starts_with("pck_"), "{key}");
    assert!(html.contains("data-copy=\"new-key\""), "a copy button");
    assert_eq!(g.get("/anything", Some(&key)).await.status(), 200);
    let page = browser.get(g.url("/account")).bearer_auth(&admin).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("laptop script") && page.contains(&format!("pck_{}_", &key[4..12])), "listed");
    assert!(!page.contains(&key[13..]), "never the secret again");
    let listed: Value = g.get(KEYS, Some(&admin)).await.json().await.unwrap();
    let id = listed[0]["id"].as_str().unwrap().to_string();
    let r = post("/account/api-keys/revoke", vec![("csrf", csrf.clone()), ("id", id)]).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/account?done=key-revoked");
    assert_eq!(g.get("/anything", Some(&key)).await.status(), 401);
    let r = post("/account/api-keys", vec![("csrf", csrf), ("name", "".into())]).await;
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn explain_understands_keys() {
    let (_up, g) = start_with(key_routes).await;
    let admin = g.admin_token().await;
    let scoped = create(&g, &admin, json!({"name": "s", "scopes": ["billing:read"]})).await;
    let plain = create(&g, &admin, json!({"name": "p"})).await;
    let explain = |args: &[&str]| crate::operator::explain(&g, args);
    let v = explain(&["GET", "/billing/x", "--token", scoped["key"].as_str().unwrap()]);
    assert_eq!(v["decision"], "forward", "{v}");
    let v = explain(&["GET", "/billing/x", "--token", plain["key"].as_str().unwrap()]);
    assert_eq!(v["status"], 403, "{v}");
    let v = explain(&["GET", "/x", "--token", "pck_AAAAAAAA_0000000000000000000000000000000000000000000"]);
    assert_eq!(v["status"], 401, "{v}");
    assert!(v["reason"].as_str().unwrap().contains("API key"), "{v}");
}
