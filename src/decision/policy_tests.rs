use super::*;
use crate::auth::{CachedUser, SessionEntry};
use std::sync::Arc;

/// The policy of one `auth: optional` route with these `allow`/`deny` lines.
fn policy(lines: &str) -> Policy {
    let yaml = format!(
        "upstreams: {{ a: {{ addrs: [\"127.0.0.1:1\"] }} }}\nnetworks: {{ office: [\"203.0.113.0/24\", \"2001:db8::/32\"], vpn: [\"10.8.0.0/16\"] }}\nroutes:\n  - path: \"/**\"\n    upstream: a\n    auth: optional\n{lines}"
    );
    let cfg = crate::config::from_yaml(&yaml, &Default::default(), std::path::Path::new("."))
        .unwrap_or_else(|e| panic!("{yaml}\n{e:?}"));
    cfg.routes[0].policy.clone()
}

struct Person {
    email: &'static str,
    verified: bool,
    role: &'static str,
    groups: &'static [&'static str],
    amr: Amr,
    claims: Option<serde_json::Value>,
    key_scopes: Option<&'static [&'static str]>,
}

const ANN: Person = Person {
    email: "ann@example.com",
    verified: true,
    role: "user",
    groups: &["eng", "ops"],
    amr: Amr::PWD,
    claims: None,
    key_scopes: None,
};

fn identity(p: Person) -> Identity {
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
        session_id: uuid::Uuid::from_u128(7),
        session: SessionEntry {
            user_id: 42,
            token_id: uuid::Uuid::nil(),
            expires_at: i64::MAX,
            remember: false,
            revoked: false,
            amr: p.amr,
        },
        key: p.key_scopes.map(|s| {
            Arc::new(crate::auth::api_keys::KeyGrant::new(
                "00000000-0000-0000-0000-000000000001",
                s.iter().map(|x| x.to_string()).collect(),
            ))
        }),
        claims: p
            .claims
            .map(|c| Arc::new(c.as_object().cloned().unwrap_or_default())),
    }
}

fn facts<'a>(method: &'a Method, ip: &str, at: i64) -> Facts<'a> {
    Facts {
        method,
        ip: Some(ip.parse().unwrap()),
        at,
    }
}

/// Friday 2026-12-04 at `h:00` UTC.
fn friday(h: i64) -> i64 {
    1_796_342_400 + h * 3600
}

const GET: Method = Method::GET;

fn verdict(p: &Policy, who: Who<'_>, f: &Facts<'_>) -> Verdict {
    judge(p, who, f).verdict
}

#[test]
fn blocks_are_alternatives_and_criteria_all_hold() {
    let p = policy("    allow:\n      - { networks: [office] }\n      - { email_domains: [example.com], groups: [eng] }\n");
    let outside = facts(&GET, "198.51.100.1", friday(10));
    let inside = facts(&GET, "203.0.113.9", friday(10));
    assert_eq!(verdict(&p, Who::Unknown, &inside), Verdict::Allow);
    assert_eq!(
        judge(&p, Who::Unknown, &inside).block,
        Some(BlockRef {
            deny: false,
            index: 0
        })
    );
    // Outside the office nobody signed in: the second block could hold once they do.
    let r = judge(&p, Who::Unknown, &outside);
    assert_eq!(
        (r.verdict, r.block_label(&p)),
        (Verdict::SignIn, "allow[1]")
    );
    let ann = identity(ANN);
    assert_eq!(verdict(&p, Who::known(&ann), &outside), Verdict::Allow);
    let bob = identity(Person {
        groups: &["sales"],
        ..ANN
    });
    assert_eq!(verdict(&p, Who::known(&bob), &outside), Verdict::Deny);
    // `*.` is any depth below the domain, never the domain itself.
    let p2 = policy("    allow:\n      - { email_domains: [\"*.example.com\"] }\n");
    for (email, want) in [
        ("a@dev.example.com", Verdict::Allow),
        ("a@x.dev.example.com", Verdict::Allow),
        ("a@example.com", Verdict::Deny),
        ("a@badexample.com", Verdict::Deny),
    ] {
        let who = identity(Person { email, ..ANN });
        assert_eq!(verdict(&p2, Who::known(&who), &outside), want, "{email}");
    }
    // An address nobody proved is no address at example.com.
    let unproven = identity(Person {
        verified: false,
        ..ANN
    });
    assert_eq!(verdict(&p, Who::known(&unproven), &outside), Verdict::Deny);
}

#[test]
fn deny_wins_whatever_the_order_and_facts_alone_refuse_before_sign_in() {
    let p = policy(
        "    deny:\n      - { methods: [DELETE] }\n    allow:\n      - { networks: [office] }\n",
    );
    let del = Method::DELETE;
    let f = facts(&del, "203.0.113.9", 0);
    let r = judge(&p, Who::Unknown, &f);
    assert_eq!((r.verdict, r.block_label(&p)), (Verdict::Deny, "deny[0]"));
    assert_eq!(refused_before_sign_in(&p, &f), Some(r));
    // No allow block can hold from outside, whoever signs in: refused before sign-in too.
    let outside = facts(&GET, "198.51.100.1", 0);
    let r = refused_before_sign_in(&p, &outside).unwrap();
    assert_eq!((r.verdict, r.block), (Verdict::Deny, None));
    assert_eq!(
        refused_before_sign_in(&p, &facts(&GET, "203.0.113.9", 0)),
        None
    );
}

#[test]
fn a_deny_about_the_caller_asks_for_a_sign_in_only_where_that_could_lift_it() {
    // Contractors are refused: somebody not signed in is no contractor.
    let p = policy("    allow:\n      - { networks: [office] }\n    deny:\n      - { groups: [contractors] }\n");
    let inside = facts(&GET, "203.0.113.9", 0);
    assert_eq!(verdict(&p, Who::Unknown, &inside), Verdict::Allow);
    let c = identity(Person {
        groups: &["contractors"],
        ..ANN
    });
    assert_eq!(verdict(&p, Who::known(&c), &inside), Verdict::Deny);
    // Everyone outside eng is refused: somebody not signed in might be in eng.
    let p = policy("    allow:\n      - { networks: [office] }\n    deny:\n      - name: eng only\n        not: { groups: [eng] }\n");
    let r = judge(&p, Who::Unknown, &inside);
    assert_eq!(
        (r.verdict, r.block_label(&p)),
        (Verdict::SignIn, "eng only")
    );
    assert_eq!(
        verdict(&p, Who::known(&identity(ANN)), &inside),
        Verdict::Allow
    );
    assert_eq!(verdict(&p, Who::known(&c), &inside), Verdict::Deny);
}

#[test]
fn a_block_failing_only_on_its_second_factor_asks_for_the_second_step() {
    let p = policy(
        "    allow:\n      - { groups: [eng], mfa: true }\n      - { groups: [ops], amr: [hwk] }\n",
    );
    let f = facts(&GET, "198.51.100.1", 0);
    let ann = identity(ANN);
    let r = judge(&p, Who::known(&ann), &f);
    assert_eq!(
        (r.verdict, r.block_label(&p)),
        (Verdict::StepUp, "allow[0]")
    );
    let stepped = identity(Person {
        amr: Amr::PWD.with(Amr::OTP),
        ..ANN
    });
    assert_eq!(verdict(&p, Who::known(&stepped), &f), Verdict::Allow);
    let passkey = identity(Person {
        amr: Amr::HWK,
        groups: &["ops"],
        ..ANN
    });
    assert_eq!(verdict(&p, Who::known(&passkey), &f), Verdict::Allow);
    // No group of either block: a second step would not help.
    let bob = identity(Person {
        groups: &["sales"],
        ..ANN
    });
    assert_eq!(verdict(&p, Who::known(&bob), &f), Verdict::Deny);
    // A block no second step can satisfy asks for none.
    let p = policy("    allow:\n      - { mfa: true, not: { amr: [otp, hwk] } }\n");
    assert_eq!(verdict(&p, Who::known(&ann), &f), Verdict::Deny);
    // An API key has no second step to take.
    let p = policy("    allow:\n      - { mfa: true }\n");
    let key = identity(Person {
        key_scopes: Some(&[]),
        ..ANN
    });
    assert_eq!(verdict(&p, Who::known(&key), &f), Verdict::Deny);
    // A second factor the route must not see.
    let p = policy("    allow:\n      - not: { mfa: true }\n");
    assert_eq!(verdict(&p, Who::known(&ann), &f), Verdict::Allow);
    assert_eq!(verdict(&p, Who::known(&stepped), &f), Verdict::Deny);
}

#[test]
fn claims_are_read_by_pointer_from_the_token_and_the_caller() {
    let p = policy("    allow:\n      - claims: { \"/realm_access/roles\": editor, \"/dept/id\": [7, 8] }\n      - claims: { sub: \"42\" }\n");
    let f = facts(&GET, "198.51.100.1", 0);
    let with = |c: serde_json::Value| {
        identity(Person {
            claims: Some(c),
            ..ANN
        })
    };
    let ok = with(
        serde_json::json!({"realm_access": {"roles": ["viewer", "editor"]}, "dept": {"id": 8}}),
    );
    assert_eq!(judge(&p, Who::known(&ok), &f).block_label(&p), "allow[0]");
    let viewer =
        with(serde_json::json!({"realm_access": {"roles": ["viewer"]}, "dept": {"id": 8}}));
    assert_eq!(
        judge(&p, Who::known(&viewer), &f).block_label(&p),
        "allow[1]",
        "sub is the user's id, written as text"
    );
    let p = policy("    allow:\n      - claims: { sub: 43 }\n      - claims: { role: admin }\n");
    assert_eq!(verdict(&p, Who::known(&viewer), &f), Verdict::Deny);
    let admin = identity(Person {
        role: "admin",
        ..ANN
    });
    assert_eq!(verdict(&p, Who::known(&admin), &f), Verdict::Allow);
    assert!(decimal_eq(&serde_json::json!("-12"), -12));
    for no in [
        serde_json::json!("042"),
        serde_json::json!("+42"),
        serde_json::json!(42.5),
    ] {
        assert!(!decimal_eq(&no, 42), "{no}");
    }
}

#[test]
fn networks_read_mapped_addresses_and_time_windows_read_the_zone() {
    let p = policy("    allow:\n      - { networks: [office, \"192.0.2.7\"] }\n");
    for (ip, want) in [
        ("::ffff:203.0.113.9", Verdict::Allow),
        ("2001:db8::1", Verdict::Allow),
        ("192.0.2.7", Verdict::Allow),
        ("192.0.2.8", Verdict::Deny),
    ] {
        assert_eq!(verdict(&p, Who::Unknown, &facts(&GET, ip, 0)), want, "{ip}");
    }
    assert_eq!(
        verdict(
            &p,
            Who::Unknown,
            &Facts {
                method: &GET,
                ip: None,
                at: 0
            }
        ),
        Verdict::Deny,
        "no known address is in no network"
    );
    let p = policy("    allow:\n      - time: { days: mon-fri, from: \"07:00\", to: \"19:00\", tz: Europe/Berlin }\n");
    // Friday 06:30 UTC is 07:30 in Berlin (CET, UTC+1); 18:30 UTC is 19:30.
    let at = |h: i64, m: i64| facts(&GET, "192.0.2.1", friday(h) + m * 60);
    assert_eq!(verdict(&p, Who::Unknown, &at(6, 30)), Verdict::Allow);
    assert_eq!(verdict(&p, Who::Unknown, &at(5, 59)), Verdict::Deny);
    assert_eq!(verdict(&p, Who::Unknown, &at(18, 30)), Verdict::Deny);
    assert_eq!(
        verdict(&p, Who::Unknown, &facts(&GET, "192.0.2.1", friday(24 + 10))),
        Verdict::Deny,
        "Saturday"
    );
}

#[test]
fn scopes_users_roles_and_amr() {
    let p = policy("    allow:\n      - { scopes: [\"billing:read\", admin] }\n      - { users: [Bob@Example.com] }\n      - { roles: [auditor], amr: [fed] }\n");
    let f = facts(&GET, "192.0.2.1", 0);
    let key = identity(Person {
        key_scopes: Some(&["billing:read"]),
        ..ANN
    });
    assert_eq!(judge(&p, Who::known(&key), &f).block_label(&p), "allow[0]");
    let bob = identity(Person {
        email: "bob@example.com",
        ..ANN
    });
    assert_eq!(judge(&p, Who::known(&bob), &f).block_label(&p), "allow[1]");
    let auditor = identity(Person {
        role: "auditor",
        amr: Amr::FED,
        ..ANN
    });
    assert_eq!(
        judge(&p, Who::known(&auditor), &f).block_label(&p),
        "allow[2]"
    );
    let by_password = identity(Person {
        role: "auditor",
        ..ANN
    });
    assert_eq!(
        verdict(&p, Who::known(&by_password), &f),
        Verdict::Deny,
        "no second step makes a password sign-in a federated one"
    );
    let p = policy("    allow:\n      - { roles: [auditor], amr: [fed, hwk] }\n");
    assert_eq!(
        verdict(&p, Who::known(&by_password), &f),
        Verdict::StepUp,
        "a passkey would do"
    );
    assert_eq!(verdict(&p, Who::known(&identity(ANN)), &f), Verdict::Deny);
}
