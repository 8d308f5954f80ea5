//! Secrets never reach the logs: the suite's main flows run with every crate at debug level,
//! then the log is searched for each password, token, cookie value and one-time secret used.

use crate::harness::*;
use http::Method;
use serde_json::json;

#[tokio::test]
async fn debug_logs_hold_no_password_token_cookie_or_link_secret() {
    let up = Upstream::start().await;
    let smtp = SmtpServer::start();
    let mut o = Options::new(up.addr);
    o.extra = format!("{}\nsignup: {{ enabled: true }}", smtp.config());
    o.log_filter = "debug";
    let mut g = Gateway::start(o).await;
    let mut secrets: Vec<(&str, String)> = vec![
        ("admin password", ADMIN_PASSWORD.into()),
        ("signing secret", SECRET.into()),
    ];

    // Password login, Bearer use, renewal, profile.
    let t = g.login(ADMIN_EMAIL, ADMIN_PASSWORD, false).await;
    assert_eq!(g.get("/app/x", Some(&t)).await.status(), 200);
    assert_eq!(g.get("/api/profile", Some(&t)).await.status(), 200);
    let renewed: String = g
        .post("/api/renew-token", Some(&t))
        .await
        .json()
        .await
        .unwrap();
    secrets.push(("token", t.clone()));
    secrets.push(("renewed token", renewed.clone()));
    // A failed login and a wrong token.
    let wrong = "wrong-password-that-is-secret";
    g.post_json(
        "/api/login",
        json!({"email": ADMIN_EMAIL, "password": wrong}),
        None,
    )
    .await;
    secrets.push(("wrong password", wrong.into()));
    let forged = format!("{}x", renewed);
    assert_eq!(g.get("/app/x", Some(&forged)).await.status(), 401);
    // Cookie login and use.
    let r = g
        .client
        .post(g.url("/api/nuxt-users/session"))
        .json(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    let (cookie, _) = set_cookie(&r);
    let cookie_value = cookie.split_once('=').unwrap().1.to_string();
    let r = g
        .client
        .get(g.url("/app/y"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    secrets.push(("cookie value", cookie_value));
    // A user made by the admin, a password change.
    let user_pw = "user-password-secret-1";
    let id = g
        .create_user(&renewed, "u@example.test", "user", user_pw)
        .await;
    assert!(id > 0);
    let ut = g.login("u@example.test", user_pw, false).await;
    let new_pw = "user-password-secret-2";
    let r = g
        .call(
            Method::PATCH,
            "/api/nuxt-users/password",
            Some(&ut),
            Some(json!({"currentPassword": user_pw, "newPassword": new_pw, "newPasswordConfirmation": new_pw})),
        )
        .await;
    assert_eq!(r.status(), 200);
    secrets.extend([
        ("user password", user_pw.to_string()),
        ("new password", new_pw.to_string()),
        ("user token", ut),
    ]);
    // Reset by mail, sign-up confirmation, magic link: the link secrets, and their use.
    g.call(
        Method::POST,
        "/api/nuxt-users/password/forgot",
        None,
        Some(json!({"email": "u@example.test"})),
    )
    .await;
    let reset = query_param(&smtp.nth(1).await.link(), "token");
    let reset_pw = "reset-password-secret-3";
    let r = g
        .call(
            Method::POST,
            "/api/nuxt-users/password/reset",
            None,
            Some(json!({"token": reset, "email": "u@example.test", "password": reset_pw, "password_confirmation": reset_pw})),
        )
        .await;
    assert_eq!(r.status(), 200);
    secrets.extend([("reset token", reset), ("reset password", reset_pw.into())]);
    let signup_pw = "signup-password-secret-4";
    g.call(
        Method::POST,
        "/api/nuxt-users/register",
        None,
        Some(json!({"email": "new@example.test", "name": "New", "password": signup_pw})),
    )
    .await;
    let confirm = query_param(&smtp.nth(2).await.link(), "token");
    let r = g
        .client
        .get(g.url(&format!("/api/nuxt-users/confirm?token={confirm}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    secrets.extend([
        ("confirm token", confirm),
        ("sign-up password", signup_pw.into()),
    ]);
    let magic = magic_link_token(&g, &smtp, 3, ADMIN_EMAIL).await;
    let r = g
        .client
        .get(g.url(&format!("/magic-link?token={magic}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    secrets.push(("magic token", magic));
    g.post("/api/logout", Some(&renewed)).await;

    // Every buffered line written.
    g.signal("TERM");
    g.wait_exit(std::time::Duration::from_secs(9)).await;
    let log = g.log();
    assert!(log.lines().count() > 50, "debug logging is on:\n{log}");
    assert!(log.contains("DEBUG"), "debug lines present");
    for (what, secret) in &secrets {
        assert!(!log.contains(secret.as_str()), "the {what} is in the log");
        // A JWT's signature alone is enough to matter.
        if let Some(sig) = secret.rsplit('.').next().filter(|s| s.len() > 20) {
            assert!(!log.contains(sig), "the {what}'s signature is in the log");
        }
    }
}
