//! Several hosts behind one gateway: routes by exact host or `*.` pattern, 404 for a host no
//! route names, sign-in pages that send the browser back to any configured host and nowhere
//! else, and one sign-in for every subdomain with `cookie.domain` (logout ends it everywhere).

use crate::harness::*;

const ROUTES: &str = r#"
  - { name: app, host: "app.example.test", path: "/**", upstream: app, auth: required }
  - { name: tools, host: "*.Tools.example.test", path: "/**", upstream: app, auth: { roles: [admin] } }
"#;

/// A client that resolves every name used here to the gateway, as DNS would in production.
fn client(g: &Gateway) -> (reqwest::Client, u16) {
    let port: u16 = g.base.rsplit(':').next().unwrap().parse().unwrap();
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let mut b = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
    for name in [
        "id.example.test",
        "app.example.test",
        "a.tools.example.test",
        "tools.example.test",
        "a.b.tools.example.test",
        "other.test",
    ] {
        b = b.resolve(name, addr);
    }
    (b.build().unwrap(), port)
}

/// Signs in through the sign-in page with `returnTo`; the answer's location and cookie.
async fn sign_in(c: &reqwest::Client, port: u16, back: &str) -> (String, String) {
    let page = c
        .get(format!("http://id.example.test:{port}/login"))
        .send()
        .await
        .unwrap();
    let (csrf, _) = set_cookie(&page);
    let token = csrf.trim_start_matches("portcullis_csrf=").to_string();
    let r = c
        .post(format!("http://id.example.test:{port}/login"))
        .header("cookie", &csrf)
        .form(&[
            ("csrf", token.as_str()),
            ("returnTo", back),
            ("email", ADMIN_EMAIL),
            ("password", ADMIN_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let (_, full) = set_cookie(&r);
    (
        r.headers()["location"].to_str().unwrap().to_string(),
        full,
    )
}

#[tokio::test]
async fn hosts_route_and_one_sign_in_serves_every_subdomain() {
    let (up, g) = start_with(|o| {
        o.routes = ROUTES.into();
        o.public_url = Some("http://id.example.test".into());
        o.extra = "cookie: { domain: example.test }\nmail: { outbox: true }\n".into();
    })
    .await;
    let (c, port) = client(&g);
    let url = |host: &str, path: &str| format!("http://{host}:{port}{path}");

    // Hosts no route names: 404, before any credential is looked at.
    for host in ["other.test", "tools.example.test", "a.b.tools.example.test"] {
        let r = c.get(url(host, "/x")).send().await.unwrap();
        assert_eq!(r.status(), 404, "{host}");
    }
    assert_eq!(up.count(), 0);

    // Back to a configured host after signing in; never to another.
    let back = url("a.tools.example.test", "/dash?x=1");
    let (location, set) = sign_in(&c, port, &back).await;
    assert_eq!(location, back);
    let (evil, _) = sign_in(&c, port, "http://evil.test/").await;
    assert!(!evil.contains("evil.test"), "{evil}");
    let parsed = cookie::Cookie::parse(set.clone()).unwrap();
    assert_eq!(parsed.domain(), Some("example.test"), "{set}");
    let session = format!("{}={}", parsed.name(), parsed.value());

    // The one cookie works on every subdomain a browser sends it to.
    for host in ["app.example.test", "a.tools.example.test"] {
        let r = c
            .get(url(host, "/page"))
            .header("cookie", &session)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{host}");
        assert_eq!(up.last().headers["x-auth-email"], ADMIN_EMAIL);
    }

    // Logging out on one host ends it on all of them.
    let token = parsed.value().to_string();
    let r = c
        .post(url("app.example.test", "/api/logout"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    for host in ["app.example.test", "a.tools.example.test"] {
        let r = c
            .get(url(host, "/page"))
            .header("cookie", &session)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{host}");
    }
}
