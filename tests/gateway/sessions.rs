//! Sessions and cookies as an attacker meets them: fixation, planted and malformed cookies,
//! cross-site requests, caching of auth answers.

use crate::harness::*;
use serde_json::json;
use std::time::Duration;

const SESSION: &str = "/api/nuxt-users/session";

async fn cookie_login(g: &Gateway, cookie: Option<&str>) -> reqwest::Response {
    let mut r = g
        .client
        .post(g.url(SESSION))
        .json(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}));
    if let Some(c) = cookie {
        r = r.header("cookie", c);
    }
    r.send().await.unwrap()
}

#[tokio::test]
async fn every_login_gets_a_new_session_and_a_strict_cookie() {
    let (_up, g) = start().await;
    let r = cookie_login(&g, None).await;
    assert_eq!(r.status(), 200);
    let (first, full) = set_cookie(&r);
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(full.contains(attr), "{attr}: {full}");
    }
    assert!(!full.to_ascii_lowercase().contains("domain="), "{full}");
    // Logging in again while holding a session (an attacker's, planted) never keeps that id.
    let r = cookie_login(&g, Some(&first)).await;
    let (second, _) = set_cookie(&r);
    let sid = |c: &str| payload(c.split_once('=').unwrap().1)["sid"].clone();
    assert_ne!(sid(&first), sid(&second));
    assert_ne!(first, second);
}

#[tokio::test]
async fn malformed_planted_and_oversized_cookies_authenticate_no_one() {
    let (up, g) = start().await;
    let t = g.admin_token().await;
    let n = "portcullis_session";
    let cases = [
        format!("{n}=garbage; {n}={t}"),
        format!("{n}={t}; {n}=garbage"),
        format!("{n}={t}x"),
        format!("{n}=\"{t}\""),
        format!("{n}={}", "a".repeat(9 * 1024)),
        format!("{n}={t}.{t}"),
        n.to_string(),
        ";;;=;=".to_string(),
        format!("{}={t}", n.to_uppercase()),
    ];
    let before = up.count();
    for c in &cases {
        let r = g
            .client
            .get(g.url("/app"))
            .header("cookie", c)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{c:.80}");
        // On an optional route they pass as anonymous: never with an identity.
        let r = g
            .client
            .get(g.url("/maybe/x"))
            .header("cookie", c)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(up.last().headers.get("x-auth-user-id").is_none(), "{c:.80}");
    }
    assert_eq!(up.count(), before + cases.len(), "only the optional route");
    // The same cookie twice is still one session.
    let r = g
        .client
        .get(g.url("/app"))
        .header("cookie", format!("{n}={t}; theme=dark; {n}={t}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn cross_site_state_changes_with_the_cookie_are_refused_on_the_app_too() {
    let (up, g) = start().await;
    let t = g.admin_token().await;
    let cookie = format!("portcullis_session={t}");
    let post = |origin: Option<&str>, site: Option<&str>, bearer: bool| {
        let mut r = g.client.post(g.url("/app/transfer")).body("amount=100");
        r = if bearer {
            r.bearer_auth(&t)
        } else {
            r.header("cookie", &cookie)
        };
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        if let Some(s) = site {
            r = r.header("sec-fetch-site", s);
        }
        r.send()
    };
    let before = up.count();
    let r = post(Some("https://evil.example"), None, false)
        .await
        .unwrap();
    error_body(r, 403).await;
    let r = post(None, Some("cross-site"), false).await.unwrap();
    error_body(r, 403).await;
    assert_eq!(up.count(), before, "refused before the app");
    // Our own origin, a script with a Bearer token, and a non-browser client go through.
    let own = g.base.replace("127.0.0.1", "localhost");
    for (origin, site, bearer) in [
        (Some(own.as_str()), None, false),
        (None, Some("same-origin"), false),
        (Some("https://evil.example"), None, true),
        (None, None, false),
    ] {
        let r = post(origin, site, bearer).await.unwrap();
        assert_eq!(r.status(), 200, "{origin:?} {site:?} bearer={bearer}");
    }
    // Reading cross-site is the browser's business (CORS), not a state change.
    let r = g
        .client
        .get(g.url("/app/x"))
        .header("cookie", &cookie)
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn auth_answers_are_never_cached() {
    let (_up, g) = start().await;
    let t = g.admin_token().await;
    let login = g
        .post_json(
            "/api/login",
            json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}),
            None,
        )
        .await;
    let bad = g
        .post_json(
            "/api/login",
            json!({"email": ADMIN_EMAIL, "password": "wrong-password-x"}),
            None,
        )
        .await;
    let profile = g.get("/api/profile", Some(&t)).await;
    let me = g.get("/api/nuxt-users/me", Some(&t)).await;
    let session = cookie_login(&g, None).await;
    let denied = g.get("/app", None).await;
    for (what, r) in [
        ("login", login),
        ("failed login", bad),
        ("profile", profile),
        ("me", me),
        ("cookie login", session),
        ("401 on the app", denied),
    ] {
        assert_eq!(
            r.headers()
                .get("cache-control")
                .map(|v| v.to_str().unwrap()),
            Some("no-store"),
            "{what}"
        );
    }
}

#[tokio::test]
async fn an_unused_session_ends_after_the_idle_timeout_and_renewal_stops_at_the_max_age() {
    let (_up, g) = start_with(|o| {
        o.more_tokens = "  idle_timeout: \"2s\"\n  max_session_age: \"6s\"\n".into();
    })
    .await;
    let t = g.login(ADMIN_EMAIL, ADMIN_PASSWORD, false).await;
    let p = payload(&t);
    assert!(p["exp"].as_u64().unwrap() - p["iat"].as_u64().unwrap() <= 6);
    // In use, it stays alive past the idle timeout.
    for _ in 0..3 {
        assert_eq!(g.get("/app/x", Some(&t)).await.status(), 200);
        g.advance_clock(Duration::from_millis(1000)).await;
    }
    // Renewal works, but not past six seconds from the sign-in.
    let r = g.post("/api/renew-token", Some(&t)).await;
    assert_eq!(r.status(), 200);
    let renewed: String = r.json().await.unwrap();
    let q = payload(&renewed);
    assert!(
        q["exp"].as_u64().unwrap() <= p["iat"].as_u64().unwrap() + 6,
        "{q}"
    );
    // Unused for longer than the idle timeout: over (a remembered session is not).
    let fresh = g.login(ADMIN_EMAIL, ADMIN_PASSWORD, false).await;
    let remembered = g.login(ADMIN_EMAIL, ADMIN_PASSWORD, true).await;
    assert_eq!(g.get("/app/x", Some(&fresh)).await.status(), 200);
    g.advance_clock(Duration::from_millis(3300)).await;
    let r = g.get("/app/x", Some(&fresh)).await;
    assert_eq!(r.status(), 401);
    assert_eq!(g.get("/app/x", Some(&remembered)).await.status(), 200);
    // And the first session, more than six seconds old now, is past its maximum age.
    let r = g.post("/api/renew-token", Some(&renewed)).await;
    assert_eq!(r.status(), 401);
}
