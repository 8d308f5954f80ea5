//! Running the OpenID provider: rotating its signing key from the CLI, the token endpoint's
//! rate limits, `offline_access`, and the apps a user (or an admin) can see and revoke.

use crate::harness::*;
use crate::op::*;
use serde_json::json;
use std::time::Duration;

const SECRET: &str = "ops-client-secret-0123456789";

fn clients(bcl: &str) -> String {
    format!(
        "    app:\n      name: The App\n      secret: \"{SECRET}\"\n      redirect_uris: [\"https://app.test/cb\"]\n      backchannel_logout_uri: \"{bcl}\"\n      grant_types: [authorization_code, refresh_token, client_credentials]\n      service_account: robot@example.test\n      scopes: [openid, profile, email, offline_access]\n      consent: {{ remember: \"30 days\" }}\n\
         \x20   other:\n      secret: \"{SECRET}\"\n      redirect_uris: [\"https://other.test/cb\"]\n"
    )
}

async fn jwks_kids(g: &Gateway) -> Vec<String> {
    let j: serde_json::Value = reqwest::get(format!("{}/oidc/jwks", issuer(g))).await.unwrap().json().await.unwrap();
    j["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_string()).collect()
}

fn kid(jwt: &str) -> String {
    use base64::Engine;
    let head = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(jwt.split('.').next().unwrap()).unwrap();
    serde_json::from_slice::<serde_json::Value>(&head).unwrap()["kid"].as_str().unwrap().to_string()
}

async fn machine_token(g: &Gateway) -> String {
    let (s, t) = token(g, Some(("app", SECRET)), &[("grant_type", "client_credentials")]).await;
    assert_eq!(s, 200, "{t}");
    t["access_token"].as_str().unwrap().to_string()
}

async fn until<F: std::future::Future<Output = bool>>(what: &str, mut f: impl FnMut() -> F) {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !f().await {
        assert!(std::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `portcullis oidc rotate-key`: the running gateway signs with the new key within a second
/// or two and keeps publishing the old one while a token it signed may live (RFC 7517 §4.5,
/// Core §10.1.1: a verifier finds every live token's key in the JWKS).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_signs_at_once_and_the_old_one_stays_published_while_its_tokens_live() {
    let (_up, g) = provider(&clients("http://127.0.0.1:9/none"), "").await;
    let admin = g.admin_token().await;
    g.create_user(&admin, "robot@example.test", "user", "robot-password-123").await;
    let first = jwks_kids(&g).await;
    assert_eq!(first.len(), 1);
    let old = machine_token(&g).await;
    assert_eq!(kid(&old), first[0]);
    let rotate = || {
        let out = std::process::Command::new(bin())
            .args(["oidc", "rotate-key", "--config"])
            .arg(&g.config)
            .envs(g.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let said = rotate();
    assert!(said.contains("signing with RS256 key"), "{said}");
    until("the gateway picks up the new key", || async { jwks_kids(&g).await.len() == 2 }).await;
    let kids = jwks_kids(&g).await;
    let new = machine_token(&g).await;
    assert_ne!(kid(&new), first[0], "new tokens are signed with the new key");
    assert_eq!(kids[0], kid(&new), "the new key first");
    assert!(kids.contains(&first[0]), "the old key is still published");
    assert_eq!(introspect(&g, ("app", SECRET), &old).await["active"], true, "a token of the old key still holds");
    // Once every token of a key has expired (10 min on the gateway's clock), the next reading
    // of the directory leaves it out of the JWKS.
    g.advance_clock(Duration::from_secs(601)).await;
    rotate();
    until("the expired key leaves the JWKS", || async {
        let k = jwks_kids(&g).await;
        !k.contains(&first[0]) && !k.contains(&kids[0])
    })
    .await;
    assert_eq!(jwks_kids(&g).await[0], kid(&machine_token(&g).await));
    // Without the provider on, the command says so.
    let out = std::process::Command::new(bin()).args(["oidc", "rotate-key", "--config", "/nonexistent.yaml"]).output().unwrap();
    assert!(!out.status.success());
}

/// RFC 6749 §10.10 / RFC 9700 §4.12 (credential guessing): the token endpoint is limited per
/// address and per client before any credential is checked; 429 with Retry-After.
#[tokio::test]
async fn the_token_endpoint_is_rate_limited_per_address_and_per_client() {
    let limits = "rate_limits:\n  oidc_token: { per_minute: 60, burst: 4 }\n  oidc_client: { per_minute: 60, burst: 1000 }\n";
    let (_up, g) = provider(&clients("http://127.0.0.1:9/none"), limits).await;
    let wrong = Some(("app", "wrong-secret-0123456789"));
    for _ in 0..4 {
        let (s, _) = token(&g, wrong, &[("grant_type", "client_credentials")]).await;
        assert_eq!(s, 401);
    }
    let r = reqwest::Client::new()
        .post(format!("{}/oidc/token", issuer(&g)))
        .basic_auth("app", Some(SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429, "the address is over its limit, whatever it presents");
    assert!(r.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["error"], "slow_down");
    assert!(g.metrics().await.contains("portcullis_ratelimit_rejections_total{limit=\"oidc_token\"} 1"));

    // Per client: one client's flood does not stop another's.
    let limits = "rate_limits:\n  oidc_token: { per_minute: 60, burst: 1000 }\n  oidc_client: { per_minute: 60, burst: 3 }\n";
    let (_up, g) = provider(&clients("http://127.0.0.1:9/none"), limits).await;
    for _ in 0..3 {
        assert_eq!(token(&g, wrong, &[("grant_type", "client_credentials")]).await.0, 401);
    }
    assert_eq!(token(&g, Some(("app", SECRET)), &[("grant_type", "client_credentials")]).await.0, 429);
    let (s, e) = token(&g, Some(("other", SECRET)), &[("grant_type", "client_credentials")]).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("unauthorized_client")), "another client is not limited");
    // Made-up client ids are not counted per client (no table to fill), only per address.
    for i in 0..5 {
        assert_eq!(token(&g, Some((&format!("nobody-{i}"), SECRET)), &[("grant_type", "client_credentials")]).await.0, 401);
    }
}

/// Core §11: `offline_access` is granted with consent (check-config refuses it on an
/// implicit-consent client), and its
/// refresh token outlives the browser's logout, never a deactivation. Back-Channel Logout
/// §2.7: the app is told either way. The account page lists the app and revokes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_access_outlives_a_logout_and_the_account_page_revokes_an_app() {
    let bcl = Receiver::start().await;
    let (_up, g) = provider(&clients(&bcl.url), "").await;
    let admin = g.admin_token().await;
    let uid = g.create_user(&admin, "ann@example.test", "user", "ann-password-123").await;
    let base = issuer(&g);
    let mut b = Browser::default();
    let url = authorize_url(&g, "app", "https://app.test/cb", &[]).replace("scope=openid+profile+email", "scope=openid+email+offline_access");
    let page = match b.authorize(&g, &url, "ann@example.test", "ann-password-123").await {
        Landed::Page(200, p) => p,
        other => panic!("offline_access without consent: {other:?}"),
    };
    assert!(page.contains("asks for access"), "{page}");
    let code = param(&b.consent(&g, &page, "allow").await.away(), "code").unwrap();
    let form = [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", "https://app.test/cb"), ("code_verifier", VERIFIER)];
    let (s, t) = token(&g, Some(("app", SECRET)), &form).await;
    assert_eq!(s, 200, "{t}");
    assert!(t["scope"].as_str().unwrap().contains("offline_access"), "{t}");
    // The account page shows the app by its name.
    let account = match b.visit(&base, &format!("{base}/account")).await {
        Landed::Page(200, p) => p,
        other => panic!("{other:?}"),
    };
    assert!(account.contains("Apps with access") && account.contains("The App"), "{account}");
    assert!(account.contains("also while you are signed out"));
    // The browser signs out: the app is told, the offline refresh token still works.
    assert_eq!(g.post("/api/logout", Some(&b.cookies["portcullis_session"])).await.status(), 200);
    bcl.wait_for(1).await;
    let (s, t) = token(&g, Some(("app", SECRET)), &[("grant_type", "refresh_token"), ("refresh_token", t["refresh_token"].as_str().unwrap())]).await;
    assert_eq!(s, 200, "offline access outlives the logout: {t}");
    // Signed in again (the consent is remembered): the grant is listed; revoking it on the account page ends its tokens.
    let mut b = Browser::default();
    let landed = b.authorize(&g, &url, "ann@example.test", "ann-password-123").await.away();
    let code = param(&landed, "code").unwrap();
    let form = [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", "https://app.test/cb"), ("code_verifier", VERIFIER)];
    let (_, online) = token(&g, Some(("app", SECRET)), &form).await;
    let account = match b.visit(&base, &format!("{base}/account")).await {
        Landed::Page(200, p) => p,
        other => panic!("{other:?}"),
    };
    // The grant of the latest tokens (RFC 9068 access tokens name it as `gid`): both grants
    // may carry the same second, so the page's order alone does not tell them apart.
    let grant = payload(online["access_token"].as_str().unwrap())["gid"].as_str().unwrap().to_string();
    assert!(account.contains(&format!("name=\"id\" value=\"{grant}\"")), "{account}");
    let at = account.find("id=\"app-grants\"").expect("the apps list");
    let csrf = hidden(&account[at..], "csrf");
    let done = b.submit(&base, "/account/apps/revoke", &[("csrf", &csrf), ("id", &grant)]).await;
    assert!(matches!(&done, Landed::Page(200, p) if p.contains("no longer has access")), "{done:?}");
    assert_eq!(introspect(&g, ("app", SECRET), online["access_token"].as_str().unwrap()).await["active"], false, "revoked at once");
    bcl.wait_for(2).await;
    // Someone else's grant id is not found.
    let r = b.submit(&base, "/account/apps/revoke", &[("csrf", &csrf), ("id", &grant)]).await;
    assert!(matches!(r, Landed::Page(404, _)), "{r:?}");
    // The admin sees the offline grant on the console's apps page; deactivation ends it.
    let console = g.get("/account/admin/apps", Some(&admin)).await.text().await.unwrap();
    assert!(console.contains("ann@example.test") && console.contains("offline"), "{console}");
    let r = g.call(http::Method::PATCH, &format!("/api/nuxt-users/{uid}"), Some(&admin), Some(json!({"active": false}))).await;
    assert_eq!(r.status(), 200);
    let (s, _) = token(&g, Some(("app", SECRET)), &[("grant_type", "refresh_token"), ("refresh_token", t["refresh_token"].as_str().unwrap())]).await;
    assert_eq!(s, 400, "never outlives a deactivation");
    let events = g.get("/api/auth/audit?type=oidc.consent.revoked&limit=50", Some(&admin)).await.text().await.unwrap();
    assert!(events.contains("oidc.consent.revoked"), "{events}");
}

/// `portcullis oidc hash-secret`: what it prints is a `secret_hash` the gateway accepts, again
/// and again (the match is remembered, so a resource server pays argon2 once), never for a
/// wrong secret; a secret shorter than check-config's floor is refused.
#[tokio::test]
async fn hash_secret_prints_a_secret_hash_the_gateway_accepts() {
    use std::io::Write;
    let hash = |input: &str| {
        let mut child = std::process::Command::new(bin())
            .args(["oidc", "hash-secret"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    let short = hash("too-short\n");
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("shorter than 16"), "{short:?}");
    let out = hash(&format!("{SECRET}\n"));
    assert!(out.status.success(), "{out:?}");
    let phc = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(phc.starts_with("$argon2id$"), "{phc}");
    assert!(!phc.contains(SECRET));
    let (_up, g) = provider(
        &format!("    hashed:\n      secret_hash: \"{phc}\"\n      grant_types: [client_credentials]\n      service_account: robot@example.test\n"),
        "",
    )
    .await;
    let admin = g.admin_token().await;
    g.create_user(&admin, "robot@example.test", "user", "robot-password-123").await;
    for _ in 0..3 {
        let (s, t) = token(&g, Some(("hashed", SECRET)), &[("grant_type", "client_credentials")]).await;
        assert_eq!(s, 200, "{t}");
    }
    let (s, t) = token(&g, Some(("hashed", "ops-client-secret-0123456780")), &[("grant_type", "client_credentials")]).await;
    assert_eq!((s, t["error"].as_str()), (401, Some("invalid_client")), "{t}");
}
