//! The OpenID provider behind Apache with Debian's `mod_auth_openidc` (an OpenID-certified
//! relying party, with its back-channel and RP-initiated logout profiles), in front of the
//! recording app, driven by headless Chromium: sign-in through the gateway's pages, the
//! claims at the app, a logout at the gateway ending the Apache session through the back
//! channel, and a logout begun at Apache ending the gateway's session.

use crate::harness::*;
use crate::webdriver::{at, click, fill, Driver};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const MODULES: &str = "/usr/lib/apache2/modules";
const SECRET: &str = "apache-client-secret-0123456789";

struct Apache(Child);

impl Drop for Apache {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn available() -> bool {
    let there = std::path::Path::new("/usr/sbin/apache2").exists()
        && std::path::Path::new(MODULES).join("mod_auth_openidc.so").exists();
    assert!(
        there || std::env::var_os("PORTCULLIS_REQUIRE_APPS").is_none(),
        "apache2 and libapache2-mod-auth-openidc are required (PORTCULLIS_REQUIRE_APPS is set)"
    );
    if !there {
        eprintln!("SKIPPED: apt-get install apache2 libapache2-mod-auth-openidc; .ci/run installs them");
    }
    there
}

/// Apache on `port`, protecting `/protected` with mod_auth_openidc against `issuer` and
/// proxying it to `app` with the claims as headers. The config a reader would copy is the
/// README's.
async fn apache(dir: &std::path::Path, port: u16, issuer: &str, app: std::net::SocketAddr) -> Apache {
    let d = dir.display();
    let modules = ["mpm_event", "authn_core", "authz_core", "authz_user", "headers", "proxy", "proxy_http", "auth_openidc"];
    let loads: String = modules
        .iter()
        .map(|m| format!("LoadModule {m}_module {MODULES}/mod_{m}.so\n"))
        .collect();
    let conf = format!(
        "ServerRoot {d}\nServerName 127.0.0.1\nListen 127.0.0.1:{port}\nPidFile {d}/httpd.pid\nErrorLog {d}/error.log\nLogLevel warn auth_openidc:info\n{loads}\
         User nobody\nGroup nogroup\n\
         OIDCProviderMetadataURL {issuer}/.well-known/openid-configuration\n\
         OIDCClientID apache\nOIDCClientSecret {SECRET}\n\
         OIDCRedirectURI http://127.0.0.1:{port}/protected/redirect_uri\n\
         OIDCCryptoPassphrase a-passphrase-for-this-test-only-0123456789\n\
         OIDCScope \"openid email profile groups\"\nOIDCPKCEMethod S256\n\
         OIDCSessionType server-cache\nOIDCCacheType shm\nOIDCPassClaimsAs headers\n\
         <Location /protected>\n  AuthType openid-connect\n  Require valid-user\n</Location>\n\
         ProxyPass /protected/redirect_uri !\nProxyPass /protected http://{app}\n"
    );
    let path = dir.join("httpd.conf");
    std::fs::write(&path, conf).unwrap();
    let child = Command::new("/usr/sbin/apache2")
        .arg("-f")
        .arg(&path)
        .arg("-DFOREGROUND")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut a = Apache(child);
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        if let Some(s) = a.0.try_wait().unwrap() {
            panic!("apache exited with {s}: {}", std::fs::read_to_string(dir.join("error.log")).unwrap_or_default());
        }
        assert!(std::time::Instant::now() < deadline, "apache did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    a
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mod_auth_openidc_signs_in_through_the_gateway_and_both_logouts_reach_across() {
    if !available() {
        return;
    }
    let Some(driver) = Driver::start().await else {
        return;
    };
    let port = free_port();
    let ap = format!("http://127.0.0.1:{port}");
    let clients = format!(
        "    apache:\n      secret: \"{SECRET}\"\n      redirect_uris: [\"{ap}/protected/redirect_uri\"]\n      post_logout_redirect_uris: [\"{ap}/loggedout\"]\n      backchannel_logout_uri: \"{ap}/protected/redirect_uri?logout=backchannel\"\n      scopes: [openid, profile, email, groups]\n"
    );
    let (_gateways_app, g) = crate::op::provider(&clients, "").await;
    // Apache's app of its own: the browser's requests to the gateway (its favicon) go to the
    // gateway's.
    let up = Upstream::start().await;
    let issuer = crate::op::issuer(&g);
    let dir = tempfile::tempdir().unwrap();
    let _apache = apache(dir.path(), port, &issuer, up.addr).await;
    let b = driver.browser().await;

    // Core §3.1 through a certified RP: to the gateway's sign-in page and back, the claims
    // at the app.
    b.goto(&format!("{ap}/protected/hello")).await.unwrap();
    assert!(at(&b).await.starts_with("/login?returnTo=%2Foidc%2Fauthorize"), "{}", at(&b).await);
    fill(&b, "#email", ADMIN_EMAIL).await;
    fill(&b, "#password", ADMIN_PASSWORD).await;
    click(&b, "form button[type=submit]").await;
    assert_eq!(b.current_url().await.unwrap().as_str(), format!("{ap}/protected/hello"));
    let seen = up.last();
    assert_eq!(seen.path, "/hello");
    assert_eq!(seen.headers["oidc_claim_email"], ADMIN_EMAIL);
    assert_eq!(seen.headers["oidc_claim_iss"], issuer.as_str());
    let before = up.count();

    // Back-Channel Logout §2.5: a logout at the gateway ends the Apache session; the next
    // request there goes back to the provider (and, signed out, to its sign-in page).
    b.goto(&format!("{issuer}/account")).await.unwrap();
    let token = b.get_named_cookie("portcullis_session").await.unwrap().value().to_string();
    assert_eq!(g.post("/api/logout", Some(&token)).await.status(), 200);
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while !g.metrics().await.contains("portcullis_oidc_backchannel_logouts_total{outcome=\"delivered\"} 1") {
        assert!(std::time::Instant::now() < deadline, "no back-channel logout delivered: {}", std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    b.goto(&format!("{ap}/protected/hello")).await.unwrap();
    assert!(at(&b).await.starts_with("/login?returnTo=%2Foidc%2Fauthorize"), "Apache's session ended: {}", at(&b).await);
    let paths: Vec<String> = up.seen.lock().unwrap().iter().map(|s| s.path.clone()).collect();
    assert_eq!(up.count(), before, "the app saw nothing after the logout: {paths:?}");

    // RP-Initiated Logout §2 from Apache: its logout sends the browser to end_session with
    // the ID token as hint; the gateway's session ends without a question and the browser
    // returns to the registered URI.
    fill(&b, "#email", ADMIN_EMAIL).await;
    fill(&b, "#password", ADMIN_PASSWORD).await;
    click(&b, "form button[type=submit]").await;
    assert_eq!(b.current_url().await.unwrap().as_str(), format!("{ap}/protected/hello"));
    b.goto(&format!("{ap}/protected/redirect_uri?logout={}", crate::op::escape(&format!("{ap}/loggedout")))).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !b.current_url().await.unwrap().as_str().starts_with(&format!("{ap}/loggedout")) {
        assert!(std::time::Instant::now() < deadline, "not back at Apache: {}", b.current_url().await.unwrap());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    b.goto(&format!("{issuer}/account")).await.unwrap();
    assert!(at(&b).await.starts_with("/login"), "the gateway's session ended too: {}", at(&b).await);
    b.close().await.unwrap();
}
