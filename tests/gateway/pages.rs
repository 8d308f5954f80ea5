//! Browser sign-in without changing the app: browsers are sent to the gateway's sign-in page
//! and back; API clients keep getting 401 JSON.

use crate::harness::*;

const HTML: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";


#[tokio::test]
async fn browsers_go_to_sign_in_and_api_clients_get_401() {
    let (_up, g) = start_with(|o| {
        o.routes = "\n  - { path: \"/api/**\", upstream: app, auth: required, on_unauthenticated: deny }\n  - { path: \"/**\", upstream: app, auth: required }\n".into();
    })
    .await;
    let c = no_redirects();
    let r = c
        .get(g.url("/app/reports?year=2026"))
        .header("accept", HTML)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(
        r.headers()["location"],
        "/login?returnTo=%2Fapp%2Freports%3Fyear%3D2026"
    );
    let r = c
        .get(g.url("/app/reports"))
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    error_body(r, 401).await;
    let r = c
        .get(g.url("/app/reports"))
        .header("accept", HTML)
        .header("sec-fetch-mode", "cors")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "a script's fetch is not a navigation");
    let r = c
        .get(g.url("/api/data"))
        .header("accept", HTML)
        .send()
        .await
        .unwrap();
    error_body(r, 401).await;
    let r = c
        .post(g.url("/app/form"))
        .header("accept", HTML)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn the_sign_in_page_is_themed_safe_and_carries_a_csrf_token() {
    let (_up, g) = start_with(|o| {
        o.extra = "pages: { product_name: \"Acme Portal\", primary_color: \"#aa3300\" }".into();
    })
    .await;
    let r = g
        .client
        .get(g.url("/login?returnTo=%2Fapp"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    assert_eq!(h["content-type"], "text/html; charset=utf-8");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert!(h["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    let (csrf_cookie, full) = set_cookie(&r);
    assert!(
        csrf_cookie.starts_with("portcullis_csrf=")
            && full.contains("HttpOnly")
            && full.contains("SameSite=Strict"),
        "{full}"
    );
    let html = r.text().await.unwrap();
    assert!(
        html.contains("Acme Portal") && html.contains("#aa3300"),
        "themed"
    );
    let token = csrf_cookie.trim_start_matches("portcullis_csrf=");
    assert!(
        html.contains(&format!("name=\"csrf\" value=\"{token}\"")),
        "the form carries the token"
    );
    // Attribute values are HTML-escaped (`/` as `&#x2f;`), which browsers decode.
    assert!(
        html.contains("name=\"returnTo\" value=\"&#x2f;app\""),
        "{html}"
    );
}

#[tokio::test]
async fn a_templates_directory_replaces_pages_and_a_broken_one_is_refused() {
    let up = Upstream::start().await;
    let skin = tempfile::tempdir().unwrap();
    std::fs::write(
        skin.path().join("login.html"),
        "{% extends \"base.html\" %}{% block content %}<h1 id=custom>Acme sign-in for {{ product }}</h1>\n<form method=post action=\"{{ action }}\"><input type=hidden name=csrf value=\"{{ csrf }}\"></form>{% endblock %}",
    )
    .unwrap();
    let mut o = Options::new(up.addr);
    o.extra = format!(
        "pages: {{ product_name: \"Acme\", templates_dir: \"{}\" }}",
        skin.path().display()
    );
    let g = Gateway::start(o).await;
    let r = g.client.get(g.url("/login")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    let html = r.text().await.unwrap();
    assert!(
        html.contains("<h1 id=custom>Acme sign-in for Acme</h1>"),
        "{html}"
    );
    // Pages the directory does not replace keep the built-in text.
    let forgot = g
        .client
        .get(g.url("/forgot-password"))
        .send()
        .await
        .unwrap();
    assert!(forgot
        .text()
        .await
        .unwrap()
        .contains("Forgot your password?"));

    // A template that does not compile is a config error, caught before serving.
    std::fs::write(skin.path().join("account.html"), "{% if %}").unwrap();
    let out = std::process::Command::new(bin())
        .args(["check-config", "--config"])
        .arg(&g.config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("pages.templates_dir") && err.contains("account.html"),
        "{err}"
    );
}

async fn csrf(g: &Gateway) -> (String, String) {
    let r = g.client.get(g.url("/login")).send().await.unwrap();
    let (cookie, _) = set_cookie(&r);
    let token = cookie.trim_start_matches("portcullis_csrf=").to_string();
    (cookie, token)
}

#[tokio::test]
async fn the_form_signs_in_and_returns_only_to_same_origin_paths() {
    let (up, g) = start().await;
    let c = no_redirects();
    let (cookie, token) = csrf(&g).await;
    let form = |back: &str, password: &str, token: &str| {
        vec![
            ("csrf".to_string(), token.to_string()),
            ("returnTo".to_string(), back.to_string()),
            ("email".to_string(), ADMIN_EMAIL.to_string()),
            ("password".to_string(), password.to_string()),
        ]
    };
    let r = c
        .post(g.url("/login"))
        .header("cookie", &cookie)
        .form(&form("/app/reports?year=2026", ADMIN_PASSWORD, &token))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/app/reports?year=2026");
    let (session, full) = set_cookie(&r);
    assert!(
        session.starts_with("portcullis_session=") && full.contains("HttpOnly"),
        "{full}"
    );
    let r = c
        .get(g.url("/app/reports"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(up.last().headers["x-auth-email"], ADMIN_EMAIL);
    // Signed in, the sign-in page sends you on.
    let r = c
        .get(g.url("/login?returnTo=%2Fapp%2Fhome"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers()["location"], "/app/home");

    for evil in [
        "//evil.example",
        "/\\evil.example",
        "https://evil.example",
        "/%2F%2Fevil.example",
        "/%5Cevil.example",
        " /app",
        "/\t/evil.example",
    ] {
        let r = c
            .post(g.url("/login"))
            .header("cookie", &cookie)
            .form(&form(evil, ADMIN_PASSWORD, &token))
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["location"], "/", "{evil:?}");
    }
    let r = c
        .post(g.url("/login"))
        .header("cookie", &cookie)
        .form(&form("/app", "wrong-password", &token))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Incorrect email or password"));
    let r = c
        .post(g.url("/login"))
        .header("cookie", &cookie)
        .form(&form("/app", ADMIN_PASSWORD, "forged"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "a form without the matching CSRF token");
    let r = c
        .post(g.url("/login"))
        .form(&form("/app", ADMIN_PASSWORD, &token))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "no CSRF cookie");
    let r = c
        .post(g.url("/login"))
        .header("cookie", &cookie)
        .header("origin", "https://evil.example")
        .form(&form("/app", ADMIN_PASSWORD, &token))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "cross-site");
}

const CHROME_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
const SAFARI_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1";

async fn login_as(g: &Gateway, email: &str, password: &str, ua: &str) -> String {
    let r = g
        .client
        .post(g.url("/api/login"))
        .header("user-agent", ua)
        .json(&serde_json::json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

#[tokio::test]
async fn sessions_are_listed_with_devices_and_can_be_signed_out() {
    let (_up, g) = start().await;
    let desk = login_as(&g, ADMIN_EMAIL, ADMIN_PASSWORD, CHROME_WINDOWS).await;
    let phone = login_as(&g, ADMIN_EMAIL, ADMIN_PASSWORD, SAFARI_IPHONE).await;
    assert_eq!(g.get("/app", Some(&phone)).await.status(), 200);
    let v: serde_json::Value = g
        .get("/api/auth/sessions", Some(&desk))
        .await
        .json()
        .await
        .unwrap();
    let list = v["sessions"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    let mine = list.iter().find(|s| s["isCurrent"] == true).unwrap();
    assert_eq!(mine["id"], payload(&desk)["sid"]);
    assert!(
        mine["browser"].as_str().unwrap().starts_with("Chrome"),
        "{mine}"
    );
    assert!(
        mine["os"].as_str().unwrap().starts_with("Windows"),
        "{mine}"
    );
    assert_eq!(mine["device"], "pc");
    assert_eq!(mine["ip"], "127.0.0.1");
    assert!(mine["createdAt"].is_string() && mine["lastSeenAt"].is_string());
    let other = list.iter().find(|s| s["isCurrent"] == false).unwrap();
    assert_eq!(other["device"], "smartphone", "{other}");
    assert!(other["os"].as_str().unwrap().contains("iPhone"), "{other}");

    // Sign the phone out from the desk: it loses access on its very next request.
    let id = other["id"].as_str().unwrap();
    let r = g
        .client
        .delete(g.url(&format!("/api/auth/sessions/{id}")))
        .bearer_auth(&desk)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(g.get("/app", Some(&phone)).await.status(), 401);
    assert_eq!(g.get("/app", Some(&desk)).await.status(), 200);
    error_body(
        g.client
            .delete(g.url(&format!("/api/auth/sessions/{id}")))
            .bearer_auth(&desk)
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;

    // Someone else's session, a made-up id, or garbage: not found.
    let admin = g.admin_token().await;
    g.create_user(&admin, "eve@example.test", "user", "eve-password-1")
        .await;
    let eve = login_as(&g, "eve@example.test", "eve-password-1", SAFARI_IPHONE).await;
    let eve_sid = payload(&eve)["sid"].as_str().unwrap().to_string();
    for target in [
        eve_sid.as_str(),
        "00000000-0000-4000-8000-000000000000",
        "not-a-uuid",
    ] {
        let r = g
            .client
            .delete(g.url(&format!("/api/auth/sessions/{target}")))
            .bearer_auth(&desk)
            .send()
            .await
            .unwrap();
        error_body(r, 404).await;
    }
    assert_eq!(g.get("/app", Some(&eve)).await.status(), 200);
    error_body(g.get("/api/auth/sessions", None).await, 401).await;
}

#[tokio::test]
async fn the_account_page_shows_devices_renames_uploads_and_signs_out_others() {
    let (up, g) = start().await;
    let c = no_redirects();
    let r = c.get(g.url("/account")).send().await.unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers()["location"], "/login?returnTo=%2Faccount");

    let desk = login_as(&g, ADMIN_EMAIL, ADMIN_PASSWORD, CHROME_WINDOWS).await;
    let phone = login_as(&g, ADMIN_EMAIL, ADMIN_PASSWORD, SAFARI_IPHONE).await;
    let (csrf_cookie, token) = csrf(&g).await;
    let cookies = format!("portcullis_session={desk}; {csrf_cookie}");
    let page = c
        .get(g.url("/account"))
        .header("cookie", &cookies)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    let html = page.text().await.unwrap();
    assert!(html.contains(ADMIN_EMAIL) && html.contains("Administrator"));
    assert_eq!(html.matches("class=\"session\"").count(), 2);
    assert_eq!(html.matches("<em>this device</em>").count(), 1);
    let phone_sid = payload(&phone)["sid"].as_str().unwrap().to_string();
    assert!(
        html.contains(&format!("name=\"id\" value=\"{phone_sid}\"")),
        "a sign-out button for the phone"
    );

    let r = c
        .post(g.url("/account"))
        .header("cookie", &cookies)
        .form(&[("csrf", token.as_str()), ("name", "Root Renamed")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/account?done=name");
    g.get("/app", Some(&desk)).await;
    assert_eq!(up.last().headers["x-auth-name"], "Root Renamed");

    let r = c
        .post(g.url("/account/sessions"))
        .header("cookie", &cookies)
        .form(&[("csrf", token.as_str()), ("id", phone_sid.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(
        g.get("/app", Some(&phone)).await.status(),
        401,
        "the phone lost access at once"
    );
    let r = c
        .post(g.url("/account/sessions"))
        .header("cookie", &cookies)
        .form(&[("csrf", "forged"), ("id", phone_sid.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    let img = image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(
        32,
        32,
        image::Rgb([10, 200, 10]),
    ));
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let boundary = "----account-boundary";
    let mut body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{token}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"avatar\"; filename=\"me.png\"\r\nContent-Type: image/png\r\n\r\n").into_bytes();
    body.extend_from_slice(&png);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let r = c
        .post(g.url("/account/avatar"))
        .header("cookie", &cookies)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let html = c
        .get(g.url("/account?done=avatar"))
        .header("cookie", &cookies)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Your avatar is saved.")
            && html.contains("&#x2f;api&#x2f;auth&#x2f;avatar&#x2f;"),
        "{html}"
    );
}

#[tokio::test]
async fn the_sign_in_page_offers_the_configured_providers() {
    let (_up, g) = start_with(|o| {
        o.extra = "oauth:\n  providers:\n    mock: { kind: mock, client_id: c, client_secret: s, personas: [ { sub: \"p\", email: \"p@example.test\", name: \"P\" } ] }\n".into();
    })
    .await;
    let r = g
        .client
        .get(g.url("/login?returnTo=%2Fdash%3Fa%3D1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    // `/` is HTML-escaped as `&#x2f;` (decoded by the browser); the rest is percent-encoded.
    assert!(
        html.contains("href=\"/auth/mock?redirectTo=&#x2f;dash%3Fa%3D1\""),
        "{html}"
    );
}
