//! Brute force and enumeration: per-account backoff the real user outlives, per-address mail
//! limits, and answers that are the same for accounts that exist and those that do not.

use crate::harness::*;
use serde_json::json;
use std::time::{Duration, Instant};

async fn login(g: &Gateway, email: &str, password: &str) -> reqwest::Response {
    g.post_json(
        "/api/login",
        json!({"email": email, "password": password}),
        None,
    )
    .await
}

/// Status, body and the names of the headers: what a caller could compare.
async fn shape(r: reqwest::Response) -> (u16, Vec<String>, String) {
    let status = r.status().as_u16();
    let mut names: Vec<String> = r
        .headers()
        .iter()
        .filter(|(k, _)| !["date", "x-request-id", "content-length"].contains(&k.as_str()))
        .map(|(k, v)| {
            if k == "retry-after" {
                k.to_string()
            } else {
                format!("{k}: {}", v.to_str().unwrap_or("?"))
            }
        })
        .collect();
    names.sort();
    (status, names, r.text().await.unwrap())
}

#[tokio::test]
async fn wrong_passwords_slow_one_account_down_the_same_whether_it_exists_or_not() {
    let (_up, g) = start_with(|o| {
        o.extra = "rate_limits: { login: { per_minute: 1000, burst: 1000 }, account: { free_failures: 3, max_backoff: \"1s\" } }".into();
    })
    .await;
    let mut seen = Vec::new();
    for email in [ADMIN_EMAIL, "nobody@example.test"] {
        let mut answers = Vec::new();
        for _ in 0..3 {
            answers.push(shape(login(&g, email, "wrong-password-1").await).await);
        }
        assert!(answers.iter().all(|a| a.0 == 400), "{answers:?}");
        // The fourth attempt waits, even with the right password: nothing is tested meanwhile.
        let wait = login(&g, email, ADMIN_PASSWORD).await;
        assert_eq!(wait.headers()["retry-after"], "1");
        answers.push(shape(wait).await);
        assert_eq!(answers[3].0, 429);
        seen.push(answers);
    }
    assert_eq!(
        seen[0], seen[1],
        "an attacker cannot tell which account exists"
    );
    // Another account is not slowed by this one's failures.
    g.add_user("other@example.test", "user", "other-password-1");
    assert_eq!(
        login(&g, "other@example.test", "other-password-1")
            .await
            .status(),
        200
    );
    // The real user outlives it.
    g.advance_clock(Duration::from_millis(1100)).await;
    assert_eq!(login(&g, ADMIN_EMAIL, ADMIN_PASSWORD).await.status(), 200);
    // Success clears the count: three more free failures.
    for _ in 0..3 {
        assert_eq!(
            login(&g, ADMIN_EMAIL, "wrong-password-1").await.status(),
            400
        );
    }
    let m = g.metrics().await;
    assert!(
        m.contains("portcullis_ratelimit_rejections_total{limit=\"account\"} 2"),
        "{m}"
    );
}

#[tokio::test]
async fn mail_is_limited_per_address_alike_for_known_and_unknown_addresses() {
    let (_up, g) = start_with(|o| {
        o.extra =
            "rate_limits: { login: { per_minute: 1000, burst: 1000 } }\nsignup: { enabled: true }"
                .into();
    })
    .await;
    let mut per_address = Vec::new();
    for email in [ADMIN_EMAIL, "nobody@example.test"] {
        let mut answers = Vec::new();
        for _ in 0..4 {
            let r = g
                .post_json(
                    "/api/nuxt-users/password/forgot",
                    json!({ "email": email }),
                    None,
                )
                .await;
            answers.push(shape(r).await);
        }
        assert!(answers[..3].iter().all(|a| a.0 == 200), "{answers:?}");
        assert_eq!(answers[3].0, 429);
        per_address.push(answers);
    }
    assert_eq!(per_address[0], per_address[1]);
    // Sign-up mail counts against the same address (here already used up).
    let r = g
        .post_json(
            "/api/nuxt-users/register",
            json!({"email": "NOBODY@example.test", "name": "N", "password": "a-long-password"}),
            None,
        )
        .await;
    assert_eq!(r.status(), 429);
    let r = g
        .post_json(
            "/api/nuxt-users/register",
            json!({"email": "fresh@example.test", "name": "F", "password": "a-long-password"}),
            None,
        )
        .await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_wrong_password_costs_the_same_for_known_and_unknown_accounts() {
    let (_up, g) = start_with(|o| {
        o.extra = "rate_limits: { login: { per_minute: 1000, burst: 1000 }, account: { free_failures: 100 } }".into();
    })
    .await;
    login(&g, "warm@example.test", "x-password-1").await;
    // Interleaved, alternating which goes first, so a busy machine weighs on both alike.
    let mut times = [Vec::new(), Vec::new()];
    for round in 0..15 {
        for k in [round % 2, 1 - round % 2] {
            let email = [ADMIN_EMAIL, "nobody@example.test"][k];
            let t = Instant::now();
            assert_eq!(login(&g, email, "wrong-password-1").await.status(), 400);
            times[k].push(t.elapsed());
        }
    }
    let median: Vec<f64> = times
        .iter_mut()
        .map(|t| {
            t.sort();
            t[t.len() / 2].as_secs_f64()
        })
        .collect();
    // Both run one full argon2 verification (a dummy hash for unknown users); a missing hash
    // would show as a factor of 10 or more. The bound is loose because the machine is shared.
    let ratio = median[0] / median[1];
    assert!(
        (0.33..3.0).contains(&ratio),
        "known {:.1} ms vs unknown {:.1} ms",
        median[0] * 1e3,
        median[1] * 1e3
    );
}
