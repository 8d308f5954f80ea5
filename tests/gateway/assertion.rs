//! The signed identity assertion: verifiable by an app with nothing but the gateway's JWKS,
//! addressed to one upstream, never taken from a client, never a session token.

use crate::harness::*;
use jsonwebtoken::{jwk::JwkSet, Algorithm, DecodingKey, Validation};

fn verify(
    token: &str,
    jwks: &JwkSet,
    audience: &str,
    issuer: &str,
) -> Result<serde_json::Value, String> {
    let header = jsonwebtoken::decode_header(token).map_err(|e| e.to_string())?;
    let jwk = jwks
        .find(header.kid.as_deref().ok_or("no kid")?)
        .ok_or("kid not in the set")?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    let mut v = Validation::new(Algorithm::EdDSA);
    v.set_audience(&[audience]);
    v.set_issuer(&[issuer]);
    v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    jsonwebtoken::decode::<serde_json::Value>(token, &key, &v)
        .map(|d| d.claims)
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn an_app_verifies_the_assertion_with_the_jwks_and_only_for_its_own_audience() {
    let up = Upstream::start().await;
    let mut o = Options::new(up.addr);
    o.more_upstreams = format!(
        "  billing: {{ addrs: [\"{a}\"], assertion: true }}\n  ledger: {{ addrs: [\"{a}\"], assertion: true }}",
        a = up.addr
    );
    o.routes = "\n  - { path: \"/billing/**\", upstream: billing, auth: required }\n  - { path: \"/ledger/**\", upstream: ledger, auth: required }\n  - { path: \"/public/**\", upstream: billing, auth: none }\n  - { path: \"/**\", upstream: app, auth: required }\n".into();
    let g = Gateway::start(o).await;
    let t = g.admin_token().await;
    let issuer = g.base.replace("127.0.0.1", "localhost");

    let r = g.get("/.well-known/jwks.json", None).await;
    assert_eq!(r.status(), 200);
    let jwks: JwkSet = r.json().await.unwrap();

    let r = g
        .client
        .get(g.url("/billing/invoices"))
        .bearer_auth(&t)
        .header("X-Auth-Assertion", "forged-by-the-client")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let h = up.last().headers;
    assert_eq!(h.get_all("x-auth-assertion").iter().count(), 1);
    let assertion = h["x-auth-assertion"].to_str().unwrap().to_string();
    assert_ne!(assertion, "forged-by-the-client");
    let claims = verify(&assertion, &jwks, "billing", &issuer).unwrap();
    assert_eq!(claims["sub"], payload(&t)["sub"]);
    assert_eq!(claims["sid"], payload(&t)["sid"]);
    assert_eq!(claims["email"], ADMIN_EMAIL);
    assert_eq!(claims["role"], "admin");
    let life = claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap();
    assert!(life <= 60, "{life}");
    // Presented to another upstream (or with another issuer), it fails.
    assert!(verify(&assertion, &jwks, "ledger", &issuer).is_err());
    assert!(verify(&assertion, &jwks, "billing", "https://elsewhere").is_err());
    g.get("/ledger/x", Some(&t)).await;
    let ledger = up.last().headers["x-auth-assertion"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(verify(&ledger, &jwks, "ledger", &issuer).is_ok());
    assert!(verify(&ledger, &jwks, "billing", &issuer).is_err());

    // An upstream that did not ask gets none; an anonymous request gets none, and a client's
    // copy is dropped.
    g.get("/app/x", Some(&t)).await;
    assert!(up.last().headers.get("x-auth-assertion").is_none());
    let r = g
        .client
        .get(g.url("/public/x"))
        .header("X-Auth-Assertion", &assertion)
        .header("x_auth_assertion", &assertion)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let h = up.last().headers;
    assert!(h.get("x-auth-assertion").is_none() && h.get("x_auth_assertion").is_none());

    // An assertion is no session token.
    assert_eq!(g.get("/app/x", Some(&assertion)).await.status(), 401);
    let r = g
        .client
        .get(g.url("/app/x"))
        .header("cookie", format!("portcullis_session={assertion}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}
