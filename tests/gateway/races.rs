//! Revocation wins every race: renewals hammered against logout-all, a password change and a
//! deactivation, on the real binary (SQLite here, PostgreSQL in `gateway_pg`). Once a
//! revocation is acknowledged, no token issued before it — nor any a racing renewal handed
//! out — is accepted. `PORTCULLIS_RACE_ITERATIONS` sets the rounds (default 1,000).

use crate::harness::*;
use http::Method;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Copy, Debug)]
enum Revocation {
    LogoutAll,
    PasswordChange,
    Deactivation,
}

/// Renews `token` over and over until a renewal is refused; every token handed out.
async fn renew_until_refused(g: Arc<Gateway>, mut token: String, max: usize) -> Vec<String> {
    let mut issued = Vec::new();
    for _ in 0..max {
        let r = g.post("/api/renew-token", Some(&token)).await;
        if r.status() != 200 {
            break;
        }
        token = r.json::<String>().await.unwrap();
        issued.push(token.clone());
    }
    issued
}

/// One user's rounds; returns the rounds run.
async fn rounds(g: Arc<Gateway>, admin: String, n: usize, worker: usize) -> usize {
    let email = format!("racer{worker}@example.test");
    let mut password = format!("racer-password-{worker}-0");
    let id = g.create_user(&admin, &email, "user", &password).await;
    for round in 0..n {
        let kind = [
            Revocation::LogoutAll,
            Revocation::PasswordChange,
            Revocation::Deactivation,
        ][round % 3];
        let renewed = g.login(&email, &password, false).await;
        let other = g.login(&email, &password, false).await;
        let renewer = tokio::spawn(renew_until_refused(g.clone(), renewed.clone(), 50));
        // Let the renewals get going, by a varying amount, then revoke.
        tokio::time::sleep(Duration::from_micros((round as u64 * 373) % 4000)).await;
        let next_password = format!("racer-password-{worker}-{}", round + 1);
        let ack = match kind {
            Revocation::LogoutAll => g.post("/api/logout-all", Some(&other)).await,
            Revocation::PasswordChange => {
                let body = json!({"currentPassword": password, "newPassword": next_password, "newPasswordConfirmation": next_password});
                until_served(|| {
                    g.call(
                        Method::PATCH,
                        "/api/nuxt-users/password",
                        Some(&other),
                        Some(body.clone()),
                    )
                })
                .await
            }
            Revocation::Deactivation => {
                g.call(
                    Method::PATCH,
                    &format!("/api/nuxt-users/{id}"),
                    Some(&admin),
                    Some(json!({"active": false})),
                )
                .await
            }
        };
        if ack.status() != 200 {
            let status = ack.status();
            let body = ack.text().await.unwrap_or_default();
            let errors: Vec<_> = g
                .log()
                .lines()
                .filter(|l| l.contains("ERROR") || l.contains("WARN"))
                .map(str::to_owned)
                .collect();
            panic!(
                "{kind:?} round {round}: {status} {body}\n{}",
                errors.join("\n")
            );
        }
        // Acknowledged: from here on nothing issued before may pass, nor anything a
        // renewal still in flight hands out.
        let mut issued = vec![renewed];
        if !matches!(kind, Revocation::PasswordChange) {
            issued.push(other);
        }
        issued.extend(renewer.await.unwrap());
        for t in &issued {
            let r = g.get("/app/after-revocation", Some(t)).await;
            assert_eq!(
                r.status(),
                401,
                "{kind:?} round {round}: a token survived ({} issued)",
                issued.len()
            );
        }
        match kind {
            Revocation::PasswordChange => password = next_password,
            Revocation::Deactivation => {
                let r = g
                    .call(
                        Method::PATCH,
                        &format!("/api/nuxt-users/{id}"),
                        Some(&admin),
                        Some(json!({"active": true})),
                    )
                    .await;
                assert_eq!(r.status(), 200);
            }
            Revocation::LogoutAll => {}
        }
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revocation_wins_every_race_with_renewal() {
    let up = Upstream::start().await;
    let mut o = Options::new(up.addr);
    // Logins are many here; the per-client login limit is not what is under test.
    o.extra = "rate_limits: { login: { per_minute: 100000, burst: 10000 } }".into();
    let g = Arc::new(Gateway::start(o).await);
    let admin = g.admin_token().await;
    let total: usize = std::env::var("PORTCULLIS_RACE_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let workers = 4;
    let mut tasks = Vec::new();
    for w in 0..workers {
        let n = total / workers + usize::from(w < total % workers);
        tasks.push(tokio::spawn(rounds(g.clone(), admin.clone(), n, w)));
    }
    let mut done = 0;
    for t in tasks {
        done += t.await.unwrap();
    }
    assert_eq!(done, total);
    // The admin's own session was never touched by any of it.
    assert_eq!(g.get("/app/x", Some(&admin)).await.status(), 200);
}
