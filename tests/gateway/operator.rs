//! The operator's view: health and readiness, `explain` (CLI and admin listener), request ids
//! and the structured access log.

use crate::harness::*;
use serde_json::Value;
use std::process::Command;

#[tokio::test]
async fn readyz_checks_database_and_listener() {
    // `/healthz` (the process alone) is checked in `ops`.
    let (_up, g) = start().await;
    let r = g.admin_get("/readyz").await;
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["status"], "ready");
    for check in ["config", "database", "listener"] {
        assert_eq!(v["checks"][check], "ok", "{v}");
    }
}

/// `portcullis explain --json` on the gateway's config, as an operator runs it.
pub fn explain(g: &Gateway, args: &[&str]) -> serde_json::Value {
    let out = Command::new(bin())
        .args(["explain", "--json", "--config"])
        .arg(&g.config)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn explain_says_which_route_matched_what_it_requires_and_why() {
    let (_up, g) = start().await;

    let v = explain(&g, &["GET", "/admin/users", "--role", "user"]);
    assert_eq!(v["route"], "admin");
    assert_eq!(v["pattern"], "/admin/**");
    assert_eq!(v["requires"], "a valid session with role admin");
    assert_eq!(v["decision"], "deny");
    assert_eq!(v["status"], 403);
    assert_eq!(v["check"], "policy");
    assert!(v["reason"].as_str().unwrap().contains("role admin"), "{v}");
    assert_eq!(v["block"], Value::Null, "no allow block held");
    assert_eq!(v["blocks"][0]["criteria"][0]["result"], "miss", "{v}");

    let v = explain(&g, &["GET", "/admin/users", "--role", "admin"]);
    assert_eq!(
        (v["decision"].as_str(), v["status"].as_u64()),
        (Some("forward"), Some(200))
    );
    // Not an allowed method on that route: the next route matches instead.
    let v = explain(&g, &["DELETE", "/admin/users", "--role", "admin"]);
    assert_eq!(v["route"], "app");
    let v = explain(&g, &["GET", "/public/x"]);
    assert_eq!(
        (v["route"].as_str(), v["decision"].as_str()),
        (Some("public"), Some("forward"))
    );
    // A script gets 401; a browser's page load (its headers say so) goes to sign in.
    let v = explain(&g, &["GET", "/app/x"]);
    assert_eq!(
        (v["decision"].as_str(), v["status"].as_u64()),
        (Some("deny"), Some(401))
    );
    assert!(v["reason"].as_str().unwrap().contains("no credentials"));
    let v = explain(&g, &["GET", "/app/x", "-H", "Accept: text/html"]);
    assert_eq!(v["decision"], "redirect");
    let v = explain(&g, &["POST", "/api/login"]);
    assert_eq!(v["decision"], "control");
    // The checks before routing are the proxy's too.
    let v = explain(&g, &["GET", "/a/%2e%2e/admin"]);
    assert_eq!(
        (v["status"].as_u64(), v["check"].as_str()),
        (Some(400), Some("request target"))
    );
    let v = explain(&g, &["GET", "/ADMIN/x", "--role", "admin"]);
    assert_eq!(v["status"], 400, "{v}");
    let v = explain(&g, &["GET", "admin/x"]);
    assert_eq!(v["status"], 400, "{v}");
    let v = explain(
        &g,
        &[
            "POST",
            "/app/x",
            "--role",
            "user",
            "-H",
            "Cookie: portcullis_session=x",
            "-H",
            "Origin: https://evil.test",
        ],
    );
    assert_eq!(
        (v["status"].as_u64(), v["check"].as_str()),
        (Some(403), Some("cross-site")),
        "{v}"
    );

    // A real token is authenticated for real: live, then revoked.
    let t = g.admin_token().await;
    let v = explain(&g, &["GET", "/admin/x", "--token", &t]);
    assert_eq!(v["decision"], "forward", "{v}");
    assert_eq!(g.post("/api/logout", Some(&t)).await.status(), 200);
    let v = explain(&g, &["GET", "/admin/x", "--token", &t]);
    assert_eq!(v["status"], 401);
    assert!(v["reason"].as_str().unwrap().contains("revoked"), "{v}");
    let v = explain(&g, &["GET", "/admin/x", "--token", "not.a.token"]);
    assert!(v["reason"].as_str().unwrap().contains("invalid"), "{v}");

    // The same on the admin listener, against the running gateway's state.
    let live = g.admin_token().await;
    let g = &g;
    let ask = |q: String| async move {
        let r = g.admin_get(&format!("/explain?{q}")).await;
        assert_eq!(r.status(), 200);
        r.json::<serde_json::Value>().await.unwrap()
    };
    let v = ask("method=GET&url=/admin/x&role=user".into()).await;
    assert_eq!(v["status"], 403);
    let v = ask(format!("method=GET&url=/admin/x&token={live}")).await;
    assert_eq!(v["decision"], "forward");
    let r = g.admin_get("/explain?method=G%20T&url=/").await;
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn a_request_id_reaches_the_app_and_the_access_log_has_no_secrets() {
    let (up, g) = start().await;
    let t = g.admin_token().await;

    let r = g
        .client
        .get(g.url("/app/x?secret=query-value"))
        .bearer_auth(&t)
        .header("x-request-id", "trace-abc.123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-request-id"], "trace-abc.123");
    assert_eq!(up.last().headers["x-request-id"], "trace-abc.123");

    // A header that could inject into logs is replaced by a fresh id.
    let r = g
        .client
        .get(g.url("/app/y"))
        .bearer_auth(&t)
        .header("x-request-id", "bad id\"}")
        .send()
        .await
        .unwrap();
    let fresh = r.headers()["x-request-id"].to_str().unwrap().to_string();
    assert!(uuid::Uuid::parse_str(&fresh).is_ok(), "{fresh}");
    assert_eq!(up.last().headers["x-request-id"], fresh.as_str());
    // Responses the gateway writes itself carry one too.
    for r in [
        g.get("/app/z", None).await,
        g.post_json("/api/login", serde_json::json!({}), None).await,
    ] {
        let id = r.headers()["x-request-id"].to_str().unwrap();
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    }

    // Let the access-log lines reach the file.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let log = g.log();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|v: &serde_json::Value| v["target"] == "access")
        .collect();
    let line = lines
        .iter()
        .find(|v| v["request_id"] == "trace-abc.123")
        .unwrap_or_else(|| panic!("no access line for the request:\n{log}"));
    assert_eq!(line["path"], "/app/x");
    assert_eq!(line["status"], 200);
    assert_eq!(line["route"], "app");
    assert!(!log.contains(&t), "no token in the log");
    assert!(!log.contains("query-value"), "no query string in the log");
    assert!(!log.contains(ADMIN_PASSWORD), "no password in the log");
}

/// Every `portcullis_*` name declared in the one metrics module.
fn declared_metrics() -> Vec<String> {
    let src =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/metrics.rs")).unwrap();
    src.split('"')
        .filter(|s| s.starts_with("portcullis_") && !s.contains(' '))
        .map(str::to_string)
        .collect()
}

fn promtool() -> Option<&'static str> {
    ["/usr/bin/promtool", "/usr/local/bin/promtool"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
}

#[tokio::test]
async fn metrics_pass_promtool_and_follow_the_naming_rule() {
    let (_up, g) = start().await;
    let t = g.admin_token().await;
    g.get("/app", Some(&t)).await;
    g.get("/app", Some("not.a.token")).await;
    g.get("/admin/x", None).await;
    g.post_json(
        "/api/login",
        serde_json::json!({"email": ADMIN_EMAIL, "password": "wrong-password"}),
        None,
    )
    .await;
    g.post("/api/logout", Some(&t)).await;
    g.get("/app", Some(&t)).await;
    let text = g.metrics().await;

    // Gauges are always exported, so their type is known from the output.
    let gauges: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" gauge"))
        .collect();
    for name in declared_metrics() {
        let ok = if gauges.contains(&name.as_str()) {
            !name.ends_with("_total")
        } else {
            name.ends_with("_total") || name.ends_with("_seconds")
        };
        assert!(ok, "{name}: counters end in _total, durations in _seconds");
    }
    for reason in ["missing", "bad_token", "revoked"] {
        assert!(
            text.contains(&format!(
                "portcullis_auth_failures_total{{reason=\"{reason}\"}}"
            )),
            "{reason}:\n{text}"
        );
    }

    let Some(promtool) = promtool() else {
        eprintln!("SKIPPED promtool check: promtool not installed (apt-get install prometheus); .ci/run installs it");
        return;
    };
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_dashboard_queries_only_metrics_that_exist_and_the_deployment_files_are_valid() {
    let root = env!("CARGO_MANIFEST_DIR");
    let declared = declared_metrics();
    let text = std::fs::read_to_string(format!("{root}/deploy/grafana/dashboards/portcullis.json"))
        .unwrap();
    let dash: serde_json::Value = serde_json::from_str(&text).unwrap();
    let panels = dash["panels"].as_array().unwrap();
    let mut titles = Vec::new();
    let mut queried = 0;
    for p in panels {
        titles.push(p["title"].as_str().unwrap().to_lowercase());
        for t in p["targets"].as_array().unwrap() {
            let expr = t["expr"].as_str().unwrap();
            let names: Vec<&str> = expr
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| w.starts_with("portcullis_"))
                .collect();
            assert!(!names.is_empty(), "{expr}");
            for n in names {
                let base = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|s| n.strip_suffix(s).filter(|b| b.ends_with("_seconds")))
                    .unwrap_or(n);
                assert!(
                    declared.iter().any(|d| d == base),
                    "the dashboard queries {n}, which src/metrics.rs does not declare"
                );
                queried += 1;
            }
        }
    }
    assert!(queried >= 10);
    for wanted in [
        "traffic",
        "denials",
        "logins",
        "cache hit ratio",
        "p99",
        "revocation lag",
    ] {
        assert!(
            titles.iter().any(|t| t.contains(wanted)),
            "no panel for {wanted}: {titles:?}"
        );
    }

    // The compose file's Prometheus config, where promtool is at hand.
    if let Some(promtool) = promtool() {
        let out = Command::new(promtool)
            .args(["check", "config"])
            .arg(format!("{root}/deploy/prometheus/prometheus.yml"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let compose = std::fs::read_to_string(format!("{root}/deploy/docker-compose.yml")).unwrap();
    for service in [
        "postgres:",
        "gateway-a:",
        "gateway-b:",
        "prometheus:",
        "grafana:",
    ] {
        assert!(compose.contains(service), "{service}");
    }
}
