use super::*;
use crate::auth::{CachedUser, Rejection, SessionEntry};
use http::{HeaderMap, Method};
use std::sync::Arc;

fn id(role: &str) -> Authn {
    Authn::Authenticated(Identity {
        user: Arc::new(CachedUser {
            id: 1,
            email: "a@b.c".into(),
            name: "A".into(),
            role: role.into(),
            active: true,
            picture: None,
            email_verified: true,
            groups: Vec::new(),
            header_values: Default::default(),
        }),
        session_id: uuid::Uuid::nil(),
        session: SessionEntry {
            user_id: 1,
            token_id: uuid::Uuid::nil(),
            expires_at: 0,
            remember: false,
            revoked: false,
            amr: crate::auth::Amr::PWD,
        },
        key: None,
        claims: None,
    })
}

fn live() -> Live {
    let cfg = crate::config::from_yaml(
        "upstreams: { a: { addrs: [\"127.0.0.1:1\"], assertion: true } }\nroutes:\n  - { name: public, path: \"/public/**\", upstream: a, auth: none }\n  - { name: admin, path: \"/admin/**\", upstream: a, auth: { roles: [admin] } }\n  - { name: api, path: \"/data/**\", upstream: a, auth: required, on_unauthenticated: deny }\n  - { name: limited, path: \"/limited/**\", upstream: a, auth: none, rate_limit: { per_minute: 1, burst: 1 } }\n  - { name: maybe, path: \"/maybe/**\", upstream: a, auth: optional }\n  - { name: app, path: \"/**\", upstream: a, auth: required }\n",
        &Default::default(),
        std::path::Path::new("."),
    )
    .unwrap();
    Live::new(cfg)
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut m = HeaderMap::new();
    for (k, v) in pairs {
        m.append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    m
}

/// The whole decision, as the proxy makes it, for a caller whose authentication found `authn`.
fn decide(
    live: &Live,
    method: &Method,
    target: &str,
    h: &HeaderMap,
    authn: Option<Authn>,
) -> Decision {
    let facts = RequestFacts {
        method,
        raw_target: target.as_bytes(),
        host: None,
        headers: h,
        client_ip: Some("192.0.2.1".parse().unwrap()),
        forwarded: false,
        at: crate::clock::now(),
        count: true,
    };
    match pre_auth(live, &facts) {
        PreAuth::Decided(d) => d,
        PreAuth::Needs(needs) => {
            let authn = if needs.credentials(live) { authn } else { None };
            authorize(live, needs, authn, &facts)
        }
    }
}

fn status(d: &Decision) -> u16 {
    match d {
        Decision::Deny(d) => d.reject.status().as_u16(),
        Decision::Redirect { .. } => 302,
        Decision::Forward(_) => 200,
        Decision::ServerOptions => 204,
        Decision::Control(_) | Decision::EdgeCheck(_) => 0,
    }
}

#[test]
fn each_check_decides_in_turn() {
    let l = live();
    let get = Method::GET;
    let none = HeaderMap::new();
    let page = headers(&[("accept", "text/html")]);
    let big = headers(&[("x-big", &"a".repeat(40_000))]);
    type Case<'a> = (&'a str, &'a HeaderMap, Option<Authn>, u16, Option<Check>);
    let cases: Vec<Case> = vec![
        ("/public/x", &big, None, 431, Some(Check::HeadSize)),
        (
            "/public/../admin",
            &none,
            None,
            400,
            Some(Check::Target(target::BadTarget::DotSegment)),
        ),
        (
            "/ADMIN/x",
            &none,
            Some(id("admin")),
            400,
            Some(Check::Target(target::BadTarget::RouteDepends)),
        ),
        (
            "/public/x",
            &none,
            Some(Authn::Rejected(Rejection::Invalid)),
            200,
            None,
        ),
        (
            "/admin/x",
            &none,
            Some(id("user")),
            403,
            Some(Check::Policy),
        ),
        ("/admin/x", &none, Some(id("admin")), 200, None),
        ("/app/x", &none, None, 401, Some(Check::Credentials)),
        ("/app/x", &page, None, 302, None),
        ("/data/x", &page, None, 401, Some(Check::Credentials)),
        (
            "/app/x",
            &none,
            Some(Authn::Unavailable),
            503,
            Some(Check::Credentials),
        ),
        ("/api/login", &none, None, 0, None),
    ];
    for (target, h, authn, want, check) in cases {
        let d = decide(&l, &get, target, h, authn);
        assert_eq!(status(&d), want, "{target}: {d:?}");
        if let (Some(c), Decision::Deny(denial)) = (check, &d) {
            assert_eq!(denial.check, c, "{target}");
        }
    }
    // A browser's page load is refused with a page; a route declared for API clients keeps JSON.
    let Decision::Deny(d) = decide(&l, &get, "/%zz", &page, None) else {
        panic!()
    };
    assert!(d.html);
    // The route's limit, per client, before any credentials.
    assert_eq!(status(&decide(&l, &get, "/limited/a", &none, None)), 200);
    assert_eq!(status(&decide(&l, &get, "/limited/a", &none, None)), 429);
    // Cross-site with the session cookie on a protected route.
    let csrf = headers(&[
        ("cookie", "portcullis_session=x"),
        ("sec-fetch-site", "cross-site"),
    ]);
    let d = decide(&l, &Method::POST, "/app/x", &csrf, Some(id("user")));
    assert!(
        matches!(
            d,
            Decision::Deny(Denial {
                check: Check::CrossSite,
                ..
            })
        ),
        "{d:?}"
    );
    // OPTIONS * is the gateway's.
    assert!(matches!(
        decide(&l, &Method::OPTIONS, "*", &none, None),
        Decision::ServerOptions
    ));
}

#[test]
fn a_forward_carries_what_to_do_with_it() {
    let l = live();
    let Decision::Forward(f) = decide(
        &l,
        &Method::GET,
        "//admin//x?q=1",
        &HeaderMap::new(),
        Some(id("admin")),
    ) else {
        panic!()
    };
    assert_eq!(f.target.origin_form(), "/admin/x?q=1");
    assert!(f.identity.is_some() && f.assertion && f.drop_credentials && !f.public);
    let Decision::Forward(f) = decide(
        &l,
        &Method::GET,
        "/public/x",
        &HeaderMap::new(),
        Some(id("admin")),
    ) else {
        panic!()
    };
    assert!(
        f.identity.is_none() && f.public && f.drop_credentials,
        "public routes never look at credentials"
    );
}

#[test]
fn rules() {
    let l = live();
    let get = Method::GET;
    let none = HeaderMap::new();
    let d = |target: &str, authn: Option<Authn>| decide(&l, &get, target, &none, authn);
    let forwarded_as = |d: Decision| match d {
        Decision::Forward(f) => Ok(f.identity.map(|i| i.user.role.clone())),
        Decision::Deny(denial) => Err(denial.reject),
        other => panic!("{other:?}"),
    };
    assert_eq!(forwarded_as(d("/maybe/x", None)), Ok(None));
    assert_eq!(
        forwarded_as(d("/maybe/x", Some(id("user")))),
        Ok(Some("user".into()))
    );
    assert_eq!(
        forwarded_as(d("/maybe/x", Some(Authn::Rejected(Rejection::Revoked)))),
        Ok(None),
        "a failed credential on an optional route is nobody"
    );
    assert!(matches!(
        forwarded_as(d("/app/x", None)),
        Err(Reject::Unauthenticated {
            invalid_token: false,
            ..
        })
    ));
    assert!(matches!(
        forwarded_as(d("/app/x", Some(Authn::Rejected(Rejection::Revoked)))),
        Err(Reject::Unauthenticated {
            invalid_token: true,
            ..
        })
    ));
    assert!(matches!(
        forwarded_as(d("/admin/x", Some(id("user")))),
        Err(Reject::Forbidden("Your role does not allow this"))
    ));
    assert_eq!(
        forwarded_as(d("/admin/x", Some(id("admin")))),
        Ok(Some("admin".into()))
    );
    assert!(matches!(
        forwarded_as(d("/app/x", Some(Authn::Unavailable))),
        Err(Reject::Unavailable)
    ));
}
