//! `Strict-Transport-Security` (RFC 6797) on every answer of the HTTPS listener — proxied,
//! the auth API's, the pages, the gateway's refusals — and never on plain HTTP (§7.2: a
//! browser ignores it there, and the plain listener's 308 stays as it is); its settings; and
//! testssl.sh against the listener with no finding at MEDIUM or above.

use crate::harness::*;
use crate::tls::{have, https_client, https_gateway};
use std::process::Command;

const HSTS: &str = "strict-transport-security";

/// The paths that reach each kind of answer: proxied, refused by the gateway, the auth API,
/// a page, one nobody serves.
const KINDS: [(&str, &str); 5] = [
    ("GET", "/public/x"),
    ("GET", "/app/x"),
    ("POST", "/api/login"),
    ("GET", "/login"),
    ("GET", "/admin/%2e%2e/x"),
];

async fn hsts_of(c: &reqwest::Client, base: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    for (method, path) in KINDS {
        let m: http::Method = method.parse().unwrap();
        let mut r = c.request(m.clone(), format!("{base}{path}"));
        if m == http::Method::POST {
            r = r.json(&serde_json::json!({}));
        }
        let r = r.send().await.unwrap();
        let v = r.headers().get(HSTS).map(|v| v.to_str().unwrap().to_string());
        out.push((format!("{method} {path} {} {:?}", r.status(), r.version()), v));
    }
    out
}

#[tokio::test]
async fn every_https_answer_carries_hsts_and_no_plain_one_does() {
    if !have("openssl") {
        return;
    }
    let (certs, tls, _up, g) = https_gateway("", |_| {}).await;
    let base = format!("https://a.test:{tls}");
    let h2 = https_client(&certs.path().join("a.pem"), tls);
    let h1 = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(certs.path().join("a.pem")).unwrap()).unwrap(),
        )
        .resolve("a.test", ([127, 0, 0, 1], tls).into())
        .http1_only()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for c in [&h2, &h1] {
        for (what, v) in hsts_of(c, &base).await {
            assert_eq!(v.as_deref(), Some("max-age=31536000"), "{what}");
        }
    }
    for (what, v) in hsts_of(&no_redirects(), &g.base).await {
        assert_eq!(v, None, "plain HTTP: {what}");
    }
}

#[tokio::test]
async fn hsts_takes_its_settings_or_false() {
    if !have("openssl") {
        return;
    }
    let settings = "    hsts: { max_age: \"730 days\", include_subdomains: true, preload: true }\n";
    let (certs, tls, _up, _g) = https_gateway(settings, |_| {}).await;
    let c = https_client(&certs.path().join("a.pem"), tls);
    for (what, v) in hsts_of(&c, &format!("https://a.test:{tls}")).await {
        assert_eq!(v.as_deref(), Some("max-age=63072000; includeSubDomains; preload"), "{what}");
    }
    let (certs, tls, _up, _g) = https_gateway("    hsts: false\n", |_| {}).await;
    let c = https_client(&certs.path().join("a.pem"), tls);
    for (what, v) in hsts_of(&c, &format!("https://a.test:{tls}")).await {
        assert_eq!(v, None, "{what}");
    }
}

/// testssl.sh (Debian's) against the HTTPS listener: protocols, ciphers and their order,
/// known vulnerabilities, headers (HSTS among them). The certificate is the test's own, so it
/// names a revocation endpoint as a CA's would (testssl rates a certificate without one HIGH:
/// a property of the certificate, not of the server) and is given to testssl as trusted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn testssl_finds_nothing_at_medium_or_above() {
    // The listener is the same whatever the store: the SQLite pass runs it.
    if crate::ON_POSTGRES {
        return;
    }
    let required = std::env::var_os("PORTCULLIS_REQUIRE_APPS").is_some();
    let found = Command::new("testssl").arg("--version").output().is_ok();
    assert!(found || !required, "testssl is required (PORTCULLIS_REQUIRE_APPS is set)");
    if !found || !have("openssl") {
        eprintln!("SKIPPED: testssl.sh is not installed (apt-get install testssl.sh); .ci/run installs it");
        return;
    }
    let (certs, tls, _up, g) = https_gateway("", |_| {}).await;
    crate::tls::certificate_with(
        certs.path(),
        "a",
        "a.test",
        "DNS:a.test",
        90,
        &["authorityInfoAccess=OCSP;URI:http://127.0.0.1:9/ocsp", "crlDistributionPoints=URI:http://127.0.0.1:9/crl"],
    );
    g.signal("HUP");
    g.wait_log("TLS certificates reloaded").await;
    let report = certs.path().join("testssl.json");
    let out = tokio::task::spawn_blocking({
        let (report, ca) = (report.clone(), certs.path().join("a.pem"));
        move || {
            Command::new("testssl")
                .args(["--quiet", "--color", "0", "--warnings", "off", "--ip", "127.0.0.1"])
                .arg("--jsonfile-pretty")
                .arg(&report)
                .arg("--add-ca")
                .arg(&ca)
                .arg(format!("a.test:{tls}"))
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let text = std::fs::read_to_string(&report)
        .unwrap_or_else(|_| panic!("no report: {}", String::from_utf8_lossy(&out.stdout)));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let findings: Vec<&serde_json::Value> = v["scanResult"][0]
        .as_object()
        .unwrap()
        .values()
        .filter_map(|s| s.as_array())
        .flatten()
        .collect();
    assert!(findings.len() > 50, "testssl ran its checks: {text}");
    let serious: Vec<String> = findings
        .iter()
        .filter(|f| matches!(f["severity"].as_str(), Some("MEDIUM" | "HIGH" | "CRITICAL")))
        .map(|f| format!("{} {}: {}", f["severity"], f["id"], f["finding"]))
        .collect();
    assert!(serious.is_empty(), "{serious:#?}");
    let hsts = findings.iter().find(|f| f["id"] == "HSTS_time").expect("HSTS checked");
    assert_eq!(hsts["severity"], "OK", "{hsts}");
}
