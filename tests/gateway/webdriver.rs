//! End-to-end browser flows: real headless Chromium driven over WebDriver (ChromeDriver)
//! against the real gateway, its real upstream and a real SMTP server. Skipped, saying so,
//! where Chromium or ChromeDriver is missing (`.ci/run` installs both).
//!
//! Set `PORTCULLIS_SCREENSHOTS=1` to refresh the README's screenshots under `docs/`.

use crate::harness::*;
use fantoccini::{Client, ClientBuilder, Locator};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A ChromeDriver process; each [`Driver::browser`] is a separate browser with its own
/// profile, so two of them are two devices.
pub(crate) struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    pub(crate) async fn start() -> Option<Driver> {
        if crate::browser::chromium().is_none() || !std::path::Path::new(CHROMEDRIVER).exists() {
            eprintln!(
                "SKIPPED: needs Chromium and {CHROMEDRIVER} (apt-get install chromium chromium-driver); .ci/run installs them"
            );
            return None;
        }
        let port = free_port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let status = format!("{}/status", driver.url);
        for _ in 0..100 {
            if reqwest::get(&status).await.is_ok_and(|r| r.status() == 200) {
                return Some(driver);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not start");
    }

    pub(crate) async fn browser(&self) -> Client {
        let mut args = vec![
            "--headless=new",
            "--disable-dev-shm-usage",
            "--window-size=900,1000",
        ];
        args.extend(crate::browser::SANDBOXED_HEADLESS);
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({ "binary": crate::browser::chromium(), "args": args }),
        );
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("a Chromium session")
    }
}

pub(crate) async fn fill(b: &Client, css: &str, value: &str) {
    let field = b.find(Locator::Css(css)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(value).await.unwrap();
}

/// Clicks a link or submit button and waits for the page it leads to: the old document's
/// root must go stale (a click can return before the navigation it starts has finished).
pub(crate) async fn click(b: &Client, css: &str) {
    let old = b.find(Locator::Css("html")).await.unwrap();
    b.find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while old.tag_name().await.is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "no navigation after clicking {css}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    b.wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css("body"))
        .await
        .unwrap();
}

pub(crate) async fn text(b: &Client) -> String {
    b.find(Locator::Css("body"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The path and query the browser is on.
pub(crate) async fn at(b: &Client) -> String {
    let url = b.current_url().await.unwrap();
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    }
}

/// The gateway's origin as a browser sees it (the mailed links use the same one).
pub(crate) fn origin(g: &Gateway) -> String {
    format!("http://localhost:{}", g.base.rsplit(':').next().unwrap())
}

/// Signs `b` in through the sign-in form and returns where it landed.
pub(crate) async fn sign_in(b: &Client, g: &Gateway, path: &str, email: &str, password: &str) -> String {
    b.goto(&format!("{}{path}", origin(g))).await.unwrap();
    assert!(
        at(b).await.starts_with("/login?returnTo="),
        "{}",
        at(b).await
    );
    fill(b, "#email", email).await;
    fill(b, "#password", password).await;
    click(b, "form button[type=submit]").await;
    at(b).await
}

pub(crate) fn save_screenshot(name: &str, png: &[u8]) {
    let dir = if std::env::var_os("PORTCULLIS_SCREENSHOTS").is_some() {
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs")
    } else {
        std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
    };
    std::fs::write(dir.join(name), png).unwrap();
}

#[tokio::test]
async fn a_new_person_is_sent_to_sign_in_signs_up_verifies_by_mail_and_lands_where_they_were_going()
{
    let Some(driver) = Driver::start().await else {
        return;
    };
    let (up, smtp, g) = gateway_with_mail("signup: { enabled: true }").await;
    let b = driver.browser().await;

    b.goto(&format!("{}/app/reports?year=2026", origin(&g)))
        .await
        .unwrap();
    assert_eq!(
        at(&b).await,
        "/login?returnTo=%2Fapp%2Freports%3Fyear%3D2026"
    );
    assert_eq!(up.count(), 0, "nothing reached the app unauthenticated");
    save_screenshot("sign-in.png", &b.screenshot().await.unwrap());

    click(&b, "a[href^='/signup']").await;
    assert!(at(&b).await.starts_with("/signup?returnTo="));
    fill(&b, "#name", "Nora New").await;
    fill(&b, "#email", "nora@example.test").await;
    fill(&b, "#password", "a long passphrase 42").await;
    click(&b, "form button[type=submit]").await;
    assert!(
        text(&b).await.contains("Check your email"),
        "{}",
        text(&b).await
    );

    let mail = smtp.nth(1).await;
    assert_eq!(mail.to, vec!["nora@example.test".to_string()]);
    let link = mail.link();
    assert!(
        link.starts_with(&format!("{}/verify?token=", origin(&g))),
        "{link}"
    );
    // Until the link's page is confirmed the account cannot sign in.
    b.goto(&link).await.unwrap();
    assert!(text(&b).await.contains("Confirm your email"));
    click(&b, "form button[type=submit]").await;

    assert_eq!(at(&b).await, "/app/reports?year=2026");
    let page = text(&b).await;
    assert!(page.contains("upstream saw /app/reports"), "{page}");
    assert!(page.contains("x-auth-email: nora@example.test"), "{page}");
    assert!(page.contains("x-auth-name: Nora New"), "{page}");
    assert!(page.contains("x-auth-role: user"), "{page}");

    // Signed in, the sign-in and sign-up pages send the browser on (the guest rule).
    b.goto(&format!("{}/login?returnTo=/app/home", origin(&g)))
        .await
        .unwrap();
    assert_eq!(at(&b).await, "/app/home");
    b.goto(&format!("{}/signup", origin(&g))).await.unwrap();
    assert_eq!(at(&b).await, "/");
    b.close().await.unwrap();
}

#[tokio::test]
async fn a_magic_link_signs_a_browser_in_once() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let (_up, smtp, g) = gateway_with_mail("").await;
    g.add_user("mia@example.test", "user", "correct horse battery");
    let b = driver.browser().await;

    b.goto(&format!("{}/app/inbox", origin(&g))).await.unwrap();
    click(&b, "a[href^='/magic-link']").await;
    assert_eq!(at(&b).await, "/magic-link?returnTo=/app/inbox");
    fill(&b, "#email", "mia@example.test").await;
    click(&b, "form button[type=submit]").await;
    assert!(text(&b).await.contains("Check your email"));

    let link = smtp.nth(1).await.link();
    b.goto(&link).await.unwrap();
    // Opening the link only asks; a scanner's prefetch signs nobody in.
    assert!(at(&b).await.starts_with("/magic-link?token="));
    click(&b, "form button[type=submit]").await;
    assert_eq!(at(&b).await, "/app/inbox");
    assert!(text(&b).await.contains("x-auth-email: mia@example.test"));

    // The link is spent: a second browser opening it gets the error, not a session.
    let other = driver.browser().await;
    other.goto(&link).await.unwrap();
    click(&other, "form button[type=submit]").await;
    assert!(text(&other)
        .await
        .contains("This sign-in link is invalid or has expired."));
    other
        .goto(&format!("{}/app/inbox", origin(&g)))
        .await
        .unwrap();
    assert!(at(&other).await.starts_with("/login?returnTo="));
    other.close().await.unwrap();
    b.close().await.unwrap();
}

#[tokio::test]
async fn signing_out_another_device_from_the_account_page_cuts_that_browser_off() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let (up, _smtp, g) = gateway_with_mail("").await;
    g.add_user("dev@example.test", "user", "correct horse battery");
    let laptop = driver.browser().await;
    let phone = driver.browser().await;
    assert_eq!(
        sign_in(
            &laptop,
            &g,
            "/app/a",
            "dev@example.test",
            "correct horse battery"
        )
        .await,
        "/app/a"
    );
    assert_eq!(
        sign_in(
            &phone,
            &g,
            "/app/b",
            "dev@example.test",
            "correct horse battery"
        )
        .await,
        "/app/b"
    );

    laptop
        .goto(&format!("{}/account", origin(&g)))
        .await
        .unwrap();
    let sessions = laptop
        .find_all(Locator::Css("#sessions li.session"))
        .await
        .unwrap();
    assert_eq!(sessions.len(), 2, "both devices are listed");
    let page = text(&laptop).await;
    assert!(page.contains("Chrome"), "the user agent is parsed: {page}");
    assert!(page.contains("this device"));
    click(&laptop, "#sessions li.session form button").await;
    assert_eq!(
        laptop
            .find_all(Locator::Css("#sessions li.session"))
            .await
            .unwrap()
            .len(),
        1
    );

    // The phone's very next request is refused on the proxy path; the app never sees it.
    let before = up.count();
    phone.goto(&format!("{}/app/b", origin(&g))).await.unwrap();
    assert!(at(&phone).await.starts_with("/login?returnTo=%2Fapp%2Fb"));
    assert_eq!(up.count(), before);
    // The laptop carries on.
    laptop.goto(&format!("{}/app/a", origin(&g))).await.unwrap();
    assert_eq!(at(&laptop).await, "/app/a");
    phone.close().await.unwrap();
    laptop.close().await.unwrap();
}

#[tokio::test]
async fn the_account_page_renames_and_shows_an_uploaded_avatar() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let (up, _smtp, g) = gateway_with_mail("identity_headers: { picture: true }").await;
    g.add_user("pat@example.test", "user", "correct horse battery");
    let b = driver.browser().await;
    sign_in(
        &b,
        &g,
        "/account",
        "pat@example.test",
        "correct horse battery",
    )
    .await;
    assert_eq!(at(&b).await, "/account");

    fill(&b, "#new-name", "Pat Renamed").await;
    click(&b, "form button[type=submit]").await;
    assert_eq!(
        b.find(Locator::Css("#name"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "Pat Renamed"
    );

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("me.jpg");
    image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(
        120,
        90,
        image::Rgb([20, 160, 90]),
    ))
    .save_with_format(&file, image::ImageFormat::Jpeg)
    .unwrap();
    b.find(Locator::Css("#avatar"))
        .await
        .unwrap()
        .send_keys(file.to_str().unwrap())
        .await
        .unwrap();
    click(&b, "form[enctype='multipart/form-data'] button").await;
    assert_eq!(at(&b).await, "/account?done=avatar");

    let img = b.find(Locator::Css("img")).await.unwrap();
    let src = img.attr("src").await.unwrap().unwrap();
    assert!(src.contains("/avatar"), "{src}");
    // The browser fetched and decoded it (WebDriver's script runs outside the page's CSP).
    let width = b
        .execute("return document.querySelector('img').naturalWidth", vec![])
        .await
        .unwrap();
    assert!(
        width.as_u64().unwrap_or(0) > 0,
        "avatar not displayed: {width}"
    );
    save_screenshot("account.png", &b.screenshot().await.unwrap());

    // The app learns the new name and picture from the identity headers.
    b.goto(&format!("{}/app/me", origin(&g))).await.unwrap();
    let page = text(&b).await;
    assert!(page.contains("x-auth-name: Pat Renamed"), "{page}");
    assert!(page.contains("x-auth-picture: "), "{page}");
    let seen = up.seen.lock().unwrap().clone();
    let me = seen.iter().rev().find(|s| s.path == "/app/me").unwrap();
    assert!(me.headers["x-auth-picture"]
        .to_str()
        .unwrap()
        .ends_with(&src));
    b.close().await.unwrap();
}

/// A WebDriver WebAuthn virtual authenticator (the extension ChromeDriver implements) in a
/// browser session: a platform authenticator that keeps discoverable credentials and does
/// user verification.
struct Authenticator {
    base: String,
}

impl Authenticator {
    async fn add(driver: &Driver, b: &Client) -> Authenticator {
        let sid = b.session_id().await.unwrap().unwrap();
        let session = format!("{}/session/{sid}/webauthn/authenticator", driver.url);
        let r: serde_json::Value = reqwest::Client::new()
            .post(&session)
            .json(&serde_json::json!({
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": true,
                "hasUserVerification": true,
                "isUserVerified": true,
            }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = r["value"].as_str().expect("an authenticator id").to_string();
        Authenticator {
            base: format!("{session}/{id}"),
        }
    }

    /// Takes the authenticator out of the browser (a device that is gone).
    async fn remove(&self) {
        let r = reqwest::Client::new().delete(&self.base).send().await.unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap_or_default());
    }

    async fn credentials(&self) -> Vec<serde_json::Value> {
        let r: serde_json::Value = reqwest::get(format!("{}/credentials", self.base))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        r["value"].as_array().cloned().unwrap_or_default()
    }

    /// Puts a credential back with sign counter `count` (behind the stored one: what a
    /// cloned authenticator shows).
    async fn set_count(&self, credential: &serde_json::Value, count: u64) {
        let http = reqwest::Client::new();
        let r = http
            .delete(format!("{}/credentials", self.base))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        let mut old = credential.clone();
        old["signCount"] = serde_json::json!(count);
        let r = http
            .post(format!("{}/credential", self.base))
            .json(&old)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    }
}

/// Signs out from the account page.
async fn sign_out(b: &Client, g: &Gateway) {
    b.goto(&format!("{}/account", origin(g))).await.unwrap();
    click(b, "form[action$='/logout'] button").await;
}

/// Registers a passkey from the account page (its name already filled in) and waits until the
/// page lists `n`.
async fn add_passkey(b: &Client, n: usize) {
    passkey_click(b, "#passkey-add", "/account").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while b.find_all(Locator::Css("#passkeys li.passkey")).await.unwrap().len() < n {
        assert!(std::time::Instant::now() < deadline, "{}", text(b).await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A passkey sign-in from the sign-in page (sent back to `back`) that must be refused: the
/// page says `why` and the browser stays on it.
async fn passkey_refused(b: &Client, g: &Gateway, back: &str, why: &str) {
    let url = format!("{}/login?returnTo={}", origin(g), back.replace('/', "%2F"));
    b.goto(&url).await.unwrap();
    b.find(Locator::Css("#passkey-login")).await.unwrap().click().await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let here = at(b).await;
        assert!(here.starts_with("/login"), "signed in, though it must be refused: {here}");
        let said = match b.find(Locator::Css("#passkey-status")).await {
            Ok(s) => s.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if said.contains(why) {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "no refusal shown: {said:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Clicks a passkey button and waits until the page it leads to has loaded.
async fn passkey_click(b: &Client, css: &str, then_at: &str) {
    b.find(Locator::Css(css)).await.unwrap().click().await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while !at(b).await.starts_with(then_at) {
        let status = b
            .find(Locator::Css("#passkey-status"))
            .await
            .ok();
        let said = match status {
            Some(s) => s.text().await.unwrap_or_default(),
            None => String::new(),
        };
        assert!(
            std::time::Instant::now() < deadline,
            "still at {} after {css}: {said}",
            at(b).await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    b.wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css("body"))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_passkey_is_registered_signs_in_alone_serves_as_a_second_factor_and_is_removed() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let (up, _smtp, g) = gateway_with_mail("").await;
    let email = "keys@example.test";
    let password = "correct horse battery";
    g.add_user(email, "user", password);
    let b = driver.browser().await;
    let authenticator = Authenticator::add(&driver, &b).await;
    assert_eq!(sign_in(&b, &g, "/app/start", email, password).await, "/app/start");

    // Register from the account page.
    b.goto(&format!("{}/account", origin(&g))).await.unwrap();
    fill(&b, "#passkey-name", "Work laptop").await;
    add_passkey(&b, 1).await;
    assert!(text(&b).await.contains("Work laptop"));
    let stored = authenticator.credentials().await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["isResidentCredential"], true, "a discoverable credential");
    assert_eq!(stored[0]["rpId"], "localhost");
    save_screenshot("passkeys.png", &b.screenshot().await.unwrap());

    // Sign out; sign in with the passkey alone (no email, no password).
    sign_out(&b, &g).await;
    b.goto(&format!("{}/login?returnTo=%2Fapp%2Fpasskey", origin(&g)))
        .await
        .unwrap();
    passkey_click(&b, "#passkey-login", "/app/passkey").await;
    let page = text(&b).await;
    assert!(page.contains(&format!("x-auth-email: {email}")), "{page}");
    assert!(page.contains("x-auth-amr: hwk"), "{page}");

    // With a passkey, a password sign-in asks for it as the second step.
    sign_out(&b, &g).await;
    let landed = sign_in(&b, &g, "/app/second", email, password).await;
    assert!(landed.starts_with("/login"), "the second step is a page of its own: {landed}");
    assert!(text(&b).await.contains("Confirm it is you"));
    passkey_click(&b, "#passkey-second", "/app/second").await;
    let page = text(&b).await;
    assert!(page.contains("x-auth-amr: pwd,hwk"), "{page}");

    // A cloned authenticator (its sign counter behind the stored one) is refused, and logged.
    let used = authenticator.credentials().await;
    assert!(used[0]["signCount"].as_u64().unwrap_or(0) >= 2, "{used:?}");
    let count = used[0]["signCount"].as_u64().unwrap();
    authenticator.set_count(&used[0], 0).await;
    sign_out(&b, &g).await;
    let before = up.count();
    passkey_refused(&b, &g, "/app/clone", "refused").await;
    assert_eq!(up.count(), before);
    g.wait_log("sign counter did not increase").await;

    // The real authenticator again (its counter ahead): signed in, then the passkey removed
    // from the account page.
    authenticator.set_count(&used[0], count + 10).await;
    b.goto(&format!("{}/login?returnTo=%2Faccount", origin(&g)))
        .await
        .unwrap();
    passkey_click(&b, "#passkey-login", "/account").await;

    // A second passkey on another device (the first device gone from this browser: its
    // credential would be in the exclude list); it signs in alone too.
    authenticator.remove().await;
    let phone = Authenticator::add(&driver, &b).await;
    fill(&b, "#passkey-name", "Phone").await;
    add_passkey(&b, 2).await;
    assert!(text(&b).await.contains("Work laptop") && text(&b).await.contains("Phone"));
    assert_eq!(phone.credentials().await.len(), 1);
    sign_out(&b, &g).await;
    b.goto(&format!("{}/login?returnTo=%2Faccount", origin(&g)))
        .await
        .unwrap();
    passkey_click(&b, "#passkey-login", "/account").await;

    // Removed one by one from the account page: a factor is left after the first.
    click(&b, "#passkeys li.passkey form button").await;
    assert_eq!(at(&b).await, "/account?done=passkey-removed");
    assert_eq!(b.find_all(Locator::Css("#passkeys li.passkey")).await.unwrap().len(), 1);
    let r = g
        .post_json("/api/login", serde_json::json!({"email": email, "password": password}), None)
        .await;
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["mfaRequired"], true, "one passkey left");
    click(&b, "#passkeys li.passkey form button").await;
    assert_eq!(at(&b).await, "/account?done=passkey-removed");
    assert!(b.find_all(Locator::Css("#passkeys li.passkey")).await.unwrap().is_empty());
    let r = g
        .post_json("/api/login", serde_json::json!({"email": email, "password": password}), None)
        .await;
    assert!(r.json::<serde_json::Value>().await.unwrap().is_string(), "no second step without a factor");
    b.close().await.unwrap();
}

/// A passkey assertion the browser (on `page`'s origin) makes for `options` (`{publicKey}`).
async fn assertion(b: &Client, options: &serde_json::Value) -> serde_json::Value {
    let script = "const [o, done] = arguments; \
        navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(o.publicKey) }) \
          .then(c => done(c.toJSON()), e => done('failed: ' + e));";
    let v = b.execute_async(script, vec![options.clone()]).await.unwrap();
    assert!(v.is_object(), "{v}");
    v
}

/// `answer` (a `toJSON()` assertion) signed again with the credential's PKCS#8 ES256 `key`;
/// with `rp_id`, its authenticator data first names that RP ID (its SHA-256) instead.
fn resigned(answer: &serde_json::Value, key: &[u8], rp_id: Option<&str>) -> serde_json::Value {
    use aws_lc_rs::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
    let field = |name: &str| URL_SAFE_NO_PAD.decode(answer["response"][name].as_str().unwrap()).unwrap();
    let mut data = field("authenticatorData");
    if let Some(rp) = rp_id {
        data[..32].copy_from_slice(&aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, rp.as_bytes()).as_ref()[..32]);
    }
    let client_data = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &field("clientDataJSON"));
    let signed = [data.as_slice(), client_data.as_ref()].concat();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, key).expect("an ES256 key");
    let signature = pair.sign(&aws_lc_rs::rand::SystemRandom::new(), &signed).unwrap();
    let mut out = answer.clone();
    out["response"]["authenticatorData"] = URL_SAFE_NO_PAD.encode(&data).into();
    out["response"]["signature"] = URL_SAFE_NO_PAD.encode(signature.as_ref()).into();
    out
}

#[tokio::test]
async fn passkey_answers_for_another_challenge_or_origin_or_rp_id_or_used_twice_are_refused() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let (_up, _smtp, g) = gateway_with_mail("").await;
    let email = "strict@example.test";
    let password = "correct horse battery";
    g.add_user(email, "user", password);
    let b = driver.browser().await;
    let authenticator = Authenticator::add(&driver, &b).await;
    assert_eq!(sign_in(&b, &g, "/account", email, password).await, "/account");
    add_passkey(&b, 1).await;
    let start = |g: &Gateway| {
        let url = g.url("/api/auth/webauthn/login/start");
        async move {
            let r = reqwest::Client::new().post(url).json(&serde_json::json!({})).send().await.unwrap();
            assert_eq!(r.status(), 200);
            r.json::<serde_json::Value>().await.unwrap()
        }
    };
    let finish = |g: &Gateway, flow: &serde_json::Value, credential: &serde_json::Value| {
        let url = g.url("/api/auth/webauthn/login/finish");
        let body = serde_json::json!({"flowId": flow["flowId"], "credential": credential, "mode": "token"});
        async move { reqwest::Client::new().post(url).json(&body).send().await.unwrap() }
    };
    // The options are what parseRequestOptionsFromJSON takes (the browser used them above).
    let one = start(&g).await;
    let two = start(&g).await;
    assert_ne!(one["publicKey"]["challenge"], two["publicKey"]["challenge"]);
    let for_one = assertion(&b, &one).await;
    // Another flow's challenge: refused, and that flow is used up.
    let r = finish(&g, &two, &for_one).await;
    assert_eq!(error_body(r, 401).await["statusCode"], 401);
    // Its own: a session (token mode).
    let r = finish(&g, &one, &for_one).await;
    assert_eq!(r.status(), 200);
    let token = r.json::<serde_json::Value>().await.unwrap()["token"].as_str().unwrap().to_string();
    assert_eq!(g.get("/app/x", Some(&token)).await.status(), 200);
    // The same answer again: the flow is gone.
    let r = finish(&g, &one, &for_one).await;
    assert_eq!(r.status(), 401);
    // Malformed credentials: 400, the JSON error shape.
    let three = start(&g).await;
    for bad in [serde_json::json!({"id": "x"}), serde_json::json!("text")] {
        let r = finish(&g, &three, &bad).await;
        assert_eq!(error_body(r, 400).await["statusCode"], 400, "{bad}");
    }

    // Another RP ID. A browser signs for no RP ID but the page's, so the test signs itself,
    // with the credential's own key (the WebDriver authenticator hands it over): the
    // browser's answer re-signed as it is is accepted (the re-signing is sound), the same
    // with authenticator data naming another RP ID is refused.
    let key = {
        let creds = authenticator.credentials().await;
        URL_SAFE_NO_PAD.decode(creds[0]["privateKey"].as_str().unwrap()).unwrap()
    };
    let four = start(&g).await;
    let forged = resigned(&assertion(&b, &four).await, &key, Some("evil.example"));
    let r = finish(&g, &four, &forged).await;
    assert_eq!(error_body(r, 401).await["statusCode"], 401, "another RP ID");
    g.wait_log("relying party id hash does not match").await;
    let five = start(&g).await;
    let same = resigned(&assertion(&b, &five).await, &key, None);
    assert_eq!(finish(&g, &five, &same).await.status(), 200, "re-signed as it was");

    // Another gateway on the same store, whose origin is not this page's: the browser's
    // answer (origin http://localhost:<first>) is refused there.
    let other = Gateway::start({
        let mut o = Options::new("127.0.0.1:9".parse().unwrap());
        o.database = Some(g.dir.path().join("data/portcullis.db"));
        o
    })
    .await;
    let elsewhere = start(&other).await;
    let answer = assertion(&b, &elsewhere).await;
    let r = finish(&other, &elsewhere, &answer).await;
    assert_eq!(r.status(), 401, "another origin");
    other.wait_log("The clients relying party origin does not match").await;
    b.close().await.unwrap();
}

#[tokio::test]
async fn a_role_that_must_enrol_can_choose_a_passkey_at_sign_in() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let (up, _smtp, g) = gateway_with_mail("mfa: { required_for_roles: [auditor] }").await;
    let email = "auditor@example.test";
    let password = "correct horse battery";
    g.add_user(email, "auditor", password);
    let b = driver.browser().await;
    let authenticator = Authenticator::add(&driver, &b).await;
    let landed = sign_in(&b, &g, "/app/books", email, password).await;
    assert!(landed.starts_with("/login"), "{landed}");
    assert!(text(&b).await.contains("needs a second factor"));
    assert!(b.find(Locator::Css("#qr svg")).await.is_ok(), "the QR code is shown");
    let seen = up.count();
    // The passkey instead of the app: the recovery codes, then on.
    b.find(Locator::Css("button[data-passkey=register]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css("#continue"))
        .await
        .unwrap();
    let codes = b.find(Locator::Css("#passkey-codes")).await.unwrap().text().await.unwrap();
    assert_eq!(codes.lines().count(), 10, "{codes}");
    assert_eq!(up.count(), seen, "nothing reached the app before enrolment");
    assert_eq!(authenticator.credentials().await.len(), 1);
    click(&b, "#continue").await;
    assert_eq!(at(&b).await, "/app/books");
    assert!(text(&b).await.contains("x-auth-amr: pwd,hwk"), "{}", text(&b).await);
    b.close().await.unwrap();
}

/// A directory user's passkey: registered after a sign-in the directory checked, it signs
/// them in alone with the directory's groups; once they are removed from the directory it
/// opens nothing, even before the next refresh.
#[tokio::test]
async fn a_directory_users_passkey_signs_in_only_while_the_directory_still_has_them() {
    let Some(driver) = Driver::start().await else {
        return;
    };
    let Some(ldap) = crate::ldap::Slapd::start() else {
        return;
    };
    let (up, g) = start_with(|o| {
        o.extra = ldap.config("ldap", "    refresh: 1h\n");
        o.env = vec![(
            "PORTCULLIS_TEST_LDAP_BIND".into(),
            crate::ldap::SERVICE_PW.into(),
        )];
    })
    .await;
    let b = driver.browser().await;
    let _authenticator = Authenticator::add(&driver, &b).await;
    let landed = sign_in(&b, &g, "/app/start", "ann@example.test", crate::ldap::ANN_PW).await;
    assert_eq!(landed, "/app/start");
    b.goto(&format!("{}/account", origin(&g))).await.unwrap();
    fill(&b, "#passkey-name", "Laptop").await;
    add_passkey(&b, 1).await;
    sign_out(&b, &g).await;
    b.goto(&format!("{}/login?returnTo=%2Fapp%2Fpasskey", origin(&g)))
        .await
        .unwrap();
    passkey_click(&b, "#passkey-login", "/app/passkey").await;
    let page = text(&b).await;
    assert!(page.contains("x-auth-amr: hwk"), "{page}");
    assert!(page.contains("x-auth-groups: eng,ops"), "{page}");

    // Removed from the directory: the passkey is refused at once, and nothing reaches the app.
    ldap.ldif(
        "ldapdelete",
        &format!("uid=ann,ou=people,{}\n", crate::ldap::SUFFIX),
    );
    sign_out(&b, &g).await;
    let before = up.count();
    passkey_refused(&b, &g, "/app/gone", "no longer in the directory").await;
    assert_eq!(up.count(), before);
    b.close().await.unwrap();
}
