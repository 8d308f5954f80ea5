//! `explain` tells the truth: a generated corpus of requests (the boundary corpus's targets,
//! routes with policies, three callers, browser and API headers, a cross-site form post) goes
//! through the proxy and through `GET /explain` on the admin listener, and every answer must
//! have the same status.

use crate::client::Client;
use crate::harness::*;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn explain_and_the_proxy_agree_on_every_request_of_the_corpus() {
    if crate::ON_POSTGRES {
        return; // store-independent: the SQLite pass runs it
    }
    let (_up, g) = start_with(|o| o.routes = format!("{POLICY_ROUTES}{DEFAULT_ROUTES}")).await;
    let admin = g.admin_token().await;
    let id = g
        .create_user(&admin, "user@example.test", "user", "user-password-1")
        .await;
    let r = g
        .call(
            http::Method::PATCH,
            &format!("/api/nuxt-users/{id}"),
            Some(&admin),
            Some(serde_json::json!({"groups": ["eng"]})),
        )
        .await;
    assert_eq!(r.status(), 200);
    let user = g.login("user@example.test", "user-password-1", false).await;
    // Every third target of the boundary corpus, and a few that reach each kind of route.
    let mut targets: Vec<String> = crate::corpus::targets("localhost")
        .into_iter()
        .step_by(3)
        .collect();
    targets.extend(
        [
            "/",
            "/public/x",
            "/maybe/x",
            "/admin/x",
            "/admin",
            "/app/x",
            "/api/profile",
            "*",
            "/pol/net/x",
            "/pol/eng/x",
            "/pol/out/x",
            "/pol/mfa/x",
            "/pol/not/x",
            "/pol/time/x",
        ]
        .map(String::from),
    );
    let gw = g.base.trim_start_matches("http://").to_string();
    let g = Arc::new(g);
    let workers = 4;
    let mut tasks = Vec::new();
    for w in 0..workers {
        let chunk: Vec<String> = targets.iter().skip(w).step_by(workers).cloned().collect();
        let (g, gw, user, admin) = (g.clone(), gw.clone(), user.clone(), admin.clone());
        tasks.push(tokio::spawn(async move {
            compare(&g, &gw, &chunk, &user, &admin).await
        }));
    }
    let (mut compared, mut disagreements) = (0, Vec::new());
    for t in tasks {
        let (n, d) = t.await.unwrap();
        compared += n;
        disagreements.extend(d);
    }
    assert!(compared > 10_000, "compared {compared}");
    assert!(
        disagreements.is_empty(),
        "{} of {compared} differ:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}

/// Routes with policies of every kind of criterion the loopback caller can meet: networks,
/// methods, groups, roles with a second factor, `not`, and a time window.
const POLICY_ROUTES: &str = r#"
  - { name: pol-net, path: "/pol/net/**", upstream: app, auth: optional, allow: [{ networks: ["127.0.0.0/8"] }], deny: [{ methods: [POST] }] }
  - { name: pol-eng, path: "/pol/eng/**", upstream: app, allow: [{ groups: [eng] }, { networks: ["10.0.0.0/8"] }] }
  - { name: pol-out, path: "/pol/out/**", upstream: app, auth: required, deny: [{ networks: ["127.0.0.0/8", "::1"] }] }
  - { name: pol-mfa, path: "/pol/mfa/**", upstream: app, auth: required, allow: [{ roles: [admin], mfa: true }, { roles: [user], groups: [eng] }] }
  - { name: pol-not, path: "/pol/not/**", upstream: app, auth: optional, allow: [{ networks: ["127.0.0.0/8"] }], deny: [{ not: { groups: [eng] } }] }
  - { name: pol-time, path: "/pol/time/**", upstream: app, auth: none, allow: [{ time: { days: mon-sun, from: "00:00", to: "24:00", tz: Europe/Berlin } }], deny: [{ methods: [POST] }] }
"#;

/// Sends each target in every variant through the proxy and through `explain`; how many were
/// compared, and the disagreements.
async fn compare(
    g: &Gateway,
    gw: &str,
    targets: &[String],
    user: &str,
    admin: &str,
) -> (usize, Vec<String>) {
    let callers = [
        ("anonymous", None),
        ("user", Some(user)),
        ("admin", Some(admin)),
    ];
    let header_sets: [(&str, &[&str]); 3] = [
        ("api", &["Accept: application/json"]),
        (
            "browser",
            &["Accept: text/html", "Sec-Fetch-Mode: navigate"],
        ),
        (
            "cross-site form",
            &["Origin: http://evil.test", "Sec-Fetch-Site: cross-site"],
        ),
    ];
    let mut proxy = Client::new(gw);
    let mut disagreements = Vec::new();
    let mut compared = 0;
    for target in targets {
        for (who, token) in callers {
            for (kind, extra) in header_sets {
                let method = if kind == "cross-site form" {
                    "POST"
                } else {
                    "GET"
                };
                let mut headers = vec!["Host: localhost".to_string()];
                headers.extend(extra.iter().map(|h| h.to_string()));
                // Browsers carry the session cookie; scripts a Bearer token.
                match (token, kind) {
                    (Some(t), "api") => headers.push(format!("Authorization: Bearer {t}")),
                    (Some(t), _) => headers.push(format!("Cookie: portcullis_session={t}")),
                    (None, _) => {}
                }
                let answer = proxy.send(method, target, &headers).await;
                let query = {
                    let mut q = url::form_urlencoded::Serializer::new(String::new());
                    // The proxy sees this test's requests from loopback.
                    q.append_pair("method", method)
                        .append_pair("url", target)
                        .append_pair("ip", "127.0.0.1");
                    if let Some(t) = token {
                        q.append_pair("token", t);
                    }
                    for h in &headers {
                        q.append_pair("header", h);
                    }
                    q.finish()
                };
                let r = g.admin_get(&format!("/explain?{query}")).await;
                assert_eq!(r.status(), 200, "{target:?}");
                let e: serde_json::Value = r.json().await.unwrap();
                if e["decision"] == "control" {
                    continue;
                }
                compared += 1;
                if e["status"].as_u64() != Some(u64::from(answer.status)) {
                    disagreements.push(format!(
                        "{method} {target:?} as {who} ({kind}): proxy {}, explain {} ({}: {})",
                        answer.status, e["status"], e["check"], e["reason"]
                    ));
                }
            }
        }
    }
    (compared, disagreements)
}
