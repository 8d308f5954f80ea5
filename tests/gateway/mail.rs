//! Password reset and sign-up confirmation end to end, through a real SMTP server that the
//! test runs, reading the links out of the delivered messages.

use crate::harness::*;
use http::Method;
use serde_json::json;

const P: &str = "/api/nuxt-users";
const FORGOT: &str = "If a user with that email exists, a password reset link has been sent.";

async fn forgot(g: &Gateway, email: &str) -> serde_json::Value {
    let r = g
        .call(
            Method::POST,
            &format!("{P}/password/forgot"),
            None,
            Some(json!({"email": email})),
        )
        .await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

pub async fn reset(g: &Gateway, token: &str, email: &str, password: &str) -> reqwest::Response {
    let body = json!({"token": token, "email": email, "password": password, "password_confirmation": password});
    g.call(
        Method::POST,
        &format!("{P}/password/reset"),
        None,
        Some(body),
    )
    .await
}

#[tokio::test]
async fn forgot_and_reset_end_to_end_over_smtp() {
    let (_up, smtp, g) = gateway_with_mail("").await;
    let a = g.admin_token().await;
    let b = g.admin_token().await;
    // Unknown and known emails get the same answer.
    assert_eq!(forgot(&g, "nobody@example.test").await["message"], FORGOT);
    let r = g
        .client
        .post(g.url(&format!("{P}/password/forgot")))
        .header("host", "evil.example")
        .header("x-forwarded-host", "evil.example")
        .json(&json!({"email": ADMIN_EMAIL}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["message"],
        FORGOT
    );
    let mail = smtp.nth(1).await;
    assert_eq!(mail.to, vec![ADMIN_EMAIL.to_string()]);
    assert!(mail.subject().contains("Reset your"), "{}", mail.subject());
    let link = mail.link();
    let port = g.base.rsplit(':').next().unwrap();
    assert!(
        link.starts_with(&format!("http://localhost:{port}/reset-password?")),
        "built from public_url, not Host: {link}"
    );
    let token = query_param(&link, "token");
    assert!(token.len() >= 22, "at least 128 bits");
    assert_eq!(query_param(&link, "email"), ADMIN_EMAIL);

    let v = error_body(
        reset(&g, &token, "someone@example.test", "reset-password-1").await,
        400,
    )
    .await;
    assert_eq!(v["message"], "Invalid or expired token");
    let v = error_body(reset(&g, &token, ADMIN_EMAIL, "monkey123").await, 400).await;
    assert!(v["message"].as_str().unwrap().contains("commonly used"));
    let body = json!({"token": token, "email": ADMIN_EMAIL, "password": "reset-password-1", "password_confirmation": "other-password-1"});
    error_body(
        g.call(
            Method::POST,
            &format!("{P}/password/reset"),
            None,
            Some(body),
        )
        .await,
        400,
    )
    .await;

    let r = reset(&g, &token, ADMIN_EMAIL, "reset-password-1").await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["message"],
        "Password has been reset successfully. You can now log in with your new password."
    );
    assert_eq!(
        g.get("/app", Some(&a)).await.status(),
        401,
        "every session ends"
    );
    assert_eq!(g.get("/app", Some(&b)).await.status(), 401);
    g.login(ADMIN_EMAIL, "reset-password-1", false).await;
    error_body(
        reset(&g, &token, ADMIN_EMAIL, "reset-password-2").await,
        400,
    )
    .await;
    // Only the known email produced a message.
    assert_eq!(smtp.count(), 1);
    assert!(g
        .metrics()
        .await
        .contains("portcullis_mail_messages_total{outcome=\"sent\"} 1"));
}

#[tokio::test]
async fn a_newer_reset_voids_the_older_and_two_concurrent_uses_have_one_winner() {
    let (_up, smtp, g) = gateway_with_mail("").await;
    forgot(&g, ADMIN_EMAIL).await;
    let first = query_param(&smtp.nth(1).await.link(), "token");
    forgot(&g, ADMIN_EMAIL).await;
    let second = query_param(&smtp.nth(2).await.link(), "token");
    error_body(
        reset(&g, &first, ADMIN_EMAIL, "reset-password-1").await,
        400,
    )
    .await;
    let (x, y) = tokio::join!(
        reset(&g, &second, ADMIN_EMAIL, "reset-password-2"),
        reset(&g, &second, ADMIN_EMAIL, "reset-password-3"),
    );
    let mut codes = [x.status().as_u16(), y.status().as_u16()];
    codes.sort();
    assert_eq!(codes, [200, 400]);
}

#[tokio::test]
async fn inactive_users_get_no_reset_mail() {
    let (_up, smtp, g) = gateway_with_mail("").await;
    let admin = g.admin_token().await;
    let uid = g
        .create_user(&admin, "off@example.test", "user", "off-password-1")
        .await;
    g.call(
        Method::PATCH,
        &format!("{P}/{uid}"),
        Some(&admin),
        Some(json!({"active": false})),
    )
    .await;
    assert_eq!(forgot(&g, "off@example.test").await["message"], FORGOT);
    forgot(&g, ADMIN_EMAIL).await;
    assert_eq!(smtp.nth(1).await.to, vec![ADMIN_EMAIL.to_string()]);
    assert_eq!(smtp.count(), 1);
}

#[tokio::test]
async fn sign_up_confirms_by_email_and_tokens_keep_to_their_purpose() {
    let (_up, smtp, g) = gateway_with_mail("signup: { enabled: true }").await;
    let r = g.call(Method::POST, &format!("{P}/register"), None, Some(json!({"email": "Neo@Example.test", "name": "Neo", "password": "follow-the-rabbit"}))).await;
    assert_eq!(r.status(), 200);
    let answer: serde_json::Value = r.json().await.unwrap();
    let r = g
        .post_json(
            "/api/login",
            json!({"email": "neo@example.test", "password": "follow-the-rabbit"}),
            None,
        )
        .await;
    error_body(r, 403).await;
    let mail = smtp.nth(1).await;
    assert_eq!(mail.to, vec!["neo@example.test".to_string()]);
    let link = mail.link();
    let port = g.base.rsplit(':').next().unwrap();
    assert!(
        link.starts_with(&format!("http://localhost:{port}{P}/confirm?token=")),
        "{link}"
    );
    let token = query_param(&link, "token");
    // A confirmation token never resets a password.
    error_body(
        reset(&g, &token, "neo@example.test", "new-rabbit-pass").await,
        400,
    )
    .await;
    let r = g
        .client
        .get(g.url(&format!("{P}/confirm?token={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let t = g
        .login("neo@example.test", "follow-the-rabbit", false)
        .await;
    assert_eq!(g.get("/app", Some(&t)).await.status(), 200);
    error_body(
        g.client
            .get(g.url(&format!("{P}/confirm?token={token}")))
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    error_body(
        g.client
            .get(g.url(&format!("{P}/confirm")))
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;

    // A reset token never confirms an email.
    forgot(&g, "neo@example.test").await;
    let reset_token = query_param(&smtp.nth(2).await.link(), "token");
    error_body(
        g.client
            .get(g.url(&format!("{P}/confirm?token={reset_token}")))
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;

    // Signing up with a taken email answers the same and tells the owner instead.
    let r = g.call(Method::POST, &format!("{P}/register"), None, Some(json!({"email": "neo@example.test", "name": "Imposter", "password": "another-rabbit"}))).await;
    assert_eq!(r.json::<serde_json::Value>().await.unwrap(), answer);
    let notice = smtp.nth(3).await;
    assert!(
        notice.subject().contains("already have"),
        "{}",
        notice.subject()
    );
    assert!(!notice.text().contains("confirm?token"));
    let v = error_body(
        g.call(
            Method::POST,
            &format!("{P}/register"),
            None,
            Some(json!({"email": "x@example.test", "name": "X", "password": "123456789"})),
        )
        .await,
        400,
    )
    .await;
    assert!(v["data"]["password"].is_string());
}

#[tokio::test]
async fn sign_up_is_off_by_default() {
    let (_up, _smtp, g) = gateway_with_mail("").await;
    let r = g
        .call(
            Method::POST,
            &format!("{P}/register"),
            None,
            Some(json!({"email": "a@example.test", "name": "A", "password": "a-long-password"})),
        )
        .await;
    error_body(r, 404).await;
}

#[tokio::test]
async fn without_smtp_mail_lands_in_the_outbox() {
    let (_up, g) = start().await;
    forgot(&g, ADMIN_EMAIL).await;
    let outbox = g.dir.path().join("data/outbox");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let eml = loop {
        let found = std::fs::read_dir(&outbox).ok().and_then(|d| {
            d.flatten()
                .map(|e| e.path())
                .find(|p| p.extension().is_some_and(|x| x == "eml"))
        });
        if let Some(p) = found {
            break std::fs::read(p).unwrap();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no .eml in {}",
            outbox.display()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let mail = Delivered {
        to: vec![],
        raw: eml,
    };
    assert!(
        mail.link().contains("/reset-password?token="),
        "{}",
        mail.text()
    );
}

#[tokio::test]
async fn a_dead_smtp_server_never_slows_the_request_and_is_retried() {
    let up = Upstream::start().await;
    let mut o = Options::new(up.addr);
    o.extra = format!(
        "mail: {{ smtp: {{ host: \"127.0.0.1\", port: {}, security: none, timeout: 1s }} }}",
        free_port()
    );
    let g = Gateway::start(o).await;
    let started = std::time::Instant::now();
    forgot(&g, ADMIN_EMAIL).await;
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !g
        .metrics()
        .await
        .contains("portcullis_mail_messages_total{outcome=\"retried\"}")
    {
        assert!(std::time::Instant::now() < deadline, "no retry counted");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn magic_links_sign_in_once_after_a_confirm_page_and_are_throttled() {
    let (_up, smtp, g) = gateway_with_mail("").await;
    let ask = |email: &str| {
        let g = &g;
        let body = json!({"email": email, "returnTo": "/app/inbox"});
        async move {
            g.call(Method::POST, "/api/auth/magic-link", None, Some(body))
                .await
        }
    };
    let known = ask(ADMIN_EMAIL).await;
    assert_eq!(known.status(), 200);
    let known: serde_json::Value = known.json().await.unwrap();
    let unknown: serde_json::Value = ask("nobody@example.test").await.json().await.unwrap();
    assert_eq!(known, unknown, "the same answer either way");
    let mail = smtp.nth(1).await;
    assert!(
        mail.subject().contains("sign-in link"),
        "{}",
        mail.subject()
    );
    let link = mail.link();
    let port = g.base.rsplit(':').next().unwrap();
    assert!(
        link.starts_with(&format!("http://localhost:{port}/magic-link?token=")),
        "{link}"
    );
    let token = query_param(&link, "token");
    assert_eq!(query_param(&link, "returnTo"), "/app/inbox");
    let path = link.split_once(port).unwrap().1.to_string();

    // Opening the link twice (a mail scanner, then the person) consumes nothing.
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    assert_eq!(c.get(g.url(&path)).send().await.unwrap().status(), 200);
    let page = c.get(g.url(&path)).send().await.unwrap();
    assert_eq!(page.headers()["referrer-policy"], "no-referrer");
    let (csrf_cookie, _) = set_cookie(&page);
    let csrf = csrf_cookie
        .trim_start_matches("portcullis_csrf=")
        .to_string();
    assert!(page
        .text()
        .await
        .unwrap()
        .contains(&format!("value=\"{token}\"")));

    let form = |csrf: &str| {
        vec![
            ("csrf", csrf.to_string()),
            ("token", token.clone()),
            ("returnTo", "/app/inbox".to_string()),
        ]
    };
    let r = c
        .post(g.url("/magic-link"))
        .header("cookie", &csrf_cookie)
        .form(&form("forged"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "no CSRF, no sign-in");
    let r = c
        .post(g.url("/magic-link"))
        .header("cookie", &csrf_cookie)
        .form(&form(&csrf))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/app/inbox");
    let (session, _) = set_cookie(&r);
    assert_eq!(
        c.get(g.url("/app"))
            .header("cookie", &session)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let r = c
        .post(g.url("/magic-link"))
        .header("cookie", &csrf_cookie)
        .form(&form(&csrf))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "one use");

    // A password-reset token is no magic link.
    forgot(&g, ADMIN_EMAIL).await;
    let reset = query_param(&smtp.nth(2).await.link(), "token");
    let wrong = vec![
        ("csrf", csrf.clone()),
        ("token", reset),
        ("returnTo", "/".to_string()),
    ];
    let r = c
        .post(g.url("/magic-link"))
        .header("cookie", &csrf_cookie)
        .form(&wrong)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // Three at once per address, then it waits.
    ask(ADMIN_EMAIL).await;
    ask(ADMIN_EMAIL).await;
    let r = ask(ADMIN_EMAIL).await;
    assert!(r.headers().contains_key("retry-after"));
    error_body(r, 429).await;
}

#[tokio::test]
async fn tutorial_routes_register_verify_login_and_logout() {
    let (_up, smtp, g) = gateway_with_mail("signup: { enabled: true }").await;
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = g
        .call(
            Method::POST,
            "/api/auth/register",
            None,
            Some(json!({"email": "tia@example.test", "password": "tia-password-1", "name": "Tia"})),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert!(
        !r.headers().contains_key("set-cookie"),
        "no session before verification"
    );
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(v["session"].is_null());
    let r = g
        .call(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"email": "tia@example.test", "password": "tia-password-1"})),
        )
        .await;
    error_body(r, 403).await;

    let link = smtp.nth(1).await.link();
    let port = g.base.rsplit(':').next().unwrap();
    assert!(
        link.starts_with(&format!(
            "http://localhost:{port}/api/auth/verify-user?access_token="
        )),
        "{link}"
    );
    let path = link.split_once(port).unwrap().1.to_string();
    let r = c.get(g.url(&path)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let (cookie, _) = set_cookie(&r);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["user"]["email"], "tia@example.test");
    assert_eq!(v["user"]["active"], true);
    assert!(v["session"]["token"].is_string());
    assert_eq!(
        c.get(g.url("/app"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    error_body(c.get(g.url(&path)).send().await.unwrap(), 400).await;

    let r = g
        .call(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"email": "tia@example.test", "password": "tia-password-1"})),
        )
        .await;
    assert_eq!(r.status(), 200);
    let (cookie, _) = set_cookie(&r);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["user"]["name"], "Tia");
    assert_eq!(v["session"]["userId"], v["user"]["id"]);
    error_body(
        g.call(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"email": "tia@example.test", "password": "nope-nope-nope"})),
        )
        .await,
        401,
    )
    .await;

    // A cross-site GET cannot sign anyone out; a same-site one can.
    let r = c
        .get(g.url("/api/auth/logout"))
        .header("cookie", &cookie)
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    error_body(r, 403).await;
    assert_eq!(
        c.get(g.url("/app"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let r = c
        .get(g.url("/api/auth/logout"))
        .header("cookie", &cookie)
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login");
    let (cleared, _) = set_cookie(&r);
    assert_eq!(cleared, "portcullis_session=");
    assert_eq!(
        c.get(g.url("/app"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
}

#[tokio::test]
async fn without_verification_registering_signs_in_at_once() {
    let (_up, _smtp, g) = gateway_with_mail("signup: { enabled: true, verify_email: false }").await;
    let r = g
        .call(
            Method::POST,
            "/api/auth/register",
            None,
            Some(json!({"email": "quick@example.test", "password": "quick-password-1"})),
        )
        .await;
    assert_eq!(r.status(), 200);
    let (cookie, _) = set_cookie(&r);
    assert!(cookie.starts_with("portcullis_session="));
    assert_eq!(
        g.client
            .get(g.url("/app"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let r = g
        .call(
            Method::POST,
            "/api/auth/register",
            None,
            Some(json!({"email": "quick@example.test", "password": "quick-password-2"})),
        )
        .await;
    error_body(r, 409).await;
}

#[tokio::test]
async fn a_browser_resets_a_forgotten_password_through_the_pages() {
    let (_up, smtp, g) = gateway_with_mail("").await;
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = c.get(g.url("/forgot-password")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let (csrf_cookie, _) = set_cookie(&page);
    let csrf = csrf_cookie
        .trim_start_matches("portcullis_csrf=")
        .to_string();
    let r = c
        .post(g.url("/forgot-password"))
        .header("cookie", &csrf_cookie)
        .form(&[("csrf", csrf.as_str()), ("email", ADMIN_EMAIL)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("on its way"));
    let link = smtp.nth(1).await.link();
    let port = g.base.rsplit(':').next().unwrap();
    let path = link.split_once(port).unwrap().1.to_string();
    assert!(path.starts_with("/reset-password?token="), "{path}");
    let token = query_param(&link, "token");
    let form = c
        .get(g.url(&path))
        .header("cookie", &csrf_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 200);
    assert!(form
        .text()
        .await
        .unwrap()
        .contains(&format!("value=\"{token}\"")));

    let submit = |password: &str| {
        let (c, g, csrf_cookie) = (&c, &g, &csrf_cookie);
        let fields = vec![
            ("csrf", csrf.clone()),
            ("token", token.clone()),
            ("email", ADMIN_EMAIL.to_string()),
            ("password", password.to_string()),
            ("password_confirmation", password.to_string()),
        ];
        async move {
            c.post(g.url("/reset-password"))
                .header("cookie", csrf_cookie)
                .form(&fields)
                .send()
                .await
                .unwrap()
        }
    };
    let r = submit("sunshine1").await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("commonly used"));
    let r = submit("page-reset-password-1").await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login");
    g.login(ADMIN_EMAIL, "page-reset-password-1", false).await;
    assert_eq!(
        submit("page-reset-password-2").await.status(),
        400,
        "the link works once"
    );
}

#[tokio::test]
async fn a_browser_signs_up_and_confirms_through_the_pages() {
    let (_up, smtp, g) = gateway_with_mail("signup: { enabled: true }").await;
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = c
        .get(g.url("/signup?returnTo=%2Fapp"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    let (csrf_cookie, _) = set_cookie(&page);
    let csrf = csrf_cookie
        .trim_start_matches("portcullis_csrf=")
        .to_string();
    let fields = |email: &str| {
        vec![
            ("csrf", csrf.clone()),
            ("returnTo", "/app".into()),
            ("name", "Una".into()),
            ("email", email.to_string()),
            ("password", "una-password-1".into()),
        ]
    };
    let r = c
        .post(g.url("/signup"))
        .header("cookie", &csrf_cookie)
        .form(&fields("una@example.test"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let answer = r.text().await.unwrap();
    assert!(answer.contains("Check your email"));
    error_body(
        g.post_json(
            "/api/login",
            json!({"email": "una@example.test", "password": "una-password-1"}),
            None,
        )
        .await,
        403,
    )
    .await;

    let link = smtp.nth(1).await.link();
    let port = g.base.rsplit(':').next().unwrap();
    let path = link.split_once(port).unwrap().1.to_string();
    assert!(path.starts_with("/verify?token="), "{path}");
    let token = query_param(&link, "token");
    // Opening the page twice consumes nothing; the button does.
    assert_eq!(c.get(g.url(&path)).send().await.unwrap().status(), 200);
    assert_eq!(c.get(g.url(&path)).send().await.unwrap().status(), 200);
    let confirm = vec![("csrf", csrf.clone()), ("token", token.clone())];
    let r = c
        .post(g.url("/verify"))
        .header("cookie", &csrf_cookie)
        .form(&confirm)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let (session, _) = set_cookie(&r);
    assert_eq!(
        c.get(g.url("/app"))
            .header("cookie", &session)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        c.post(g.url("/verify"))
            .header("cookie", &csrf_cookie)
            .form(&confirm)
            .send()
            .await
            .unwrap()
            .status(),
        400
    );

    // A taken address answers the same; a signed-in visitor is sent on.
    let r = c
        .post(g.url("/signup"))
        .header("cookie", &csrf_cookie)
        .form(&fields("una@example.test"))
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("Check your email"));
    let r = c
        .get(g.url("/signup?returnTo=%2Fapp"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers()["location"], "/app");
}
