//! Pairwise subjects (OpenID Connect Core §8.1) end to end: one user is a different `sub` to
//! clients of different sectors, the same `sub` to clients of one sector (its redirect host,
//! or a `sector_identifier` shared on purpose), never the user's row id — and each client
//! meets its one `sub` everywhere: ID token, refreshed ID token (§12.2), userinfo (§5.3.2),
//! introspection (RFC 7662 §2.2) and the back-channel logout token (Back-Channel Logout §2.4).

use crate::harness::*;
use crate::op::*;

const SECRET: &str = "subject-client-secret-0123456789";

fn clients(bcl: &str) -> String {
    let client = |id: &str, redirects: &str, more: &str| {
        format!(
            "    {id}:\n      secret: \"{SECRET}\"\n      redirect_uris: [{redirects}]\n      grant_types: [authorization_code, refresh_token]\n      scopes: [openid, email]\n{more}"
        )
    };
    [
        client("pa", "\"https://a.test/cb\"", &format!("      subject: pairwise\n      backchannel_logout_uri: \"{bcl}\"\n")),
        // The same host: the same sector.
        client("pa2", "\"https://a.test/second\"", "      subject: pairwise\n"),
        client("pb", "\"https://b.test/cb\"", "      subject: pairwise\n"),
        // Two hosts of its own, put in a.test's sector by its operator.
        client("pc", "\"https://c1.test/cb\", \"https://c2.test/cb\"", "      subject: pairwise\n      sector_identifier: a.test\n"),
        client("plain", "\"https://d.test/cb\"", ""),
    ]
    .concat()
}

/// Tokens for `client` through the signed-in browser `b`.
async fn tokens(g: &Gateway, b: &mut Browser, client: &str, redirect: &str, email: &str, password: &str) -> serde_json::Value {
    let landed = b.authorize(g, &authorize_url(g, client, redirect, &[]), email, password).await.away();
    let code = param(&landed, "code").unwrap_or_else(|| panic!("no code: {landed}"));
    let (s, t) = token(
        g,
        Some((client, SECRET)),
        &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", redirect), ("code_verifier", VERIFIER)],
    )
    .await;
    assert_eq!(s, 200, "{client}: {t}");
    t
}

fn sub_of(t: &serde_json::Value) -> String {
    payload(t["id_token"].as_str().unwrap())["sub"].as_str().unwrap().to_string()
}

async fn userinfo_sub(g: &Gateway, access: &str) -> String {
    let r = reqwest::Client::new().get(format!("{}/oidc/userinfo", issuer(g))).bearer_auth(access).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.json::<serde_json::Value>().await.unwrap()["sub"].as_str().unwrap().to_string()
}

async fn introspected_sub(g: &Gateway, client: &str, token: &str) -> String {
    let v = introspect(g, (client, SECRET), token).await;
    assert_eq!(v["active"], true, "{v}");
    v["sub"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pairwise_subjects_differ_by_sector_and_hold_in_every_token_and_answer() {
    let bcl = Receiver::start().await;
    let (_up, g) = provider(&clients(&bcl.url), "").await;
    let admin = g.admin_token().await;

    let mut b = Browser::default();
    let pa = tokens(&g, &mut b, "pa", "https://a.test/cb", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let pa2 = tokens(&g, &mut b, "pa2", "https://a.test/second", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let pb = tokens(&g, &mut b, "pb", "https://b.test/cb", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let pc = tokens(&g, &mut b, "pc", "https://c1.test/cb", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let plain = tokens(&g, &mut b, "plain", "https://d.test/cb", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let (a, b_sub) = (sub_of(&pa), sub_of(&pb));

    // §8: the public subject is the user's id; a pairwise one is not it, nor any number.
    let user_id = sub_of(&plain);
    assert!(user_id.chars().all(|c| c.is_ascii_digit()), "{user_id}");
    for s in [&a, &b_sub] {
        assert!(s.len() >= 32 && !s.chars().all(|c| c.is_ascii_digit()), "{s}");
    }
    // §8.1: one sector, one subject; another sector, another.
    assert_ne!(a, b_sub, "different sectors see different subjects");
    assert_eq!(sub_of(&pa2), a, "the same redirect host is the same sector");
    assert_eq!(sub_of(&pc), a, "sector_identifier puts a client in that sector");

    // The same subject wherever the client meets it.
    assert_eq!(userinfo_sub(&g, pa["access_token"].as_str().unwrap()).await, a, "§5.3.2");
    assert_eq!(payload(pa["access_token"].as_str().unwrap())["sub"], a, "RFC 9068 §2.2");
    assert_eq!(introspected_sub(&g, "pa", pa["access_token"].as_str().unwrap()).await, a);
    assert_eq!(introspected_sub(&g, "pa", pa["refresh_token"].as_str().unwrap()).await, a);
    let (s, refreshed) = token(&g, Some(("pa", SECRET)), &[("grant_type", "refresh_token"), ("refresh_token", pa["refresh_token"].as_str().unwrap())]).await;
    assert_eq!(s, 200, "{refreshed}");
    assert_eq!(sub_of(&refreshed), a, "§12.2: a refreshed ID token names the same subject");

    // A second user: another subject at the same client.
    let id = g.create_user(&admin, "second@example.test", "user", "second-password-123").await;
    let mut other = Browser::default();
    let second = tokens(&g, &mut other, "pa", "https://a.test/cb", "second@example.test", "second-password-123").await;
    assert_ne!(sub_of(&second), a);
    let second_plain = tokens(&g, &mut other, "plain", "https://d.test/cb", "second@example.test", "second-password-123").await;
    assert_eq!(sub_of(&second_plain), id.to_string());

    // Back-Channel Logout §2.4: the logout token's sub is the client's pairwise one.
    let before = bcl.received().len();
    assert_eq!(g.post("/api/logout", Some(&b.cookies["portcullis_session"])).await.status(), 200);
    let got = bcl.wait_for(before + 1).await;
    let logout = payload(got.last().unwrap());
    assert_eq!(logout["aud"], "pa");
    assert_eq!(logout["sub"], a);
    assert_eq!(logout["sid"], payload(pa["id_token"].as_str().unwrap())["sid"]);
}
