//! The data plane: identity headers, route rules, token checks, upstream failures.

use crate::harness::*;
use portcullis::auth::{KeyMaterial, TokenKeys};
use portcullis::config::{TokenKey, Tokens};
use std::time::Duration;

fn keys(issuer: &str, secret: &str) -> TokenKeys {
    let cfg = Tokens {
        key: TokenKey::Hs256(None),
        issuer: issuer.into(),
        audience: "portcullis".into(),
        expiration: Duration::from_secs(3600),
        expiration_long: Duration::from_secs(3600),
        leeway: Duration::from_secs(5),
        idle_timeout: None,
        max_session_age: None,
        fresh_for: Duration::from_secs(600),
        assertion_key_file: None,
    };
    TokenKeys::new(&cfg, &KeyMaterial::Hmac(secret.as_bytes().to_vec())).unwrap()
}

#[tokio::test]
async fn identity_headers_are_stripped_everywhere_and_injected_when_authenticated() {
    let (up, g) = start().await;
    let forged = [
        ("X-Auth-User-Id", "999"),
        ("x-auth-role", "admin"),
        ("X-AUTH-EMAIL", "evil@example.test"),
        ("X-Auth-Custom", "x"),
    ];
    let mut r = g.client.get(g.url("/public/page"));
    for (k, v) in forged {
        r = r.header(k, v);
    }
    assert_eq!(r.send().await.unwrap().status(), 200);
    let seen = up.last();
    assert!(
        seen.headers
            .keys()
            .all(|k| !k.as_str().starts_with("x-auth-")),
        "{:?}",
        seen.headers
    );

    let t = g.admin_token().await;
    let mut r = g
        .client
        .get(g.url("/app/page"))
        .bearer_auth(&t)
        .header("Cookie", "theme=dark");
    for (k, v) in forged {
        r = r.header(k, v);
    }
    assert_eq!(r.send().await.unwrap().status(), 200);
    let h = up.last().headers;
    assert_eq!(h["x-auth-user-id"], payload(&t)["sub"].as_str().unwrap());
    assert_eq!(h["x-auth-email"], ADMIN_EMAIL);
    assert_eq!(h["x-auth-role"], "admin");
    assert_eq!(h["x-auth-name"], "Administrator");
    assert_eq!(h["x-auth-session-id"], payload(&t)["sid"].as_str().unwrap());
    assert_eq!(h.get_all("x-auth-role").iter().count(), 1);
    assert!(h.get("x-auth-custom").is_none());
    assert!(
        h.get("authorization").is_none(),
        "the user's token is not handed to the app"
    );
    assert_eq!(h["cookie"], "theme=dark");
    assert_eq!(h["x-forwarded-for"], "127.0.0.1");
}

#[tokio::test]
async fn the_session_cookie_works_like_a_bearer_token() {
    let (up, g) = start().await;
    let t = g.admin_token().await;
    let r = g
        .client
        .get(g.url("/app"))
        .header("Cookie", format!("a=b; portcullis_session={t}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let h = up.last().headers;
    assert_eq!(h["x-auth-email"], ADMIN_EMAIL);
    assert_eq!(
        h["cookie"], "a=b",
        "the session cookie stays with the gateway"
    );
    g.post("/api/logout", Some(&t)).await;
    let r = g
        .client
        .get(g.url("/app"))
        .header("Cookie", format!("portcullis_session={t}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn roles_are_enforced_without_contacting_the_upstream() {
    let (up, g) = start().await;
    g.add_user("user@example.test", "user", "user-password-1");
    let user = g.login("user@example.test", "user-password-1", false).await;
    let admin = g.admin_token().await;
    let before = up.count();
    let v = error_body(g.get("/admin/panel", Some(&user)).await, 403).await;
    assert_eq!(v["error"], "Forbidden");
    assert_eq!(up.count(), before);
    assert_eq!(g.get("/admin/panel", Some(&admin)).await.status(), 200);
    assert_eq!(g.get("/app", Some(&user)).await.status(), 200);
    assert_eq!(up.last().headers["x-auth-role"], "user");
    // Method-limited route: DELETE is not on /admin/**, so the catch-all (required) applies.
    let r = g
        .client
        .delete(g.url("/admin/panel"))
        .bearer_auth(&user)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(up.last().method, http::Method::DELETE);
}

#[tokio::test]
async fn optional_routes_forward_anonymous_and_identified_callers() {
    let (up, g) = start().await;
    assert_eq!(g.get("/maybe/x", None).await.status(), 200);
    assert!(up.last().headers.get("x-auth-user-id").is_none());
    assert_eq!(g.get("/maybe/x", Some("garbage")).await.status(), 200);
    assert!(up.last().headers.get("x-auth-user-id").is_none());
    let t = g.admin_token().await;
    assert_eq!(g.get("/maybe/x", Some(&t)).await.status(), 200);
    assert_eq!(up.last().headers["x-auth-email"], ADMIN_EMAIL);
}

#[tokio::test]
async fn forged_expired_and_foreign_tokens_are_401_and_never_reach_the_upstream() {
    let (up, g) = start().await;
    let good = g.admin_token().await;
    let p = payload(&good);
    let (sid, sub, jti) = (
        p["sid"].as_str().unwrap(),
        p["sub"].as_str().unwrap(),
        p["jti"].as_str().unwrap(),
    );
    let uid: i64 = sub.parse().unwrap();
    let k = keys("portcullis", SECRET);

    let mut tampered = good.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });

    let mut expired = k.claims(uid, sid, "admin", jti, Duration::from_secs(60));
    expired.exp = expired.iat - 120;
    expired.nbf = expired.iat - 300;
    expired.iat -= 300;
    let expired = k.sign(&expired).unwrap();

    use base64::Engine;
    let b64 = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    let body = good.split('.').nth(1).unwrap();
    let alg_none = format!("{}.{body}.", b64(br#"{"alg":"none","typ":"JWT"}"#));

    let wrong_issuer = keys("someone-else", SECRET)
        .sign(&keys("someone-else", SECRET).claims(uid, sid, "admin", jti, Duration::from_secs(60)))
        .unwrap();
    let wrong_key = keys("portcullis", "another-secret-that-is-long-enough-too")
        .sign(&k.claims(uid, sid, "admin", jti, Duration::from_secs(60)))
        .unwrap();
    // Validly signed, but for a session that does not exist.
    let unknown_session = k
        .sign(&k.claims(
            uid,
            "00000000-0000-4000-8000-000000000000",
            "admin",
            jti,
            Duration::from_secs(60),
        ))
        .unwrap();
    // Validly signed with the right session but an old token id (as after renewal).
    let stale_jti = k
        .sign(&k.claims(
            uid,
            sid,
            "admin",
            "00000000-0000-4000-8000-000000000001",
            Duration::from_secs(60),
        ))
        .unwrap();

    let before = up.count();
    for (what, token) in [
        ("tampered", tampered.as_str()),
        ("expired", expired.as_str()),
        ("alg none", alg_none.as_str()),
        ("wrong issuer", wrong_issuer.as_str()),
        ("wrong key", wrong_key.as_str()),
        ("unknown session", unknown_session.as_str()),
        ("stale jti", stale_jti.as_str()),
        ("garbage", "not.a.jwt"),
    ] {
        let r = g.get("/app", Some(token)).await;
        assert_eq!(r.status(), 401, "{what}");
        assert!(
            r.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .contains("invalid_token"),
            "{what}"
        );
        error_body(r, 401).await;
    }
    let r = g
        .client
        .get(g.url("/app"))
        .header("Authorization", "Basic dXNlcjpwYXNz")
        .send()
        .await
        .unwrap();
    error_body(r, 401).await;
    assert_eq!(
        up.count(),
        before,
        "no rejected request reached the upstream"
    );
    assert_eq!(g.get("/app", Some(&good)).await.status(), 200);
}

#[tokio::test]
async fn unmatched_paths_are_404_and_ambiguous_paths_400() {
    let (up, g) = start_with(|o| {
        o.routes = "\n  - { path: \"/public/**\", upstream: app, auth: none }\n  - { path: \"/admin/**\", upstream: app, auth: { roles: [admin] } }\n".into();
    })
    .await;
    error_body(g.get("/elsewhere", None).await, 404).await;
    let before = up.count();
    for raw in [
        "/public/../admin/x",
        "/public/%2e%2e/admin/x",
        "/public/..%2Fadmin",
    ] {
        let head = raw_request(
            &g.base,
            format!("GET {raw} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await;
        assert!(head.starts_with("HTTP/1.1 400"), "{raw}: {head}");
    }
    // An encoded slash is read as a separator by some servers and not by others: refused.
    let head = raw_request(
        &g.base,
        b"GET /admin%2Fpanel HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    assert_eq!(up.count(), before);
}

#[tokio::test]
async fn upstream_refused_is_502_and_timeout_is_504() {
    let up = Upstream::start().await;
    let closed = free_port();
    let mut o = Options::new(up.addr);
    o.routes = "\n  - { path: \"/down/**\", upstream: down, auth: none }\n  - { path: \"/**\", upstream: app, auth: none }\n".into();
    o.more_upstreams = format!("  down: {{ addrs: [\"127.0.0.1:{closed}\"] }}");
    let g = Gateway::start(o).await;
    let v = error_body(g.get("/down/x", None).await, 502).await;
    assert!(
        !v.to_string().contains("127.0.0.1"),
        "no internal detail in the body"
    );
    let started = std::time::Instant::now();
    let r = g.client.get(g.url("/slow")).send().await;
    let r = r.unwrap_or_else(|e| panic!("{e}\n{}", g.log()));
    error_body(r, 504).await;
    assert!(
        started.elapsed() < Duration::from_millis(2900),
        "read_timeout (1s) applies"
    );
    assert_eq!(g.get("/fast", None).await.status(), 200);
}

#[tokio::test]
async fn eddsa_tokens_work_and_hs256_confusion_with_the_public_key_fails() {
    let up = Upstream::start().await;
    let mut o = Options::new(up.addr);
    o.secret = None;
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    o.more_tokens = format!(
        "  algorithm: EdDSA\n  private_key_file: \"{fixtures}/ed25519-test-private.pem\"\n  public_key_file: \"{fixtures}/ed25519-test-public.pem\"\n"
    );
    let g = Gateway::start(o).await;
    let t = g.admin_token().await;
    use base64::Engine;
    let header: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(t.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(g.get("/app", Some(&t)).await.status(), 200);

    // The classic confusion: sign HS256 with the public key as the HMAC secret.
    let public = std::fs::read_to_string(format!("{fixtures}/ed25519-test-public.pem")).unwrap();
    let p = payload(&t);
    let k = keys("portcullis", &public);
    let claims = k.claims(
        p["sub"].as_str().unwrap().parse().unwrap(),
        p["sid"].as_str().unwrap(),
        "admin",
        p["jti"].as_str().unwrap(),
        Duration::from_secs(60),
    );
    assert_eq!(
        g.get("/app", Some(&k.sign(&claims).unwrap()))
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn an_upstream_given_by_name_is_resolved_and_one_that_does_not_resolve_is_502() {
    let up = Upstream::start().await;
    let mut o = Options::new(up.addr);
    // A name, as a Kubernetes Service is given; and one no resolver knows.
    o.upstream = format!("\"localhost:{}\"", up.addr.port());
    o.more_upstreams = "  nowhere: { addrs: [\"no-such-host.invalid:80\"] }\n".into();
    o.routes = "\n  - { path: \"/gone/**\", upstream: nowhere, auth: none }\n  - { path: \"/**\", upstream: app, auth: none }\n".into();
    let g = Gateway::start(o).await;
    let r = g.get("/x", None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(up.last().path, "/x");
    let r = g.get("/gone/x", None).await;
    assert_eq!(r.status(), 502);
    assert!(g.log().contains("no-such-host.invalid:80"), "{}", g.log());
    let out = std::process::Command::new(bin())
        .args(["check-config", "--config"])
        .arg(&g.config)
        .output()
        .unwrap();
    assert!(out.status.success());
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("warning: upstreams.nowhere: no-such-host.invalid:80"), "{said}");
}
