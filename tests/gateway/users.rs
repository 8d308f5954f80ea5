//! The Nuxt Users contract: cookie sessions, user management with roles, me, password change,
//! the password policy, cross-site refusal.

use crate::harness::*;
use http::Method;
use serde_json::json;

const P: &str = "/api/nuxt-users";

#[tokio::test]
async fn cookie_session_login_and_logout_with_the_documented_shapes() {
    let (up, g) = start().await;
    let r = g
        .call(
            Method::POST,
            &format!("{P}/session"),
            None,
            Some(json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})),
        )
        .await;
    assert_eq!(r.status(), 200);
    let (cookie, full) = set_cookie(&r);
    assert!(cookie.starts_with("portcullis_session="), "{full}");
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(full.contains(attr), "{attr} missing: {full}");
    }
    assert!(
        !full.contains("Max-Age") && !full.contains("Expires"),
        "a browser-session cookie: {full}"
    );
    assert!(!full.contains("Secure"), "public_url is http: {full}");
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["user"]["email"], ADMIN_EMAIL);
    assert!(v["user"]["created_at"].is_string() && v["user"].get("password_hash").is_none());

    let r = g
        .call(
            Method::POST,
            &format!("{P}/session"),
            None,
            Some(json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "rememberMe": true})),
        )
        .await;
    let (_, remembered) = set_cookie(&r);
    assert!(remembered.contains("Max-Age=604800"), "{remembered}");

    // The cookie works on the proxy path like a Bearer token.
    let r = g
        .client
        .get(g.url("/app"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(up.last().headers["x-auth-email"], ADMIN_EMAIL);

    let r = g
        .client
        .delete(g.url(&format!("{P}/session")))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (cleared, full) = set_cookie(&r);
    assert_eq!(cleared, "portcullis_session=");
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=0"] {
        assert!(full.contains(attr), "{attr} missing: {full}");
    }
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["message"],
        "Logged out successfully"
    );
    assert_eq!(
        g.client
            .get(g.url("/app"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    // Logging out with no session at all still answers the same.
    assert_eq!(
        g.client
            .delete(g.url(&format!("{P}/session")))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    error_body(
        g.call(
            Method::POST,
            &format!("{P}/session"),
            None,
            Some(json!({"email": ADMIN_EMAIL})),
        )
        .await,
        400,
    )
    .await;
    let r = g
        .call(
            Method::POST,
            &format!("{P}/session"),
            None,
            Some(json!({"email": ADMIN_EMAIL, "password": "wrong-password"})),
        )
        .await;
    error_body(r, 401).await;
}

#[tokio::test]
async fn cookies_and_bearer_tokens_are_one_session_model() {
    let (_up, g) = start().await;
    let r = g
        .call(
            Method::POST,
            &format!("{P}/session"),
            None,
            Some(json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})),
        )
        .await;
    let (cookie, _) = set_cookie(&r);
    let bearer = g.admin_token().await;
    assert_eq!(
        g.post("/api/logout-others", Some(&bearer))
            .await
            .json::<usize>()
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        g.client
            .get(g.url("/app"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
}

#[tokio::test]
async fn cross_site_requests_with_the_cookie_are_refused() {
    let (_up, g) = start().await;
    let login = json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD});
    let r = g
        .client
        .post(g.url(&format!("{P}/session")))
        .header("origin", "https://evil.example")
        .json(&login)
        .send()
        .await
        .unwrap();
    error_body(r, 403).await;
    let own_origin = g.base.replace("127.0.0.1", "localhost");
    let r = g
        .client
        .post(g.url(&format!("{P}/session")))
        .header("origin", &own_origin)
        .json(&login)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (cookie, _) = set_cookie(&r);
    let r = g
        .client
        .delete(g.url(&format!("{P}/session")))
        .header("cookie", &cookie)
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    error_body(r, 403).await;
    let r = g
        .client
        .post(g.url("/api/logout"))
        .header("cookie", &cookie)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    error_body(r, 403).await;
    assert_eq!(
        g.client
            .get(g.url("/app"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .status(),
        200,
        "still signed in"
    );
    // A Bearer token is not sent by browsers on their own: cross-origin API use stays allowed.
    let t = g.admin_token().await;
    let r = g
        .client
        .patch(g.url(&format!("{P}/me")))
        .bearer_auth(&t)
        .header("origin", "https://spa.example")
        .json(&json!({"name": "Via SPA"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn admins_create_users_and_others_cannot() {
    let (_up, g) = start().await;
    let admin = g.admin_token().await;
    let r = g.call(Method::POST, P, Some(&admin), Some(json!({"email": "New@Example.test", "name": "New User", "password": "new-user-pass-1"}))).await;
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["user"]["email"], "new@example.test");
    assert_eq!(v["user"]["role"], "user");
    let v = error_body(
        g.call(
            Method::POST,
            P,
            Some(&admin),
            Some(json!({"email": "x@example.test"})),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(v["data"]["name"], "is required");
    assert_eq!(v["data"]["password"], "is required");
    let v = error_body(
        g.call(
            Method::POST,
            P,
            Some(&admin),
            Some(json!({"email": "y@example.test", "name": "Y", "password": "password1"})),
        )
        .await,
        400,
    )
    .await;
    assert!(
        v["data"]["password"]
            .as_str()
            .unwrap()
            .contains("commonly used"),
        "{v}"
    );
    let r = g
        .call(
            Method::POST,
            P,
            Some(&admin),
            Some(
                json!({"email": "new@example.test", "name": "Dup", "password": "new-user-pass-1"}),
            ),
        )
        .await;
    error_body(r, 409).await;
    let user = g.login("new@example.test", "new-user-pass-1", false).await;
    let r = g
        .call(
            Method::POST,
            P,
            Some(&user),
            Some(json!({"email": "z@example.test", "name": "Z", "password": "zzz-password-1"})),
        )
        .await;
    error_body(r, 403).await;
    error_body(g.call(Method::POST, P, None, Some(json!({}))).await, 401).await;
}

#[tokio::test]
async fn get_user_is_self_or_admin_with_documented_errors() {
    let (_up, g) = start().await;
    let admin = g.admin_token().await;
    let a = g
        .create_user(&admin, "a@example.test", "user", "a-password-1")
        .await;
    let b = g
        .create_user(&admin, "b@example.test", "user", "b-password-1")
        .await;
    let ta = g.login("a@example.test", "a-password-1", false).await;
    let r = g
        .call(Method::GET, &format!("{P}/{a}"), Some(&ta), None)
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["user"]["id"],
        a
    );
    error_body(
        g.call(Method::GET, &format!("{P}/{b}"), Some(&ta), None)
            .await,
        403,
    )
    .await;
    assert_eq!(
        g.call(Method::GET, &format!("{P}/{b}"), Some(&admin), None)
            .await
            .status(),
        200
    );
    for bad in ["abc", "0", "-3", "1.5"] {
        error_body(
            g.call(Method::GET, &format!("{P}/{bad}"), Some(&admin), None)
                .await,
            400,
        )
        .await;
    }
    error_body(
        g.call(Method::GET, &format!("{P}/99999"), Some(&admin), None)
            .await,
        404,
    )
    .await;
    error_body(
        g.call(Method::GET, &format!("{P}/{a}"), None, None).await,
        401,
    )
    .await;
}

#[tokio::test]
async fn role_changes_and_deactivation_apply_on_the_proxy_path_at_once() {
    let (up, g) = start().await;
    let admin = g.admin_token().await;
    let uid = g
        .create_user(&admin, "u@example.test", "user", "u-password-1")
        .await;
    let t = g.login("u@example.test", "u-password-1", false).await;
    assert_eq!(g.get("/admin/x", Some(&t)).await.status(), 403);
    let r = g
        .call(
            Method::PATCH,
            &format!("{P}/{uid}"),
            Some(&admin),
            Some(json!({"role": "admin", "name": "Promoted"})),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["user"]["role"],
        "admin"
    );
    assert_eq!(
        g.get("/admin/x", Some(&t)).await.status(),
        200,
        "promotion counts on the next request"
    );
    assert_eq!(up.last().headers["x-auth-role"], "admin");
    assert_eq!(up.last().headers["x-auth-name"], "Promoted");

    let r = g
        .call(
            Method::PATCH,
            &format!("{P}/{uid}"),
            Some(&admin),
            Some(json!({"active": false})),
        )
        .await;
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["user"]["active"],
        false
    );
    error_body(g.get("/app", Some(&t)).await, 401).await;
    let r = g
        .post_json(
            "/api/login",
            json!({"email": "u@example.test", "password": "u-password-1"}),
            None,
        )
        .await;
    error_body(r, 403).await;
    let r = g
        .call(Method::GET, &format!("{P}/inactive"), Some(&admin), None)
        .await;
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["users"].as_array().unwrap().len(), 1);
    assert_eq!(v["users"][0]["email"], "u@example.test");

    // Reactivated, the user signs in again.
    g.call(
        Method::PATCH,
        &format!("{P}/{uid}"),
        Some(&admin),
        Some(json!({"active": true})),
    )
    .await;
    g.login("u@example.test", "u-password-1", false).await;
}

#[tokio::test]
async fn update_rules_self_changes_taken_emails_and_unknown_users() {
    let (_up, g) = start().await;
    let admin = g.admin_token().await;
    let me = payload(&admin)["sub"].as_str().unwrap().to_string();
    let uid = g
        .create_user(&admin, "v@example.test", "user", "v-password-1")
        .await;
    let user = g.login("v@example.test", "v-password-1", false).await;
    for body in [json!({"role": "user"}), json!({"active": false})] {
        error_body(
            g.call(
                Method::PATCH,
                &format!("{P}/{me}"),
                Some(&admin),
                Some(body),
            )
            .await,
            403,
        )
        .await;
    }
    error_body(
        g.call(
            Method::PATCH,
            &format!("{P}/{uid}"),
            Some(&user),
            Some(json!({"name": "x"})),
        )
        .await,
        403,
    )
    .await;
    error_body(
        g.call(
            Method::PATCH,
            &format!("{P}/{uid}"),
            Some(&admin),
            Some(json!({"email": ADMIN_EMAIL})),
        )
        .await,
        409,
    )
    .await;
    error_body(
        g.call(
            Method::PATCH,
            &format!("{P}/424242"),
            Some(&admin),
            Some(json!({"name": "x"})),
        )
        .await,
        404,
    )
    .await;
    error_body(
        g.call(
            Method::PATCH,
            &format!("{P}/nope"),
            Some(&admin),
            Some(json!({"name": "x"})),
        )
        .await,
        400,
    )
    .await;
    let v = error_body(
        g.call(
            Method::PATCH,
            &format!("{P}/{uid}"),
            Some(&admin),
            Some(json!({"email": "bad"})),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(v["data"]["email"], "must be a valid email address");
}

#[tokio::test]
async fn the_last_active_admin_cannot_be_removed_or_demoted() {
    let (_up, g) = start().await;
    let root = g.admin_token().await;
    let root_id = payload(&root)["sub"]
        .as_str()
        .unwrap()
        .parse::<i64>()
        .unwrap();
    error_body(
        g.call(Method::DELETE, &format!("{P}/{root_id}"), Some(&root), None)
            .await,
        409,
    )
    .await;
    let other = g
        .create_user(
            &root,
            "second-admin@example.test",
            "admin",
            "second-admin-1",
        )
        .await;
    let second = g
        .login("second-admin@example.test", "second-admin-1", false)
        .await;
    // Two admins demote each other at the same moment: exactly one may win.
    let (demote_other, demote_root) = (format!("{P}/{other}"), format!("{P}/{root_id}"));
    let (a, b) = tokio::join!(
        g.call(
            Method::PATCH,
            &demote_other,
            Some(&root),
            Some(json!({"role": "user"}))
        ),
        g.call(
            Method::PATCH,
            &demote_root,
            Some(&second),
            Some(json!({"role": "user"}))
        ),
    );
    let mut codes = [a.status().as_u16(), b.status().as_u16()];
    codes.sort();
    // The loser is either refused as last admin (409) or no longer an admin at all (403).
    assert!(codes == [200, 409] || codes == [200, 403], "{codes:?}");
    let admins = g
        .call(
            Method::GET,
            &format!("{P}?limit=100"),
            Some(if a.status() == 200 { &root } else { &second }),
            None,
        )
        .await;
    let v: serde_json::Value = admins.json().await.unwrap();
    let active_admins = v["users"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["role"] == "admin" && u["active"] == true)
        .count();
    assert_eq!(active_admins, 1);
}

#[tokio::test]
async fn soft_delete_ends_sessions_and_hides_the_user() {
    let (_up, g) = start().await;
    let admin = g.admin_token().await;
    let uid = g
        .create_user(&admin, "gone@example.test", "user", "gone-password-1")
        .await;
    let t = g.login("gone@example.test", "gone-password-1", false).await;
    let r = g
        .call(Method::DELETE, &format!("{P}/{uid}"), Some(&admin), None)
        .await;
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap(),
        json!({"success": true})
    );
    error_body(g.get("/app", Some(&t)).await, 401).await;
    error_body(
        g.call(Method::GET, &format!("{P}/{uid}"), Some(&admin), None)
            .await,
        404,
    )
    .await;
    error_body(
        g.call(Method::DELETE, &format!("{P}/{uid}"), Some(&admin), None)
            .await,
        404,
    )
    .await;
    let r = g
        .post_json(
            "/api/login",
            json!({"email": "gone@example.test", "password": "gone-password-1"}),
            None,
        )
        .await;
    error_body(r, 400).await;
    // Soft: the email stays taken.
    let r = g.call(Method::POST, P, Some(&admin), Some(json!({"email": "gone@example.test", "name": "Again", "password": "gone-password-2"}))).await;
    error_body(r, 409).await;
    let user = g
        .create_user(&admin, "plain@example.test", "user", "plain-password-1")
        .await;
    let plain = g
        .login("plain@example.test", "plain-password-1", false)
        .await;
    error_body(
        g.call(Method::DELETE, &format!("{P}/{user}"), Some(&plain), None)
            .await,
        403,
    )
    .await;
}

#[tokio::test]
async fn hard_delete_removes_the_row_when_configured() {
    let (_up, g) = start_with(|o| {
        o.extra = "users: { delete: hard }".into();
    })
    .await;
    let admin = g.admin_token().await;
    let uid = g
        .create_user(&admin, "hard@example.test", "user", "hard-password-1")
        .await;
    let t = g.login("hard@example.test", "hard-password-1", false).await;
    assert_eq!(
        g.call(Method::DELETE, &format!("{P}/{uid}"), Some(&admin), None)
            .await
            .status(),
        200
    );
    error_body(g.get("/app", Some(&t)).await, 401).await;
    g.create_user(&admin, "hard@example.test", "user", "hard-password-2")
        .await;
}

#[tokio::test]
async fn users_are_listed_in_pages() {
    let (_up, g) = start().await;
    let admin = g.admin_token().await;
    for i in 0..4 {
        g.create_user(
            &admin,
            &format!("p{i}@example.test"),
            "user",
            "page-password-1",
        )
        .await;
    }
    let r = g
        .call(
            Method::GET,
            &format!("{P}?page=2&limit=2"),
            Some(&admin),
            None,
        )
        .await;
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["users"].as_array().unwrap().len(), 2);
    assert_eq!(
        v["pagination"],
        json!({"page": 2, "limit": 2, "total": 5, "totalPages": 3, "hasNext": true, "hasPrev": true})
    );
    let v: serde_json::Value = g
        .call(
            Method::GET,
            &format!("{P}?page=3&limit=2"),
            Some(&admin),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["users"].as_array().unwrap().len(), 1);
    assert_eq!(v["pagination"]["hasNext"], false);
    for bad in ["limit=0", "limit=101", "page=0", "page=x"] {
        error_body(
            g.call(Method::GET, &format!("{P}?{bad}"), Some(&admin), None)
                .await,
            400,
        )
        .await;
    }
    let user = g.login("p0@example.test", "page-password-1", false).await;
    error_body(g.call(Method::GET, P, Some(&user), None).await, 403).await;
    error_body(
        g.call(Method::GET, &format!("{P}/inactive"), Some(&user), None)
            .await,
        403,
    )
    .await;
}

#[tokio::test]
async fn me_reads_and_changes_name_and_asks_for_an_email_change_but_never_role() {
    let (up, g) = start().await;
    let admin = g.admin_token().await;
    g.create_user(&admin, "me@example.test", "user", "me-password-1")
        .await;
    let t = g.login("me@example.test", "me-password-1", false).await;
    let v: serde_json::Value = g
        .call(Method::GET, &format!("{P}/me"), Some(&t), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["user"]["email"], "me@example.test");
    let r = g
        .call(
            Method::PATCH,
            &format!("{P}/me"),
            Some(&t),
            Some(json!({"name": "Me Myself", "email": "me2@example.test"})),
        )
        .await;
    assert_eq!(r.status(), 200);
    // The new address waits for its holder's confirmation (tests/gateway/takeover.rs).
    let v = r.json::<serde_json::Value>().await.unwrap();
    assert_eq!(v["user"]["email"], "me@example.test");
    assert_eq!(v["user"]["pendingEmail"], "me2@example.test");
    assert_eq!(v["user"]["name"], "Me Myself");
    g.get("/app", Some(&t)).await;
    assert_eq!(up.last().headers["x-auth-name"], "Me Myself");
    error_body(
        g.call(
            Method::PATCH,
            &format!("{P}/me"),
            Some(&t),
            Some(json!({"email": ADMIN_EMAIL})),
        )
        .await,
        400,
    )
    .await;
    error_body(
        g.call(
            Method::PATCH,
            &format!("{P}/me"),
            Some(&t),
            Some(json!({"role": "admin"})),
        )
        .await,
        403,
    )
    .await;
    error_body(
        g.call(Method::GET, &format!("{P}/me"), None, None).await,
        401,
    )
    .await;
}

#[tokio::test]
async fn password_change_checks_and_ends_other_sessions() {
    let (_up, g) = start().await;
    let t = g.admin_token().await;
    let other = g.admin_token().await;
    let url = format!("{P}/password");
    let body = |cur: &str, new: &str, conf: &str| {
        Some(json!({"currentPassword": cur, "newPassword": new, "newPasswordConfirmation": conf}))
    };
    let v = error_body(
        g.call(
            Method::PATCH,
            &url,
            Some(&t),
            body("wrong-password", "fresh-password-9", "fresh-password-9"),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(v["data"]["currentPassword"], "is incorrect");
    let v = error_body(
        g.call(
            Method::PATCH,
            &url,
            Some(&t),
            body(ADMIN_PASSWORD, "fresh-password-9", "fresh-password-8"),
        )
        .await,
        400,
    )
    .await;
    assert!(v["data"]["newPasswordConfirmation"].is_string());
    let v = error_body(
        g.call(
            Method::PATCH,
            &url,
            Some(&t),
            body(ADMIN_PASSWORD, "iloveyou", "iloveyou"),
        )
        .await,
        400,
    )
    .await;
    assert!(
        v["message"].as_str().unwrap().contains("commonly used"),
        "{v}"
    );
    error_body(
        g.call(Method::PATCH, &url, Some(&t), Some(json!({}))).await,
        400,
    )
    .await;
    let r = g
        .call(
            Method::PATCH,
            &url,
            Some(&t),
            body(ADMIN_PASSWORD, "fresh-password-9", "fresh-password-9"),
        )
        .await;
    assert_eq!(
        r.json::<serde_json::Value>().await.unwrap()["message"],
        "Password updated successfully"
    );
    assert_eq!(g.get("/app", Some(&t)).await.status(), 200);
    assert_eq!(g.get("/app", Some(&other)).await.status(), 401);
    g.login(ADMIN_EMAIL, "fresh-password-9", false).await;
    // The same policy on the Pruvious profile route.
    let r = g
        .client
        .patch(g.url("/api/profile"))
        .bearer_auth(&t)
        .json(&json!({"password": "qwertyuiop"}))
        .send()
        .await
        .unwrap();
    let v = error_body(r, 422).await;
    assert!(v["data"]["password"]
        .as_str()
        .unwrap()
        .contains("commonly used"));
}

#[tokio::test]
async fn the_family_can_be_renamed() {
    let (up, g) = start_with(|o| {
        o.extra = "api: { routes: { nuxt-users: \"/auth/users\" } }".into();
    })
    .await;
    let t = g.admin_token().await;
    assert_eq!(
        g.call(Method::GET, "/auth/users/me", Some(&t), None)
            .await
            .status(),
        200
    );
    g.call(Method::GET, &format!("{P}/me"), Some(&t), None)
        .await;
    assert_eq!(
        up.last().path,
        "/api/nuxt-users/me",
        "the old prefix is the app's again"
    );
}
