//! The boundary, tried against real app servers: Tomcat, Flask, Express, Fastify and nginx,
//! each behind its own gateway with the same three areas (`/public/**` public, `/admin/**`
//! admins only, everything else signed in). A generated corpus of request targets goes through
//! the gateway as an anonymous caller and as a plain user, and each app says which of its own
//! handlers it chose. No app may ever choose a handler in an area the gateway did not
//! authorise for that caller, nor one other than the area the gateway decided on; every path
//! of a fixed legitimate list must still reach its handler.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub const ON_POSTGRES: bool = false;

mod apps;
mod client;
mod corpus;
#[path = "../gateway/harness.rs"]
#[allow(dead_code)]
mod harness;
#[path = "../gateway/pg.rs"]
mod pg;

use client::{Answer, Client};
use harness::{Gateway, Options};

const LAYOUT: &str = r#"
  - { name: public, path: "/public/**", upstream: app, auth: none }
  - { name: admin, path: "/admin/**", upstream: app, auth: { roles: [admin] } }
  - { name: app, path: "/**", upstream: app, auth: required }
"#;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Caller {
    Anonymous,
    User,
}

/// What went wrong with one answer, if anything.
fn judge(caller: Caller, user_id: &str, a: &Answer) -> Option<String> {
    let area = a.app.as_ref().and(a.area.as_deref())?;
    let allowed = match caller {
        Caller::Anonymous => area == "public",
        Caller::User => area != "admin",
    };
    if !allowed {
        return Some(format!("chose the {area} handler for {caller:?}"));
    }
    // The identity the gateway attached tells which of its routes it decided on: only the
    // signed-in area gets one.
    let decided_protected = a.body.contains(&format!("user={user_id} "));
    if (area == "protected") != decided_protected {
        return Some(format!(
            "chose the {area} handler where the gateway decided on the {} area",
            if decided_protected {
                "signed-in"
            } else {
                "public"
            }
        ));
    }
    None
}

async fn run_corpus(
    gw: &str,
    targets: &[String],
    caller: Caller,
    token: &str,
    user_id: &str,
) -> (usize, usize, Vec<String>) {
    let workers = 4;
    let chunks: Vec<Vec<String>> = (0..workers)
        .map(|w| targets.iter().skip(w).step_by(workers).cloned().collect())
        .collect();
    let mut tasks = Vec::new();
    for chunk in chunks {
        let (gw, token, user_id) = (gw.to_string(), token.to_string(), user_id.to_string());
        tasks.push(tokio::spawn(async move {
            let mut c = Client::new(&gw);
            let mut headers = vec!["Host: localhost".to_string()];
            if caller == Caller::User {
                headers.push(format!("Authorization: Bearer {token}"));
            }
            let (mut forwarded, mut refused, mut bad) = (0, 0, Vec::new());
            for t in chunk {
                let a = c.get(&t, &headers).await;
                if a.app.is_some() {
                    forwarded += 1;
                } else if a.status == 400 {
                    refused += 1;
                }
                assert!(
                    a.status < 500 || a.app.is_some(),
                    "{t:?}: gateway {}",
                    a.status
                );
                if let Some(why) = judge(caller, &user_id, &a) {
                    bad.push(format!("{t:?} {why} ({} {})", a.status, a.body));
                }
            }
            (forwarded, refused, bad)
        }));
    }
    let mut total = (0, 0, Vec::new());
    for t in tasks {
        let (f, r, b) = t.await.unwrap();
        total.0 += f;
        total.1 += r;
        total.2.extend(b);
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_app_server_chooses_a_handler_the_gateway_did_not_authorise() {
    let apps = apps::start_all().await;
    if std::env::var_os("PORTCULLIS_REQUIRE_APPS").is_some() {
        assert_eq!(apps.len(), 5, "CI installs every app server");
    } else if apps.len() < 4 {
        eprintln!(
            "SKIPPED: fewer than four app servers on this machine ({})",
            apps.len()
        );
        return;
    }
    let targets = corpus::targets("localhost");
    assert!(targets.len() >= 5000, "corpus of {}", targets.len());
    let mut failures = Vec::new();
    let mut report = Vec::new();
    for app in &apps {
        let mut o = Options::new(app.addr.parse().unwrap());
        o.routes = LAYOUT.to_string();
        o.read_timeout = "10s";
        o.public_url = Some("http://localhost".into());
        let g = Gateway::start(o).await;
        g.add_user("plain@example.test", "user", "plain-password-1");
        let token = g
            .login("plain@example.test", "plain-password-1", false)
            .await;
        let user_id = harness::payload(&token)["sub"]
            .as_str()
            .unwrap()
            .to_string();
        let gw = g.base.trim_start_matches("http://").to_string();
        for caller in [Caller::Anonymous, Caller::User] {
            let (forwarded, refused, bad) =
                run_corpus(&gw, &targets, caller, &token, &user_id).await;
            report.push(format!(
                "{:8} {caller:?}: {} targets, {forwarded} reached the app, {refused} refused with 400 by the gateway",
                app.name,
                targets.len()
            ));
            failures.extend(bad.into_iter().map(|b| format!("{}: {b}", app.name)));
        }
        // Every legitimate path still reaches its handler.
        let mut c = Client::new(&gw);
        for (path, area) in corpus::LEGITIMATE {
            let mut headers = vec!["Host: localhost".to_string()];
            if area != "public" {
                headers.push(format!("Authorization: Bearer {token}"));
            }
            let a = c.get(path, &headers).await;
            if a.app.is_none() || a.area.as_deref() != Some(area) {
                failures.push(format!(
                    "{}: legitimate {path:?} did not reach the {area} handler ({} {})",
                    app.name, a.status, a.body
                ));
            }
        }
    }
    eprintln!("{}", report.join("\n"));
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
