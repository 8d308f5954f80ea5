//! The proxy's hot path, measured: token verify, the verified-token and session caches, route
//! tables of 100 and 1,000 rules, identity headers, and the candidate maps for the session
//! cache. papaya read fastest, but does not reuse the slots of removed entries, so eviction at
//! the cap grew its table without bound (`benches/cache_memory.rs`); the session cache uses
//! scc::HashMap, within a few ns of it here. Figures in the README.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use portcullis::config::{from_yaml, load, Overrides};
use portcullis::path::pattern::{segments, EXACT};
use portcullis::path::target;
use portcullis::routing::{first_match, readings, RouteIndex};
use portcullis::state::State;
use std::hint::black_box;

mod common;
use std::path::Path;

const SECRET: &str = "benchmark-secret-that-is-long-enough-for-hs256";

/// The shipped reference config, pointed at a scratch database.
fn config(db: &Path) -> portcullis::config::Config {
    let overrides = Overrides {
        jwt_secret: Some(SECRET.into()),
        database_url: Some(format!("sqlite://{}", db.display())),
        ..Default::default()
    };
    load(
        Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/config/portcullis.yaml"
        )),
        &overrides,
    )
    .unwrap()
}

fn auth_path(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let state = rt
        .block_on(State::build(config(&dir.path().join("bench.db"))))
        .unwrap();
    let (_user, token) = common::signed_in(&rt, &state, "admin");
    let now = portcullis::store::now();

    let mut g = c.benchmark_group("auth");
    g.bench_function("jwt_verify_hs256", |b| {
        b.iter(|| state.auth.keys.verify(black_box(&token)).unwrap())
    });
    // What reading every claim (policies' `claims` match the token's own) costs against
    // decoding the fixed set: the same signature check, one JSON parse either way.
    let key = jsonwebtoken::DecodingKey::from_secret(SECRET.as_bytes());
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    v.set_issuer(&["portcullis"]);
    v.set_audience(&["portcullis"]);
    g.bench_function("jwt_decode_fixed_claims", |b| {
        b.iter(|| {
            jsonwebtoken::decode::<portcullis::auth::Claims>(black_box(&token), &key, &v).unwrap()
        })
    });
    g.bench_function("jwt_decode_all_claims_one_pass", |b| {
        b.iter(|| {
            jsonwebtoken::decode::<portcullis::auth::all_claims::AllClaims>(
                black_box(&token),
                &key,
                &v,
            )
            .unwrap()
        })
    });
    g.bench_function("jwt_decode_all_claims_as_map", |b| {
        b.iter(|| {
            jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(
                black_box(&token),
                &key,
                &v,
            )
            .unwrap()
        })
    });
    let sid = uuid::Uuid::parse_str(&state.auth.keys.verify(&token).unwrap().sid).unwrap();
    g.bench_function("cache_lookup", |b| {
        b.iter(|| state.auth.cache.session(black_box(&sid)).unwrap())
    });
    g.bench_function("verified_token_hit", |b| {
        b.iter(|| state.auth.verified.get(black_box(&token), now))
    });
    // The steady state of an authenticated request: the token was seen before.
    g.bench_function("verify_and_cache_lookup", |b| {
        b.to_async(&rt).iter(|| async {
            match state.auth.authenticate(black_box(&token), now).await {
                portcullis::auth::Authn::Authenticated(id) => id,
                other => panic!("{other:?}"),
            }
        })
    });
    // Identity headers onto a request like a browser's: strip client copies, inject ours,
    // drop the credentials.
    let identity = match rt.block_on(state.auth.authenticate(&token, now)) {
        portcullis::auth::Authn::Authenticated(id) => id,
        other => panic!("{other:?}"),
    };
    let cfg = state.config();
    let mut req = pingora::http::RequestHeader::build("GET", b"/app/dashboard", None).unwrap();
    for (k, v) in [
        ("host", "app.example.test"),
        (
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36",
        ),
        ("accept", "text/html,application/xhtml+xml"),
        ("accept-language", "en-GB,en;q=0.9"),
        ("cookie", "theme=dark; portcullis_session=abc"),
        ("x-auth-role", "admin"),
    ] {
        req.append_header(k, v).unwrap();
    }
    req.append_header("authorization", format!("Bearer {token}"))
        .unwrap();
    g.bench_function("identity_headers", |b| {
        b.iter_batched_ref(
            || req.clone(),
            |r| {
                use portcullis::proxy::identity;
                identity::strip(r, &cfg.identity.prefix);
                identity::inject(r, &cfg.identity, &identity);
                identity::drop_credentials(r, &cfg.cookie.name, |_| true);
            },
            criterion::BatchSize::SmallInput,
        )
    });
    // The signed identity assertion: made once per session and upstream, then reused for
    // half its life; the first is an Ed25519 signature.
    let t0 = now as u64;
    g.bench_function("assertion_cached", |b| {
        b.iter(|| state.asserter.assert(black_box(&identity), "billing", t0))
    });
    let mut tick = 0u64;
    g.bench_function("assertion_signed", |b| {
        b.iter(|| {
            // 30 s later each time: never reusable, always signed afresh.
            tick += 30;
            state
                .asserter
                .assert(black_box(&identity), "billing", t0 + tick)
        })
    });
    g.finish();
}

/// A route policy judged for a signed-in caller: the load script's policy row (three allow
/// blocks, the second holding; one deny block), and one whose time window and claims are read.
fn policy(c: &mut Criterion) {
    use portcullis::auth::{Amr, CachedUser, Identity, SessionEntry};
    use portcullis::decision::policy::{judge, Facts, Who};
    let yaml = r#"
upstreams: { a: { addrs: ["127.0.0.1:1"] } }
networks: { office: ["203.0.113.0/24", "2001:db8::/32"] }
routes:
  - path: "/p/**"
    upstream: a
    auth: required
    allow:
      - { groups: [eng] }
      - { email_domains: [example.test] }
      - { networks: [office] }
    deny:
      - { methods: [DELETE] }
  - path: "/q/**"
    upstream: a
    auth: required
    allow:
      - { claims: { "/realm/roles": editor }, time: { days: mon-fri, from: "07:00", to: "19:00", tz: Europe/Berlin } }
"#;
    let cfg = from_yaml(yaml, &Overrides::default(), Path::new(".")).unwrap();
    let claims = serde_json::json!({"realm": {"roles": ["viewer", "editor"]}});
    let id = Identity {
        user: std::sync::Arc::new(CachedUser {
            id: 1,
            email: "load@example.test".into(),
            name: "Load".into(),
            role: "admin".into(),
            active: true,
            picture: None,
            email_verified: true,
            groups: vec!["ops".into(), "sales".into()],
            header_values: Default::default(),
        }),
        session_id: uuid::Uuid::from_u128(1),
        session: SessionEntry {
            user_id: 1,
            token_id: uuid::Uuid::nil(),
            expires_at: i64::MAX,
            remember: false,
            revoked: false,
            amr: Amr::PWD,
        },
        key: None,
        claims: Some(std::sync::Arc::new(claims.as_object().unwrap().clone())),
    };
    let facts = Facts {
        method: &http::Method::GET,
        ip: Some("127.0.0.1".parse().unwrap()),
        at: portcullis::store::now(),
    };
    let mut g = c.benchmark_group("policy");
    g.bench_function("three_allow_one_deny", |b| {
        b.iter(|| judge(black_box(&cfg.routes[0].policy), Who::known(&id), &facts))
    });
    g.bench_function("claims_and_time_window", |b| {
        b.iter(|| judge(black_box(&cfg.routes[1].policy), Who::known(&id), &facts))
    });
    g.finish();
}

fn route_matching(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(&dir.path().join("unused.db"));
    let mut g = c.benchmark_group("routes");
    for path in [
        "/public/css/site.css",
        "/admin/users/42",
        "/app/dashboard/reports/2026",
    ] {
        // What the proxy does per request: parse and check the target, then the route in every
        // reading a lenient server might make.
        let index = RouteIndex::new(&cfg.routes);
        g.bench_with_input(BenchmarkId::new("reference_config", path), &path, |b, p| {
            b.iter(|| {
                let Ok(target::Parsed::Path(t)) =
                    target::parse(black_box(p.as_bytes()), &http::Method::GET, |_| false)
                else {
                    unreachable!()
                };
                readings::route(
                    &index,
                    &cfg.routes,
                    Some("localhost:8080"),
                    &http::Method::GET,
                    &t,
                )
            })
        });
    }
    // Bigger tables (services under their own prefixes, a catch-all last): the match is the
    // middle route, and the catch-all (every rule tried).
    for n in [100, 1000] {
        let mut yaml = String::from("upstreams: { a: { addrs: [\"127.0.0.1:1\"] } }\nroutes:\n");
        for i in 0..n - 1 {
            yaml.push_str(&format!(
                "  - {{ path: \"/svc{i}/*/items/**\", methods: [GET, POST], upstream: a, auth: required }}\n"
            ));
        }
        yaml.push_str("  - { path: \"/**\", upstream: a, auth: none }\n");
        let big = from_yaml(&yaml, &Overrides::default(), Path::new(".")).unwrap();
        let mid_path = format!("/svc{}/x/items/42", n / 2);
        let mid: Vec<&str> = segments(&mid_path).collect();
        let last: Vec<&str> = segments("/zzz/deep/path").collect();
        let find =
            |routes, m: &http::Method, parts: &[&str]| first_match(routes, None, m, parts, EXACT);
        g.bench_function(BenchmarkId::new("rules_middle_match_linear", n), |b| {
            b.iter(|| find(&big.routes, &http::Method::GET, black_box(&mid)))
        });
        g.bench_function(BenchmarkId::new("rules_last_match_linear", n), |b| {
            b.iter(|| find(&big.routes, &http::Method::GET, black_box(&last)))
        });
        // What the proxy uses: the routes indexed by first segment.
        let index = RouteIndex::new(&big.routes);
        g.bench_function(BenchmarkId::new("rules_middle_match_indexed", n), |b| {
            b.iter(|| index.find(&big.routes, None, &http::Method::GET, black_box(&mid)))
        });
        g.bench_function(BenchmarkId::new("rules_last_match_indexed", n), |b| {
            b.iter(|| index.find(&big.routes, None, &http::Method::GET, black_box(&last)))
        });
    }
    g.bench_function("canonicalise_path", |b| {
        b.iter(|| {
            target::parse(
                black_box(b"/app/%61ccount//settings/profile"),
                &http::Method::GET,
                |_| false,
            )
        })
    });
    g.finish();
}

/// The cache's map: reads of 100k session entries keyed by UUID.
fn maps(c: &mut Criterion) {
    const N: usize = 100_000;
    let keys: Vec<uuid::Uuid> = (0..N).map(|_| uuid::Uuid::new_v4()).collect();
    let value = |i: usize| (i as i64, uuid::Uuid::nil(), i as i64, false, false);
    let papaya = papaya::HashMap::new();
    let dash = dashmap::DashMap::new();
    let scc = scc::HashMap::new();
    for (i, k) in keys.iter().enumerate() {
        papaya.pin().insert(*k, value(i));
        dash.insert(*k, value(i));
        let _ = scc.insert_sync(*k, value(i));
    }
    let mut g = c.benchmark_group("session_map_get");
    let mut i = 0usize;
    g.bench_function("papaya", |b| {
        b.iter(|| {
            i = (i + 7919) % N;
            *papaya.pin().get(black_box(&keys[i])).unwrap()
        })
    });
    g.bench_function("dashmap", |b| {
        b.iter(|| {
            i = (i + 7919) % N;
            *dash.get(black_box(&keys[i])).unwrap()
        })
    });
    g.bench_function("scc_hashmap", |b| {
        b.iter(|| {
            i = (i + 7919) % N;
            scc.read_sync(black_box(&keys[i]), |_, v| *v).unwrap()
        })
    });
    let index = scc::HashIndex::new();
    for (n, k) in keys.iter().enumerate() {
        let _ = index.insert_sync(*k, value(n));
    }
    g.bench_function("scc_hashindex", |b| {
        b.iter(|| {
            i = (i + 7919) % N;
            index.peek_with(black_box(&keys[i]), |_, v| *v).unwrap()
        })
    });
    g.finish();
}

/// The same maps under concurrency, as the proxy uses them: readers on every worker thread,
/// and a writer (logins, revocations) running at the same time.
fn maps_contended(c: &mut Criterion) {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};
    const N: usize = 100_000;
    let keys: Arc<Vec<uuid::Uuid>> = Arc::new((0..N).map(|_| uuid::Uuid::new_v4()).collect());
    let value = |i: usize| (i as i64, uuid::Uuid::nil(), i as i64, false, false);

    trait Map: Send + Sync + 'static {
        fn get(&self, k: &uuid::Uuid) -> bool;
        fn put(&self, k: uuid::Uuid, v: (i64, uuid::Uuid, i64, bool, bool));
    }
    impl Map for papaya::HashMap<uuid::Uuid, (i64, uuid::Uuid, i64, bool, bool)> {
        fn get(&self, k: &uuid::Uuid) -> bool {
            self.pin().get(k).is_some()
        }
        fn put(&self, k: uuid::Uuid, v: (i64, uuid::Uuid, i64, bool, bool)) {
            self.pin().insert(k, v);
        }
    }
    impl Map for dashmap::DashMap<uuid::Uuid, (i64, uuid::Uuid, i64, bool, bool)> {
        fn get(&self, k: &uuid::Uuid) -> bool {
            dashmap::DashMap::get(self, k).is_some()
        }
        fn put(&self, k: uuid::Uuid, v: (i64, uuid::Uuid, i64, bool, bool)) {
            self.insert(k, v);
        }
    }
    impl Map for scc::HashIndex<uuid::Uuid, (i64, uuid::Uuid, i64, bool, bool)> {
        fn get(&self, k: &uuid::Uuid) -> bool {
            self.peek_with(k, |_, _| ()).is_some()
        }
        fn put(&self, k: uuid::Uuid, v: (i64, uuid::Uuid, i64, bool, bool)) {
            match self.entry_sync(k) {
                scc::hash_index::Entry::Occupied(mut o) => o.update(v),
                scc::hash_index::Entry::Vacant(e) => {
                    e.insert_entry(v);
                }
            }
        }
    }
    impl Map for scc::HashMap<uuid::Uuid, (i64, uuid::Uuid, i64, bool, bool)> {
        fn get(&self, k: &uuid::Uuid) -> bool {
            self.read_sync(k, |_, _| ()).is_some()
        }
        fn put(&self, k: uuid::Uuid, v: (i64, uuid::Uuid, i64, bool, bool)) {
            let _ = self.upsert_sync(k, v);
        }
    }

    /// Wall time for `readers` threads to do `iters` gets each, with or without a writer.
    /// Wall time for `readers` threads to do `iters` gets each. `writes_per_sec`: `None` no
    /// writer, `Some(0)` a writer flat out, otherwise a writer paced at that rate.
    fn run<M: Map>(
        m: &Arc<M>,
        keys: &Arc<Vec<uuid::Uuid>>,
        readers: usize,
        writes_per_sec: Option<u64>,
        iters: u64,
    ) -> Duration {
        let stop = Arc::new(AtomicBool::new(false));
        let w = writes_per_sec.map(|rate| {
            let (m, keys, stop) = (m.clone(), keys.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut i = 0usize;
                let began = Instant::now();
                let mut done = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    if rate > 0 && done * 1_000_000 / rate > began.elapsed().as_micros() as u64 {
                        std::thread::yield_now();
                        continue;
                    }
                    i = (i + 104_729) % keys.len();
                    m.put(keys[i], (i as i64, uuid::Uuid::nil(), 0, true, false));
                    done += 1;
                }
            })
        });
        let start = Instant::now();
        let hs: Vec<_> = (0..readers)
            .map(|t| {
                let (m, keys) = (m.clone(), keys.clone());
                std::thread::spawn(move || {
                    let mut i = t * 31;
                    for _ in 0..iters {
                        i = (i + 7919) % keys.len();
                        assert!(m.get(black_box(&keys[i])));
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        let took = start.elapsed();
        stop.store(true, Ordering::Relaxed);
        if let Some(w) = w {
            w.join().unwrap();
        }
        took
    }

    let papaya = Arc::new(papaya::HashMap::new());
    let dash = Arc::new(dashmap::DashMap::new());
    let scc = Arc::new(scc::HashMap::new());
    let scc_index = Arc::new(scc::HashIndex::new());
    for (i, k) in keys.iter().enumerate() {
        papaya.put(*k, value(i));
        dash.put(*k, value(i));
        scc.put(*k, value(i));
        scc_index.put(*k, value(i));
    }
    for (label, readers, writer) in [
        ("2_readers", 2, None),
        ("1_reader_writer_50k_per_s", 1, Some(50_000)),
        ("1_reader_writer_flat_out", 1, Some(0)),
    ] {
        let mut g = c.benchmark_group(format!("session_map_get_{label}"));
        g.bench_function("papaya", |b| {
            b.iter_custom(|n| run(&papaya, &keys, readers, writer, n))
        });
        g.bench_function("dashmap", |b| {
            b.iter_custom(|n| run(&dash, &keys, readers, writer, n))
        });
        g.bench_function("scc_hashmap", |b| {
            b.iter_custom(|n| run(&scc, &keys, readers, writer, n))
        });
        // HashIndex is left out of the flat-out writer case: there, a reader saw a present key
        // as missing while it was being updated, which in a session cache means a spurious
        // store read (the assertion in `run` caught it).
        if writer != Some(0) {
            g.bench_function("scc_hashindex", |b| {
                b.iter_custom(|n| run(&scc_index, &keys, readers, writer, n))
            });
        }
        g.finish();
    }
}

criterion_group!(
    benches,
    auth_path,
    policy,
    route_matching,
    maps,
    maps_contended
);
criterion_main!(benches);
