//! Path normalisation and route matching: the indexed lookup agrees with the table scan, the
//! forwarded path canonicalises to the path the route was chosen on, and whatever the redirect
//! rule accepts stays on our origin or an allowlisted one.
#![no_main]

use http::Method;
use libfuzzer_sys::fuzz_target;
use once_cell::sync::Lazy;
use portcullis::config::Config;
use portcullis::proxy::routes::{self, CanonicalPath, RouteIndex};

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

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let (cfg, index) = &*CFG;
    if let Ok(path) = CanonicalPath::new(raw) {
        for host in [None, Some("api.example.com:8080")] {
            for m in [Method::GET, Method::DELETE] {
                let found = index.find(&cfg.routes, host, &m, &path);
                assert_eq!(found, routes::find(&cfg.routes, host, &m, &path), "{raw:?}");
                let _ = routes::ambiguous_route(&cfg.routes, host, &m, &path, found);
            }
        }
        if let Some(fwd) = routes::forward_form(raw) {
            assert_eq!(CanonicalPath::new(&fwd).as_ref(), Ok(&path), "{raw:?} → {fwd:?}");
        }
    }
    let allowed = vec!["https://app.example.com".to_string()];
    if portcullis::config::redirect_allowed(raw, &allowed) {
        let base = url::Url::parse("https://gw.example/account/x").expect("base");
        if let Ok(u) = base.join(raw) {
            let o = u.origin().ascii_serialization();
            assert!(o == "https://gw.example" || o == allowed[0], "{raw:?} → {u}");
        }
    }
});
