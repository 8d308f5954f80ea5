//! The OpenID provider against `openid-client` (an OpenID-certified relying party library,
//! its non-repudiation checks on), and the negative cases such a client never sends. Each
//! test names the section of the specification it holds the provider to.

use crate::harness::*;
use crate::op::*;
use serde_json::json;

const SECRET_BASIC: &str = "basic-client-secret-0123456789";

/// A confidential client (Basic, refresh, back-channel logout at `bcl`), a public one, and
/// one for client credentials.
fn clients(bcl: &str) -> String {
    format!(
        "    app:\n      secret: \"{SECRET_BASIC}\"\n      redirect_uris: [\"https://app.test/cb\"]\n      post_logout_redirect_uris: [\"https://app.test/bye\"]\n      backchannel_logout_uri: \"{bcl}\"\n      grant_types: [authorization_code, refresh_token]\n      scopes: [openid, profile, email, groups]\n\
             \x20   spa:\n      redirect_uris: [\"http://127.0.0.1/cb\"]\n      scopes: [openid, email]\n\
             \x20   other:\n      secret: \"other-client-secret-0123456789\"\n      redirect_uris: [\"https://other.test/cb\"]\n"
    )
}

/// OpenID Connect Core §3.1 with openid-client: discovery, code + PKCE, the ID token's
/// signature and claims, userinfo, refresh (rotated), introspection (RFC 7662), revocation
/// (RFC 7009), and an end-session URL (RP-Initiated Logout §2) that ends the session and,
/// by Back-Channel Logout §2.5, tells the app.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openid_client_signs_in_refreshes_introspects_revokes_and_logs_out() {
    let bcl = Receiver::start().await;
    let (_up, g) = provider(&clients(&bcl.url), "").await;
    let iss = issuer(&g);
    let base = json!({"issuer": iss, "client_id": "app", "secret": SECRET_BASIC, "auth": "client_secret_basic", "redirect_uri": "https://app.test/cb"});
    let Some(begun) = rp("begin", json!({"scope": "openid profile email groups"}).as_object().unwrap().iter().fold(base.clone(), |mut a, (k, v)| { a[k] = v.clone(); a })).await else {
        return;
    };
    let begun = begun.unwrap();
    let mut b = Browser::default();
    let callback = b.authorize(&g, begun["url"].as_str().unwrap(), ADMIN_EMAIL, ADMIN_PASSWORD).await.away();
    let mut finish = base.clone();
    for k in ["verifier", "state", "nonce"] {
        finish[k] = begun[k].clone();
    }
    finish["callback"] = callback.into();
    finish["introspect"] = true.into();
    finish["post_logout_redirect_uri"] = "https://app.test/bye".into();
    let done = rp("finish", finish).await.unwrap().unwrap_or_else(|e| panic!("{e}"));
    let c = &done["claims"];
    assert_eq!(c["iss"], iss);
    assert_eq!(c["aud"], "app");
    assert_eq!(c["email"], ADMIN_EMAIL);
    assert_eq!(c["amr"], json!(["pwd"]));
    assert!(c["sid"].is_string() && c["auth_time"].is_i64() && c["at_hash"].is_string(), "{c}");
    assert_eq!(done["userinfo"]["sub"], c["sub"]);
    assert_eq!(done["userinfo"]["email"], ADMIN_EMAIL);
    assert_eq!(done["rotated"], true, "the refresh token is rotated at each use");
    assert_eq!(done["introspection"]["active"], true);
    assert_eq!(done["introspection"]["client_id"], "app");

    // The old refresh token, replayed after the grace: its grant ends (RFC 9700 §4.14.2).
    let replay = |t: &str| json!({"issuer": iss, "client_id": "app", "secret": SECRET_BASIC, "auth": "client_secret_basic", "refresh_token": t});
    tokio::time::sleep(std::time::Duration::from_secs(11)).await;
    let e = rp("refresh", replay(done["old_refresh_token"].as_str().unwrap())).await.unwrap().unwrap_err();
    assert!(e.to_string().contains("invalid_grant"), "{e}");
    let token = json!({"issuer": iss, "client_id": "app", "secret": SECRET_BASIC, "auth": "client_secret_basic", "token": done["access_token"]});
    let gone = rp("introspect", token.clone()).await.unwrap().unwrap();
    assert_eq!(gone["active"], false, "a replay ends the grant's access tokens too");

    // A second sign-in, then RP-initiated logout with its hint: the session ends, the app
    // is told by the back channel.
    let begun = rp("begin", { let mut a = base.clone(); a["scope"] = "openid".into(); a }).await.unwrap().unwrap();
    let callback = b.visit(&iss, begun["url"].as_str().unwrap()).await.away();
    let mut finish = base.clone();
    for k in ["verifier", "state", "nonce"] {
        finish[k] = begun[k].clone();
    }
    finish["callback"] = callback.into();
    finish["post_logout_redirect_uri"] = "https://app.test/bye".into();
    let done = rp("finish", finish).await.unwrap().unwrap();
    let before = bcl.received().len();
    let out = b.visit(&iss, done["end_session"].as_str().unwrap()).await.away();
    assert_eq!(out, "https://app.test/bye?state=bye");
    let logouts = bcl.wait_for(before + 1).await;
    let logout = logouts.last().unwrap();
    let claims = payload(logout);
    assert_eq!(claims["aud"], "app");
    assert_eq!(claims["sid"], done["claims"]["sid"]);
    assert!(claims["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());
    assert!(claims.get("nonce").is_none(), "§2.4: a logout token has no nonce");
    let tok = json!({"issuer": iss, "client_id": "app", "secret": SECRET_BASIC, "auth": "client_secret_basic", "token": done["access_token"]});
    assert_eq!(rp("introspect", tok).await.unwrap().unwrap()["active"], false, "ended with the session");
    // The browser is signed out of the gateway too.
    let page = b.visit(&iss, &authorize_url(&g, "app", "https://app.test/cb", &[])).await;
    assert!(matches!(page, Landed::Page(200, ref p) if p.contains("name=\"password\"")), "{page:?}");
}

/// Signs `email` in to `app` through the browser and redeems the code: the browser (with
/// its gateway session) and the token response.
async fn app_tokens(g: &Gateway, email: &str, password: &str) -> (Browser, serde_json::Value) {
    let mut b = Browser::default();
    let landed = b.authorize(g, &authorize_url(g, "app", "https://app.test/cb", &[]), email, password).await.away();
    let code = param(&landed, "code").unwrap();
    let (s, t) = token(
        g,
        Some(("app", SECRET_BASIC)),
        &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", "https://app.test/cb"), ("code_verifier", VERIFIER)],
    )
    .await;
    assert_eq!(s, 200, "{t}");
    (b, t)
}

/// Back-Channel Logout 1.0 §2.5/§2.7: every way a session ends reaches the app, off the
/// request path; a client that does not answer 200 is tried again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_way_out_of_a_session_reaches_the_app_and_a_failed_logout_is_tried_again() {
    let bcl = Receiver::start().await;
    let (_up, g) = provider(&clients(&bcl.url), "").await;
    let session = |b: &Browser| b.cookies["portcullis_session"].clone();

    // A logout; the app answers 503 first, and is asked again.
    *bcl.status.lock().unwrap() = 503;
    let (b, t) = app_tokens(&g, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let sid = payload(t["id_token"].as_str().unwrap())["sid"].clone();
    assert_eq!(g.post("/api/logout", Some(&session(&b))).await.status(), 200);
    bcl.wait_for(1).await;
    *bcl.status.lock().unwrap() = 200;
    let got = bcl.wait_for(2).await;
    assert_eq!(payload(&got[1])["sid"], sid, "the same logout, again");
    let m = g.metrics().await;
    assert!(m.contains("portcullis_oidc_backchannel_logouts_total{outcome=\"retry\"} 1"), "{m}");
    assert!(m.contains("portcullis_oidc_backchannel_logouts_total{outcome=\"delivered\"} 1"), "{m}");

    // A user's logout-all, and an admin's deactivation.
    let admin = g.admin_token().await;
    let uid = g.create_user(&admin, "ann@example.test", "user", "ann-password-123").await;
    let (b, _) = app_tokens(&g, "ann@example.test", "ann-password-123").await;
    assert_eq!(g.post("/api/logout-all", Some(&session(&b))).await.status(), 200);
    bcl.wait_for(3).await;
    let (_b, t) = app_tokens(&g, "ann@example.test", "ann-password-123").await;
    let r = g
        .call(http::Method::PATCH, &format!("/api/nuxt-users/{uid}"), Some(&admin), Some(json!({"active": false})))
        .await;
    assert_eq!(r.status(), 200);
    let got = bcl.wait_for(4).await;
    assert_eq!(payload(&got[3])["sub"], uid.to_string());
    // The deactivated user's refresh token is refused at once.
    let (s, _) = token(&g, Some(("app", SECRET_BASIC)), &[("grant_type", "refresh_token"), ("refresh_token", t["refresh_token"].as_str().unwrap())]).await;
    assert_eq!(s, 400);
}

/// RFC 7523 §2.2 (private_key_jwt) and RFC 6749 §4.4 (client_credentials) with openid-client,
/// and a public client (`none`) whose code only PKCE binds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openid_client_with_private_key_jwt_client_credentials_and_a_public_client() {
    let Some(keys) = rp("keygen", json!({})).await else {
        return;
    };
    let keys = keys.unwrap();
    let jwks = json!({ "keys": [keys["public"]] });
    let clients = format!(
        "    jwt-app:\n      auth_method: private_key_jwt\n      jwks: {jwks}\n      redirect_uris: [\"https://jwt.test/cb\"]\n      grant_types: [authorization_code, client_credentials]\n      service_account: robot@example.test\n      scopes: [openid, email, groups]\n\
         \x20   spa:\n      redirect_uris: [\"http://127.0.0.1/cb\"]\n      scopes: [openid, email]\n"
    );
    let (_up, g) = provider(&clients, "").await;
    let admin = g.admin_token().await;
    g.create_user(&admin, "robot@example.test", "user", "robot-password-123").await;
    let iss = issuer(&g);
    let jwt = json!({"issuer": iss, "client_id": "jwt-app", "auth": "private_key_jwt", "private": keys["private"], "redirect_uri": "https://jwt.test/cb"});
    let mut b = Browser::default();
    let run = |client: serde_json::Value, scope: &'static str| {
        let g = &g;
        let iss = iss.clone();
        let mut b = b.clone();
        async move {
            let mut begin = client.clone();
            begin["scope"] = scope.into();
            let begun = rp("begin", begin).await.unwrap().unwrap();
            let callback = b.authorize(g, begun["url"].as_str().unwrap(), ADMIN_EMAIL, ADMIN_PASSWORD).await.away();
            let mut finish = client;
            for k in ["verifier", "state", "nonce"] {
                finish[k] = begun[k].clone();
            }
            finish["callback"] = callback.into();
            let _ = iss;
            rp("finish", finish).await.unwrap().unwrap_or_else(|e| panic!("{e}"))
        }
    };
    let done = run(jwt.clone(), "openid email").await;
    assert_eq!(done["claims"]["aud"], "jwt-app");
    assert_eq!(done["userinfo"]["email"], ADMIN_EMAIL);
    // client_credentials: a token naming the service account, no ID token (§4.4.3).
    let mut cc = jwt.clone();
    cc["scope"] = "email groups".into();
    let t = rp("credentials", cc).await.unwrap().unwrap_or_else(|e| panic!("{e}"));
    assert!(t["id_token"].is_null());
    assert_eq!(t["scope"], "email groups");
    let mut intro = jwt.clone();
    intro["token"] = t["access_token"].clone();
    let i = rp("introspect", intro).await.unwrap().unwrap();
    assert_eq!(i["active"], true);
    assert_eq!(i["client_id"], "jwt-app");
    // A public client: no secret, PKCE, a loopback redirect on any port (RFC 8252 §7.3).
    let spa = json!({"issuer": iss, "client_id": "spa", "auth": "none", "redirect_uri": "http://127.0.0.1:43117/cb"});
    let done = run(spa, "openid email").await;
    assert_eq!(done["claims"]["aud"], "spa");
    b.cookies.clear();
    // RFC 7523 §3: an assertion is used once (its jti); a second use is invalid_client.
    let signed = rp("assertion", json!({"private": keys["private"], "client_id": "jwt-app", "audience": format!("{iss}/oidc/token")})).await.unwrap().unwrap();
    let with = |assertion: &str| {
        reqwest::Client::new().post(format!("{iss}/oidc/token")).form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "jwt-app"),
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            ("client_assertion", assertion),
        ])
    };
    let a = signed["assertion"].as_str().unwrap();
    assert_eq!(with(a).send().await.unwrap().status(), 200, "the first use");
    let again = with(a).send().await.unwrap();
    assert_eq!(again.status(), 401, "the same jti again");
    assert_eq!(again.json::<serde_json::Value>().await.unwrap()["error"], "invalid_client");
    // RFC 6749 §2.3: a confidential client without its assertion.
    let r = reqwest::Client::new()
        .post(format!("{iss}/oidc/token"))
        .form(&[("grant_type", "client_credentials"), ("client_id", "jwt-app")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "a confidential client without its assertion");
}

/// Two instances on one PostgreSQL (RFC 6749 §4.1.2, Back-Channel Logout §2.7): a code
/// issued on A is redeemed on B; a logout on B ends A's introspection at once and sends one
/// back-channel logout, not one per instance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_codes_and_send_one_logout() {
    let Some(shared) = crate::pg::for_this_pass() else {
        return; // runs in the PostgreSQL pass (`gateway_pg`)
    };
    let bcl = Receiver::start().await;
    let up = Upstream::start().await;
    let keys = tempfile::tempdir().unwrap();
    let extra = format!(
        "oidc_provider:\n  enabled: true\n  issuer: \"http://id.test\"\n  key_dir: \"{}\"\n  clients:\n{}",
        keys.path().display(),
        clients(&bcl.url)
    );
    let (a, b) = crate::cluster::two_instances(&up, &shared.database("oidc_two"), &extra).await;
    let mut browser = Browser::default();
    let landed = browser.authorize(&a, &authorize_url(&a, "app", "https://app.test/cb", &[]), ADMIN_EMAIL, ADMIN_PASSWORD).await.away();
    let code = param(&landed, "code").unwrap();
    let (s, t) = token(&b, Some(("app", SECRET_BASIC)), &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", "https://app.test/cb"), ("code_verifier", VERIFIER)]).await;
    assert_eq!(s, 200, "redeemed on the other instance: {t}");
    let token = t["access_token"].as_str().unwrap();
    let app = ("app", SECRET_BASIC);
    assert_eq!(introspect(&a, app, token).await["active"], true);
    let session = browser.cookies["portcullis_session"].clone();
    assert_eq!(b.post("/api/logout", Some(&session)).await.status(), 200);
    assert_eq!(introspect(&a, app, token).await["active"], false, "A refuses at once: the grant ended in the shared store");
    bcl.wait_for(1).await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(bcl.received().len(), 1, "one logout, whichever instance sent it");
}
