//! Route policies through the real gateway: groups set by an admin, the CLI and an identity
//! provider's nested claim, every criterion on the proxy path, deny before any sign-in,
//! step-up from a block that misses only its second factor, `X-Forwarded-For` from a peer
//! that is not trusted, a time window on the gateway's clock, forward-auth, the metric, and
//! `explain` with `--ip`/`--at`.

use crate::harness::*;
use crate::mfa::{challenge, enrolled, totp, Clock};
use http::Method;
use serde_json::{json, Value};
use std::time::Duration;

/// A mock provider whose personas carry groups in a nested claim, and claims the access token
/// carries (`realm`, `dept`).
const KEYCLOAK_LIKE: &str = r#"oauth:
  providers:
    mock:
      kind: mock
      client_id: mock-client
      client_secret: mock-secret
      groups: { from: "/realm_access/roles" }
      claims: { realm: { from: realm_access }, dept: { from: department } }
      personas:
        - { sub: "p-3", email: "eve@example.test", name: "Eve", groups: [eng], realm_access: { roles: [editor, "offline access"] }, department: { id: 7 } }
        - { sub: "p-4", email: "mo@example.test", name: "Mo", realm_access: { roles: [viewer] } }
"#;

const NETWORKS: &str = "networks: { office: [\"203.0.113.0/24\", \"2001:db8::/32\"], here: [\"127.0.0.0/8\", \"::1/128\"] }\n";

fn policy_routes(o: &mut Options) {
    o.routes = r#"
  - { name: eng, path: "/eng/**", upstream: app, auth: required, allow: [{ groups: [eng] }] }
  - { name: edit, path: "/edit/**", upstream: app, allow: [{ groups: [editor] }] }
  - name: wiki
    path: "/wiki/**"
    upstream: app
    auth: optional
    allow:
      - { networks: [office] }
      - { name: staff, email_domains: [example.test] }
    deny:
      - { methods: [DELETE] }
  - { name: blocked, path: "/blocked/**", upstream: app, auth: required, deny: [{ networks: [here] }] }
  - { name: ops, path: "/ops/**", upstream: app, auth: required, allow: [{ groups: [eng], mfa: true }] }
  - { name: fed, path: "/fed/**", upstream: app, auth: required, allow: [{ amr: [fed] }] }
  - { name: claims, path: "/claims/**", upstream: app, auth: required, allow: [{ claims: { "/realm/roles": editor, "/dept/id": 7 } }] }
  - { name: people, path: "/people/**", upstream: app, auth: required, allow: [{ users: [ann@example.com] }, { roles: [admin], not: { methods: [POST] } }] }
  - { name: keys, path: "/keys/**", upstream: app, auth: required, allow: [{ scopes: [deploy] }] }
  - { name: app, path: "/**", upstream: app, auth: required }
"#
    .into();
    o.extra = format!("{NETWORKS}{KEYCLOAK_LIKE}");
}

async fn patch_groups(g: &Gateway, admin: &str, id: i64, groups: Value) -> reqwest::Response {
    g.call(
        Method::PATCH,
        &format!("/api/nuxt-users/{id}"),
        Some(admin),
        Some(json!({ "groups": groups })),
    )
    .await
}

/// A browser's page load with the session as cookie.
async fn navigate(g: &Gateway, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut r = no_redirects()
        .get(g.url(path))
        .header("accept", "text/html")
        .header("sec-fetch-mode", "navigate")
        .header("sec-fetch-dest", "document");
    if let Some(t) = token {
        r = r.header("cookie", format!("portcullis_session={t}"));
    }
    r.send().await.unwrap()
}

#[tokio::test]
async fn local_groups_set_by_an_admin_reach_a_live_session_at_once() {
    let (up, g) = start_with(policy_routes).await;
    let admin = g.admin_token().await;
    let id = g.create_user(&admin, "ann@example.com", "user", "ann-password-1").await;
    let ann = g.login("ann@example.com", "ann-password-1", false).await;
    assert_eq!(g.get("/eng/x", Some(&ann)).await.status(), 403);
    assert_eq!(g.get("/x", Some(&ann)).await.status(), 200);
    assert_eq!(up.last().headers["x-auth-groups"], "", "in no group yet");

    // Only an admin sets groups, and only well-formed ones.
    assert_eq!(patch_groups(&g, &ann, id, json!(["eng"])).await.status(), 403);
    for bad in [json!("eng"), json!(["a b"]), json!([1]), json!(["x".repeat(65)])] {
        let r = patch_groups(&g, &admin, id, bad.clone()).await;
        let e = error_body(r, 400).await;
        assert!(e["data"]["groups"].is_string(), "{bad}: {e}");
    }
    let r = patch_groups(&g, &admin, id, json!(["ops", "eng", "ops"])).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["user"]["groups"], json!(["eng", "ops"]), "sorted, once each");

    // The same session, at once: no new sign-in.
    assert_eq!(g.get("/eng/x", Some(&ann)).await.status(), 200);
    assert_eq!(up.last().headers["x-auth-groups"], "eng,ops");
    // A client cannot send its own.
    let r = g
        .client
        .get(g.url("/x"))
        .bearer_auth(&ann)
        .header("x-auth-groups", "admins")
        .header("X_Auth_Groups", "admins")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let seen = up.last().headers;
    assert_eq!(seen.get_all("x-auth-groups").iter().count(), 1);
    assert_eq!(seen["x-auth-groups"], "eng,ops");
    // Every user object carries them.
    let me: Value = g.get("/api/nuxt-users/me", Some(&ann)).await.json().await.unwrap();
    assert_eq!(me["user"]["groups"], json!(["eng", "ops"]));
    let profile: Value = g.get("/api/profile", Some(&ann)).await.json().await.unwrap();
    assert_eq!(profile["groups"], json!(["eng", "ops"]));
    let list: Value = g.get("/api/nuxt-users", Some(&admin)).await.json().await.unwrap();
    let listed = list["users"].as_array().unwrap().iter().find(|u| u["id"] == id).unwrap();
    assert_eq!(listed["groups"], json!(["eng", "ops"]));

    // Taken away: refused on the very next request.
    assert_eq!(patch_groups(&g, &admin, id, json!([])).await.status(), 200);
    assert_eq!(g.get("/eng/x", Some(&ann)).await.status(), 403);

    // The CLI sets them in another process; the running gateway follows within a second
    // (the change feed on PostgreSQL, the poll of changed users on SQLite).
    let out = std::process::Command::new(bin())
        .args(["user", "groups", "ann@example.com", "--set", "eng", "--config"])
        .arg(&g.config)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "eng\t(local)");
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while g.get("/eng/x", Some(&ann)).await.status() != 200 {
        assert!(std::time::Instant::now() < deadline, "the CLI's change never arrived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn groups_and_claims_from_a_providers_nested_claims() {
    let (up, g) = start_with(policy_routes).await;
    let (eve, _) = crate::oauth::signed_in(&g, "?user=p-3").await;
    // `groups: [eng]` is a claim of Eve's too, but this provider's groups are read from
    // `/realm_access/roles`; a role with a space is left out.
    assert_eq!(g.get("/edit/x", Some(&eve)).await.status(), 200);
    assert_eq!(up.last().headers["x-auth-groups"], "editor");
    assert_eq!(g.get("/eng/x", Some(&eve)).await.status(), 403);
    // Claims the token carries, by pointer.
    assert_eq!(g.get("/claims/x", Some(&eve)).await.status(), 200);
    assert_eq!(g.get("/fed/x", Some(&eve)).await.status(), 200, "amr: fed");
    let (mo, _) = crate::oauth::signed_in(&g, "?user=p-4").await;
    assert_eq!(g.get("/edit/x", Some(&mo)).await.status(), 403);
    assert_eq!(g.get("/claims/x", Some(&mo)).await.status(), 403);
    let admin = g.admin_token().await;
    assert_eq!(g.get("/fed/x", Some(&admin)).await.status(), 403, "a password is not fed");

    // The admin's groups and the provider's are kept apart: neither overwrites the other.
    let list: Value = g.get("/api/nuxt-users", Some(&admin)).await.json().await.unwrap();
    let eve_id = list["users"].as_array().unwrap().iter().find(|u| u["email"] == "eve@example.test").unwrap()["id"].as_i64().unwrap();
    let r = patch_groups(&g, &admin, eve_id, json!(["eng"])).await;
    assert_eq!(r.json::<Value>().await.unwrap()["user"]["groups"], json!(["editor", "eng"]));
    assert_eq!(g.get("/eng/x", Some(&eve)).await.status(), 200);
    let (eve_again, _) = crate::oauth::signed_in(&g, "?user=p-3").await;
    assert_eq!(g.get("/eng/x", Some(&eve_again)).await.status(), 200, "a new sign-in keeps the admin's");
    assert_eq!(up.last().headers["x-auth-groups"], "editor,eng");
    let out = std::process::Command::new(bin())
        .args(["user", "groups", "eve@example.test", "--config"])
        .arg(&g.config)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "editor\t(oauth:mock)\neng\t(local)\n"
    );
}

#[tokio::test]
async fn every_criterion_on_the_proxy_path() {
    let (up, g) = start_with(policy_routes).await;
    let admin = g.admin_token().await;
    g.create_user(&admin, "ann@example.com", "user", "ann-password-1").await;
    g.create_user(&admin, "zed@example.test", "user", "zed-password-1").await;
    let ann = g.login("ann@example.com", "ann-password-1", false).await;
    let zed = g.login("zed@example.test", "zed-password-1", false).await;

    // users, and a block of a role with `not` on methods.
    assert_eq!(g.get("/people/x", Some(&ann)).await.status(), 200);
    assert_eq!(g.get("/people/x", Some(&zed)).await.status(), 403);
    assert_eq!(g.get("/people/x", Some(&admin)).await.status(), 200);
    assert_eq!(g.post("/people/x", Some(&admin)).await.status(), 403);

    // email_domains on an optional route: nobody signed in outside the office is asked to
    // sign in (401 for a script, the sign-in page for a browser); then the domain decides.
    let r = g.get("/wiki/page", None).await;
    assert_eq!(r.status(), 401);
    let r = navigate(&g, "/wiki/page", None).await;
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers()["location"], "/login?returnTo=%2Fwiki%2Fpage");
    assert_eq!(g.get("/wiki/page", Some(&zed)).await.status(), 200);
    assert_eq!(up.last().headers["x-auth-email"], "zed@example.test");
    assert_eq!(g.get("/wiki/page", Some(&ann)).await.status(), 403);
    // methods: deny wins, for anyone.
    let r = g.call(Method::DELETE, "/wiki/page", Some(&zed), None).await;
    assert_eq!(error_body(r, 403).await["message"], "A deny rule of this route refuses the request");

    // scopes: an API key holding one; sessions hold none.
    let key: Value = g
        .post_json("/api/auth/api-keys", json!({"name": "ci", "scopes": ["deploy"]}), Some(&zed))
        .await
        .json()
        .await
        .unwrap();
    let key = key["key"].as_str().unwrap();
    assert_eq!(g.get("/keys/x", Some(key)).await.status(), 200);
    assert_eq!(g.get("/keys/x", Some(&zed)).await.status(), 403);

    // The upstream saw none of the refused requests.
    let before = up.count();
    assert_eq!(g.get("/eng/x", Some(&zed)).await.status(), 403);
    assert_eq!(up.count(), before);

    // Counted by route, block and result.
    let m = g.metrics().await;
    for want in [
        r#"portcullis_policy_decisions_total{block="staff",result="allow",route="wiki"}"#,
        r#"portcullis_policy_decisions_total{block="staff",result="sign_in",route="wiki"}"#,
        r#"portcullis_policy_decisions_total{block="deny[0]",result="deny",route="wiki"}"#,
        r#"portcullis_policy_decisions_total{block="none",result="deny",route="eng"}"#,
    ] {
        assert!(m.contains(want), "{want} not in\n{m}");
    }
}

#[tokio::test]
async fn a_deny_on_networks_refuses_before_any_sign_in_and_spoofed_forwarding_opens_nothing() {
    let (up, g) = start_with(policy_routes).await;
    let before = up.count();
    // Loopback is `here`: refused with 403, never sent to sign in, whoever asks.
    let r = navigate(&g, "/blocked/x", None).await;
    assert_eq!(r.status(), 403);
    assert!(r.headers().get("location").is_none());
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let r = g.get("/blocked/x", None).await;
    assert_eq!(error_body(r, 403).await["statusCode"], 403);
    let admin = g.admin_token().await;
    assert_eq!(g.get("/blocked/x", Some(&admin)).await.status(), 403);
    assert_eq!(up.count(), before, "the app saw nothing");

    // The office network is not opened by a header from a peer that is not a trusted proxy.
    for xff in ["203.0.113.5", "203.0.113.5, 203.0.113.6"] {
        let r = g
            .client
            .get(g.url("/wiki/x"))
            .header("x-forwarded-for", xff)
            .header("x-real-ip", "203.0.113.5")
            .header("forwarded", "for=203.0.113.5")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{xff}: asked to sign in, not let in");
    }

    // Behind a trusted proxy the right-most address it does not vouch for is the client's:
    // never the first one, which any client can write.
    let (_up, g) = start_with(|o| {
        policy_routes(o);
        o.server_extra = "  trusted_proxies: [\"127.0.0.1/32\"]\n".into();
    })
    .await;
    let via = |xff: &'static str| g.client.get(g.url("/wiki/x")).header("x-forwarded-for", xff).send();
    assert_eq!(via("203.0.113.5").await.unwrap().status(), 200);
    assert_eq!(via("198.51.100.1, 203.0.113.5").await.unwrap().status(), 200);
    assert_eq!(via("203.0.113.5, 198.51.100.1").await.unwrap().status(), 401);
}

#[tokio::test]
async fn a_block_failing_only_on_its_second_factor_steps_up() {
    let (up, g) = start_with(policy_routes).await;
    let admin = g.admin_token().await;
    let mut clock = Clock { offset: 0 };
    let email = "ops@example.test";
    let (id, secret, _) = enrolled(&g, &mut clock, email, "user").await;
    assert_eq!(patch_groups(&g, &admin, id, json!(["eng"])).await.status(), 200);
    // An eng member who signs in with a code passes.
    let c = challenge(&g, "/api/auth/login", email).await;
    clock.next_step(&g).await;
    let r = g
        .post_json("/api/auth/mfa/verify", json!({"mfaToken": c["mfaToken"], "code": totp(&secret, clock.now())}), None)
        .await;
    assert_eq!(r.status(), 200);
    let stepped = r.json::<Value>().await.unwrap()["session"]["token"].as_str().unwrap().to_string();
    assert_eq!(g.get("/ops/x", Some(&stepped)).await.status(), 200);
    assert_eq!(up.last().headers["x-auth-amr"], "pwd,otp");
    // An eng member who signed in with a password alone (no second factor): the API client
    // is told to step up...
    let pw = g.create_user(&admin, "pw@example.test", "user", "pw-password-1").await;
    assert_eq!(patch_groups(&g, &admin, pw, json!(["eng"])).await.status(), 200);
    let pw = g.login("pw@example.test", "pw-password-1", false).await;
    let r = g.get("/ops/x", Some(&pw)).await;
    assert_eq!(r.status(), 401);
    let www = r.headers()["www-authenticate"].to_str().unwrap().to_string();
    assert!(www.contains("insufficient_user_authentication"), "{www}");
    // ...and a browser is sent to the second-step page.
    let r = navigate(&g, "/ops/report", Some(&pw)).await;
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers()["location"], "/login/mfa?returnTo=%2Fops%2Freport");
    // Not in the group: a second factor would not help.
    assert_eq!(g.get("/ops/x", Some(&admin)).await.status(), 403);
}

#[tokio::test]
async fn a_time_window_that_excludes_now_refuses_until_the_clock_reaches_it() {
    // A window two hours ahead of now, every day, in UTC.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let hour = (now / 3600 + 2) % 24;
    let (_up, g) = start_with(|o| {
        // 23:00-24:00 is a valid window too.
        o.routes = format!(
            "\n  - {{ name: batch, path: \"/batch/**\", upstream: app, auth: none, allow: [{{ time: {{ from: \"{hour:02}:00\", to: \"{:02}:00\", tz: UTC }} }}] }}\n  - {{ name: app, path: \"/**\", upstream: app, auth: required }}\n",
            hour + 1
        );
    })
    .await;
    let r = g.get("/batch/run", None).await;
    assert_eq!(error_body(r, 403).await["statusCode"], 403);
    g.advance_clock(Duration::from_secs(2 * 3600)).await;
    assert_eq!(g.get("/batch/run", None).await.status(), 200);
    g.advance_clock(Duration::from_secs(3600)).await;
    assert_eq!(g.get("/batch/run", None).await.status(), 403);
}

#[tokio::test]
async fn forward_auth_applies_policies_to_the_edges_original_request() {
    let (_up, g) = start_with(|o| {
        policy_routes(o);
        o.server_extra = "  trusted_proxies: [\"127.0.0.1/32\"]\n".into();
        o.extra = format!("{}api:\n  routes:\n    forward-auth: true\n", o.extra);
    })
    .await;
    let ask = |method: &'static str, client: &'static str| {
        g.client
            .get(g.url("/auth/forward"))
            .header("x-forwarded-method", method)
            .header("x-forwarded-uri", "/wiki/page")
            .header("x-forwarded-host", "wiki.test")
            .header("x-forwarded-for", client)
            .send()
    };
    assert_eq!(ask("GET", "203.0.113.5").await.unwrap().status(), 200);
    assert_eq!(ask("DELETE", "203.0.113.5").await.unwrap().status(), 403);
    assert_eq!(ask("GET", "198.51.100.1").await.unwrap().status(), 401, "sign in first");
    // A browser whose session lacks the second step a block asks for goes to the
    // second-step page, and back to the edge's URL after it.
    let admin = g.admin_token().await;
    let id = g.create_user(&admin, "pw@example.test", "user", "pw-password-1").await;
    assert_eq!(patch_groups(&g, &admin, id, json!(["eng"])).await.status(), 200);
    let pw = g.login("pw@example.test", "pw-password-1", false).await;
    let r = no_redirects()
        .get(g.url("/auth/forward"))
        .header("x-forwarded-uri", "/ops/report")
        .header("x-forwarded-host", "ops.test")
        .header("x-forwarded-proto", "https")
        .header("accept", "text/html")
        .header("sec-fetch-mode", "navigate")
        .header("cookie", format!("portcullis_session={pw}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(
        r.headers()["location"],
        format!(
            "{}/login/mfa?returnTo=https%3A%2F%2Fops.test%2Fops%2Freport",
            g.base.replace("127.0.0.1", "localhost")
        )
        .as_str()
    );
}

#[tokio::test]
async fn explain_shows_every_block_for_an_address_and_a_time() {
    let (_up, g) = start_with(policy_routes).await;
    let explain = |args: &[&str]| crate::operator::explain(&g, args);
    let v = explain(&["GET", "/wiki/page", "--ip", "203.0.113.9"]);
    assert_eq!((v["decision"].as_str(), v["block"].as_str()), (Some("forward"), Some("allow[0]")), "{v}");
    assert_eq!(v["ip"], "203.0.113.9");
    assert_eq!(
        v["blocks"],
        json!([
            {"block": "allow[0]", "kind": "allow", "result": "hit", "criteria": [
                {"criterion": "networks", "expects": "a client in 203.0.113.0/24, 2001:db8::/32", "result": "hit"}]},
            {"block": "staff", "kind": "allow", "result": "needs-sign-in", "criteria": [
                {"criterion": "email_domains", "expects": "an address at example.test", "result": "needs-sign-in"}]},
            {"block": "deny[0]", "kind": "deny", "result": "miss", "criteria": [
                {"criterion": "methods", "expects": "method DELETE", "result": "miss"}]},
        ])
    );
    let v = explain(&["GET", "/wiki/page", "--ip", "198.51.100.1"]);
    assert_eq!((v["status"].as_u64(), v["block"].as_str()), (Some(401), Some("staff")), "{v}");
    let v = explain(&["GET", "/wiki/page", "--ip", "198.51.100.1", "--email", "a@example.test"]);
    assert_eq!((v["decision"].as_str(), v["block"].as_str()), (Some("forward"), Some("staff")), "{v}");
    let v = explain(&["DELETE", "/wiki/page", "--ip", "203.0.113.9"]);
    assert_eq!((v["status"].as_u64(), v["check"].as_str(), v["block"].as_str()), (Some(403), Some("policy"), Some("deny[0]")));
    let v = explain(&["GET", "/eng/x", "--group", "eng"]);
    assert_eq!(v["decision"], "forward", "{v}");
    let v = explain(&["GET", "/ops/x", "--group", "eng"]);
    assert_eq!((v["status"].as_u64(), v["check"].as_str()), (Some(401), Some("second factor")), "{v}");
    let v = explain(&["GET", "/ops/x", "--group", "eng", "--mfa"]);
    assert_eq!(v["decision"], "forward", "{v}");
    let bad = std::process::Command::new(bin())
        .args(["explain", "GET", "/x", "--at", "yesterday", "--config"])
        .arg(&g.config)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("RFC 3339"));

    // The admin listener takes ip= and at=, and a time in a window.
    let (_up, g) = start_with(|o| {
        o.routes = "\n  - { name: hours, path: \"/hours/**\", upstream: app, auth: none, allow: [{ name: office hours, time: { days: mon-fri, from: \"07:00\", to: \"19:00\", tz: Europe/Berlin } }] }\n  - { name: app, path: \"/**\", upstream: app, auth: required }\n".into();
    })
    .await;
    let ask = |q: &str| {
        let g = &g;
        let q = q.to_string();
        async move { g.admin_get(&format!("/explain?method=GET&url=/hours/x&{q}")).await.json::<Value>().await.unwrap() }
    };
    // Friday 2026-12-04, 07:30 and 19:30 in Berlin.
    let v = ask("at=2026-12-04T06:30:00Z").await;
    assert_eq!((v["decision"].as_str(), v["block"].as_str()), (Some("forward"), Some("office hours")), "{v}");
    assert_eq!(v["blocks"][0]["criteria"][0]["expects"], "mon,tue,wed,thu,fri 07:00-19:00 Europe/Berlin");
    let v = ask("at=2026-12-04T19:30:00%2B01:00").await;
    assert_eq!(v["status"], 403, "{v}");
    let r = g.admin_get("/explain?url=/hours/x&ip=nowhere").await;
    assert_eq!(r.status(), 400);
}
