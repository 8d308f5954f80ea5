//! Account takeover, tried the ways it is done: moving an account to another address with a
//! stolen session, setting a password with a session picked up later, pre-creating an account
//! through a provider that did not verify the address, handing a victim one's own sign-in
//! code, and guessing passwords in parallel.

use crate::harness::*;
use crate::oauth::{self, MOCK};
use http::Method;
use serde_json::json;
use std::time::Duration;

async fn login_status(g: &Gateway, email: &str, password: &str) -> u16 {
    g.post_json(
        "/api/login",
        json!({"email": email, "password": password}),
        None,
    )
    .await
    .status()
    .as_u16()
}

#[tokio::test]
async fn an_email_change_waits_for_the_new_address_to_confirm_it() {
    let (_up, smtp, g) = gateway_with_mail("").await;
    let admin = g.admin_token().await;
    g.create_user(&admin, "ann@example.test", "user", "ann-password-1")
        .await;
    let t = g.login("ann@example.test", "ann-password-1", false).await;
    let r = g
        .call(
            Method::PATCH,
            "/api/nuxt-users/me",
            Some(&t),
            Some(json!({"email": "ann.new@example.test", "name": "Ann B"})),
        )
        .await;
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["user"]["email"], "ann@example.test", "not yet");
    assert_eq!(v["user"]["pendingEmail"], "ann.new@example.test");
    assert_eq!(v["user"]["name"], "Ann B");
    // A link to the new address; a notice to the current one.
    let (a, b) = (smtp.nth(1).await, smtp.nth(2).await);
    let (confirm, notice) = if a.to[0].contains("ann.new") {
        (a, b)
    } else {
        (b, a)
    };
    assert_eq!(notice.to, vec!["ann@example.test".to_string()]);
    assert!(notice.subject().contains("about to change"));
    assert_eq!(confirm.to, vec!["ann.new@example.test".to_string()]);
    // Until then the account answers to its old address only.
    assert_eq!(
        login_status(&g, "ann.new@example.test", "ann-password-1").await,
        400
    );
    assert_eq!(
        login_status(&g, "ann@example.test", "ann-password-1").await,
        200
    );
    let link = confirm.link();
    let path = link
        .trim_start_matches(&g.base)
        .replace("http://localhost", "");
    let path = &path[path.find("/api/").unwrap()..];
    let r = g.get(path, None).await;
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["user"]["email"], "ann.new@example.test");
    assert!(v["user"].get("pendingEmail").is_none());
    assert_eq!(
        login_status(&g, "ann.new@example.test", "ann-password-1").await,
        200
    );
    assert_eq!(
        login_status(&g, "ann@example.test", "ann-password-1").await,
        400
    );
    // Links work once.
    assert_eq!(g.get(path, None).await.status(), 400);
    // An address taken by someone else is refused at once, or when it is confirmed.
    let r = g
        .call(
            Method::PATCH,
            "/api/nuxt-users/me",
            Some(&t),
            Some(json!({"email": ADMIN_EMAIL})),
        )
        .await;
    error_body(r, 400).await;
    g.call(
        Method::PATCH,
        "/api/nuxt-users/me",
        Some(&t),
        Some(json!({"email": "late@example.test"})),
    )
    .await;
    g.create_user(&admin, "late@example.test", "user", "late-password-1")
        .await;
    let link = [smtp.nth(3).await, smtp.nth(4).await]
        .into_iter()
        .find(|m| m.to[0] == "late@example.test")
        .unwrap()
        .link();
    let path = &link[link.find("/api/").unwrap()..];
    error_body(g.get(path, None).await, 409).await;
}

#[tokio::test]
async fn a_new_password_needs_the_current_one_or_a_fresh_sign_in() {
    let (_up, g) = start_with(|o| {
        o.more_tokens = "  fresh_for: \"2s\"\n".into();
    })
    .await;
    g.add_user("ann@example.test", "user", "ann-password-1");
    let t = g.login("ann@example.test", "ann-password-1", false).await;
    let patch =
        |body: serde_json::Value| g.call(Method::PATCH, "/api/profile", Some(&t), Some(body));
    // Right after signing in (the seed's `updateUserProfile({ password })`): allowed.
    assert_eq!(
        patch(json!({"password": "ann-password-2"})).await.status(),
        200
    );
    g.advance_clock(Duration::from_millis(3100)).await;
    let v = error_body(patch(json!({"password": "ann-password-3"})).await, 403).await;
    assert!(
        v["message"].as_str().unwrap().contains("currentPassword"),
        "{v}"
    );
    error_body(
        patch(json!({"password": "ann-password-3", "currentPassword": "wrong-password"})).await,
        403,
    )
    .await;
    assert_eq!(
        patch(json!({"password": "ann-password-3", "currentPassword": "ann-password-2"}))
            .await
            .status(),
        200
    );
    assert_eq!(
        login_status(&g, "ann@example.test", "ann-password-3").await,
        200
    );
    // A name change alone never needs it.
    assert_eq!(patch(json!({"name": "Ann"})).await.status(), 200);
}

const UNVERIFIED: &str = "        - { sub: \"p-3\", email: \"carol@example.test\", name: \"Carol\", email_verified: false }\n        - { sub: \"p-4\", email: \"carol@example.test\", name: \"Carol\" }\n";

#[tokio::test]
async fn an_account_from_an_unverified_email_cannot_be_adopted_by_email() {
    let up = Upstream::start().await;
    let smtp = SmtpServer::start();
    let mut o = Options::new(up.addr);
    o.extra = format!(
        "{}\n{MOCK}{UNVERIFIED}  link_by_verified_email: true\n",
        smtp.config()
    );
    let g = Gateway::start(o).await;
    // The attacker signs in through a provider that does not vouch for carol@.
    let (token, _) = oauth::signed_in(&g, "?user=p-3").await;
    assert_eq!(g.get("/app", Some(&token)).await.status(), 200);
    // Carol's own address opens nothing on that account: no reset, no magic link.
    let r = g
        .post_json(
            "/api/nuxt-users/password/forgot",
            json!({"email": "carol@example.test"}),
            None,
        )
        .await;
    assert_eq!(r.status(), 200, "the same answer as for any address");
    let r = g
        .post_json(
            "/api/auth/magic-link",
            json!({"email": "carol@example.test"}),
            None,
        )
        .await;
    assert_eq!(r.status(), 200);
    // A provider that does vouch for the address is not linked to it either.
    let cb = oauth::sign_in(&g, "?user=p-4").await;
    assert!(cb.starts_with("FAILED 409"), "{cb}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(smtp.count(), 0, "no mail went to the address");
}

#[tokio::test]
async fn sign_in_starts_are_limited_per_client() {
    let (_up, g) = start_with(|o| {
        o.extra = format!("{MOCK}rate_limits: {{ oauth: {{ per_minute: 2, burst: 2 }} }}\n");
    })
    .await;
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(
            c.get(g.url("/auth/mock"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses, [302, 302, 429, 429]);
    let m = g.metrics().await;
    assert!(m.contains("portcullis_ratelimit_rejections_total{limit=\"oauth\"} 2"));
}

#[tokio::test]
async fn parallel_guesses_cannot_outrun_the_backoff() {
    let up = Upstream::start().await;
    let mut o = Options::new(up.addr);
    o.extra = "rate_limits: { login: { per_minute: 10000, burst: 10000 }, account: { free_failures: 3, max_backoff: \"60s\" } }\npasswords: { max_concurrent_hashes: 64 }".into();
    let g = std::sync::Arc::new(Gateway::start(o).await);
    let mut guesses = Vec::new();
    for i in 0..40 {
        let g = g.clone();
        guesses.push(tokio::spawn(async move {
            login_status(&g, ADMIN_EMAIL, &format!("guess-number-{i}")).await
        }));
    }
    let mut checked = 0;
    for guess in guesses {
        match guess.await.unwrap() {
            400 => checked += 1,
            429 => {}
            other => panic!("{other}"),
        }
    }
    // The rest were refused before any hashing (that even the right password then waits is
    // `bruteforce.rs`'s).
    assert_eq!(checked, 3, "only the free failures were tested");
}
