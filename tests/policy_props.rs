//! Route policies, generated: random `allow`/`deny` blocks (every criterion, `not` inside),
//! callers (anonymous, sessions with groups, addresses, sign-in methods and token claims, API
//! keys) and requests (method, client address, time) go through the gateway's own decision
//! (`config::from_yaml` → `decision::pre_auth` → `decision::authorize`), and the outcome —
//! forward, 403, sign in, second step, and the block that decided — must be what a naive
//! reference evaluator, written here from the README's rules and sharing no code with the
//! engine, says. 10,000 cases of one policy and four requests each.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use http::{HeaderMap, Method};
use portcullis::auth::{api_keys::KeyGrant, Amr, Authn, CachedUser, Identity, SessionEntry};
use portcullis::decision::{self, Check, Decision, PreAuth, RequestFacts};
use portcullis::error::Reject;
use proptest::prelude::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;

// ---------------------------------------------------------------- the world the cases draw from

const EMAILS: [&str; 4] = [
    "ann@example.com",
    "bob@dev.example.com",
    "cy@corp.test",
    "di@other.org",
];
const DOMAINS: [&str; 4] = ["example.com", "*.example.com", "corp.test", "nowhere.test"];
const ROLES: [&str; 3] = ["user", "admin", "auditor"];
const GROUPS: [&str; 4] = ["eng", "ops", "sales", "editor"];
const SCOPES: [&str; 3] = ["deploy", "read", "admin:x"];
const AMR_NAMES: [&str; 6] = ["pwd", "otp", "hwk", "email", "fed", "mfa"];
/// What a sign-in can have been made with (RFC 8176 names), as the gateway records them.
const SIGN_IN_METHODS: [&str; 5] = ["pwd", "otp", "hwk", "email", "fed"];
const NETS: [&str; 6] = [
    "203.0.113.0/24",
    "2001:db8::/32",
    "10.0.0.0/8",
    "office",
    "vpn",
    "192.0.2.7",
];
const IPS: [&str; 8] = [
    "203.0.113.5",
    "10.8.1.1",
    "10.0.0.1",
    "::ffff:203.0.113.9",
    "::ffff:10.8.0.1",
    "2001:db8::5",
    "198.51.100.1",
    "192.0.2.7",
];
const METHODS: [&str; 4] = ["GET", "POST", "DELETE", "PUT"];
const ZONES: [&str; 4] = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"];
const MINUTES: [u16; 5] = [0, 7 * 60, 12 * 60, 19 * 60 + 30, 24 * 60];
/// (pointer, values a policy may ask for).
const POINTERS: [&str; 6] = ["/tier", "tier", "/realm/roles", "/dept/id", "/sub", "/role"];

/// The named networks of every generated config.
fn named(name: &str) -> Option<&'static [&'static str]> {
    match name {
        "office" => Some(&["203.0.113.0/24", "2001:db8::/32"]),
        "vpn" => Some(&["10.8.0.0/16"]),
        _ => None,
    }
}

// ---------------------------------------------------------------- what is generated

#[derive(Debug, Clone)]
enum Crit {
    Users(Vec<&'static str>),
    Domains(Vec<&'static str>),
    Roles(Vec<&'static str>),
    Groups(Vec<&'static str>),
    /// (pointer, values), each pointer once.
    Claims(Vec<(&'static str, Vec<Value>)>),
    Scopes(Vec<&'static str>),
    Mfa,
    Amr(Vec<&'static str>),
    Nets(Vec<&'static str>),
    Methods(Vec<&'static str>),
    Time {
        days: u8,
        from: u16,
        to: u16,
        tz: &'static str,
    },
    Not(Vec<Crit>),
}

impl Crit {
    fn key(&self) -> &'static str {
        match self {
            Crit::Users(_) => "users",
            Crit::Domains(_) => "email_domains",
            Crit::Roles(_) => "roles",
            Crit::Groups(_) => "groups",
            Crit::Claims(_) => "claims",
            Crit::Scopes(_) => "scopes",
            Crit::Mfa => "mfa",
            Crit::Amr(_) => "amr",
            Crit::Nets(_) => "networks",
            Crit::Methods(_) => "methods",
            Crit::Time { .. } => "time",
            Crit::Not(_) => "not",
        }
    }

    fn about_caller(&self) -> bool {
        match self {
            Crit::Nets(_) | Crit::Methods(_) | Crit::Time { .. } => false,
            Crit::Not(inner) => inner.iter().any(Crit::about_caller),
            _ => true,
        }
    }
}

#[derive(Debug, Clone)]
struct Spec {
    auth: &'static str,
    allow: Option<Vec<Vec<Crit>>>,
    deny: Option<Vec<Vec<Crit>>>,
}

#[derive(Debug, Clone)]
struct Person {
    email: &'static str,
    verified: bool,
    role: &'static str,
    groups: Vec<&'static str>,
    /// Names from SIGN_IN_METHODS.
    amr: Vec<&'static str>,
    tier: Option<&'static str>,
    realm_roles: Vec<&'static str>,
    dept: Option<i64>,
    /// An API key with these scopes (then no sign-in methods, no token claims).
    key: Option<Vec<&'static str>>,
}

#[derive(Debug, Clone)]
struct Req {
    who: Option<Person>,
    method: &'static str,
    ip: &'static str,
    at: i64,
}

fn some_of<T: Clone + std::fmt::Debug>(items: &'static [T]) -> impl Strategy<Value = Vec<T>> {
    proptest::sample::subsequence(items.to_vec(), 1..=items.len().min(3))
}

fn scalar_crit() -> impl Strategy<Value = Crit> {
    let claim_values = prop_oneof![
        Just(vec![json!("gold")]),
        Just(vec![json!("silver"), json!("gold")]),
        Just(vec![json!("editor")]),
        Just(vec![json!("viewer"), json!(7)]),
        Just(vec![json!(7)]),
        Just(vec![json!(8)]),
        Just(vec![json!("42")]),
        Just(vec![json!(42)]),
        Just(vec![json!("admin")]),
    ];
    prop_oneof![
        some_of(&EMAILS).prop_map(Crit::Users),
        some_of(&DOMAINS).prop_map(Crit::Domains),
        some_of(&ROLES).prop_map(Crit::Roles),
        some_of(&GROUPS).prop_map(Crit::Groups),
        proptest::collection::vec(
            (proptest::sample::select(POINTERS.to_vec()), claim_values),
            1..=2
        )
        .prop_map(|mut v| {
            // One value per claim: `/tier` and `tier` are the same claim.
            let mut seen = BTreeSet::new();
            v.retain(|(p, _)| seen.insert(p.trim_start_matches('/')));
            Crit::Claims(v)
        }),
        some_of(&SCOPES).prop_map(Crit::Scopes),
        Just(Crit::Mfa),
        some_of(&AMR_NAMES).prop_map(Crit::Amr),
        some_of(&NETS).prop_map(Crit::Nets),
        some_of(&METHODS).prop_map(Crit::Methods),
        (
            1u8..=127,
            0usize..4,
            1usize..5,
            proptest::sample::select(ZONES.to_vec())
        )
            .prop_filter_map("from and to differ", |(days, f, t, tz)| {
                (f != t).then_some(Crit::Time {
                    days,
                    from: MINUTES[f],
                    to: MINUTES[t],
                    tz,
                })
            }),
    ]
}

/// Criteria of a block: each key at most once (a block is a map).
fn criteria(depth: u32) -> BoxedStrategy<Vec<Crit>> {
    let one = if depth == 0 {
        scalar_crit().boxed()
    } else {
        prop_oneof![
            4 => scalar_crit(),
            1 => criteria(depth - 1).prop_map(Crit::Not),
        ]
        .boxed()
    };
    proptest::collection::vec(one, 1..=3)
        .prop_map(|v| {
            let mut keys = BTreeSet::new();
            v.into_iter().filter(|c| keys.insert(c.key())).collect()
        })
        .boxed()
}

fn spec() -> impl Strategy<Value = Spec> {
    let blocks = |n: std::ops::RangeInclusive<usize>| proptest::collection::vec(criteria(2), n);
    (
        proptest::sample::select(vec!["none", "optional", "required", "absent"]),
        proptest::option::weighted(0.8, blocks(1..=3)),
        proptest::option::weighted(0.5, blocks(1..=2)),
    )
        .prop_map(|(auth, allow, deny)| {
            let about_caller = allow
                .iter()
                .chain(deny.iter())
                .flatten()
                .flatten()
                .any(Crit::about_caller);
            // `auth: none` with criteria about the caller is refused by the config (tested
            // on its own below); without an allow list, `auth` must be given.
            let auth = match auth {
                "none" if about_caller => "optional",
                "absent" if allow.is_none() => "required",
                a => a,
            };
            Spec { auth, allow, deny }
        })
}

fn person() -> impl Strategy<Value = Person> {
    (
        (
            proptest::sample::select(EMAILS.to_vec()),
            any::<bool>(),
            proptest::sample::select(ROLES.to_vec()),
            proptest::sample::subsequence(GROUPS.to_vec(), 0..=3),
            proptest::sample::subsequence(SIGN_IN_METHODS.to_vec(), 0..=3),
        ),
        (
            proptest::option::of(proptest::sample::select(vec!["gold", "silver"])),
            proptest::sample::subsequence(vec!["editor", "viewer"], 0..=2),
            proptest::option::of(proptest::sample::select(vec![7i64, 8])),
            proptest::option::weighted(0.2, proptest::sample::subsequence(SCOPES.to_vec(), 0..=2)),
        ),
    )
        .prop_map(
            |((email, verified, role, groups, amr), (tier, realm_roles, dept, key))| Person {
                email,
                verified,
                role,
                groups,
                amr,
                tier,
                realm_roles,
                dept,
                key,
            },
        )
}

fn request() -> impl Strategy<Value = Req> {
    // Two weeks from Sunday 2026-11-29 00:00 UTC, to the second.
    (
        proptest::option::weighted(0.7, person()),
        proptest::sample::select(METHODS.to_vec()),
        proptest::sample::select(IPS.to_vec()),
        1_796_083_200i64..1_796_083_200 + 14 * 86_400,
    )
        .prop_map(|(who, method, ip, at)| Req {
            who,
            method,
            ip,
            at,
        })
}

// ---------------------------------------------------------------- the gateway's side

fn yaml_value(v: &Value) -> String {
    v.to_string()
}

fn yaml_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("\"{i}\"")).collect();
    format!("[{}]", quoted.join(", "))
}

fn yaml_block(cs: &[Crit]) -> String {
    let parts: Vec<String> = cs
        .iter()
        .map(|c| match c {
            Crit::Users(v) | Crit::Domains(v) | Crit::Roles(v) | Crit::Groups(v) => {
                format!("{}: {}", c.key(), yaml_list(v))
            }
            Crit::Scopes(v) | Crit::Amr(v) | Crit::Nets(v) | Crit::Methods(v) => {
                format!("{}: {}", c.key(), yaml_list(v))
            }
            Crit::Claims(v) => {
                let kv: Vec<String> = v
                    .iter()
                    .map(|(p, vals)| {
                        let vals: Vec<String> = vals.iter().map(yaml_value).collect();
                        format!("\"{p}\": [{}]", vals.join(", "))
                    })
                    .collect();
                format!("claims: {{ {} }}", kv.join(", "))
            }
            Crit::Mfa => "mfa: true".into(),
            Crit::Time { days, from, to, tz } => {
                let names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
                let d: Vec<&str> = (0..7)
                    .filter(|i| days & (1 << i) != 0)
                    .map(|i| names[i])
                    .collect();
                let hm = |m: u16| format!("\"{:02}:{:02}\"", m / 60, m % 60);
                format!(
                    "time: {{ days: {}, from: {}, to: {}, tz: \"{tz}\" }}",
                    yaml_list(&d),
                    hm(*from),
                    hm(*to)
                )
            }
            Crit::Not(inner) => format!("not: {}", yaml_block(inner)),
        })
        .collect();
    format!("{{ {} }}", parts.join(", "))
}

fn config_yaml(s: &Spec) -> String {
    let mut route = String::from("  - path: \"/p/**\"\n    upstream: a\n");
    if s.auth != "absent" {
        route.push_str(&format!("    auth: {}\n", s.auth));
    }
    for (key, list) in [("allow", &s.allow), ("deny", &s.deny)] {
        if let Some(blocks) = list {
            route.push_str(&format!("    {key}:\n"));
            for b in blocks {
                route.push_str(&format!("      - {}\n", yaml_block(b)));
            }
        }
    }
    format!(
        "upstreams: {{ a: {{ addrs: [\"127.0.0.1:1\"] }} }}\nnetworks: {{ office: [\"203.0.113.0/24\", \"2001:db8::/32\"], vpn: [\"10.8.0.0/16\"] }}\nroutes:\n{route}"
    )
}

fn identity(p: &Person) -> Identity {
    let mut amr = Amr::default();
    for m in &p.amr {
        amr = amr.with(Amr::parse(m));
    }
    let mut claims = serde_json::Map::new();
    if let Some(t) = p.tier {
        claims.insert("tier".into(), json!(t));
    }
    if !p.realm_roles.is_empty() {
        claims.insert("realm".into(), json!({ "roles": p.realm_roles }));
    }
    if let Some(d) = p.dept {
        claims.insert("dept".into(), json!({ "id": d }));
    }
    let mut groups: Vec<String> = p.groups.iter().map(|g| g.to_string()).collect();
    groups.sort();
    Identity {
        user: Arc::new(CachedUser {
            id: 42,
            email: p.email.into(),
            name: "N".into(),
            role: p.role.into(),
            active: true,
            picture: None,
            email_verified: p.verified,
            groups,
            header_values: Default::default(),
        }),
        session_id: if p.key.is_some() {
            uuid::Uuid::nil()
        } else {
            uuid::Uuid::from_u128(9)
        },
        session: SessionEntry {
            user_id: 42,
            token_id: uuid::Uuid::nil(),
            expires_at: i64::MAX,
            remember: false,
            revoked: false,
            amr: if p.key.is_some() { Amr::default() } else { amr },
        },
        key: p.key.as_ref().map(|s| {
            Arc::new(KeyGrant::new(
                "00000000-0000-0000-0000-00000000000a",
                s.iter().map(|x| x.to_string()).collect(),
            ))
        }),
        claims: (p.key.is_none() && !claims.is_empty()).then(|| Arc::new(claims)),
    }
}

/// What the gateway does, and the label of the block that decided (if one did).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Forward,
    Forbidden,
    SignIn,
    SecondStep,
}

fn engine(live: &portcullis::live::Live, r: &Req) -> (Outcome, Option<String>) {
    let method: Method = r.method.parse().unwrap();
    let headers = HeaderMap::new();
    let facts = RequestFacts {
        method: &method,
        raw_target: b"/p/x",
        host: None,
        headers: &headers,
        client_ip: Some(r.ip.parse().unwrap()),
        forwarded: false,
        at: r.at,
        count: false,
    };
    let d = match decision::pre_auth(live, &facts) {
        PreAuth::Decided(d) => d,
        PreAuth::Needs(needs) => {
            let authn = r
                .who
                .as_ref()
                .map(|p| Authn::Authenticated(identity(p)))
                .filter(|_| needs.credentials(live));
            decision::authorize(live, needs, authn, &facts)
        }
    };
    let block = d.ruling().and_then(|ruling| {
        ruling
            .block
            .map(|_| ruling.block_label(&live.routes[0].policy).to_string())
    });
    let outcome = match &d {
        Decision::Forward(_) => Outcome::Forward,
        Decision::Deny(x) if x.check == Check::Policy => Outcome::Forbidden,
        Decision::Deny(x) if x.check == Check::SecondFactor => Outcome::SecondStep,
        Decision::Deny(x) if matches!(x.reject, Reject::Unauthenticated { .. }) => Outcome::SignIn,
        other => panic!("not an outcome of a policy: {other:?}"),
    };
    (outcome, block)
}

// ---------------------------------------------------------------- the reference

/// Who the reference judges: nobody known yet (criteria about the caller are unknown), nobody
/// as such (they are false), or a person signed in with these methods.
#[derive(Clone)]
enum RefWho<'a> {
    Unknown,
    Nobody,
    Is(&'a Person, BTreeSet<&'static str>),
}

fn v4_mapped(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.segments() {
            [0, 0, 0, 0, 0, 0xffff, hi, lo] => IpAddr::V4(std::net::Ipv4Addr::from(
                (u32::from(hi) << 16) | u32::from(lo),
            )),
            _ => ip,
        },
        v4 => v4,
    }
}

/// Address in block, by arithmetic on the bits.
fn in_cidr(ip: IpAddr, cidr: &str) -> bool {
    let (net, len) = cidr.split_once('/').unwrap_or((cidr, ""));
    let net: IpAddr = net.parse().unwrap();
    let (a, b, bits) = match (v4_mapped(ip), net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u128::from(u32::from(a)), u128::from(u32::from(b)), 32),
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), 128),
        _ => return false,
    };
    let len: u32 = if len.is_empty() {
        bits
    } else {
        len.parse().unwrap()
    };
    let shift = bits - len;
    len == 0 || (a >> shift) == (b >> shift)
}

/// Weekday (0 = Monday) and minute of the day at `at` in `tz`.
fn local(at: i64, tz: &str) -> (u8, u16) {
    if tz == "UTC" {
        // 1970-01-01 was a Thursday.
        let day = at.div_euclid(86_400);
        let secs = at.rem_euclid(86_400);
        return (((day + 3).rem_euclid(7)) as u8, (secs / 60) as u16);
    }
    let z = jiff::Timestamp::from_second(at).unwrap().in_tz(tz).unwrap();
    (
        z.weekday().to_monday_zero_offset() as u8,
        z.hour() as u16 * 60 + z.minute() as u16,
    )
}

fn window(days: u8, from: u16, to: u16, tz: &str, at: i64) -> bool {
    let (day, minute) = local(at, tz);
    let on = |d: u8| days & (1 << d) != 0;
    if from < to {
        on(day) && from <= minute && minute < to
    } else {
        // Past midnight: the night belongs to the evening it started on.
        (on(day) && minute >= from) || (on((day + 6) % 7) && minute < to)
    }
}

/// A claim of the person's access token by pointer (`sub` and `role` are the user's).
fn claim(p: &Person, pointer: &str) -> Option<Value> {
    let path: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
    let doc = json!({
        "sub": "42",
        "role": p.role,
        "tier": p.tier,
        "realm": if p.realm_roles.is_empty() { Value::Null } else { json!({ "roles": p.realm_roles }) },
        "dept": p.dept.map(|d| json!({ "id": d })).unwrap_or(Value::Null),
    });
    if p.key.is_some() && !matches!(path[0], "sub" | "role") {
        return None;
    }
    let mut at = &doc;
    for seg in path {
        at = at.get(seg)?;
    }
    (!at.is_null()).then(|| at.clone())
}

fn claim_holds(p: &Person, pointer: &str, wanted: &[Value]) -> bool {
    let Some(found) = claim(p, pointer) else {
        return false;
    };
    // `sub` is text in the token; the number 42 in the config means the same id.
    let is_sub = pointer.trim_start_matches('/') == "sub";
    let same = |a: &Value, b: &Value| a == b || (is_sub && *a == json!("42") && *b == json!(42));
    match found {
        Value::Array(items) => items.iter().any(|i| wanted.iter().any(|w| same(i, w))),
        one => wanted.iter().any(|w| same(&one, w)),
    }
}

/// Kleene "and" of criteria: false wins, then unknown.
fn all(cs: &[Crit], who: &RefWho, r: &Req) -> Option<bool> {
    let vals: Vec<Option<bool>> = cs.iter().map(|c| crit(c, who, r)).collect();
    if vals.contains(&Some(false)) {
        Some(false)
    } else if vals.contains(&None) {
        None
    } else {
        Some(true)
    }
}

fn crit(c: &Crit, who: &RefWho, r: &Req) -> Option<bool> {
    let ip: IpAddr = r.ip.parse().unwrap();
    match c {
        Crit::Nets(items) => Some(items.iter().any(|i| match named(i) {
            Some(cidrs) => cidrs.iter().any(|c| in_cidr(ip, c)),
            None => in_cidr(ip, i),
        })),
        Crit::Methods(ms) => Some(ms.contains(&r.method)),
        Crit::Time { days, from, to, tz } => Some(window(*days, *from, *to, tz, r.at)),
        Crit::Not(inner) => all(inner, who, r).map(|b| !b),
        _ => match who {
            RefWho::Unknown => None,
            RefWho::Nobody => Some(false),
            RefWho::Is(p, amr) => Some(about(c, p, amr)),
        },
    }
}

fn about(c: &Crit, p: &Person, amr: &BTreeSet<&'static str>) -> bool {
    let proven = p.verified.then_some(p.email);
    match c {
        Crit::Users(v) => proven.is_some_and(|e| v.contains(&e)),
        Crit::Domains(v) => proven.is_some_and(|e| {
            let domain = e.split('@').nth(1).unwrap();
            v.iter().any(|d| match d.strip_prefix("*.") {
                Some(parent) => domain.ends_with(&format!(".{parent}")),
                None => domain == *d,
            })
        }),
        Crit::Roles(v) => v.contains(&p.role),
        Crit::Groups(v) => v.iter().any(|g| p.groups.contains(g)),
        Crit::Claims(v) => v.iter().all(|(ptr, vals)| claim_holds(p, ptr, vals)),
        Crit::Scopes(v) => p
            .key
            .as_ref()
            .is_some_and(|k| v.iter().any(|s| k.contains(s))),
        Crit::Mfa => amr.contains("otp") || amr.contains("hwk"),
        Crit::Amr(v) => v.iter().any(|n| match *n {
            "mfa" => amr.contains("otp") || amr.contains("hwk"),
            n => amr.contains(n),
        }),
        Crit::Nets(_) | Crit::Methods(_) | Crit::Time { .. } | Crit::Not(_) => unreachable!(),
    }
}

/// The README's rules, read literally.
fn reference(s: &Spec, r: &Req) -> (Outcome, Option<String>) {
    let label = |kind: &str, i: usize| format!("{kind}[{i}]");
    let allow = s.allow.clone().unwrap_or_default();
    let deny = s.deny.clone().unwrap_or_default();
    let judge = |who: &RefWho| -> (Outcome, Option<String>) {
        // "deny wins over allow whatever the order."
        for (i, b) in deny.iter().enumerate() {
            if all(b, who, r) == Some(true) {
                return (Outcome::Forbidden, Some(label("deny", i)));
            }
        }
        // A deny block that holds against nobody, and could be lifted by signing in.
        let lifted_by_sign_in = deny
            .iter()
            .position(|b| all(b, who, r).is_none() && all(b, &RefWho::Nobody, r) == Some(true));
        let allowed = if allow.is_empty() {
            (Outcome::Forward, None)
        } else if let Some(i) = allow.iter().position(|b| all(b, who, r) == Some(true)) {
            (Outcome::Forward, Some(label("allow", i)))
        } else if let Some(i) = allow.iter().position(|b| all(b, who, r).is_none()) {
            (Outcome::SignIn, Some(label("allow", i)))
        } else if let Some(i) = allow.iter().position(|b| match who {
            // The same person after a second step (a code, or a passkey); a key has none.
            RefWho::Is(p, amr) if p.key.is_none() => ["otp", "hwk"].iter().any(|m| {
                let mut more = amr.clone();
                more.insert(m);
                all(b, &RefWho::Is(p, more), r) == Some(true)
            }),
            _ => false,
        }) {
            (Outcome::SecondStep, Some(label("allow", i)))
        } else {
            (Outcome::Forbidden, None)
        };
        match (allowed.0.clone(), lifted_by_sign_in) {
            (Outcome::Forbidden, _) | (_, None) => allowed,
            (_, Some(i)) => (Outcome::SignIn, Some(label("deny", i))),
        }
    };
    // Refused whoever signs in: refused before anyone does.
    let before = judge(&RefWho::Unknown);
    if before.0 == Outcome::Forbidden {
        return before;
    }
    let who = match (s.auth, &r.who) {
        ("none", _) => RefWho::Unknown,
        (_, Some(p)) => RefWho::Is(p, p.amr.iter().copied().collect()),
        ("required", None) => return (Outcome::SignIn, None),
        (_, None) => RefWho::Unknown,
    };
    if let RefWho::Is(p, _) = &who {
        if p.key.is_some() {
            return judge(&RefWho::Is(p, BTreeSet::new()));
        }
    }
    judge(&who)
}

// ---------------------------------------------------------------- the property

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 10_000,
        max_shrink_iters: 2_000,
        .. ProptestConfig::default()
    })]

    #[test]
    fn the_engine_agrees_with_the_reference(s in spec(), reqs in proptest::collection::vec(request(), 4)) {
        let yaml = config_yaml(&s);
        let cfg = portcullis::config::from_yaml(&yaml, &Default::default(), std::path::Path::new("."))
            .map_err(|e| TestCaseError::fail(format!("{yaml}\n{e:?}")))?;
        let live = portcullis::live::Live::new(cfg);
        for r in &reqs {
            let got = engine(&live, r);
            let want = reference(&s, r);
            prop_assert_eq!(&got, &want, "\n{}\n{:?}", yaml, r);
        }
    }
}

#[test]
fn criteria_about_the_caller_under_auth_none_are_refused_by_the_config() {
    let s = Spec {
        auth: "none",
        allow: Some(vec![vec![Crit::Groups(vec!["eng"])]]),
        deny: None,
    };
    let errs = portcullis::config::from_yaml(
        &config_yaml(&s),
        &Default::default(),
        std::path::Path::new("."),
    )
    .unwrap_err();
    assert!(
        errs.iter()
            .any(|e| e.to_string().contains("auth: none never looks")),
        "{errs:?}"
    );
}

#[test]
fn the_reference_reads_addresses_and_clocks_as_written() {
    assert!(in_cidr(
        "::ffff:203.0.113.9".parse().unwrap(),
        "203.0.113.0/24"
    ));
    assert!(!in_cidr("203.0.114.1".parse().unwrap(), "203.0.113.0/24"));
    assert!(in_cidr("2001:db8::5".parse().unwrap(), "2001:db8::/32"));
    assert!(in_cidr("192.0.2.7".parse().unwrap(), "192.0.2.7"));
    // Friday 2026-12-04 10:00 UTC; 11:00 in Berlin; 05:00 in New York.
    let at = 1_796_378_400;
    assert_eq!(local(at, "UTC"), (4, 600));
    assert_eq!(local(at, "Europe/Berlin"), (4, 660));
    assert_eq!(local(at, "America/New_York"), (4, 300));
}
