//! The proxy boundary: what a client sends that must not pass as the gateway's word — identity
//! headers in any spelling, forwarding headers, paths that read differently upstream, and
//! request-smuggling shapes.

use crate::harness::*;
use std::time::Duration;

#[tokio::test]
async fn identity_headers_in_any_spelling_never_reach_the_app() {
    let (up, g) = start().await;
    let t = g.admin_token().await;
    let sub = payload(&t)["sub"].as_str().unwrap().to_string();
    for auth in [None, Some(t.as_str())] {
        let bearer = auth
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        let req = format!(
            "GET /maybe/x HTTP/1.1\r\nHost: t\r\n{bearer}\
             X-Auth-User-Id: 999\r\nx-auth-user-id: 998\r\nX_Auth_User_Id: 997\r\n\
             x_auth_role: admin\r\nX-AUTH_EMAIL: evil@example.test\r\nX-Auth-Role: admin\r\n\
             X-Auth-Role: root\r\nConnection: keep-alive, X-Auth-User-Id, x_auth_role\r\n\
             Connection: close\r\n\r\n"
        );
        let head = raw_request(&g.base, req.as_bytes()).await;
        assert_eq!(status_of(&head), 200, "{head}");
        let h = up.last().headers;
        let under_prefix: Vec<String> = h
            .keys()
            .map(|k| k.as_str().to_string())
            .filter(|k| k.replace('_', "-").starts_with("x-auth-"))
            .collect();
        match auth {
            None => assert!(under_prefix.is_empty(), "{h:?}"),
            Some(_) => {
                assert_eq!(h.get_all("x-auth-user-id").iter().count(), 1);
                assert_eq!(h["x-auth-user-id"], sub.as_str());
                assert_eq!(h.get_all("x-auth-role").iter().count(), 1);
                assert_eq!(h["x-auth-role"], "admin");
                assert_eq!(h["x-auth-email"], ADMIN_EMAIL);
                assert!(under_prefix.iter().all(|k| !k.contains('_')), "{h:?}");
            }
        }
        let connection: Vec<_> = h.get_all("connection").iter().collect();
        assert!(
            connection
                .iter()
                .all(|v| !v.to_str().unwrap().to_ascii_lowercase().contains("auth")),
            "{connection:?}"
        );
    }
}

#[tokio::test]
async fn forwarding_headers_from_an_untrusted_client_count_for_nothing() {
    let (up, g) = start_with(|o| {
        o.extra = "rate_limits: { login: { per_minute: 3, burst: 3 } }".into();
    })
    .await;
    // Each attempt claims another address; the limit still counts them as one client.
    let mut last = 0;
    for i in 0..6 {
        let r = g
            .client
            .post(g.url("/api/login"))
            .header("X-Forwarded-For", format!("203.0.113.{i}"))
            .header("Forwarded", format!("for=198.51.100.{i}"))
            .header("X-Real-IP", format!("192.0.2.{i}"))
            .json(
                &serde_json::json!({"email": "nobody@example.test", "password": "wrong-password"}),
            )
            .send()
            .await
            .unwrap();
        last = r.status().as_u16();
    }
    assert_eq!(last, 429, "spoofed addresses did not reset the limit");
    let r = g
        .client
        .get(g.url("/public/x"))
        .header("X-Forwarded-For", "203.0.113.9")
        .header("Forwarded", "for=203.0.113.9;host=evil.test")
        .header("X-Forwarded-Host", "evil.test")
        .header("X-Real-IP", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let h = up.last().headers;
    assert_eq!(h["x-forwarded-for"], "127.0.0.1", "only the real peer");
    for name in ["forwarded", "x-forwarded-host", "x-real-ip"] {
        assert!(h.get(name).is_none(), "{name} passed: {h:?}");
    }
}

#[tokio::test]
async fn a_protected_prefix_beside_a_public_one_cannot_be_reached_by_path_tricks() {
    let (up, g) = start().await;
    g.add_user("user@example.test", "user", "user-password-1");
    let user = g.login("user@example.test", "user-password-1", false).await;
    let admin = g.admin_token().await;
    // Each is read by some server as /admin/...; none may be served under a weaker rule.
    let tricks = [
        "/public/../admin/x",
        "/public/%2e%2e/admin/x",
        "/public/.%2E/admin/x",
        "/public/%2E./admin/x",
        "/public%2f..%2fadmin/x",
        "/public/..%2fadmin/x",
        "/public/..%5cadmin/x",
        "/public/..\\admin/x",
        "/public/./../admin/x",
        "//admin/x",
        "///admin//x",
        "/admin%2fx",
        "/%61dmin/x",
        "/ADMIN/x",
        "/Admin/x",
        "/admin;jsessionid=1/x",
        "/admin;/x",
        "/public/%00/../admin/x",
        "/public/%2e%2e%2fadmin/x",
        "/public/%252e%252e/admin/x",
    ];
    for who in [None, Some(user.as_str())] {
        for path in tricks {
            let bearer = who
                .map(|t| format!("Authorization: Bearer {t}\r\n"))
                .unwrap_or_default();
            let before = up.count();
            let head = raw_request(
                &g.base,
                format!("GET {path} HTTP/1.1\r\nHost: t\r\n{bearer}Connection: close\r\n\r\n")
                    .as_bytes(),
            )
            .await;
            let code = status_of(&head);
            assert!(
                [400, 401, 403].contains(&code),
                "{path} as {}: {head}",
                who.map_or("anonymous", |_| "user")
            );
            assert_eq!(up.count(), before, "{path} reached the app");
        }
    }
    // The admin reaches the area, and the app is sent the path the rule was chosen on.
    for (path, forwarded) in [
        ("//admin///x", "/admin/x"),
        ("/admin//x/%7e?q=1", "/admin/x/%7E"),
    ] {
        let head = raw_request(
            &g.base,
            format!(
                "GET {path} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {admin}\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        )
        .await;
        assert_eq!(status_of(&head), 200, "{path}: {head}");
        assert_eq!(up.last().path, forwarded);
    }
}

/// Reads everything the gateway sends until it closes or goes quiet.
async fn exchange(base: &str, bytes: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(base.trim_start_matches("http://"))
        .await
        .unwrap();
    let _ = s.write_all(bytes).await;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(1500), s.read(&mut buf)).await
    {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&out).to_string()
}

#[tokio::test]
async fn smuggling_shapes_are_refused_or_make_exactly_one_upstream_request() {
    let (up, g) = start().await;
    let hidden = "GET /admin/smuggled HTTP/1.1\r\nHost: t\r\n\r\n";
    let shapes = [
        (
            "CL.TE",
            format!(
                "POST /public/a HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{hidden}"
            ),
        ),
        (
            "TE.CL",
            format!(
                "POST /public/a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n{:x}\r\n{hidden}\r\n0\r\n\r\n",
                hidden.len()
            ),
        ),
        (
            "two lengths",
            format!(
                "POST /public/a HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nContent-Length: {}\r\n\r\n{hidden}",
                hidden.len()
            ),
        ),
        (
            "length list",
            format!(
                "POST /public/a HTTP/1.1\r\nHost: t\r\nContent-Length: 0, {}\r\n\r\n{hidden}",
                hidden.len()
            ),
        ),
        (
            "obfuscated TE",
            format!(
                "POST /public/a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: xchunked\r\nContent-Length: 0\r\n\r\n{hidden}"
            ),
        ),
        (
            "TE with a space before the colon",
            format!(
                "POST /public/a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding : chunked\r\nContent-Length: 0\r\n\r\n{hidden}"
            ),
        ),
        (
            "bad chunk size",
            format!(
                "POST /public/a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{hidden}\r\n0\r\n\r\n"
            ),
        ),
        (
            "chunk size overflow",
            format!(
                "POST /public/a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff1\r\n{hidden}\r\n0\r\n\r\n"
            ),
        ),
        (
            "bare LF line ends",
            format!(
                "POST /public/a HTTP/1.1\nHost: t\nContent-Length: 0\nTransfer-Encoding: chunked\n\n0\n\n{hidden}"
            ),
        ),
        (
            "negative length",
            format!("POST /public/a HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n{hidden}"),
        ),
    ];
    for (what, bytes) in shapes {
        let before = up.count();
        let answer = exchange(&g.base, bytes.as_bytes()).await;
        // Let a request the gateway forwarded late land before counting.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let seen: Vec<Seen> = up.seen.lock().unwrap()[before..].to_vec();
        assert!(
            seen.len() <= 1,
            "{what}: {} upstream requests: {seen:?}",
            seen.len()
        );
        assert!(
            seen.iter().all(|s| !s.path.contains("smuggled")),
            "{what}: smuggled {seen:?}"
        );
        let codes: Vec<u16> = answer
            .match_indices("HTTP/1.1 ")
            .filter_map(|(i, _)| answer[i + 9..].get(..3)?.parse().ok())
            .collect();
        // The hidden request never gets an answer of its own (it would be a 401 for /admin).
        assert!(codes.len() <= 1, "{what}: answers {codes:?}\n{answer}");
        assert!(codes.iter().all(|c| *c != 500), "{what}: {answer}");
    }
    assert!(!g.log().contains("panicked"));
    assert_eq!(g.get("/public/x", None).await.status(), 200);
}

#[tokio::test]
async fn identity_values_with_line_breaks_or_non_ascii_never_split_a_header() {
    let (up, g) = start().await;
    let admin = g.admin_token().await;
    let id = g
        .create_user(&admin, "zoe@example.test", "user", "zoe-password-1")
        .await;
    for name in [
        "Zoë 山田",
        "Zoe\r\nX-Auth-Role: admin",
        "Zoe\nX-Injected: 1",
        "Zoe\u{0}nul",
    ] {
        let r = g
            .call(
                http::Method::PATCH,
                &format!("/api/nuxt-users/{id}"),
                Some(&admin),
                Some(serde_json::json!({ "name": name })),
            )
            .await;
        let code = r.status().as_u16();
        if code != 200 {
            // Refused at the API is as good: nothing to inject.
            assert!((400..500).contains(&code), "{name:?}: {code}");
            continue;
        }
        let t = g.login("zoe@example.test", "zoe-password-1", false).await;
        assert_eq!(g.get("/app", Some(&t)).await.status(), 200);
        let h = up.last().headers;
        assert_eq!(h.get_all("x-auth-role").iter().count(), 1, "{name:?}");
        assert_eq!(h["x-auth-role"], "user", "{name:?}");
        assert!(h.get("x-injected").is_none(), "{name:?}");
        let v = h["x-auth-name"].to_str().unwrap();
        assert!(
            v.bytes().all(|b| (0x20..0x7f).contains(&b)),
            "{name:?} → {v:?}"
        );
    }
}

#[tokio::test]
async fn credentials_stay_with_the_gateway_on_every_route_kind() {
    let up = Upstream::start().await;
    let mut o = Options::new(up.addr);
    o.routes = r#"
  - { path: "/public/**", upstream: app, auth: none }
  - { path: "/maybe/**", upstream: app, auth: optional }
  - { path: "/admin/**", upstream: app, auth: { roles: [admin] } }
  - { path: "/legacy/**", upstream: app, auth: required, forward_token: true }
  - { path: "/**", upstream: app, auth: required }
"#
    .into();
    let g = Gateway::start(o).await;
    let token = g.admin_token().await;
    // Ours but forged: the signature is another's, the issuer ours.
    let mut forged = token.clone();
    forged.pop();
    forged.push(if token.ends_with('A') { 'B' } else { 'A' });
    let send = |path: &'static str, auth: Option<String>, cookie: Option<String>| {
        let g = &g;
        async move {
            let mut r = g.client.get(g.url(path));
            if let Some(a) = auth {
                r = r.header("authorization", a);
            }
            if let Some(c) = cookie {
                r = r.header("cookie", c);
            }
            r.send().await.unwrap().status().as_u16()
        }
    };
    let cookie = |t: &str| format!("theme=dark; portcullis_session={t}; cart=3");
    for path in ["/public/x", "/maybe/x", "/admin/x", "/app/x", "/legacy/x"] {
        for (label, auth, cookie) in [
            ("valid bearer", Some(format!("Bearer {token}")), None),
            ("forged bearer", Some(format!("Bearer {forged}")), None),
            ("valid cookie", None, Some(cookie(&token))),
            ("forged cookie", None, Some(cookie(&forged))),
        ] {
            let before = up.count();
            let status = send(path, auth.clone(), cookie.clone()).await;
            if up.count() == before {
                // Refused (a forged credential on a protected route): nothing reached the app.
                assert!(
                    label.starts_with("forged") && [401, 403].contains(&status),
                    "{path} {label}: {status}"
                );
                continue;
            }
            let h = up.last().headers;
            let forwarded = path == "/legacy/x";
            assert_eq!(
                h.contains_key("authorization"),
                forwarded && auth.is_some(),
                "{path} {label}: {h:?}"
            );
            if cookie.is_some() {
                let c = h["cookie"].to_str().unwrap();
                assert_eq!(
                    c.contains("portcullis_session"),
                    forwarded,
                    "{path} {label}: {c}"
                );
                assert!(c.contains("theme=dark") && c.contains("cart=3"), "{c}");
            }
        }
    }
    // A Bearer token that is not ours is the app's business on the routes that let it through.
    for path in ["/public/x", "/maybe/x"] {
        assert_eq!(
            send(path, Some("Bearer app-own-token".into()), None).await,
            200
        );
        assert_eq!(up.last().headers["authorization"], "Bearer app-own-token");
        assert_eq!(send(path, Some("Basic dTpw".into()), None).await, 200);
        assert_eq!(up.last().headers["authorization"], "Basic dTpw");
    }
}

#[tokio::test]
async fn url_and_method_overrides_never_reach_the_app() {
    let up = Upstream::start().await;
    let mut o = Options::new(up.addr);
    o.routes = r#"
  - { path: "/public/**", methods: [GET], upstream: app, auth: none }
  - { path: "/**", upstream: app, auth: required }
"#
    .into();
    let g = Gateway::start(o).await;
    let overrides = [
        ("X-Original-URL", "/admin/x"),
        ("X_Original_URL", "/admin/x"),
        ("x-rewrite-url", "/admin/x"),
        ("X-Forwarded-Prefix", "/admin"),
        ("X-Forwarded-Uri", "/admin/x"),
        ("X_Forwarded_Uri", "/admin/x"),
        ("X-Forwarded-Path", "/admin/x"),
        ("X-HTTP-Method-Override", "DELETE"),
        ("X_HTTP_Method_Override", "DELETE"),
        ("X-HTTP-Method", "DELETE"),
        ("X-Method-Override", "DELETE"),
        ("x_method_override", "DELETE"),
        ("X_Forwarded_For", "203.0.113.7"),
    ];
    let mut req = g.client.get(g.url("/public/x"));
    for (k, v) in overrides {
        req = req.header(k, v);
    }
    assert_eq!(req.send().await.unwrap().status(), 200);
    let h = up.last().headers;
    for (k, _) in overrides {
        let norm = k.to_ascii_lowercase().replace('_', "-");
        assert!(
            h.keys()
                .all(|n| n.as_str().replace('_', "-") != norm || norm == "x-forwarded-for"),
            "{k} reached the app: {h:?}"
        );
    }
    assert_eq!(h["x-forwarded-for"], "127.0.0.1");
    assert!(!h.contains_key("x_forwarded_for"));
    assert_eq!(up.last().method, http::Method::GET);
}

#[tokio::test]
async fn targets_that_are_not_origin_form_are_refused_or_rewritten() {
    let (up, g) = start_with(|o| {
        o.public_url = Some("http://gw.example.test".into());
        // A public URL: production, where mail must go somewhere.
        o.extra = "mail: { outbox: true }\n".into();
    })
    .await;
    let before = up.count();
    for (target, host) in [
        ("admin/x", "gw.example.test"),
        ("%2fadmin/x", "gw.example.test"),
        ("a/../admin/x", "gw.example.test"),
        ("http://evil.test/public/x", "evil.test"),
        ("gw.example.test:80", "gw.example.test"),
    ] {
        let head = raw_request(
            &g.base,
            format!("GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await;
        assert_eq!(status_of(&head), 400, "{target}: {head}");
        assert!(head.contains("application/json"), "{target}: {head}");
    }
    // A Host that contradicts the target's authority is refused by the HTTP parser itself.
    let head = raw_request(
        &g.base,
        b"GET http://gw.example.test/public/x HTTP/1.1\r\nHost: evil.test\r\n\r\n",
    )
    .await;
    assert_eq!(status_of(&head), 400, "{head}");
    assert_eq!(up.count(), before);
    let head = raw_request(
        &g.base,
        b"GET * HTTP/1.1\r\nHost: gw.example.test\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status_of(&head), 400, "{head}");
    let head = raw_request(
        &g.base,
        b"OPTIONS * HTTP/1.1\r\nHost: gw.example.test\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status_of(&head), 204, "{head}");
    assert_eq!(up.count(), before, "OPTIONS * is the gateway's to answer");
    // Absolute-form naming this gateway: decided and forwarded as origin-form.
    let head = raw_request(
        &g.base,
        b"GET http://gw.example.test/public//x?y=1 HTTP/1.1\r\nHost: gw.example.test\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status_of(&head), 200, "{head}");
    assert_eq!(up.last().path, "/public/x");
    assert_eq!(up.last().headers["host"], "gw.example.test");
    // Refusals are counted by reason.
    let m = g.metrics().await;
    assert!(
        m.contains("portcullis_proxy_bad_targets_total{reason=\"not_origin_form\"} 4"),
        "{m}"
    );
    assert!(m.contains("portcullis_proxy_bad_targets_total{reason=\"foreign_authority\"} 1"));
    // A browser's page load is refused with a page, and the log says why, with the request id.
    let r = g
        .client
        .get(g.url("/public/%00/x"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let id = r.headers()["x-request-id"].to_str().unwrap().to_string();
    assert!(r.text().await.unwrap().contains("control character"));
    g.wait_log(&id).await;
    let line = g
        .log()
        .lines()
        .find(|l| l.contains(&id))
        .unwrap()
        .to_string();
    assert!(line.contains("control character"), "{line}");
}
