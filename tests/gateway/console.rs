//! The admin console (`/account/admin`) in real headless Chromium against the real gateway:
//! users found, created, changed and deleted; a reset link mailed; a user's sessions and
//! factors removed; every API key listed and one revoked; the trail filtered and an event
//! opened; a backoff cleared. Every action is checked where it takes effect (the API, the
//! proxy, the mail server) and in the audit trail with the admin as actor. Destructive
//! actions after `tokens.fresh_for` ask for a new sign-in first. Screenshots of each page go
//! to `docs/` with `PORTCULLIS_SCREENSHOTS=1`.

use crate::harness::*;
use crate::webdriver::{at, click, fill, origin, save_screenshot, sign_in, text, Driver};
use fantoccini::Locator;
use serde_json::{json, Value};
use std::time::Duration;

const PW: &str = "console-password-1";
const CONSOLE: &str = "/account/admin";

/// The API's view of user `id`.
async fn user(g: &Gateway, admin: &str, id: i64) -> Value {
    let r = g.get(&format!("/api/nuxt-users/{id}"), Some(admin)).await;
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.unwrap()["user"].clone()
}

/// The trail's events of `kind` made by the admin in the console.
async fn by_admin(g: &Gateway, admin: &str, kind: &str) -> Vec<Value> {
    crate::audit::all_events(g, admin, &format!("&type={kind}"))
        .await
        .into_iter()
        .filter(|e| e["actor"]["type"] == "admin" && e["actor"]["email"] == ADMIN_EMAIL)
        .filter(|e| e["request"]["path"].as_str().is_some_and(|p| p.starts_with(CONSOLE)))
        .collect()
}

#[tokio::test]
async fn an_admin_finds_changes_and_removes_users_keys_sessions_and_backoffs_and_each_is_recorded() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    // Many sign-ins from one address here: the per-client limit is not what is under test.
    let (_up, smtp, g) =
        gateway_with_mail("rate_limits: { login: { per_minute: 100000, burst: 10000 } }").await;
    let api = g.admin_token().await;
    let ann = g.create_user(&api, "ann@example.test", "user", PW).await;
    let bob = g.create_user(&api, "bob@example.test", "user", PW).await;
    let mut clock = crate::mfa::Clock { offset: 0 };
    let (tina, _, _) = crate::mfa::enrolled(&g, &mut clock, "tina@example.test", "user").await;
    let ann_token = g.login("ann@example.test", PW, false).await;
    let r = g.post_json("/api/auth/api-keys", json!({"name": "ann's deploy key", "scopes": ["deploy"]}), Some(&ann_token)).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let key: Value = r.json().await.unwrap();
    let ann_key = key["key"].as_str().unwrap().to_string();
    assert_eq!(g.get("/app/x", Some(&ann_key)).await.status(), 200);

    // Someone who is not an admin gets no console.
    let other = driver.browser().await;
    sign_in(&other, &g, "/account", "ann@example.test", PW).await;
    other.goto(&format!("{}{CONSOLE}", origin(&g))).await.unwrap();
    assert!(text(&other).await.contains("Admins only"), "{}", text(&other).await);
    assert!(other.find(Locator::Css("nav.console")).await.is_err());

    let b = driver.browser().await;
    assert_eq!(sign_in(&b, &g, CONSOLE, ADMIN_EMAIL, ADMIN_PASSWORD).await, CONSOLE);
    let rows = b.find_all(Locator::Css("#users tr.user")).await.unwrap();
    assert_eq!(rows.len(), 4, "root, ann, bob, tina");
    save_screenshot("console-users.png", &b.screenshot().await.unwrap());

    // Search by part of a name or address, and filters.
    fill(&b, "#f-q", "TIN").await;
    click(&b, "#user-search button").await;
    let page = text(&b).await;
    assert!(page.contains("tina@example.test") && !page.contains("ann@example.test"), "{page}");
    b.goto(&format!("{}{CONSOLE}/users?role=admin", origin(&g))).await.unwrap();
    assert_eq!(b.find_all(Locator::Css("#users tr.user")).await.unwrap().len(), 1);
    b.goto(&format!("{}{CONSOLE}/users?active=maybe", origin(&g))).await.unwrap();
    assert!(text(&b).await.contains("Active must be yes or no."));

    // Create, with groups; the user's page opens.
    b.goto(&format!("{}{CONSOLE}/users", origin(&g))).await.unwrap();
    fill(&b, "#c-email", "carl@example.test").await;
    fill(&b, "#c-name", "Carl").await;
    fill(&b, "#c-password", "carl-password-1").await;
    fill(&b, "#c-groups", "ops, eng").await;
    click(&b, "#user-create button").await;
    let carl_page = at(&b).await;
    assert!(carl_page.ends_with("?done=created"), "{carl_page}");
    let carl: i64 = carl_page.trim_start_matches(&format!("{CONSOLE}/users/")).split('?').next().unwrap().parse().unwrap();
    assert_eq!(user(&g, &api, carl).await["groups"], json!(["eng", "ops"]));
    assert!(!g.login("carl@example.test", "carl-password-1", false).await.is_empty());
    // A taken address is refused on the page, with the reason.
    b.goto(&format!("{}{CONSOLE}/users", origin(&g))).await.unwrap();
    fill(&b, "#c-email", "ann@example.test").await;
    fill(&b, "#c-name", "Another Ann").await;
    fill(&b, "#c-password", "ann-password-2").await;
    click(&b, "#user-create button").await;
    assert!(text(&b).await.contains("already exists"), "{}", text(&b).await);

    // Edit: name, groups and active; the proxy sees it on the next request.
    let carl_token = g.login("carl@example.test", "carl-password-1", false).await;
    b.goto(&format!("{}{CONSOLE}/users/{carl}", origin(&g))).await.unwrap();
    save_screenshot("console-user.png", &b.screenshot().await.unwrap());
    fill(&b, "#e-name", "Carl Lind").await;
    fill(&b, "#e-groups", "eng").await;
    b.find(Locator::Css("#e-active")).await.unwrap().click().await.unwrap();
    click(&b, "#user-edit button").await;
    assert!(text(&b).await.contains("The changes are saved."));
    let now = user(&g, &api, carl).await;
    assert_eq!((now["name"].as_str(), now["active"].as_bool()), (Some("Carl Lind"), Some(false)));
    assert_eq!(now["groups"], json!(["eng"]));
    assert_eq!(g.get("/app/x", Some(&carl_token)).await.status(), 401, "deactivated at once");

    // A reset link, mailed to the user.
    let mails = smtp.count();
    b.goto(&format!("{}{CONSOLE}/users/{ann}", origin(&g))).await.unwrap();
    click(&b, "#send-reset").await;
    assert!(text(&b).await.contains("A reset link is on its way"));
    let mail = smtp.next_matching(mails, |m| m.subject().starts_with("Reset")).await;
    assert!(mail.text().contains("reset"), "{}", mail.text());

    // Ann's sessions: one signed out, then all.
    let ann_second = g.login("ann@example.test", PW, false).await;
    b.goto(&format!("{}{CONSOLE}/users/{ann}", origin(&g))).await.unwrap();
    let sessions = b.find_all(Locator::Css("#sessions tr.session")).await.unwrap();
    assert_eq!(sessions.len(), 3, "two API sign-ins and the browser");
    click(&b, "#sessions tr.session form button").await;
    assert!(text(&b).await.contains("The session is signed out."));
    assert_eq!(b.find_all(Locator::Css("#sessions tr.session")).await.unwrap().len(), 2);
    click(&b, "#revoke-all").await;
    assert!(text(&b).await.contains("Every session of the user is signed out."));
    for t in [&ann_token, &ann_second] {
        assert_eq!(g.get("/app/x", Some(t)).await.status(), 401);
    }
    other.goto(&format!("{}/app/y", origin(&g))).await.unwrap();
    assert!(at(&other).await.starts_with("/login"), "ann's browser is signed out too");

    // Every key, with its owner; one revoked.
    click(&b, "#nav-keys").await;
    let page = text(&b).await;
    assert!(page.contains("ann's deploy key") && page.contains("ann@example.test") && page.contains("deploy"), "{page}");
    assert!(!page.contains(&ann_key[13..]), "no secret on the page");
    save_screenshot("console-keys.png", &b.screenshot().await.unwrap());
    click(&b, "#keys tr.key form button").await;
    assert!(text(&b).await.contains("The API key is revoked."));
    assert_eq!(g.get("/app/x", Some(&ann_key)).await.status(), 401, "revoked at once");

    // Backoffs: bob's password is guessed at until he must wait half a minute (the
    // gateway's clock moved past each wait); cleared, he may try again at once.
    for n in 1..=10u64 {
        let r = g.post_json("/api/login", json!({"email": "bob@example.test", "password": "wrong-guess"}), None).await;
        assert_eq!(r.status(), 400, "guess {n}");
        if (5..10).contains(&n) {
            g.advance_clock(Duration::from_secs(1 << (n - 4))).await;
        }
    }
    click(&b, "#nav-backoffs").await;
    let row = b.find(Locator::Css("#backoffs tr.backoff")).await.unwrap();
    assert_eq!(row.attr("data-key").await.unwrap().as_deref(), Some("bob@example.test"));
    save_screenshot("console-backoffs.png", &b.screenshot().await.unwrap());
    let r = g.post_json("/api/login", json!({"email": "bob@example.test", "password": PW}), None).await;
    assert_eq!(r.status(), 429, "bob waits");
    click(&b, "#backoffs tr.backoff form button").await;
    assert!(text(&b).await.contains("The backoff is cleared."));
    assert!(b.find(Locator::Css("#backoffs tr.backoff")).await.is_err());
    assert_eq!(g.post_json("/api/login", json!({"email": "bob@example.test", "password": PW}), None).await.status(), 200);

    // A while later the sign-in is no longer fresh: removing factors asks for it again.
    g.advance_clock(Duration::from_secs(11 * 60)).await;
    b.goto(&format!("{}{CONSOLE}/users/{tina}", origin(&g))).await.unwrap();
    assert!(text(&b).await.contains("Authenticator app: on"));
    click(&b, "#remove-factors").await;
    assert!(text(&b).await.contains("needs a sign-in in the last 10 minutes"), "{}", text(&b).await);
    click(&b, "#message-link").await;
    assert!(at(&b).await.starts_with("/login?prompt=login"), "{}", at(&b).await);
    fill(&b, "#email", ADMIN_EMAIL).await;
    fill(&b, "#password", ADMIN_PASSWORD).await;
    click(&b, "form button[type=submit]").await;
    assert_eq!(at(&b).await, format!("{CONSOLE}/users/{tina}"));
    click(&b, "#remove-factors").await;
    assert!(text(&b).await.contains("Every second factor is removed"));
    assert!(text(&b).await.contains("Authenticator app: off"));
    assert!(g.post_json("/api/login", json!({"email": "tina@example.test", "password": crate::mfa::PASSWORD}), None).await.json::<Value>().await.unwrap().is_string(), "no second step any more");

    // Delete bob.
    b.goto(&format!("{}{CONSOLE}/users/{bob}", origin(&g))).await.unwrap();
    click(&b, "#delete-user").await;
    assert!(at(&b).await.ends_with("/users?done=deleted"));
    assert!(!text(&b).await.contains("bob@example.test"));
    assert_eq!(g.get(&format!("/api/nuxt-users/{bob}"), Some(&api)).await.status(), 404);

    // The trail, filtered; an event in full.
    b.goto(&format!("{}{CONSOLE}/audit?type=user.", origin(&g))).await.unwrap();
    let kinds: Vec<String> = {
        let mut out = Vec::new();
        for r in b.find_all(Locator::Css("#events tr.event")).await.unwrap() {
            out.push(r.attr("data-type").await.unwrap().unwrap());
        }
        out
    };
    assert!(kinds.iter().all(|k| k.starts_with("user.")), "{kinds:?}");
    assert!(kinds.contains(&"user.deleted".to_string()), "{kinds:?}");
    save_screenshot("console-audit.png", &b.screenshot().await.unwrap());
    b.goto(&format!("{}{CONSOLE}/audit?since=yesterday", origin(&g))).await.unwrap();
    assert!(text(&b).await.contains("since must be"), "{}", text(&b).await);
    b.goto(&format!("{}{CONSOLE}/audit?type=user.deleted", origin(&g))).await.unwrap();
    click(&b, "#events tr.event a").await;
    let full = b.find(Locator::Css("#event-json")).await.unwrap().text().await.unwrap();
    let event: Value = serde_json::from_str(&full).unwrap();
    assert_eq!(event["type"], "user.deleted");
    assert_eq!(event["target"], json!({"type": "user", "id": bob.to_string()}));
    assert_eq!(event["actor"]["email"], ADMIN_EMAIL);
    assert_eq!(event["hash"].as_str().unwrap().len(), 64);
    save_screenshot("console-event.png", &b.screenshot().await.unwrap());

    // Each console action is in the trail with the admin as actor, from the browser.
    let api = g.admin_token().await;
    for (kind, n) in [
        ("user.created", 1),
        ("user.updated", 1),
        ("user.groups.changed", 2),
        ("user.deactivated", 1),
        ("credential.password.reset_requested", 1),
        ("credential.api_key.revoked", 1),
        ("authn.backoff.cleared", 1),
        ("credential.totp.removed", 1),
        ("user.deleted", 1),
    ] {
        let found = by_admin(&g, &api, kind).await;
        assert_eq!(found.len(), n, "{kind}: {found:?}");
        let e = &found[0];
        assert!(e["client"]["user_agent"].as_str().unwrap().contains("Chrome"), "{e}");
    }
    let revoked: Vec<Value> = by_admin(&g, &api, "session.revoked")
        .await
        .into_iter()
        .filter(|e| e["target"]["id"] == ann.to_string().as_str() && e["reason"] == "admin")
        .collect();
    assert_eq!(revoked.len(), 3, "one, then the other two: {revoked:?}");

    // Ann's account page shows her recent activity, the admin's doings marked as such.
    sign_in(&other, &g, "/account", "ann@example.test", PW).await;
    let items = other.find(Locator::Css("#activity-list")).await.unwrap().text().await.unwrap();
    assert!(items.contains("Signed in"), "{items}");
    assert!(items.contains("API key revoked") && items.contains("by an administrator (root@example.test)"), "{items}");
    assert!(items.contains("Password reset link asked for"), "{items}");
    assert!(items.contains("127.0.0.1") && items.contains("Chrome"), "the place and device: {items}");
    other.goto(&format!("{}/account#activity", origin(&g))).await.unwrap();
    save_screenshot("account-activity.png", &other.screenshot().await.unwrap());
    other.close().await.unwrap();
    b.close().await.unwrap();
}

/// Without a browser: the console's own rules (CSRF, admins only, the path switched off).
#[tokio::test]
async fn the_console_refuses_forms_without_their_token_and_can_be_switched_off() {
    let (_up, g) = start().await;
    let client = no_redirects();
    // Signed out: to the sign-in page and back.
    let r = client.get(g.url(&format!("{CONSOLE}/users"))).send().await.unwrap();
    assert_eq!(r.status(), 302);
    assert!(r.headers()["location"].to_str().unwrap().starts_with("/login?returnTo=%2Faccount%2Fadmin"));
    // A form without the CSRF pair changes nothing.
    let api = g.admin_token().await;
    let ann = g.create_user(&api, "ann@example.test", "user", PW).await;
    let r = client
        .post(g.url(&format!("{CONSOLE}/users/{ann}/delete")))
        .bearer_auth(&api)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("csrf=forged")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("This page expired"));
    assert_eq!(g.get(&format!("/api/nuxt-users/{ann}"), Some(&api)).await.status(), 200);
    // Nor does a cross-site one, token pair or not (a page elsewhere posting with the
    // browser's cookies).
    let r = g.post_json("/api/nuxt-users/session", json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}), None).await;
    let (session, _) = set_cookie(&r);
    let r = client
        .post(g.url(&format!("{CONSOLE}/users/{ann}/delete")))
        .header("cookie", format!("{session}; portcullis_csrf=t0k3n"))
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("csrf=t0k3n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(g.get(&format!("/api/nuxt-users/{ann}"), Some(&api)).await.status(), 200);
    // With the pair it goes through (the sign-in is fresh).
    let r = client
        .post(g.url(&format!("{CONSOLE}/users/{ann}/delete")))
        .bearer_auth(&api)
        .header("cookie", "portcullis_csrf=t0k3n")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("csrf=t0k3n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(g.get(&format!("/api/nuxt-users/{ann}"), Some(&api)).await.status(), 404);
    // A user id that is not one, and an event id that is not one: 404 pages, not errors.
    for path in ["/users/0", "/users/abc", "/users/99999", "/audit/not-an-id"] {
        let r = client.get(g.url(&format!("{CONSOLE}{path}"))).bearer_auth(&api).send().await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }

    // Elsewhere by `pages.admin_path`; `false` switches it off (under `/account`, which is
    // the gateway's own, that is a 404).
    let (_up, g) = start_with(|o| o.extra = "pages: { admin_path: /staff/console }".into()).await;
    let token = g.admin_token().await;
    let page = g.get("/staff/console/users", Some(&token)).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("&#x2f;staff&#x2f;console&#x2f;keys\" id=\"nav-keys\""), "{html}");
    assert_eq!(g.get(CONSOLE, Some(&token)).await.status(), 404);
    let (_up, g) = start_with(|o| o.extra = "pages: { admin_path: false }".into()).await;
    let token = g.admin_token().await;
    assert_eq!(g.get(CONSOLE, Some(&token)).await.status(), 404);
    assert_eq!(g.get(&format!("{CONSOLE}/users"), Some(&token)).await.status(), 404);
}
