//! Token attacks (RFC 8725): every forged, confused or malformed token is a 401 in bounded time
//! and never reaches the upstream. The attack tokens are minted here by hand — raw HMAC from
//! the `hmac` crate over JSON we write — not by the gateway's own signer, so a shared mistake
//! cannot hide.

use crate::harness::*;
use crate::{mail, oauth};
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use std::time::Duration;

fn b64(v: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v)
}

/// `header.claims.signature` with the signature made by `alg` (HS256/384/512) over `key`.
fn mint(header: &Value, claims: &Value, alg: &str, key: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let sig = match alg {
        "HS384" => {
            let mut m = Hmac::<sha2::Sha384>::new_from_slice(key).unwrap();
            m.update(input.as_bytes());
            m.finalize().into_bytes().to_vec()
        }
        "HS512" => {
            let mut m = Hmac::<sha2::Sha512>::new_from_slice(key).unwrap();
            m.update(input.as_bytes());
            m.finalize().into_bytes().to_vec()
        }
        _ => {
            let mut m = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
            m.update(input.as_bytes());
            m.finalize().into_bytes().to_vec()
        }
    };
    format!("{input}.{}", b64(&sig))
}

fn hs256(claims: &Value) -> String {
    mint(
        &json!({"alg": "HS256", "typ": "JWT"}),
        claims,
        "HS256",
        SECRET.as_bytes(),
    )
}

fn with(claims: &Value, key: &str, v: Value) -> Value {
    let mut c = claims.clone();
    c[key] = v;
    c
}

fn without(claims: &Value, key: &str) -> Value {
    let mut c = claims.clone();
    c.as_object_mut().unwrap().remove(key);
    c
}

/// Every case, each one a token that must not authenticate anyone.
fn attack_tokens(good: &str) -> Vec<(String, String)> {
    let c = payload(good);
    let now = c["iat"].as_u64().unwrap();
    let key = SECRET.as_bytes();
    let (h, p, s) = {
        let mut it = good.split('.');
        (
            it.next().unwrap().to_string(),
            it.next().unwrap().to_string(),
            it.next().unwrap().to_string(),
        )
    };
    let mut out: Vec<(String, String)> = Vec::new();
    let mut add = |what: &str, t: String| out.push((what.to_string(), t));

    // alg: none in its spellings, with no signature and with the real one kept.
    for alg in ["none", "None", "NONE", "nOnE", ""] {
        let head = b64(json!({"alg": alg, "typ": "JWT"}).to_string().as_bytes());
        add(&format!("alg {alg:?} unsigned"), format!("{head}.{p}."));
        add(
            &format!("alg {alg:?} old signature"),
            format!("{head}.{p}.{s}"),
        );
    }
    add(
        "no alg at all",
        mint(&json!({"typ": "JWT"}), &c, "HS256", key),
    );
    // Algorithms other than the configured one, correctly signed with the real secret.
    for alg in ["HS384", "HS512"] {
        add(
            &format!("{alg} with the real secret"),
            mint(&json!({"alg": alg, "typ": "JWT"}), &c, alg, key),
        );
    }
    for alg in ["RS256", "ES256", "EdDSA", "PS256"] {
        add(
            &format!("{alg} header over an HMAC signature"),
            mint(&json!({"alg": alg, "typ": "JWT"}), &c, "HS256", key),
        );
    }
    // Bit flips in each part, and a signature grafted from another valid token.
    for (i, part) in [&h, &p, &s].into_iter().enumerate() {
        let mut raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap();
        for pos in [0, raw.len() / 2, raw.len() - 1] {
            raw[pos] ^= 0x01;
            let flipped = b64(&raw);
            raw[pos] ^= 0x01;
            let t = match i {
                0 => format!("{flipped}.{p}.{s}"),
                1 => format!("{h}.{flipped}.{s}"),
                _ => format!("{h}.{p}.{flipped}"),
            };
            add(&format!("bit flip in part {i} at byte {pos}"), t);
        }
    }
    let other = hs256(&with(&c, "sub", json!("999999")));
    let other_sig = other.rsplit('.').next().unwrap();
    add("grafted signature", format!("{h}.{p}.{other_sig}"));
    let raised = b64(with(&c, "role", json!("superadmin")).to_string().as_bytes());
    add(
        "claims swapped under the old signature",
        format!("{h}.{raised}.{s}"),
    );

    // Time claims of the wrong type or out of range.
    for (what, k, v) in [
        ("exp as a string", "exp", json!((now + 3600).to_string())),
        ("exp as a float", "exp", json!((now + 3600) as f64 + 0.5)),
        ("exp negative", "exp", json!(-1)),
        ("exp past", "exp", json!(now - 3600)),
        ("exp beyond u64", "exp", json!(1e30)),
        ("exp null", "exp", Value::Null),
        ("nbf future", "nbf", json!(now + 3600)),
        ("nbf as a string", "nbf", json!(now.to_string())),
        ("iat future", "iat", json!(now + 86_400)),
        ("iat as a string", "iat", json!(now.to_string())),
        ("iat negative", "iat", json!(-5)),
    ] {
        add(what, hs256(&with(&c, k, v)));
    }
    add("exp missing", hs256(&without(&c, "exp")));
    // Identity claims missing, of the wrong type or wrong.
    for k in ["iss", "aud", "sub", "sid", "jti"] {
        add(&format!("{k} missing"), hs256(&without(&c, k)));
        add(&format!("{k} a number"), hs256(&with(&c, k, json!(1))));
        add(
            &format!("{k} an object"),
            hs256(&with(&c, k, json!({"a": 1}))),
        );
    }
    add("iss foreign", hs256(&with(&c, "iss", json!("evil"))));
    add("aud foreign", hs256(&with(&c, "aud", json!("another-app"))));
    add(
        "aud as a list",
        hs256(&with(&c, "aud", json!(["another-app"]))),
    );
    add("sub not a user id", hs256(&with(&c, "sub", json!("root"))));
    add("sub another user", hs256(&with(&c, "sub", json!("424242"))));
    add("sid malformed", hs256(&with(&c, "sid", json!("../../x"))));
    // Header fields that name or carry key material, or demand extensions: never ours, refused
    // even when the HMAC is correct.
    for (k, v) in [
        ("jku", json!("http://127.0.0.1:1/jwks.json")),
        ("x5u", json!("http://127.0.0.1:1/cert.pem")),
        ("jwk", json!({"kty": "oct", "k": b64(b"attacker-key")})),
        ("x5c", json!(["MIIB"])),
        ("crit", json!(["exp"])),
        ("kid", json!("../../../../dev/null")),
        ("kid", json!("' OR 1=1 --")),
        ("kid", json!("")),
        ("cty", json!("JWT")),
        ("typ", json!("at+jwt")),
        ("zip", json!("DEF")),
    ] {
        add(
            &format!("header {k}={v}"),
            mint(
                &json!({"alg": "HS256", "typ": "JWT", k: v}),
                &c,
                "HS256",
                key,
            ),
        );
    }
    // A key in the header, used to sign: the classic jwk injection.
    add(
        "jwk injection signed with the embedded key",
        mint(
            &json!({"alg": "HS256", "jwk": {"kty": "oct", "k": b64(b"attacker-key")}}),
            &c,
            "HS256",
            b"attacker-key",
        ),
    );
    // Framing.
    for (what, t) in [
        ("two parts", format!("{h}.{p}")),
        ("four parts", format!("{h}.{p}.{s}.{s}")),
        ("empty parts", "..".to_string()),
        ("padding", format!("{h}=.{p}=.{s}=")),
        // The standard alphabet (with a `+` or `/` forced in, so it differs from the real one).
        ("standard base64", format!("{h}.{p}.+/{}", &s[2..])),
        ("not base64", format!("{h}.{p}.!!!!")),
        ("header not JSON", format!("{}.{p}.{s}", b64(b"not json"))),
        ("header a JSON list", format!("{}.{p}.{s}", b64(b"[1,2]"))),
        ("claims not JSON", hs256_raw(&h, b"{\"sub\":")),
        (
            "claims nested deep",
            hs256_raw(&h, "[".repeat(10_000).as_bytes()),
        ),
        ("a lone dot", ".".to_string()),
        ("unicode", "ünïcödé.x.y".to_string()),
    ] {
        add(what, t);
    }
    // Large: padded claims, under any header limit but over the gateway's token size.
    add(
        "9 KiB of claims",
        hs256(&with(&c, "pad", json!("x".repeat(9 * 1024)))),
    );
    out
}

/// An HS256 token over arbitrary claim bytes.
fn hs256_raw(header_b64: &str, claims: &[u8]) -> String {
    let input = format!("{header_b64}.{}", b64(claims));
    let mut m = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    m.update(input.as_bytes());
    format!("{input}.{}", b64(&m.finalize().into_bytes()))
}

#[tokio::test]
async fn forged_and_malformed_tokens_are_401_in_bounded_time_by_header_and_cookie() {
    let (up, g) = start().await;
    let good = g.admin_token().await;
    // The hand-made signer is right: the same claims minted here pass.
    let remade = hs256(&payload(&good));
    assert_eq!(g.get("/app", Some(&remade)).await.status(), 200);
    let before = up.count();
    let attacks = attack_tokens(&good);
    assert!(attacks.len() > 80, "{}", attacks.len());
    for (what, token) in &attacks {
        let bearer = g
            .client
            .get(g.url("/app"))
            .header("Authorization", format!("Bearer {token}"));
        let cookie = g
            .client
            .get(g.url("/app"))
            .header("Cookie", format!("portcullis_session={token}"));
        for (how, req) in [("bearer", bearer), ("cookie", cookie)] {
            let r = tokio::time::timeout(Duration::from_secs(5), req.send())
                .await
                .unwrap_or_else(|_| panic!("{what} by {how}: no answer in 5 s"));
            let r = match r {
                Ok(r) => r,
                // A value no HTTP client would send (e.g. non-ASCII) is refused client-side.
                Err(e) if e.is_builder() => continue,
                Err(e) => panic!("{what} by {how}: {e}"),
            };
            assert_eq!(r.status(), 401, "{what} by {how}");
            error_body(r, 401).await;
        }
    }
    assert_eq!(up.count(), before, "no attack reached the upstream");
    assert!(!g.log().contains("panicked"), "{}", g.log());
    assert_eq!(g.get("/app", Some(&good)).await.status(), 200);
}

#[tokio::test]
async fn an_enormous_authorization_header_is_refused_without_reaching_the_upstream() {
    let (up, g) = start().await;
    let before = up.count();
    for size in [64 * 1024, 1024 * 1024] {
        let head = format!(
            "GET /app HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
            "a".repeat(size)
        );
        let answer = tokio::time::timeout(
            Duration::from_secs(5),
            raw_request(&g.base, head.as_bytes()),
        )
        .await
        .expect("answered in bounded time");
        let status = status_of(&answer);
        // Pingora refuses an oversized head outright (connection closed or 4xx); never 2xx/5xx.
        assert!(
            status == 0 || (400..500).contains(&status),
            "{size}: {answer}"
        );
    }
    assert_eq!(up.count(), before);
    assert_eq!(
        g.get("/public/x", None).await.status(),
        200,
        "still serving"
    );
}

/// Each kind of secret the gateway hands out works only for its own purpose.
#[tokio::test]
async fn a_secret_minted_for_one_purpose_is_refused_for_every_other() {
    use http::Method;
    use serde_json::json;
    let up = Upstream::start().await;
    let smtp = SmtpServer::start();
    let mut o = Options::new(up.addr);
    o.extra = format!("{}\n{}", smtp.config(), oauth::MOCK);
    let g = Gateway::start(o).await;
    let session = g.admin_token().await;
    let forgot = json!({"email": ADMIN_EMAIL});
    g.call(
        Method::POST,
        "/api/nuxt-users/password/forgot",
        None,
        Some(forgot),
    )
    .await;
    let reset = query_param(&smtp.nth(1).await.link(), "token");
    let magic = magic_link_token(&g, &smtp, 2, ADMIN_EMAIL).await;
    let cb = oauth::sign_in(&g, "").await;
    let code = query_param(&cb, "code");
    let (oauth_access, refresh_cookie) = oauth::signed_in(&g, "").await;
    let refresh = refresh_cookie.split_once('=').unwrap().1.to_string();

    // None but a session token (or the OAuth access token, which is one) opens the app.
    for (what, t) in [
        ("reset token", &reset),
        ("magic-link token", &magic),
        ("OAuth code", &code),
        ("refresh token", &refresh),
    ] {
        assert_eq!(g.get("/app/x", Some(t)).await.status(), 401, "{what}");
    }
    assert_eq!(g.get("/app/x", Some(&oauth_access)).await.status(), 200);
    // A session token is no reset token, no magic link, no OAuth code, no refresh token.
    let new_password = "new-password-123";
    assert_eq!(
        mail::reset(&g, &session, ADMIN_EMAIL, new_password)
            .await
            .status(),
        400
    );
    assert_eq!(
        oauth::exchange(&g, &session, &cb.cookie).await.status(),
        401
    );
    let r = g
        .client
        .post(g.url("/auth/refresh"))
        .header(
            "cookie",
            format!("{}={session}", refresh_cookie.split('=').next().unwrap()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // The reset token is no OAuth code; the magic token resets no password.
    assert_eq!(oauth::exchange(&g, &reset, &cb.cookie).await.status(), 401);
    assert_eq!(
        mail::reset(&g, &magic, ADMIN_EMAIL, new_password)
            .await
            .status(),
        400
    );
    // And each still works for its own purpose afterwards.
    assert_eq!(
        mail::reset(&g, &reset, ADMIN_EMAIL, new_password)
            .await
            .status(),
        200
    );
    assert_eq!(oauth::exchange(&g, &code, &cb.cookie).await.status(), 200);
}
