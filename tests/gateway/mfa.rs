//! Second factors through the real gateway: TOTP enrolment and codes (computed here by an
//! RFC 6238 implementation of the test's own, over aws-lc-rs's HMAC-SHA1 — not the
//! gateway's totp-rs), replay and skew, recovery codes, the second step of every password
//! sign-in endpoint, step-up on a route with `mfa: true`, enrolment required for a role, and
//! an admin's reset. Passkeys are in `webdriver.rs` (a real browser's virtual authenticator).

use crate::harness::*;
use serde_json::{json, Value};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const PASSWORD: &str = "mfa-password-1";

/// RFC 4648 base32 (no padding), as authenticator apps read the secret.
pub fn base32_decode(s: &str) -> Vec<u8> {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut bits: u64 = 0;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes().filter(|c| *c != b'=') {
        let v = alphabet.iter().position(|a| *a == c).expect("base32") as u64;
        bits = (bits << 5) | v;
        n += 5;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    out
}

/// RFC 6238 TOTP (HMAC-SHA1, 30 s, 6 digits) at Unix time `t`.
pub fn totp(secret: &[u8], t: i64) -> String {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    let tag = aws_lc_rs::hmac::sign(&key, &((t / 30) as u64).to_be_bytes());
    let h = tag.as_ref();
    let o = (h[19] & 0xf) as usize;
    let bin = (u32::from_be_bytes([h[o], h[o + 1], h[o + 2], h[o + 3]]) & 0x7fff_ffff) % 1_000_000;
    format!("{bin:06}")
}

#[test]
fn the_tests_own_totp_meets_rfc_6238() {
    // Appendix B, SHA-1 rows (the last six digits of the eight shown there).
    let s = b"12345678901234567890";
    assert_eq!(totp(s, 59), "287082");
    assert_eq!(totp(s, 1111111109), "081804");
    assert_eq!(totp(s, 1234567890), "005924");
    assert_eq!(totp(s, 20000000000), "353130");
    assert_eq!(base32_decode("GEZDGNBVGY3TQOJQ"), b"1234567890");
}

/// The gateway's clock as the test moves it.
pub struct Clock {
    pub offset: i64,
}

impl Clock {
    pub fn now(&self) -> i64 {
        SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64 + self.offset
    }

    /// Next time step (a code is accepted once per step), and away from its edges so the
    /// gateway reads the same step as the test.
    pub async fn next_step(&mut self, g: &Gateway) {
        g.advance_clock(Duration::from_secs(30)).await;
        self.offset += 30;
        self.settle().await;
    }

    async fn settle(&self) {
        while self.now() % 30 > 26 {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// A user (made by the admin) with TOTP on: their id, secret and recovery codes.
pub async fn enrolled(g: &Gateway, clock: &mut Clock, email: &str, role: &str) -> (i64, Vec<u8>, Vec<String>) {
    let (id, secret, codes, _) = enrolled_with_session(g, clock, email, role).await;
    (id, secret, codes)
}

/// [`enrolled`], and a session the user signed in to with their password alone before.
async fn enrolled_with_session(
    g: &Gateway,
    clock: &mut Clock,
    email: &str,
    role: &str,
) -> (i64, Vec<u8>, Vec<String>, String) {
    let admin = g.admin_token().await;
    let id = g.create_user(&admin, email, role, PASSWORD).await;
    let token = g.login(email, PASSWORD, false).await;
    let r = g.post_json("/api/auth/mfa/totp/setup", json!({}), Some(&token)).await;
    assert_eq!(r.status(), 200);
    let setup: Value = r.json().await.unwrap();
    let secret = base32_decode(setup["secret"].as_str().unwrap());
    assert_eq!(secret.len(), 20, "160 bits");
    let url = setup["otpauthUrl"].as_str().unwrap();
    assert!(url.starts_with("otpauth://totp/Portcullis:"), "{url}");
    assert!(url.contains(setup["secret"].as_str().unwrap()), "{url}");
    assert!(setup["qrSvg"].as_str().unwrap().contains("<svg"), "an SVG QR code");
    // Not active until confirmed: signing in still asks for nothing.
    assert!(g.post_json("/api/login", json!({"email": email, "password": PASSWORD}), None).await.json::<Value>().await.unwrap().is_string());
    clock.settle().await;
    let wrong = format!("{:06}", (totp(&secret, clock.now()).parse::<u32>().unwrap() + 1) % 1_000_000);
    let r = g.post_json("/api/auth/mfa/totp/enable", json!({"code": wrong}), Some(&token)).await;
    assert_eq!(r.status(), 401, "a wrong first code");
    let r = g
        .post_json("/api/auth/mfa/totp/enable", json!({"code": totp(&secret, clock.now())}), Some(&token))
        .await;
    assert_eq!(r.status(), 200);
    let codes: Vec<String> = serde_json::from_value(r.json::<Value>().await.unwrap()["recoveryCodes"].clone()).unwrap();
    assert_eq!(codes.len(), 10);
    let r = g.get("/api/auth/mfa", Some(&token)).await;
    let st: Value = r.json().await.unwrap();
    assert_eq!(st["totp"], true);
    assert_eq!(st["recoveryCodesLeft"], 10);
    assert_eq!(st["passkeys"], json!([]));
    clock.next_step(g).await;
    (id, secret, codes, token)
}

pub async fn challenge(g: &Gateway, path: &str, email: &str) -> Value {
    let r = g.post_json(path, json!({"email": email, "password": PASSWORD}), None).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("set-cookie").is_none(), "no session before the second step");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["mfaRequired"], true, "{v}");
    assert!(v["mfaToken"].as_str().unwrap().len() >= 32, "{v}");
    v
}

#[tokio::test]
async fn every_password_sign_in_asks_for_the_code_and_then_answers_as_itself() {
    let (up, g) = start().await;
    let mut clock = Clock { offset: 0 };
    let email = "totp@example.com";
    let (_, secret, _) = enrolled(&g, &mut clock, email, "user").await;

    // Pruvious: the token string, after the code.
    let c = challenge(&g, "/api/login", email).await;
    assert_eq!(c["methods"], json!(["totp", "recovery"]));
    let token = c["mfaToken"].as_str().unwrap();
    let code = totp(&secret, clock.now());
    let r = g.post_json("/api/auth/mfa/verify", json!({"mfaToken": token, "code": code}), None).await;
    assert_eq!(r.status(), 200);
    let jwt: String = r.json().await.unwrap();
    let r = g.get("/anything", Some(&jwt)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(up.last().headers["x-auth-amr"], "pwd,otp");
    // The mfaToken works once.
    let r = g.post_json("/api/auth/mfa/verify", json!({"mfaToken": token, "code": code}), None).await;
    assert_eq!(error_body(r, 401).await["statusCode"], 401);
    // The same code again (a new sign-in, same time step): a replay, refused.
    let c = challenge(&g, "/api/login", email).await;
    let r = g
        .post_json("/api/auth/mfa/verify", json!({"mfaToken": c["mfaToken"], "code": code}), None)
        .await;
    assert_eq!(r.status(), 401, "a replayed code");

    // Nuxt Users: {user} and the cookie.
    clock.next_step(&g).await;
    let c = challenge(&g, "/api/nuxt-users/session", email).await;
    let r = g
        .post_json("/api/auth/mfa/verify", json!({"mfaToken": c["mfaToken"], "code": totp(&secret, clock.now())}), None)
        .await;
    assert_eq!(r.status(), 200);
    let (cookie, _) = set_cookie(&r);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["user"]["email"], email);
    let r = g.client.get(g.url("/anything")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(r.status(), 200);

    // The Altogic tutorial's /api/auth/login: {user, session} and the cookie.
    clock.next_step(&g).await;
    let c = challenge(&g, "/api/auth/login", email).await;
    let r = g
        .post_json("/api/auth/mfa/verify", json!({"mfaToken": c["mfaToken"], "code": totp(&secret, clock.now())}), None)
        .await;
    assert_eq!(r.status(), 200);
    let _ = set_cookie(&r);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["user"]["email"], email);
    assert!(v["session"]["token"].is_string(), "{v}");

    // Bad input: the JSON error shape, never a session.
    let c = challenge(&g, "/api/login", email).await;
    for (body, status) in [
        (json!({"mfaToken": c["mfaToken"], "code": "12345"}), 400),
        (json!({"mfaToken": c["mfaToken"], "code": "abcdef"}), 400),
        (json!({"mfaToken": c["mfaToken"]}), 400),
        (json!({"mfaToken": c["mfaToken"], "code": "123456", "recoveryCode": "x"}), 400),
        (json!({"mfaToken": "not-a-token", "code": "123456"}), 401),
        (json!({"mfaToken": 7, "code": "123456"}), 400),
        (json!({"code": "123456"}), 400),
    ] {
        let r = g.post_json("/api/auth/mfa/verify", body.clone(), None).await;
        let e = error_body(r, status).await;
        assert!(e["message"].is_string(), "{body}: {e}");
    }
}

#[tokio::test]
async fn codes_are_accepted_one_step_either_side_and_expired_tokens_die() {
    let (_up, g) = start().await;
    let mut clock = Clock { offset: 0 };
    let email = "skew@example.com";
    let (_, secret, _) = enrolled(&g, &mut clock, email, "user").await;
    let verify = |token: Value, code: String| {
        let g = &g;
        async move {
            g.post_json("/api/auth/mfa/verify", json!({"mfaToken": token, "code": code}), None)
                .await
                .status()
        }
    };
    // Two steps behind: refused. One step behind: accepted (a slow phone). (The step before
    // this one was used by the enabling code: a step further on first.)
    clock.next_step(&g).await;
    let c = challenge(&g, "/api/login", email).await;
    assert_eq!(verify(c["mfaToken"].clone(), totp(&secret, clock.now() - 60)).await, 401);
    assert_eq!(verify(c["mfaToken"].clone(), totp(&secret, clock.now() - 30)).await, 200);
    // One step ahead is accepted too; an older step after a newer one is not (each step once).
    clock.next_step(&g).await;
    let c = challenge(&g, "/api/login", email).await;
    assert_eq!(verify(c["mfaToken"].clone(), totp(&secret, clock.now() + 30)).await, 200);
    let c = challenge(&g, "/api/login", email).await;
    assert_eq!(verify(c["mfaToken"].clone(), totp(&secret, clock.now())).await, 401, "older than the last accepted");
    // An mfaToken lives five minutes.
    clock.next_step(&g).await;
    clock.next_step(&g).await;
    let c = challenge(&g, "/api/login", email).await;
    g.advance_clock(Duration::from_secs(301)).await;
    clock.offset += 301;
    clock.settle().await;
    assert_eq!(verify(c["mfaToken"].clone(), totp(&secret, clock.now())).await, 401);
}

#[tokio::test]
async fn wrong_codes_back_off_per_user_across_new_tokens_and_right_passwords() {
    let (_up, g) = start().await;
    let mut clock = Clock { offset: 0 };
    let email = "guess@example.com";
    let (_, secret, _) = enrolled(&g, &mut clock, email, "user").await;
    let right = totp(&secret, clock.now());
    let wrong = |i: u32| format!("{:06}", (right.parse::<u32>().unwrap() + 1 + i) % 1_000_000);
    // Every sign-in step (a right password: slow, it hashes) is taken while no wait is due,
    // and the codes then follow one another at once: the first wait is one second, which a
    // loaded machine may spend on a single password check. A refusal is answered after a
    // one-second pause (`proxy::control::REFUSAL_PAUSE`), so the attempt after it is admitted
    // (and fails: a two-second wait), and the right code straight after that waits.
    let tokens = |n: usize| {
        let g = &g;
        async move {
            let mut out = Vec::new();
            for _ in 0..n {
                out.push(challenge(g, "/api/login", email).await["mfaToken"].clone());
            }
            out
        }
    };
    let verify = |token: Value, code: String| {
        let g = &g;
        async move {
            let r = g.post_json("/api/auth/mfa/verify", json!({"mfaToken": token, "code": code}), None).await;
            (r.status().as_u16(), r.headers().contains_key("retry-after"))
        }
    };
    let mut statuses = Vec::new();
    for (i, t) in tokens(3).await.into_iter().enumerate() {
        statuses.push(verify(t, wrong(i as u32)).await.0);
    }
    // Fresh sign-ins (right passwords) after three failures: they reset nothing.
    let mut more = tokens(5).await.into_iter();
    for i in 3..7 {
        statuses.push(verify(more.next().unwrap(), wrong(i)).await.0);
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429, 401], "backing off after five");
    let (status, retry_after) = verify(more.next().unwrap(), right).await;
    assert_eq!(status, 429, "even the right code waits");
    assert!(retry_after);
}

#[tokio::test]
async fn recovery_codes_work_once_are_counted_and_mailed() {
    let (_up, smtp, g) = gateway_with_mail("").await;
    let mut clock = Clock { offset: 0 };
    let email = "lost-phone@example.com";
    let (_, secret, codes) = enrolled(&g, &mut clock, email, "user").await;
    let c = challenge(&g, "/api/login", email).await;
    let r = g
        .post_json("/api/auth/mfa/verify", json!({"mfaToken": c["mfaToken"], "recoveryCode": codes[3].to_uppercase()}), None)
        .await;
    assert_eq!(r.status(), 200);
    let jwt: String = r.json().await.unwrap();
    let mail = smtp.nth(1).await;
    assert!(mail.subject().contains("recovery code"), "{}", mail.subject());
    assert!(!mail.text().contains(&codes[3]), "the code is not mailed back");
    let st: Value = g.get("/api/auth/mfa", Some(&jwt)).await.json().await.unwrap();
    assert_eq!(st["recoveryCodesLeft"], 9);
    let c = challenge(&g, "/api/login", email).await;
    let r = g
        .post_json("/api/auth/mfa/verify", json!({"mfaToken": c["mfaToken"], "recoveryCode": codes[3]}), None)
        .await;
    assert_eq!(r.status(), 401, "a used code");
    // A new set (proved with a TOTP code) kills the old one.
    let r = g
        .post_json("/api/auth/mfa/recovery-codes", json!({"code": totp(&secret, clock.now())}), Some(&jwt))
        .await;
    assert_eq!(r.status(), 200);
    let fresh: Vec<String> = serde_json::from_value(r.json::<Value>().await.unwrap()["recoveryCodes"].clone()).unwrap();
    assert_eq!(fresh.len(), 10);
    assert!(fresh.iter().all(|c| !codes.contains(c)));
    let c = challenge(&g, "/api/login", email).await;
    let r = g
        .post_json("/api/auth/mfa/verify", json!({"mfaToken": c["mfaToken"], "recoveryCode": codes[4]}), None)
        .await;
    assert_eq!(r.status(), 401, "the old set died");
    // Disabling TOTP (with a code) ends the second step and the codes.
    clock.next_step(&g).await;
    let r = g
        .post_json("/api/auth/mfa/totp/disable", json!({"code": totp(&secret, clock.now())}), Some(&jwt))
        .await;
    assert_eq!(r.status(), 200);
    assert!(g.post_json("/api/login", json!({"email": email, "password": PASSWORD}), None).await.json::<Value>().await.unwrap().is_string());
    let st: Value = g.get("/api/auth/mfa", Some(&jwt)).await.json().await.unwrap();
    assert_eq!(st, json!({"totp": false, "passkeys": [], "recoveryCodesLeft": 0}));
}

fn step_up_routes(o: &mut Options) {
    o.routes = r#"
  - { name: secure, path: "/secure/**", upstream: app, auth: { mfa: true } }
  - { name: ops, path: "/ops/**", upstream: app, auth: { roles: [admin], mfa: true } }
  - { name: app, path: "/**", upstream: app, auth: required }
"#
    .into();
}

#[tokio::test]
async fn a_route_with_mfa_true_steps_up_api_callers_and_browsers() {
    let (up, g) = start_with(step_up_routes).await;
    let mut clock = Clock { offset: 0 };
    let email = "stepup@example.com";
    let (_, secret, _) = enrolled(&g, &mut clock, email, "user").await;
    // A password-only session (made before TOTP was enabled is the same as one made by an
    // admin's tooling): the app route is fine, the secure one is not.
    let admin = g.admin_token().await;
    let r = g.get("/secure/x", Some(&admin)).await;
    assert_eq!(r.status(), 401);
    let www = r.headers()["www-authenticate"].to_str().unwrap().to_string();
    assert!(www.contains("error=\"insufficient_user_authentication\""), "{www}");
    let e = error_body(r, 401).await;
    assert!(e["message"].as_str().unwrap().contains("second factor"), "{e}");
    let seen = up.count();
    // A browser's page load goes to the second-step page and back.
    let r = no_redirects()
        .get(g.url("/secure/report?q=1"))
        .bearer_auth(&admin)
        .header("accept", "text/html")
        .header("sec-fetch-mode", "navigate")
        .header("sec-fetch-dest", "document")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers()["location"], "/login/mfa?returnTo=%2Fsecure%2Freport%3Fq%3D1");
    assert_eq!(up.count(), seen, "nothing reached the app");

    // The enrolled user steps up a password session with a code: a new session, the old ends.
    let pwd_session = {
        let c = challenge(&g, "/api/auth/login", email).await;
        let r = g
            .post_json("/api/auth/mfa/verify", json!({"mfaToken": c["mfaToken"], "code": totp(&secret, clock.now())}), None)
            .await;
        r.json::<Value>().await.unwrap()["session"]["token"].as_str().unwrap().to_string()
    };
    let r = g.get("/secure/x", Some(&pwd_session)).await;
    assert_eq!(r.status(), 200, "a sign-in with a code passes");
    assert_eq!(up.last().headers["x-auth-amr"], "pwd,otp");
    let r = g.get("/ops/x", Some(&pwd_session)).await;
    assert_eq!(r.status(), 403, "mfa does not stand in for the role");

    // Step-up of the admin's password session with the admin's own TOTP.
    let admin_secret = {
        let s: Value = g.post_json("/api/auth/mfa/totp/setup", json!({}), Some(&admin)).await.json().await.unwrap();
        base32_decode(s["secret"].as_str().unwrap())
    };
    clock.next_step(&g).await;
    let r = g
        .post_json("/api/auth/mfa/totp/enable", json!({"code": totp(&admin_secret, clock.now())}), Some(&admin))
        .await;
    assert_eq!(r.status(), 200);
    clock.next_step(&g).await;
    let r = g
        .post_json("/api/auth/mfa/verify", json!({"code": totp(&admin_secret, clock.now())}), Some(&admin))
        .await;
    assert_eq!(r.status(), 200);
    let stepped = r.json::<Value>().await.unwrap()["session"]["token"].as_str().unwrap().to_string();
    assert_eq!(g.get("/ops/x", Some(&stepped)).await.status(), 200);
    assert_eq!(up.last().headers["x-auth-amr"], "pwd,otp");
    assert_eq!(g.get("/anything", Some(&admin)).await.status(), 401, "the old session ended");
}

#[tokio::test]
async fn a_role_that_requires_mfa_enrols_at_sign_in_and_reaches_nothing_before() {
    let (up, g) = start_with(|o| o.extra = "mfa:\n  required_for_roles: [auditor]\n".into()).await;
    let admin = g.admin_token().await;
    let email = "auditor@example.com";
    g.create_user(&admin, email, "auditor", PASSWORD).await;
    let c = challenge(&g, "/api/login", email).await;
    assert_eq!(c["enrollRequired"], true);
    assert_eq!(c["methods"], json!([]));
    let token = c["mfaToken"].clone();
    let seen = up.count();
    // The token is no session: nothing behind the gateway takes it.
    assert_eq!(g.get("/anything", token.as_str()).await.status(), 401);
    assert_eq!(up.count(), seen);
    // It cannot verify (nothing enrolled) but it can enrol.
    let r = g.post_json("/api/auth/mfa/verify", json!({"mfaToken": token, "code": "123456"}), None).await;
    assert_eq!(r.status(), 400);
    let s: Value = g.post_json("/api/auth/mfa/totp/setup", json!({"mfaToken": token}), None).await.json().await.unwrap();
    let secret = base32_decode(s["secret"].as_str().unwrap());
    let clock = Clock { offset: 0 };
    clock.settle().await;
    let r = g
        .post_json("/api/auth/mfa/totp/enable", json!({"mfaToken": token, "code": totp(&secret, clock.now())}), None)
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["recoveryCodes"].as_array().unwrap().len(), 10);
    let jwt = v["token"].as_str().unwrap();
    assert_eq!(g.get("/anything", Some(jwt)).await.status(), 200);
    assert_eq!(up.last().headers["x-auth-amr"], "pwd,otp");
    // A second-step token cannot enrol another factor (only an enrolment token can).
    let c = challenge(&g, "/api/login", email).await;
    assert_eq!(c["methods"], json!(["totp", "recovery"]));
    let r = g.post_json("/api/auth/mfa/totp/setup", json!({"mfaToken": c["mfaToken"]}), None).await;
    assert_eq!(r.status(), 403);
    let r = g.post_json("/api/auth/webauthn/register/start", json!({"mfaToken": c["mfaToken"]}), None).await;
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn an_admin_reset_removes_every_factor_and_ends_sessions() {
    let (_up, g) = start().await;
    let mut clock = Clock { offset: 0 };
    let email = "reset@example.com";
    let (id, secret, _) = enrolled(&g, &mut clock, email, "user").await;
    let c = challenge(&g, "/api/login", email).await;
    let jwt: String = g
        .post_json("/api/auth/mfa/verify", json!({"mfaToken": c["mfaToken"], "code": totp(&secret, clock.now())}), None)
        .await
        .json()
        .await
        .unwrap();
    let admin = g.admin_token().await;
    // Not for a user to do to themselves, nor with a bad value.
    let r = g.call(http::Method::PATCH, &format!("/api/nuxt-users/{id}"), Some(&jwt), Some(json!({"mfa": "reset"}))).await;
    assert_eq!(r.status(), 403);
    let r = g.call(http::Method::PATCH, &format!("/api/nuxt-users/{id}"), Some(&admin), Some(json!({"mfa": "off"}))).await;
    assert_eq!(r.status(), 400);
    let r = g.call(http::Method::PATCH, &format!("/api/nuxt-users/{id}"), Some(&admin), Some(json!({"mfa": "reset"}))).await;
    assert_eq!(r.status(), 200);
    assert_eq!(g.get("/anything", Some(&jwt)).await.status(), 401, "their sessions ended");
    let r = g.post_json("/api/login", json!({"email": email, "password": PASSWORD}), None).await;
    assert!(r.json::<Value>().await.unwrap().is_string(), "no second step any more");
    let reset = crate::audit::all_events(&g, &admin, "&type=credential.totp.removed").await;
    assert_eq!(reset.len(), 1, "{reset:?}");
    assert_eq!(reset[0]["reason"], "reset", "{reset:?}");
    assert_eq!(reset[0]["actor"]["type"], "admin", "{reset:?}");

    // The CLI does the same, and the running gateway hears of the ended sessions (on SQLite
    // too: it polls recent revocations).
    let signed_in = g.login(email, PASSWORD, false).await;
    assert_eq!(g.get("/anything", Some(&signed_in)).await.status(), 200, "cached now");
    let (_, secret2, _) = {
        let token = g.login(email, PASSWORD, false).await;
        let s: Value = g.post_json("/api/auth/mfa/totp/setup", json!({}), Some(&token)).await.json().await.unwrap();
        let secret = base32_decode(s["secret"].as_str().unwrap());
        clock.next_step(&g).await;
        let r = g.post_json("/api/auth/mfa/totp/enable", json!({"code": totp(&secret, clock.now())}), Some(&token)).await;
        assert_eq!(r.status(), 200);
        (0, secret, ())
    };
    assert!(!secret2.is_empty());
    let _ = challenge(&g, "/api/login", email).await;
    let out = std::process::Command::new(bin())
        .args(["user", "reset-mfa", "--email", email, "--config"])
        .arg(g.dir.path().join("portcullis.yaml"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("removed every second factor"));
    crate::cluster::within(Duration::from_secs(2), "the CLI's revocation reaching the gateway", || async {
        g.get("/anything", Some(&signed_in)).await.status() == 401
    })
    .await;
    let r = g.post_json("/api/login", json!({"email": email, "password": PASSWORD}), None).await;
    assert!(r.json::<Value>().await.unwrap().is_string());
}

#[tokio::test]
async fn the_sign_in_page_asks_for_the_code_on_a_page_of_its_own() {
    let (_up, g) = start_with(step_up_routes).await;
    let mut clock = Clock { offset: 0 };
    let email = "page@example.com";
    let (_, secret, codes, pwd_only) = enrolled_with_session(&g, &mut clock, email, "user").await;
    let browser = no_redirects();
    // The CSRF cookie and token from the sign-in page.
    let r = browser.get(g.url("/login?returnTo=/secure/r")).send().await.unwrap();
    let (csrf_cookie, _) = set_cookie(&r);
    let html = r.text().await.unwrap();
    let csrf = field_value(&html, "csrf");
    let r = browser
        .post(g.url("/login"))
        .header("cookie", &csrf_cookie)
        .form(&[("csrf", csrf.as_str()), ("email", email), ("password", PASSWORD), ("returnTo", "/secure/r")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("set-cookie").is_none(), "no session yet");
    let csp = r.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.contains("script-src 'sha256-") && !csp.contains("unsafe-inline';  script"), "{csp}");
    let html = r.text().await.unwrap();
    assert!(html.contains("authenticator app") && html.contains("recovery code"), "{html}");
    let token = field_value(&html, "mfaToken");
    // A wrong code: the page again, with the same token.
    let post = |fields: Vec<(&'static str, String)>| {
        let browser = browser.clone();
        let cookie = csrf_cookie.clone();
        let url = g.url("/login/mfa");
        async move { browser.post(url).header("cookie", cookie).form(&fields).send().await.unwrap() }
    };
    let r = post(vec![("csrf", csrf.clone()), ("mfaToken", token.clone()), ("code", "000000".into()), ("returnTo", "/secure/r".into())]).await;
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("wrong"));
    let r = post(vec![("csrf", csrf.clone()), ("mfaToken", token.clone()), ("code", totp(&secret, clock.now())), ("returnTo", "/secure/r".into())]).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/secure/r");
    let (session, _) = set_cookie(&r);
    let r = browser.get(g.url("/secure/r")).header("cookie", &session).send().await.unwrap();
    assert_eq!(r.status(), 200);

    // Step-up on the page: the admin has no factor to prove (to the account page)...
    let admin = g.admin_token().await;
    let r = browser.get(g.url("/login/mfa?returnTo=/secure/r")).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers()["location"], "/account");
    // ...the user's password-only session (from before TOTP was on) proves a recovery code.
    let r = browser.get(g.url("/secure/r")).bearer_auth(&pwd_only).header("accept", "text/html").header("sec-fetch-mode", "navigate").header("sec-fetch-dest", "document").send().await.unwrap();
    assert_eq!(r.status(), 302);
    let r = browser.get(g.url("/login/mfa?returnTo=/secure/r")).bearer_auth(&pwd_only).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("Use a recovery code"), "{html}");
    let r = browser
        .post(g.url("/login/mfa"))
        .bearer_auth(&pwd_only)
        .header("cookie", &csrf_cookie)
        .form(&[("csrf", csrf.as_str()), ("mfaToken", ""), ("recoveryCode", codes[0].as_str()), ("returnTo", "/secure/r")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/secure/r");
    let (stepped, _) = set_cookie(&r);
    let r = browser.get(g.url("/secure/r")).header("cookie", &stepped).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(g.get("/anything", Some(&pwd_only)).await.status(), 401, "the session it replaced ended");
}

/// The value of a hidden form field in a page.
pub fn field_value(html: &str, name: &str) -> String {
    let at = html.find(&format!("name=\"{name}\" value=\"")).unwrap_or_else(|| panic!("{name} in {html}"));
    let rest = &html[at + name.len() + 15..];
    rest[..rest.find('"').unwrap()].to_string()
}

/// The QR code's key from an enrolment page.
fn page_secret(html: &str) -> Vec<u8> {
    let at = html.find("id=\"totp-secret\">").expect("the key on the page") + 17;
    base32_decode(&html[at..at + html[at..].find('<').unwrap()])
}

#[tokio::test]
async fn the_account_page_and_the_enrolment_page_turn_totp_on_and_show_codes_once() {
    let (_up, g) = start_with(|o| o.extra = "mfa:\n  required_for_roles: [auditor]\n".into()).await;
    let browser = no_redirects();
    let r = browser.get(g.url("/login")).send().await.unwrap();
    let (csrf_cookie, _) = set_cookie(&r);
    let csrf = field_value(&r.text().await.unwrap(), "csrf");
    let admin = g.admin_token().await;
    let clock = Clock { offset: 0 };

    // The account page: set up, scan (the key), confirm, codes with a download.
    g.create_user(&admin, "acct@example.com", "user", PASSWORD).await;
    let token = g.login("acct@example.com", PASSWORD, false).await;
    let post = |path: &str, token: &str, fields: Vec<(&'static str, String)>| {
        let r = browser
            .post(g.url(path))
            .bearer_auth(token)
            .header("cookie", &csrf_cookie)
            .form(&fields);
        async move { r.send().await.unwrap() }
    };
    let r = post("/account/mfa/totp", &token, vec![("csrf", csrf.clone())]).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("<svg"), "the QR code, as SVG");
    let secret = page_secret(&html);
    clock.settle().await;
    let r = post("/account/mfa/totp/enable", &token, vec![("csrf", csrf.clone()), ("code", totp(&secret, clock.now()))]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"download-codes\" download="), "{html}");
    assert_eq!(html.matches("<pre id=\"recovery-codes\"").count(), 1);
    let page = browser.get(g.url("/account")).bearer_auth(&token).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Authenticator app: <strong>on</strong>"), "{page}");
    assert!(page.contains("Recovery codes left: <strong>10</strong>"), "{page}");

    // A role that must enrol: the sign-in form leads to the enrolment page, then the codes
    // and the session.
    g.create_user(&admin, "must@example.com", "auditor", PASSWORD).await;
    let r = browser
        .post(g.url("/login"))
        .header("cookie", &csrf_cookie)
        .form(&[("csrf", csrf.as_str()), ("email", "must@example.com"), ("password", PASSWORD), ("returnTo", "/after")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("set-cookie").is_none());
    let html = r.text().await.unwrap();
    assert!(html.contains("needs a second factor"), "{html}");
    let secret = page_secret(&html);
    let token = field_value(&html, "mfaToken");
    let enrol = |code: String| {
        let r = browser
            .post(g.url("/login/mfa/enroll"))
            .header("cookie", &csrf_cookie)
            .form(&[("csrf", csrf.clone()), ("mfaToken", token.clone()), ("code", code), ("returnTo", "/after".into())]);
        async move { r.send().await.unwrap() }
    };
    let r = enrol("000000".into()).await;
    assert_eq!(r.status(), 400);
    assert_eq!(page_secret(&r.text().await.unwrap()), secret, "the same key after a wrong code");
    let r = enrol(totp(&secret, clock.now())).await;
    assert_eq!(r.status(), 200);
    let (session, _) = set_cookie(&r);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"continue\" href=\"&#x2f;after\""), "{html}");
    let r = browser.get(g.url("/after")).header("cookie", &session).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_magic_link_is_one_factor_a_user_with_totp_still_gives_the_code() {
    let (up, smtp, g) = gateway_with_mail("").await;
    let mut clock = Clock { offset: 0 };
    let email = "linked@example.com";
    let (_, secret, _) = enrolled(&g, &mut clock, email, "user").await;
    let token = magic_link_token(&g, &smtp, 1, email).await;
    let browser = no_redirects();
    let r = browser.get(g.url(&format!("/magic-link?token={token}"))).send().await.unwrap();
    let (csrf_cookie, _) = set_cookie(&r);
    let csrf = field_value(&r.text().await.unwrap(), "csrf");
    let seen = up.count();
    let r = browser
        .post(g.url("/magic-link"))
        .header("cookie", &csrf_cookie)
        .form(&[("csrf", csrf.as_str()), ("token", token.as_str()), ("returnTo", "/app/inbox")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the second-step page, not a session");
    assert!(r.headers().get("set-cookie").is_none());
    let html = r.text().await.unwrap();
    let mfa_token = field_value(&html, "mfaToken");
    assert_eq!(up.count(), seen);
    let r = browser
        .post(g.url("/login/mfa"))
        .header("cookie", &csrf_cookie)
        .form(&[
            ("csrf", csrf.clone()),
            ("mfaToken", mfa_token),
            ("code", totp(&secret, clock.now())),
            ("returnTo", "/app/inbox".into()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/app/inbox");
    let (session, _) = set_cookie(&r);
    let r = browser.get(g.url("/app/inbox")).header("cookie", &session).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(up.last().headers["x-auth-amr"], "otp,email");
}
