//! Forward-auth behind real edge proxies: Debian's nginx (`auth_request`) and Caddy
//! (`forward_auth`), Traefik (`ForwardAuth`) and Envoy (`ext_authz`) each protect the
//! recording app, ask the gateway about every request, copy the identity headers it answers
//! with, and send browsers to the gateway's sign-in page. The configs are the files shipped in
//! `deploy/forward-auth/` with ports filled in, and what `portcullis edge-config` writes for a
//! gateway with another identity prefix. The forged headers are the gateway's own list
//! (`IdentityHeaders::all`), so a header added to it later is forged here without a change.

use crate::edges::{self, Edge};
use crate::harness::*;
use portcullis::config::{IdentityField, IdentityHeaders};

/// A gateway that answers every edge's checks from this machine, and sends browsers back to
/// the edge after signing in; `extra` is more top-level config.
async fn gateway(up: &Upstream, edge: u16, extra: &str) -> Gateway {
    let mut o = Options::new(up.addr);
    o.server_extra = format!(
        "  trusted_proxies: [\"127.0.0.1/32\"]\n  redirect_origins: [\"http://127.0.0.1:{edge}\"]\n"
    );
    o.extra = format!(
        "api:\n  routes:\n    forward-auth: true\n    auth-request: true\n    ext-authz: true\n{extra}"
    );
    Gateway::start(o).await
}

fn gateway_port(g: &Gateway) -> u16 {
    g.base.rsplit(':').next().unwrap().parse().unwrap()
}

/// The identity headers of the gateway's running config.
fn names(g: &Gateway) -> IdentityHeaders {
    portcullis::config::load(&g.config, &Default::default())
        .unwrap()
        .identity
}

/// Which config the edge runs.
#[derive(Clone, Copy, PartialEq)]
enum Files {
    /// The file shipped in `deploy/forward-auth/`, ports replaced.
    Shipped,
    /// `portcullis edge-config` on the running gateway's config.
    Generated,
}

/// An app behind `edge`, behind the gateway; `None` where this machine lacks the edge.
struct Behind {
    up: Upstream,
    g: Gateway,
    port: u16,
    _edge: edges::Proc,
    _dir: tempfile::TempDir,
}

async fn behind(edge: Edge, files: Files, extra: &str) -> Option<Behind> {
    behind_with(edge, files, extra, |site| site).await
}

async fn behind_with(
    edge: Edge,
    files: Files,
    extra: &str,
    change: impl FnOnce(String) -> String,
) -> Option<Behind> {
    if !edges::available(edge) {
        return None;
    }
    let up = Upstream::start().await;
    let port = free_port();
    let g = gateway(&up, port, extra).await;
    let site = match files {
        Files::Shipped => edges::shipped(edge, port, gateway_port(&g), up.addr),
        Files::Generated => edges::generated(edge, &g.config, port, up.addr),
    };
    let dir = tempfile::tempdir().unwrap();
    let proc = edges::start(edge, dir.path(), &change(site), port).await;
    Some(Behind {
        up,
        g,
        port,
        _edge: proc,
        _dir: dir,
    })
}

/// Signs in through the gateway's sign-in page, as the browser the edge sent there would;
/// returns the session cookie and where the page sends the browser back to.
async fn sign_in_at(location: &str, email: &str, password: &str) -> (String, String) {
    let c = no_redirects();
    let page = c.get(location).send().await.unwrap();
    assert_eq!(page.status(), 200, "the sign-in page opens");
    let (csrf, _) = set_cookie(&page);
    let token = csrf.trim_start_matches("portcullis_csrf=").to_string();
    let url = url::Url::parse(location).unwrap();
    let back = url
        .query_pairs()
        .find(|(k, _)| k == "returnTo")
        .map(|(_, v)| v.to_string())
        .expect("returnTo");
    let r = c
        .post(format!("{}login", url.join("/").unwrap()))
        .header("cookie", &csrf)
        .form(&[
            ("csrf", token.as_str()),
            ("returnTo", back.as_str()),
            ("email", email),
            ("password", password),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap_or_default());
    let to = r.headers()["location"].to_str().unwrap().to_string();
    (set_cookie(&r).0, to)
}

/// The same journey through every edge: refusals, the sign-in round trip, identity headers
/// at the app, roles, logout.
async fn journey(b: &Behind) {
    let (g, up) = (&b.g, &b.up);
    let base = format!("http://127.0.0.1:{}", b.port);
    let c = no_redirects();
    let before = up.count();

    // An API client without credentials: 401, and the app saw nothing.
    let r = c.get(format!("{base}/app/data")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    // A browser: to the gateway's sign-in page, coming back to the original URL.
    let r = c
        .get(format!("{base}/app/page?x=1"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    // The gateway's public URL (here `http://localhost:<port>`, the harness's default).
    assert!(
        location.starts_with(&format!(
            "http://localhost:{}/login?returnTo=",
            gateway_port(g)
        )),
        "{location}"
    );
    assert_eq!(up.count(), before, "no refused request reached the app");

    let (cookie, back) = sign_in_at(&location, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(back, format!("{base}/app/page?x=1"), "back to where the browser was");
    let r = c
        .get(&back)
        .header("cookie", &cookie)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let seen = up.last();
    assert_eq!(seen.path, "/app/page");
    assert_eq!(seen.headers["x-auth-email"], ADMIN_EMAIL);
    assert_eq!(seen.headers["x-auth-role"], "admin");

    // A Bearer token works the same; a user without the role gets 403.
    let admin = g.admin_token().await;
    let email = format!("edge-{}@example.test", b.port);
    g.create_user(&admin, &email, "user", "edge-user-password-1")
        .await;
    let user = g.login(&email, "edge-user-password-1", false).await;
    let r = c
        .get(format!("{base}/admin/x"))
        .bearer_auth(&user)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = c
        .get(format!("{base}/app/x"))
        .bearer_auth(&user)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(up.last().headers["x-auth-email"], email.as_str());

    // Logging out at the gateway ends access through the edge at once.
    let session = cookie.trim_start_matches("portcullis_session=");
    assert_eq!(g.post("/api/logout", Some(session)).await.status(), 200);
    let r = c
        .get(format!("{base}/app/page"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

const FORGED: &str = "forged-by-the-client";

/// What a client forges for each header of the list: an escalation where the header carries
/// one, a marker elsewhere.
fn forged(f: IdentityField) -> &'static str {
    match f {
        IdentityField::Role => "admin",
        IdentityField::Groups => "admins,ops",
        IdentityField::Amr => "pwd,otp,hwk,mfa",
        _ => FORGED,
    }
}

/// How much an edge promises.
#[derive(Clone, Copy, PartialEq)]
enum Strip {
    /// Every header under the prefix, whatever its name or spelling.
    Prefix,
    /// Only the headers of the list (nginx without the headers-more module).
    ListOnly,
}

/// A request carrying a forged value for every header of the list, two names invented under
/// the prefix, a CGI spelling (`_` for `-`) and every URL and method override.
fn forging(names: &IdentityHeaders, mut r: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    for (f, _) in names.all() {
        r = r.header(names.written(f), forged(f));
    }
    let prefix = &names.prefix_as_written;
    r = r
        .header(format!("{prefix}Tenant"), FORGED)
        .header(format!("{prefix}Admin"), "true")
        .header(names.written(IdentityField::Role).replace('-', "_"), "admin");
    for o in portcullis::request::OVERRIDES {
        r = r.header(o, if o.contains("method") { "DELETE" } else { "/admin/x" });
    }
    r
}

/// The headers the app saw under the prefix, read as CGI-style apps read names (any case,
/// `_` for `-`), with their names as sent.
fn under_prefix(seen: &Seen, names: &IdentityHeaders) -> Vec<(String, String)> {
    seen.headers
        .iter()
        .filter(|(k, _)| k.as_str().replace('_', "-").starts_with(&names.prefix))
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("?").to_string()))
        .collect()
}

/// Checks what the app saw: each header of the list has the gateway's value (`expected`,
/// empty for none) and nothing else under the prefix arrived, nor any override.
fn only_the_gateways(
    seen: &Seen,
    names: &IdentityHeaders,
    strip: Strip,
    expected: impl Fn(IdentityField) -> String,
    edge: &str,
) {
    for (f, name) in names.all() {
        let got: Vec<_> = seen.headers.get_all(name).iter().collect();
        let want = expected(f);
        match (got.as_slice(), want.as_str()) {
            ([], "") => {}
            ([v], w) if v.to_str().unwrap() == w => {}
            (got, want) => panic!("{edge}: the app got {name}: {got:?}, the gateway's is {want:?}"),
        }
    }
    let listed = |k: &str| names.all().any(|(_, n)| n.as_str() == k);
    for (k, v) in under_prefix(seen, names) {
        if strip == Strip::ListOnly && !listed(&k) {
            continue;
        }
        assert!(listed(&k), "{edge}: a client's {k}: {v} reached the app");
        assert!(
            !v.contains(FORGED) && !v.contains("admins") && !v.contains("hwk"),
            "{edge}: a forged value reached the app as {k}: {v}"
        );
    }
    if strip == Strip::Prefix {
        for (k, _) in seen.headers.iter() {
            let dashed = k.as_str().replace('_', "-");
            assert!(
                !portcullis::request::OVERRIDES.contains(&dashed.as_str()),
                "{edge}: the client's {k} reached the app"
            );
        }
    }
}

/// A signed-in ordinary user and an anonymous caller forge every identity header; the app
/// sees only the gateway's values, and the anonymous caller never reaches a protected route.
async fn forge_everything(b: &Behind, strip: Strip, edge: &str) {
    forge_at(&format!("http://127.0.0.1:{}", b.port), &b.g, &b.up, strip, edge).await;
}

/// [`forge_everything`] through whatever listens at `base` in front of `g`.
async fn forge_at(base: &str, g: &Gateway, up: &Upstream, strip: Strip, edge: &str) {
    let names = names(g);
    let c = no_redirects();
    let admin = g.admin_token().await;
    let email = format!("forger-{}@example.test", free_port());
    let id = g
        .create_user(&admin, &email, "user", "forger-password-1")
        .await;
    let token = g.login(&email, "forger-password-1", false).await;
    let sid = payload(&token)["sid"].as_str().unwrap().to_string();

    let r = forging(&names, c.get(format!("{base}/app/x")).bearer_auth(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{edge}: {}", r.text().await.unwrap());
    let seen = up.last();
    assert_eq!((seen.method.as_str(), seen.path.as_str()), ("GET", "/app/x"));
    let value = |f: IdentityField| match f {
        IdentityField::UserId => id.to_string(),
        IdentityField::Email => email.clone(),
        IdentityField::Name => "Created".into(),
        IdentityField::Role => "user".into(),
        IdentityField::SessionId => sid.clone(),
        IdentityField::Amr => "pwd".into(),
        // No groups, no key, no picture, no assertion for this app.
        _ => String::new(),
    };
    only_the_gateways(&seen, &names, strip, value, edge);

    // Anonymous: refused at a protected route without reaching the app; at a public route
    // the app sees no identity.
    let before = up.count();
    let r = forging(&names, c.get(format!("{base}/app/x")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "{edge}");
    let r = forging(&names, c.get(format!("{base}/admin/x")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "{edge}");
    assert_eq!(up.count(), before, "{edge}: a forged identity reached the app");
    let r = forging(&names, c.get(format!("{base}/public/x")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{edge}");
    only_the_gateways(&up.last(), &names, strip, |_| String::new(), edge);
}

/// The gateway's own proxy holds to the same forgeries as the edges in front of it.
#[tokio::test]
async fn the_gateways_own_proxy_passes_the_same_forgeries() {
    for extra in ["", "identity_headers: { prefix: \"X-Portcullis-\" }\n"] {
        let up = Upstream::start().await;
        let g = gateway(&up, free_port(), extra).await;
        forge_at(&g.base, &g, &up, Strip::Prefix, "the gateway").await;
    }
}

async fn shipped_edge_protects_an_app(edge: Edge) {
    let Some(b) = behind(edge, Files::Shipped, "").await else {
        return;
    };
    journey(&b).await;
    forge_everything(&b, Strip::Prefix, edge.name()).await;
}

async fn generated_edge_strips_a_changed_prefix(edge: Edge) {
    let extra = "identity_headers: { prefix: \"X-Portcullis-\" }\n";
    let Some(b) = behind(edge, Files::Generated, extra).await else {
        return;
    };
    assert_eq!(names(&b.g).prefix, "x-portcullis-");
    forge_everything(&b, Strip::Prefix, edge.name()).await;
}

#[tokio::test]
async fn nginx_auth_request_protects_an_app() {
    shipped_edge_protects_an_app(Edge::Nginx).await;
}

#[tokio::test]
async fn caddy_forward_auth_protects_an_app() {
    shipped_edge_protects_an_app(Edge::Caddy).await;
}

#[tokio::test]
async fn traefik_forward_auth_protects_an_app() {
    shipped_edge_protects_an_app(Edge::Traefik).await;
}

#[tokio::test]
async fn envoy_ext_authz_protects_an_app() {
    shipped_edge_protects_an_app(Edge::Envoy).await;
}

#[tokio::test]
async fn nginx_strips_a_changed_prefix() {
    generated_edge_strips_a_changed_prefix(Edge::Nginx).await;
}

#[tokio::test]
async fn caddy_strips_a_changed_prefix() {
    generated_edge_strips_a_changed_prefix(Edge::Caddy).await;
}

#[tokio::test]
async fn traefik_strips_a_changed_prefix() {
    generated_edge_strips_a_changed_prefix(Edge::Traefik).await;
}

#[tokio::test]
async fn envoy_strips_a_changed_prefix() {
    generated_edge_strips_a_changed_prefix(Edge::Envoy).await;
}

/// The documented fallback for an nginx without headers-more: the shipped file without its
/// `more_clear_input_headers` lines still replaces every header of the list.
#[tokio::test]
async fn nginx_without_headers_more_still_replaces_the_list() {
    let drop_module = |site: String| {
        site.lines()
            .filter(|l| !l.trim_start().starts_with("more_clear_input_headers"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let Some(b) = behind_with(Edge::Nginx, Files::Shipped, "", drop_module).await else {
        return;
    };
    forge_everything(&b, Strip::ListOnly, "nginx without headers-more").await;
}

/// The files in `deploy/forward-auth/` are what `edge-config` writes for the example
/// gateway there: regenerate them rather than editing them.
#[test]
fn shipped_files_are_the_generators_output() {
    let dir = format!("{}/deploy/forward-auth", env!("CARGO_MANIFEST_DIR"));
    for edge in Edge::ALL {
        let out = std::process::Command::new(bin())
            .args(["--config", &format!("{dir}/portcullis.yaml")])
            .args(["edge-config", edge.name()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
        let shipped = std::fs::read_to_string(format!("{dir}/{}", edge.shipped_file())).unwrap();
        assert!(
            String::from_utf8(out.stdout).unwrap() == shipped,
            "deploy/forward-auth/{} is not what `portcullis --config deploy/forward-auth/portcullis.yaml edge-config {}` writes: write it again with that command",
            edge.shipped_file(),
            edge.name()
        );
    }
}

#[test]
fn edge_config_names_the_setting_it_needs() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("portcullis.yaml");
    std::fs::write(
        &config,
        "server: { listen: \"127.0.0.1:8080\", trusted_proxies: [\"127.0.0.1/32\"] }\napi: { routes: { forward-auth: true } }\n",
    )
    .unwrap();
    let run = |edge: &str| {
        std::process::Command::new(bin())
            .arg("--config")
            .arg(&config)
            .args(["edge-config", edge])
            .output()
            .unwrap()
    };
    let out = run("envoy");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("api.routes.ext-authz"), "{err}");
    let out = run("haproxy");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nginx, caddy, traefik, envoy"));
    assert!(run("caddy").status.success());
}

#[tokio::test]
async fn forward_auth_answers_only_trusted_proxies_and_needs_the_original_request() {
    let up = Upstream::start().await;
    let mut o = Options::new(up.addr);
    o.server_extra = "  trusted_proxies: [\"10.0.0.0/8\"]\n".into();
    o.extra = "api:\n  routes:\n    forward-auth: true\n".into();
    let g = Gateway::start(o).await;
    let r = g
        .client
        .get(g.url("/auth/forward"))
        .header("x-forwarded-uri", "/public/x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "127.0.0.1 is not a trusted proxy here");
    // Off unless configured: the path is the app's.
    assert_eq!(g.get("/auth/request", None).await.status(), 401);
    assert_eq!(g.get("/auth/ext-authz/public/x", None).await.status(), 401);

    let (_up, g) = start_with(|o| {
        o.server_extra = "  trusted_proxies: [\"127.0.0.1/32\"]\n".into();
        o.extra = "api:\n  routes:\n    forward-auth: \"/_check\"\n".into();
    })
    .await;
    assert_eq!(g.get("/_check", None).await.status(), 400, "no X-Forwarded-Uri");
    let ask = |uri: &'static str| {
        g.client
            .get(g.url("/_check"))
            .header("x-forwarded-uri", uri)
            .header("x-forwarded-host", "app.test")
            .send()
    };
    assert_eq!(ask("/public/x").await.unwrap().status(), 200);
    assert_eq!(ask("/app/x").await.unwrap().status(), 401);
    assert_eq!(ask("/public/..%2fadmin").await.unwrap().status(), 400);
    // The gateway's own paths are the apps' when asked about: decided by the routes.
    assert_eq!(ask("/api/login").await.unwrap().status(), 401);
    let token = g.admin_token().await;
    let r = g
        .client
        .get(g.url("/_check"))
        .header("x-forwarded-uri", "/admin/x")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-auth-email"], ADMIN_EMAIL);
    // Every header of the list, empty where the caller has no value (here: no API key).
    let names = names(&g);
    for (_, name) in names.all() {
        assert_eq!(r.headers().get_all(name).iter().count(), 1, "{name}");
    }
    assert_eq!(r.headers()["x-auth-key-id"], "");
}

/// Envoy's check is the original request under the prefix: its own method and `Host`, the
/// original path after the prefix. The prefix is the gateway's; the path after it is decided
/// as the app's.
#[tokio::test]
async fn ext_authz_decides_the_path_after_its_prefix() {
    let (_up, g) = start_with(|o| {
        o.server_extra = "  trusted_proxies: [\"127.0.0.1/32\"]\n".into();
        o.extra = "api:\n  routes:\n    ext-authz: true\n".into();
    })
    .await;
    let token = g.admin_token().await;
    let c = no_redirects();
    let ask = |method: http::Method, path: &str| {
        c.request(method, g.url(&format!("/auth/ext-authz{path}")))
            .header("x-forwarded-host", "forged.test")
    };
    let r = ask(http::Method::GET, "/public/x?y=1").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-auth-user-id"], "", "anonymous: every header, empty");
    assert_eq!(ask(http::Method::GET, "/app/x").send().await.unwrap().status(), 401);
    // A browser is sent to sign in, as with forward-auth (Envoy passes the 302 on).
    let r = ask(http::Method::GET, "/app/x")
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    // The check's own method is the original's: the admin route (GET and POST, admins only)
    // refuses a user's GET, while DELETE falls through to the app route.
    let admin = g.admin_token().await;
    g.create_user(&admin, "ext@example.test", "user", "ext-user-password-1")
        .await;
    let user = g.login("ext@example.test", "ext-user-password-1", false).await;
    let status = |m: http::Method, token: &str| {
        let r = ask(m, "/admin/x").bearer_auth(token.to_string()).send();
        async move { r.await.unwrap().status() }
    };
    assert_eq!(status(http::Method::GET, &user).await, 403);
    assert_eq!(status(http::Method::DELETE, &user).await, 200);
    let r = ask(http::Method::POST, "/admin/x")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-auth-email"], ADMIN_EMAIL);
    // The prefix itself, and paths a server could read as another, are refused.
    assert_eq!(ask(http::Method::GET, "").send().await.unwrap().status(), 400);
    assert_eq!(
        ask(http::Method::GET, "/public/..%2fadmin/x")
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
}
