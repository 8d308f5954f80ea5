//! Request targets and route matching: the indexed lookup agrees with the table scan; the
//! forwarded target, read again, is accepted and decided exactly as the original; and whatever
//! the redirect rule accepts stays on our origin or an allowlisted one.
//!
//! Shared by the fuzz target of the same name and by `tests/fuzz_corpus.rs`, which replays
//! the committed corpus in `cargo test`.

use http::Method;
use once_cell::sync::Lazy;
use portcullis::config::Config;
use portcullis::path::pattern::{segments, EXACT};
use portcullis::path::target;
use portcullis::routing::{first_match, readings, RouteIndex};

static CFG: Lazy<(Config, RouteIndex)> = Lazy::new(|| {
    let yaml = r#"
upstreams: { a: { addrs: ["127.0.0.1:1"] } }
routes:
  - { path: "/public/**", upstream: a, auth: none }
  - { path: "/admin/**", methods: [GET, POST], upstream: a, auth: { roles: [admin] } }
  - { path: "/api/items/*", host: api.example.com, upstream: a, auth: required }
  - { path: "/static/*.css", upstream: a, auth: none }
  - { path: "/*/admin/**", upstream: a, auth: { roles: [admin] } }
  - { path: "/x/*/y", upstream: a, auth: optional }
  - { path: "/", upstream: a, auth: none }
  - { path: "/**", upstream: a, auth: required }
"#;
    let cfg = portcullis::config::from_yaml(yaml, &Default::default(), std::path::Path::new("."))
        .expect("config");
    let index = RouteIndex::new(&cfg.routes);
    (cfg, index)
});

/// Panics when the property does not hold for `data`.
pub fn check(data: &[u8]) {
    let (cfg, index) = &*CFG;
    for m in [Method::GET, Method::DELETE] {
        let Ok(target::Parsed::Path(t)) = target::parse(data, &m, |h| h == "api.example.com")
        else {
            continue;
        };
        let parts: Vec<&str> = segments(&t.decoded).collect();
        for host in [None, Some("api.example.com:8080")] {
            let found = index.find(&cfg.routes, host, &m, &parts);
            let scan = first_match(&cfg.routes, host, &m, &parts, EXACT);
            assert_eq!(found, scan, "{data:?}");
            let decided = readings::route(index, &cfg.routes, host, &m, &t);
            // What is forwarded is read, checked and decided exactly as what was sent.
            let fwd = t.origin_form();
            let Ok(target::Parsed::Path(again)) = target::parse(fwd.as_bytes(), &m, |_| false)
            else {
                panic!("{data:?} forwarded as {fwd:?}, which is refused");
            };
            assert_eq!(again.origin_form(), fwd, "{data:?}");
            assert_eq!(again.decoded, t.decoded, "{data:?}");
            assert_eq!(
                readings::route(index, &cfg.routes, host, &m, &again),
                decided,
                "{data:?}"
            );
        }
    }
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let allowed = vec!["https://app.example.com".to_string()];
    let policy = portcullis::redirect::Policy {
        origins: &allowed,
        hosts: &[],
        https_only: true,
    };
    if portcullis::redirect::redirect_allowed(raw, &policy) {
        let base = url::Url::parse("https://gw.example/account/x").expect("base");
        if let Ok(u) = base.join(raw) {
            let o = u.origin().ascii_serialization();
            assert!(
                o == "https://gw.example" || o == allowed[0],
                "{raw:?} → {u}"
            );
        }
    }
}
