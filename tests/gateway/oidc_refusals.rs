//! What a certified relying party never sends, sent to the OpenID provider: each refusal
//! names the section that requires it.

use crate::harness::*;
use crate::op::*;
use std::time::Duration;

const APP_SECRET: &str = "app-client-secret-0123456789";
const OTHER_SECRET: &str = "other-client-secret-0123456789";

fn clients(extra: &str) -> String {
    format!(
        "    app:\n      secret: \"{APP_SECRET}\"\n      redirect_uris: [\"https://app.test/cb\"]\n      grant_types: [authorization_code, refresh_token]\n\
         \x20   other:\n      secret: \"{OTHER_SECRET}\"\n      redirect_uris: [\"https://other.test/cb\"]\n\
         \x20   ops-only:\n      secret: \"{OTHER_SECRET}\"\n      redirect_uris: [\"https://ops.test/cb\"]\n      allow: [{{ groups: [ops] }}]\n\
         \x20   asks:\n      secret: \"{OTHER_SECRET}\"\n      redirect_uris: [\"https://asks.test/cb\"]\n      consent: explicit\n{extra}"
    )
}

/// A code for `client` through a signed-in browser.
async fn code(g: &Gateway, b: &mut Browser, client: &str, redirect: &str) -> String {
    let landed = b.authorize(g, &authorize_url(g, client, redirect, &[]), ADMIN_EMAIL, ADMIN_PASSWORD).await.away();
    param(&landed, "code").unwrap_or_else(|| panic!("no code: {landed}"))
}

async fn redeem(g: &Gateway, basic: (&str, &str), code: &str, redirect: &str, verifier: Option<&str>) -> (u16, serde_json::Value) {
    let mut form = vec![("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirect)];
    if let Some(v) = verifier {
        form.push(("code_verifier", v));
    }
    token(g, Some(basic), &form).await
}

#[tokio::test]
async fn codes_are_bound_to_their_client_redirect_and_pkce_verifier_and_work_once() {
    let (_up, g) = provider(&clients(""), "").await;
    let mut b = Browser::default();
    let app = ("app", APP_SECRET);
    // RFC 7636 §4.6: a wrong verifier, or none.
    let c = code(&g, &mut b, "app", "https://app.test/cb").await;
    let (s, e) = redeem(&g, app, &c, "https://app.test/cb", Some("x".repeat(43).as_str())).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")), "{e}");
    let c = code(&g, &mut b, "app", "https://app.test/cb").await;
    let (s, e) = redeem(&g, app, &c, "https://app.test/cb", None).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_request")), "{e}");
    // RFC 6749 §4.1.3: the redirect_uri of the authorization request, exactly.
    let c = code(&g, &mut b, "app", "https://app.test/cb").await;
    let (s, e) = redeem(&g, app, &c, "https://app.test/cb/", Some(VERIFIER)).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")), "{e}");
    // RFC 6749 §4.1.3: a code issued to another client.
    let c = code(&g, &mut b, "app", "https://app.test/cb").await;
    let (s, e) = redeem(&g, ("other", OTHER_SECRET), &c, "https://app.test/cb", Some(VERIFIER)).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")), "{e}");
    // RFC 6749 §4.1.2: used once; a second redemption revokes what the first issued.
    let c = code(&g, &mut b, "app", "https://app.test/cb").await;
    let (s, first) = redeem(&g, app, &c, "https://app.test/cb", Some(VERIFIER)).await;
    assert_eq!(s, 200, "{first}");
    let active = |t: serde_json::Value| {
        let g = &g;
        async move { introspect(g, ("app", APP_SECRET), t.as_str().unwrap()).await["active"].as_bool().unwrap() }
    };
    assert!(active(first["access_token"].clone()).await);
    let (s, e) = redeem(&g, app, &c, "https://app.test/cb", Some(VERIFIER)).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")), "{e}");
    assert!(!active(first["access_token"].clone()).await, "the first redemption's tokens are revoked");
    let (s, _) = token(&g, Some(app), &[("grant_type", "refresh_token"), ("refresh_token", first["refresh_token"].as_str().unwrap())]).await;
    assert_eq!(s, 400, "and its refresh token");
    // RFC 6749 §4.1.2: a code lives briefly (60 s here).
    let c = code(&g, &mut b, "app", "https://app.test/cb").await;
    g.advance_clock(Duration::from_secs(61)).await;
    let (s, e) = redeem(&g, app, &c, "https://app.test/cb", Some(VERIFIER)).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")), "{e}");
}

#[tokio::test]
async fn an_untrusted_client_or_redirect_uri_gets_a_page_never_a_redirect() {
    // RFC 6749 §4.1.2.1 and §10.15, RFC 9700 §4.1: exact matching, no open redirector.
    let (_up, g) = provider(&clients(""), "").await;
    let mut b = Browser::default();
    for (client, redirect) in [
        ("nobody", "https://app.test/cb"),
        ("app", "https://app.test/cb/"),
        ("app", "https://APP.test/cb"),
        ("app", "https://app.test/Cb"),
        ("app", "https://app.test/cb?extra=1"),
        ("app", "https://evil.test/cb"),
        ("app", "https://other.test/cb"),
    ] {
        match b.visit(&issuer(&g), &authorize_url(&g, client, redirect, &[])).await {
            Landed::Page(400, page) => assert!(page.contains("cannot be completed"), "{page}"),
            other => panic!("{client} {redirect}: {other:?}"),
        }
    }
    // RFC 6749 §3.1: a parameter twice.
    let twice = format!("{}&client_id=other", authorize_url(&g, "app", "https://app.test/cb", &[]));
    assert!(matches!(b.visit(&issuer(&g), &twice).await, Landed::Page(400, _)));
}

#[tokio::test]
async fn other_problems_go_back_to_the_client_with_an_error_state_and_iss() {
    let (_up, g) = provider(&clients(""), "").await;
    let mut b = Browser::default();
    let back = |landed: Landed| {
        let u = landed.away();
        assert!(u.starts_with("https://app.test/cb?"), "{u}");
        assert_eq!(param(&u, "state").as_deref(), Some("st-1"));
        param(&u, "error").unwrap()
    };
    // Core §3.1.2.6 / RFC 6749 §4.1.2.1.
    let url = authorize_url(&g, "app", "https://app.test/cb", &[("prompt", "none")]);
    assert_eq!(back(b.visit(&issuer(&g), &url).await), "login_required", "prompt=none without a session");
    let url = authorize_url(&g, "app", "https://app.test/cb", &[]).replace("response_type=code", "response_type=token");
    assert_eq!(back(b.visit(&issuer(&g), &url).await), "unsupported_response_type", "no implicit (RFC 9700 §2.1.2)");
    let url = authorize_url(&g, "app", "https://app.test/cb", &[]).replace("code_challenge_method=S256", "code_challenge_method=plain");
    assert_eq!(back(b.visit(&issuer(&g), &url).await), "invalid_request", "plain PKCE (RFC 9700 §2.1.1)");
    let url = authorize_url(&g, "app", "https://app.test/cb", &[]).replace(&format!("code_challenge={CHALLENGE}&"), "");
    assert_eq!(back(b.visit(&issuer(&g), &url).await), "invalid_request", "no PKCE");
    // A user the client's policy refuses: access_denied, not a code.
    b.authorize(&g, &authorize_url(&g, "app", "https://app.test/cb", &[]), ADMIN_EMAIL, ADMIN_PASSWORD).await.away();
    let u = b.visit(&issuer(&g), &authorize_url(&g, "ops-only", "https://ops.test/cb", &[])).await.away();
    assert_eq!(param(&u, "error").as_deref(), Some("access_denied"), "{u}");
    // Consent declined: access_denied; allowed: a code.
    let page = match b.visit(&issuer(&g), &authorize_url(&g, "asks", "https://asks.test/cb", &[])).await {
        Landed::Page(200, p) => p,
        other => panic!("{other:?}"),
    };
    assert!(page.contains("asks for access") && page.contains("See your email address"), "{page}");
    let u = b.consent(&g, &page, "deny").await.away();
    assert_eq!(param(&u, "error").as_deref(), Some("access_denied"), "{u}");
    let page = match b.visit(&issuer(&g), &authorize_url(&g, "asks", "https://asks.test/cb", &[])).await {
        Landed::Page(200, p) => p,
        other => panic!("{other:?}"),
    };
    let u = b.consent(&g, &page, "allow").await.away();
    assert!(param(&u, "code").is_some(), "{u}");
    // prompt=none where consent is needed: consent_required, no page.
    let url = authorize_url(&g, "asks", "https://asks.test/cb", &[("prompt", "none")]);
    let u = b.visit(&issuer(&g), &url).await.away();
    assert_eq!(param(&u, "error").as_deref(), Some("consent_required"), "{u}");
    // A changed continuation (its signature no longer holds) is refused at the gateway.
    let tampered = format!("{}&login_after=1&continue_sig=AAAA", authorize_url(&g, "app", "https://app.test/cb", &[]));
    assert!(matches!(b.visit(&issuer(&g), &tampered).await, Landed::Page(400, _)));
}

#[tokio::test]
async fn the_token_endpoint_refuses_bad_clients_and_grants_in_rfc_6749_s_words() {
    let (_up, mut g) = provider(&clients(""), "").await;
    // §5.2: a wrong secret is invalid_client, 401 with a Basic challenge.
    let r = reqwest::Client::new()
        .post(format!("{}/oidc/token", issuer(&g)))
        .basic_auth("app", Some("wrong-secret-0123456789"))
        .form(&[("grant_type", "authorization_code"), ("code", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"].to_str().unwrap().starts_with("Basic"));
    assert_eq!(r.headers()["cache-control"], "no-store");
    let (s, e) = token(&g, Some(("app", APP_SECRET)), &[("grant_type", "password"), ("username", "a"), ("password", "b")]).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("unsupported_grant_type")));
    let (s, e) = token(&g, Some(("app", APP_SECRET)), &[("grant_type", "refresh_token"), ("refresh_token", "made-up")]).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("invalid_grant")));
    let (s, e) = token(&g, Some(("other", OTHER_SECRET)), &[("grant_type", "client_credentials")]).await;
    assert_eq!((s, e["error"].as_str()), (400, Some("unauthorized_client")));
    // A revoked client secret (changed in the config, SIGHUP): refused from the reload on.
    let mut b = Browser::default();
    let c = code(&g, &mut b, "app", "https://app.test/cb").await;
    let mut o = Options::new(_up.addr);
    o.extra = format!(
        "oidc_provider:\n  enabled: true\n  clients:\n{}",
        clients("").replace(APP_SECRET, "the-new-app-secret-0123456789")
    );
    g.rewrite_config(&o);
    g.signal("HUP");
    g.wait_log("config reloaded").await;
    let (s, e) = redeem(&g, ("app", APP_SECRET), &c, "https://app.test/cb", Some(VERIFIER)).await;
    assert_eq!((s, e["error"].as_str()), (401, Some("invalid_client")), "{e}");
    let (s, e) = redeem(&g, ("app", "the-new-app-secret-0123456789"), &c, "https://app.test/cb", Some(VERIFIER)).await;
    assert_eq!(s, 200, "{e}");
    let _ = &mut g;
}

#[tokio::test]
async fn end_session_takes_only_hints_this_provider_signed() {
    // RP-Initiated Logout §2 and RFC 8725 §3.1: `alg: none`, and HS256 keyed with the public
    // key (algorithm confusion), are no hint; the redirect must be registered.
    let (_up, g) = provider(&clients("      post_logout_redirect_uris: [\"https://asks.test/bye\"]\n"), "").await;
    let mut b = Browser::default();
    let c = code(&g, &mut b, "app", "https://app.test/cb").await;
    let (_, t) = redeem(&g, ("app", APP_SECRET), &c, "https://app.test/cb", Some(VERIFIER)).await;
    let real = t["id_token"].as_str().unwrap().to_string();
    use base64::Engine;
    let b64 = |v: &serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let claims = payload(&real);
    let none = format!("{}.{}.", b64(&serde_json::json!({"alg": "none", "typ": "JWT"})), b64(&claims));
    let jwks: serde_json::Value = reqwest::get(format!("{}/oidc/jwks", issuer(&g))).await.unwrap().json().await.unwrap();
    let kid = jwks["keys"][0]["kid"].as_str().unwrap();
    let hs = jsonwebtoken::encode(
        &jsonwebtoken::Header { alg: jsonwebtoken::Algorithm::HS256, kid: Some(kid.into()), ..Default::default() },
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(jwks["keys"][0]["n"].as_str().unwrap().as_bytes()),
    )
    .unwrap();
    for (what, hint) in [("alg none", none), ("HS256 with the public key", hs)] {
        let url = format!("{}/oidc/end_session?id_token_hint={hint}", issuer(&g));
        assert!(matches!(b.visit(&issuer(&g), &url).await, Landed::Page(400, _)), "{what}");
    }
    let unregistered = format!("{}/oidc/end_session?id_token_hint={real}&post_logout_redirect_uri=https://evil.test/", issuer(&g));
    assert!(matches!(b.visit(&issuer(&g), &unregistered).await, Landed::Page(400, _)));
    // The real hint, expired or not, ends the session without asking.
    g.advance_clock(Duration::from_secs(3600)).await;
    let ok = format!("{}/oidc/end_session?id_token_hint={real}", issuer(&g));
    match b.visit(&issuer(&g), &ok).await {
        Landed::Page(200, p) => assert!(p.contains("You are signed out"), "{p}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn userinfo_refuses_what_is_not_a_live_access_token() {
    // RFC 6750 §3.1: 401 with a Bearer challenge naming the error.
    let (_up, g) = provider(&clients(""), "").await;
    for auth in [None, Some("Bearer made.up.token"), Some("Basic eDp5")] {
        let mut r = reqwest::Client::new().get(format!("{}/oidc/userinfo", issuer(&g)));
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        let r = r.send().await.unwrap();
        assert_eq!(r.status(), 401, "{auth:?}");
        assert!(r.headers()["www-authenticate"].to_str().unwrap().contains("invalid_token"));
    }
    // Our own session token is no access token of the provider (its typ and key differ).
    let session = g.admin_token().await;
    let r = reqwest::Client::new()
        .get(format!("{}/oidc/userinfo", issuer(&g)))
        .bearer_auth(&session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}
