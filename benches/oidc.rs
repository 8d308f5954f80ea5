//! The OpenID provider's grants, measured without HTTP: a code exchange (redeem, two
//! signatures, a refresh token saved), a refresh (rotation and two signatures), an access
//! token checked as introspection and userinfo check it, and one ID-token signature per
//! algorithm. The store is SQLite in a scratch directory, as the gateway's default. Figures
//! in the README.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use portcullis::config::{from_yaml, Client, Overrides, SigningAlg};
use portcullis::oidc::flow::{self, CodeExchange, Ctx};
use portcullis::oidc::keys::KeyRing;
use portcullis::oidc::request::{AuthRequest, ResponseMode};
use portcullis::state::State;
use std::hint::black_box;

mod common;
use std::path::Path;
use std::time::{Duration, Instant};

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const REDIRECT: &str = "https://app.example.test/callback";

fn config(dir: &Path) -> portcullis::config::Config {
    let yaml = format!(
        r#"
server: {{ data_dir: "{d}", public_url: "http://localhost:8080" }}
database: {{ url: "sqlite://{d}/bench.db" }}
tokens: {{ secret: "benchmark-secret-that-is-long-enough-for-hs256" }}
oidc_provider:
  enabled: true
  clients:
    bench:
      secret: "bench-client-secret-0123456789"
      redirect_uris: ["{REDIRECT}"]
      scopes: [openid, profile, email, groups]
      grant_types: [authorization_code, refresh_token]
"#,
        d = dir.display()
    );
    from_yaml(&yaml, &Overrides::default(), dir).unwrap()
}

async fn new_code(
    ctx: &Ctx<'_>,
    request: &AuthRequest,
    client: &Client,
    session: &portcullis::store::Session,
) -> String {
    let now = portcullis::store::now();
    flow::issue_code(ctx, request, client, session, now, &[])
        .await
        .unwrap()
}

async fn exchange(ctx: &Ctx<'_>, client: &Client, code: &str) -> flow::Tokens {
    let x = CodeExchange {
        code,
        redirect_uri: Some(REDIRECT),
        verifier: Some(VERIFIER),
    };
    match flow::exchange(ctx, client, x, portcullis::store::now()).await {
        (Ok(t), _) => t,
        (Err(e), _) => panic!("{e:?}"),
    }
}

fn oidc(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let state = rt.block_on(State::build(config(dir.path()))).unwrap();
    let (_user, token) = common::signed_in(&rt, &state, "user");
    let sid = state.auth.keys.verify(&token).unwrap().sid;
    let session = rt.block_on(state.store.session(&sid)).unwrap().unwrap();
    let live = state.config();
    let op = live.oidc_provider.clone().unwrap();
    let client = op.clients.get("bench").unwrap();
    let ctx = Ctx {
        store: state.store.as_ref(),
        op: &op,
        provider: state.oidc.as_ref().unwrap(),
        grace: live.oauth.refresh.grace,
    };
    let request = AuthRequest {
        client_id: "bench".into(),
        redirect_uri: REDIRECT.into(),
        scopes: portcullis::oidc::claims::scopes("openid profile email groups"),
        state: Some("st".into()),
        nonce: Some("n-0S6_WzA2Mj".into()),
        code_challenge: CHALLENGE.into(),
        response_mode: ResponseMode::Query,
        prompts: vec![],
        max_age: None,
        acr_values: vec![],
        login_hint: None,
    };
    let code = || rt.block_on(new_code(&ctx, &request, client, &session));
    let mut g = c.benchmark_group("oidc");
    // Each iteration redeems a code of its own; issuing it is set-up, not timed.
    g.bench_function("code_exchange", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                let fresh = code();
                let t = Instant::now();
                black_box(rt.block_on(exchange(&ctx, client, &fresh)));
                spent += t.elapsed();
            }
            spent
        })
    });
    // A chain of refreshes, each rotating the one before (what a client does every 10 min).
    let first = rt.block_on(exchange(&ctx, client, &code()));
    let mut refresh = first.refresh_token.clone().unwrap();
    g.bench_function("refresh", |b| {
        b.iter(|| {
            let now = portcullis::store::now();
            let next = match rt.block_on(flow::refresh(&ctx, client, &refresh, now)) {
                (Ok(t), _) => t,
                (Err(e), _) => panic!("{e:?}"),
            };
            refresh = next.refresh_token.unwrap();
        })
    });
    // What introspection and userinfo do per request: the signature, then the grant, its
    // session and user read back from the store.
    let access = first.access_token.clone();
    g.bench_function("access_token_check", |b| {
        b.iter(|| {
            rt.block_on(flow::access(
                &ctx,
                black_box(&access),
                portcullis::store::now(),
            ))
            .unwrap()
        })
    });
    g.bench_function("introspect", |b| {
        b.iter(|| {
            let v = rt
                .block_on(flow::introspect(
                    &ctx,
                    client,
                    black_box(&access),
                    portcullis::store::now(),
                ))
                .unwrap();
            assert_eq!(v["active"], true);
        })
    });

    // One ID token's signature per algorithm, over the claims an exchange signs.
    let claims: serde_json::Value = {
        let t = first.id_token.clone().unwrap();
        let payload = t.split('.').nth(1).unwrap();
        use base64::Engine;
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap()
    };
    for (name, alg) in [
        ("RS256", SigningAlg::Rs256),
        ("ES256", SigningAlg::Es256),
        ("EdDSA", SigningAlg::EdDsa),
    ] {
        let keys = tempfile::tempdir().unwrap();
        let ring = KeyRing::load(
            keys.path(),
            alg,
            Duration::from_secs(600),
            portcullis::store::now(),
        )
        .unwrap();
        g.bench_with_input(BenchmarkId::new("id_token_sign", name), &ring, |b, ring| {
            b.iter(|| ring.sign("JWT", black_box(&claims)).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, oidc);
criterion_main!(benches);
