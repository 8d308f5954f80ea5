//! Judging a route policy allocates nothing: every criterion is compiled when the config
//! loads, so the proxy's hot path only compares. Counted with a global allocator that tallies
//! the allocations of this thread while a flag is up.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use portcullis::auth::{Amr, CachedUser, Identity, SessionEntry};
use portcullis::decision::policy::{judge, Facts, Verdict, Who};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.with(Cell::get) {
            COUNT.with(|c| c.set(c.get() + 1));
        }
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static A: Counting = Counting;

fn allocations(f: impl FnOnce()) -> usize {
    COUNT.with(|c| c.set(0));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    COUNT.with(Cell::get)
}

#[test]
fn judging_a_policy_allocates_nothing() {
    let yaml = r#"
upstreams: { a: { addrs: ["127.0.0.1:1"] } }
networks: { office: ["203.0.113.0/24", "2001:db8::/32"] }
routes:
  - path: "/**"
    upstream: a
    auth: required
    allow:
      - { groups: [eng, ops], methods: [GET] }
      - { email_domains: ["*.example.com", example.com], not: { networks: [office] } }
      - { claims: { "/realm/roles": [editor, admin], sub: "42" }, amr: [otp, hwk] }
      - { roles: [admin], mfa: true, time: { days: mon-fri, from: "07:00", to: "19:00", tz: Europe/Berlin } }
    deny:
      - { methods: [DELETE], networks: [office] }
      - not: { users: [ann@example.com, bob@example.com] }
"#;
    let cfg = portcullis::config::from_yaml(yaml, &Default::default(), std::path::Path::new("."))
        .unwrap();
    let policy = &cfg.routes[0].policy;
    let claims = serde_json::json!({"realm": {"roles": ["viewer", "editor"]}});
    let id = Identity {
        user: Arc::new(CachedUser {
            id: 42,
            email: "bob@example.com".into(),
            name: "Bob".into(),
            role: "admin".into(),
            active: true,
            picture: None,
            email_verified: true,
            groups: vec!["sales".into(), "support".into()],
            header_values: Default::default(),
        }),
        session_id: uuid::Uuid::from_u128(1),
        session: SessionEntry {
            user_id: 42,
            token_id: uuid::Uuid::nil(),
            expires_at: i64::MAX,
            remember: false,
            revoked: false,
            amr: Amr::PWD,
        },
        key: None,
        claims: Some(Arc::new(claims.as_object().unwrap().clone())),
    };
    let methods = [http::Method::GET, http::Method::POST, http::Method::DELETE];
    let ips = [
        "203.0.113.9",
        "2001:db8::1",
        "198.51.100.1",
        "::ffff:203.0.113.2",
    ];
    let mut seen = std::collections::BTreeSet::new();
    for m in &methods {
        for ip in ips {
            for at in [1_796_378_400, 1_796_378_400 + 12 * 3600] {
                let f = Facts {
                    method: m,
                    ip: Some(ip.parse().unwrap()),
                    at,
                };
                for who in [Who::Unknown, Who::Nobody, Who::known(&id)] {
                    let mut v = Verdict::Allow;
                    let n = allocations(|| v = judge(policy, who, &f).verdict);
                    assert_eq!(n, 0, "{m} {ip} {at} {who:?}: {n} allocations");
                    seen.insert(v.label());
                }
            }
        }
    }
    // The cases reach every verdict, second steps included.
    assert_eq!(seen.len(), 4, "{seen:?}");
}
