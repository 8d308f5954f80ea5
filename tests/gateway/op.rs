//! Set-up for the OpenID provider's tests: a gateway with `oidc_provider` on and the given
//! clients, a browser that signs in on the gateway's pages without a real browser (cookies
//! kept by hand, redirects followed one by one), a receiver for back-channel logouts, and
//! `openid-client` (npm, an OpenID-certified relying party) run as a child process.

use crate::harness::*;
use std::sync::{Arc, Mutex};

/// A gateway whose provider has the clients in `clients` (YAML under `clients:`, indented
/// four spaces) and `more` top-level config.
pub async fn provider(clients: &str, more: &str) -> (Upstream, Gateway) {
    start_with(|o| {
        o.extra = format!("oidc_provider:\n  enabled: true\n  clients:\n{clients}{more}");
    })
    .await
}

pub fn issuer(g: &Gateway) -> String {
    format!("http://localhost:{}", g.base.rsplit(':').next().unwrap())
}

/// A PKCE pair (RFC 7636 appendix B's).
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// An authorization URL at `g` for `client`, with PKCE, state and nonce, and `extra` pairs.
pub fn authorize_url(g: &Gateway, client: &str, redirect: &str, extra: &[(&str, &str)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("client_id", client)
        .append_pair("redirect_uri", redirect)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid profile email")
        .append_pair("state", "st-1")
        .append_pair("nonce", "n-1")
        .append_pair("code_challenge", CHALLENGE)
        .append_pair("code_challenge_method", "S256");
    for (k, v) in extra {
        q.append_pair(k, v);
    }
    format!("{}/oidc/authorize?{}", issuer(g), q.finish())
}

/// A browser: its cookies for the gateway, kept by hand.
#[derive(Default, Clone)]
pub struct Browser {
    pub cookies: std::collections::BTreeMap<String, String>,
}

/// What a request through the browser ended at.
#[derive(Debug)]
pub enum Landed {
    /// A redirect out of the gateway (the client's redirect URI), not followed.
    Away(String),
    /// A page of the gateway, with its status and text.
    Page(u16, String),
}

impl Landed {
    pub fn away(self) -> String {
        match self {
            Landed::Away(u) => u,
            Landed::Page(s, t) => panic!("a page ({s}) instead of a redirect: {t}"),
        }
    }
}

impl Browser {
    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    fn keep(&mut self, r: &reqwest::Response) {
        for v in r.headers().get_all("set-cookie") {
            let pair = v.to_str().unwrap().split(';').next().unwrap().to_string();
            let (k, val) = pair.split_once('=').unwrap();
            if val.is_empty() {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), val.to_string());
            }
        }
    }

    /// GETs `url` and follows redirects while they stay on the gateway (`base`).
    pub async fn visit(&mut self, base: &str, url: &str) -> Landed {
        let c = no_redirects();
        let mut url = url.to_string();
        for _ in 0..10 {
            let r = c.get(&url).header("cookie", self.cookie_header()).header("accept", "text/html").send().await.unwrap();
            self.keep(&r);
            if r.status().is_redirection() {
                let to = r.headers()["location"].to_str().unwrap().to_string();
                let abs = if to.starts_with('/') { format!("{base}{to}") } else { to };
                if !abs.starts_with(base) {
                    return Landed::Away(abs);
                }
                url = abs;
                continue;
            }
            let status = r.status().as_u16();
            return Landed::Page(status, r.text().await.unwrap());
        }
        panic!("too many redirects");
    }

    /// POSTs a form on the gateway and follows where it leads.
    pub async fn submit(&mut self, base: &str, path: &str, fields: &[(&str, &str)]) -> Landed {
        let r = no_redirects()
            .post(format!("{base}{path}"))
            .header("cookie", self.cookie_header())
            .form(fields)
            .send()
            .await
            .unwrap();
        self.keep(&r);
        if r.status().is_redirection() {
            let to = r.headers()["location"].to_str().unwrap().to_string();
            let abs = if to.starts_with('/') { format!("{base}{to}") } else { to };
            if !abs.starts_with(base) {
                return Landed::Away(abs);
            }
            return self.visit(base, &abs).await;
        }
        let status = r.status().as_u16();
        Landed::Page(status, r.text().await.unwrap())
    }

    /// Visits `url`; on the sign-in page signs in as `email`, then follows on.
    pub async fn authorize(&mut self, g: &Gateway, url: &str, email: &str, password: &str) -> Landed {
        let base = issuer(g);
        match self.visit(&base, url).await {
            Landed::Page(200, page) if page.contains("name=\"password\"") => {
                let back = hidden(&page, "returnTo");
                let csrf = hidden(&page, "csrf");
                self.submit(&base, "/login", &[("csrf", &csrf), ("returnTo", &back), ("email", email), ("password", password)]).await
            }
            other => other,
        }
    }

    /// Answers the consent page with `decision`.
    pub async fn consent(&mut self, g: &Gateway, page: &str, decision: &str) -> Landed {
        let base = issuer(g);
        let (csrf, request) = (hidden(page, "csrf"), hidden(page, "request"));
        self.submit(&base, "/oidc/consent", &[("csrf", &csrf), ("request", &request), ("decision", decision)]).await
    }
}

/// A hidden field's value in a page.
pub fn hidden(page: &str, name: &str) -> String {
    let at = page.find(&format!("name=\"{name}\" value=\"")).unwrap_or_else(|| panic!("no {name} in {page}"));
    let rest = &page[at + name.len() + 15..];
    let v = &rest[..rest.find('"').unwrap()];
    v.replace("&amp;", "&").replace("&quot;", "\"").replace("&#x2f;", "/").replace("&#x27;", "'").replace("&lt;", "<").replace("&gt;", ">")
}

/// A query parameter of a URL.
pub fn param(url: &str, key: &str) -> Option<String> {
    url::Url::parse(url).unwrap().query_pairs().find(|(k, _)| k == key).map(|(_, v)| v.to_string())
}

/// The token endpoint's answer for a form, with Basic credentials when given.
pub async fn token(g: &Gateway, basic: Option<(&str, &str)>, form: &[(&str, &str)]) -> (u16, serde_json::Value) {
    let mut r = reqwest::Client::new().post(format!("{}/oidc/token", issuer(g))).form(form);
    if let Some((id, secret)) = basic {
        r = r.basic_auth(id, Some(secret));
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(serde_json::Value::Null))
}

/// What introspection (RFC 7662) says of `t` to the client `basic` authenticates.
pub async fn introspect(g: &Gateway, basic: (&str, &str), t: &str) -> serde_json::Value {
    let r = reqwest::Client::new()
        .post(format!("{}/oidc/introspect", issuer(g)))
        .basic_auth(basic.0, Some(basic.1))
        .form(&[("token", t)])
        .send()
        .await
        .unwrap();
    r.json().await.unwrap()
}

/// A receiver of back-channel logouts: every logout token POSTed to it.
pub struct Receiver {
    pub url: String,
    pub tokens: Arc<Mutex<Vec<String>>>,
    /// What it answers (200, or a failure to be retried).
    pub status: Arc<Mutex<u16>>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let tokens: Arc<Mutex<Vec<String>>> = Arc::default();
        let status = Arc::new(Mutex::new(200u16));
        let (t, s) = (tokens.clone(), status.clone());
        let app = axum::Router::new().route(
            "/backchannel",
            axum::routing::post(move |body: axum::body::Bytes| {
                let (t, s) = (t.clone(), s.clone());
                async move {
                    let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
                    if let Some((_, v)) = form.iter().find(|(k, _)| k == "logout_token") {
                        t.lock().unwrap().push(v.clone());
                    }
                    http::StatusCode::from_u16(*s.lock().unwrap()).unwrap()
                }
            }),
        );
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/backchannel", l.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(l, app).await;
        });
        Receiver { url, tokens, status }
    }

    pub fn received(&self) -> Vec<String> {
        self.tokens.lock().unwrap().clone()
    }

    /// Waits until `n` logout tokens arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<String> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(std::time::Instant::now() < deadline, "{} of {n} back-channel logouts arrived", got.len());
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

/// `openid-client` on one step; `None` where node or the package is missing (and CI does not
/// ask for them).
pub async fn rp(command: &str, args: serde_json::Value) -> Option<Result<serde_json::Value, serde_json::Value>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oidc/rp");
    let there = std::path::Path::new(dir).join("node_modules/openid-client").exists()
        && std::process::Command::new("node").arg("--version").output().is_ok();
    assert!(
        there || std::env::var_os("PORTCULLIS_REQUIRE_APPS").is_none(),
        "node and tests/oidc/rp's packages are required (PORTCULLIS_REQUIRE_APPS is set): npm install in tests/oidc/rp"
    );
    if !there {
        eprintln!("SKIPPED: openid-client is not installed (cd tests/oidc/rp && npm install); .ci/run installs it");
        return None;
    }
    let out = tokio::process::Command::new("node")
        .arg(format!("{dir}/rp.mjs"))
        .arg(command)
        .arg(args.to_string())
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap_or_else(|_| {
        panic!("rp {command}: {text}{}", String::from_utf8_lossy(&out.stderr))
    });
    Some(if out.status.success() { Ok(v) } else { Err(v) })
}

/// A value for a query string.
pub fn escape(v: &str) -> String {
    form_urlencoded::byte_serialize(v.as_bytes()).collect()
}
