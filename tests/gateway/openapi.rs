//! The OpenAPI document on the admin listener: valid 3.1, every terminated endpoint in it, and
//! in step with the router — each documented method is served, every other one is 405.

use crate::harness::*;
use http::Method;

#[tokio::test]
async fn the_document_lists_exactly_what_the_router_serves() {
    let (_up, g) = start_with(|o| {
        o.extra = "signup: { enabled: true }".into();
    })
    .await;
    let r = g.admin_get("/api/openapi.json").await;
    assert_eq!(r.status(), 200);
    let doc: serde_json::Value = r.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    // The documented contracts are all there.
    for p in [
        "/api/login",
        "/api/logout",
        "/api/logout-others",
        "/api/logout-all",
        "/api/renew-token",
        "/api/profile",
        "/api/nuxt-users/session",
        "/api/nuxt-users/{id}",
        "/api/nuxt-users/password/forgot",
        "/api/auth/magic-link",
        "/.well-known/jwks.json",
    ] {
        assert!(paths.contains_key(p), "{p} missing");
    }
    let all = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
    ];
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for (path, item) in paths {
        let concrete = path
            .split('/')
            .map(|s| if s.starts_with('{') { "1" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        let documented = all
            .iter()
            .filter(|m| item.get(m.as_str().to_ascii_lowercase()).is_some())
            .count();
        assert!(
            documented < all.len(),
            "{path}: its route would go unproven"
        );
        for m in &all {
            let documented = item.get(m.as_str().to_ascii_lowercase()).is_some();
            let op = &item[m.as_str().to_ascii_lowercase()];
            if documented {
                assert!(op["summary"].is_string(), "{m} {path}");
                assert!(op["responses"]["default"].is_object(), "{m} {path}");
            }
            let r = c.request(m.clone(), g.url(&concrete)).send().await.unwrap();
            let status = r.status().as_u16();
            let body = r.text().await.unwrap_or_default();
            if documented {
                // A 404 may be the resource's (no such user or file); that the route exists
                // shows in the 405 its undocumented methods get.
                assert!(status != 405 && status < 500, "{m} {path}: {status} {body}");
            } else {
                assert_eq!(status, 405, "{m} {path} is served but not documented");
            }
        }
    }
}

/// schemathesis (PyPI), a tool no one here wrote, generates requests from the document
/// against a running gateway: no server error, every answer as documented, and secured
/// operations refused without credentials. Skipped, saying so, where it is not installed
/// (`.ci/run` installs it). Runs once, in the SQLite suite.
#[tokio::test]
async fn schemathesis_finds_no_failures() {
    if crate::ON_POSTGRES {
        return;
    }
    let installed = std::process::Command::new("schemathesis")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        eprintln!("SKIPPED: schemathesis is not installed (python3 -m pip install schemathesis)");
        return;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/schemathesis/run.sh");
    let out = tokio::process::Command::new(script)
        .args([bin(), "60"])
        .output()
        .await
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(report.contains("No issues found"), "{report}");
}
