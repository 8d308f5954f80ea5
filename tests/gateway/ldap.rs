//! The user directory against a real OpenLDAP: Debian's `slapd`, started here in a temporary
//! directory on loopback ports (no system service), loaded with `ldapadd`, over plain LDAP,
//! StartTLS and LDAPS with certificates openssl makes. Sign-in by bind, wrong and empty
//! passwords, injections, groups on a route, removals and group changes followed within
//! `refresh`, the server stopped and restarted, `link_by_email`, credentials the directory owns
//! (409), second factors and backoff for directory users, and `check-config`.

use crate::cluster::within;
use crate::harness::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const SUFFIX: &str = "dc=example,dc=test";
const ROOT_DN: &str = "cn=admin,dc=example,dc=test";
const ROOT_PW: &str = "root-secret";
const SERVICE_DN: &str = "cn=portcullis,ou=services,dc=example,dc=test";
pub const SERVICE_PW: &str = "service-secret";
pub const ANN_PW: &str = "ann-directory-pw";
/// A DN with a comma, parentheses and a star in its RDN (RFC 4514 escapes the comma): bound
/// as a DN, and put into the groups filter as a value.
const DANA_DN: &str = "cn=Smith\\, Dana (ops)*,ou=people,dc=example,dc=test";

fn have(cmd: &str) -> bool {
    let there = Path::new(cmd).exists()
        || Command::new("sh")
            .args(["-c", &format!("command -v {cmd}")])
            .output()
            .is_ok_and(|o| o.status.success());
    assert!(
        there || std::env::var_os("PORTCULLIS_REQUIRE_APPS").is_none(),
        "{cmd} is required (PORTCULLIS_REQUIRE_APPS is set; apt-get install slapd ldap-utils)"
    );
    there
}

/// The fixture: people, groups (`groupOfNames`), the service account.
fn fixture() -> String {
    format!(
        "dn: {SUFFIX}
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: ou=people,{SUFFIX}
objectClass: organizationalUnit
ou: people

dn: ou=groups,{SUFFIX}
objectClass: organizationalUnit
ou: groups

dn: ou=services,{SUFFIX}
objectClass: organizationalUnit
ou: services

dn: {SERVICE_DN}
objectClass: person
objectClass: simpleSecurityObject
cn: portcullis
sn: service
userPassword: {SERVICE_PW}

dn: uid=ann,ou=people,{SUFFIX}
objectClass: inetOrgPerson
uid: ann
cn: Ann Directory
sn: Directory
mail: ann@example.test
userPassword: {ANN_PW}

dn: uid=bob,ou=people,{SUFFIX}
objectClass: inetOrgPerson
uid: bob
cn: Bob Directory
sn: Directory
mail: bob@example.test
userPassword: bob-directory-pw

dn: uid=zoe,ou=people,{SUFFIX}
objectClass: inetOrgPerson
uid: zoe
cn:: Wm/Dqw==
sn: Z
mail: zoe@example.test
userPassword: zoë-pässwörd

dn: uid=carl,ou=people,{SUFFIX}
objectClass: inetOrgPerson
uid: carl
cn: Carl Directory
sn: Directory
mail: carl@example.test
userPassword: carl-directory-pw

dn: {DANA_DN}
objectClass: inetOrgPerson
uid: dana
cn: Smith, Dana (ops)*
sn: Smith
mail: dana@example.test
userPassword: dana-directory-pw

dn: cn=eng,ou=groups,{SUFFIX}
objectClass: groupOfNames
cn: eng
member: uid=ann,ou=people,{SUFFIX}
member: uid=zoe,ou=people,{SUFFIX}
member: {DANA_DN}

dn: cn=ops,ou=groups,{SUFFIX}
objectClass: groupOfNames
cn: ops
member: uid=ann,ou=people,{SUFFIX}

dn: cn=sales,ou=groups,{SUFFIX}
objectClass: groupOfNames
cn: sales
member: uid=bob,ou=people,{SUFFIX}
"
    )
}

/// A slapd of the test's own: `ldap://` (StartTLS offered) and `ldaps://` on loopback.
pub struct Slapd {
    dir: tempfile::TempDir,
    child: Option<Child>,
    pub port: u16,
    pub tls_port: u16,
}

fn slapd_bin() -> &'static str {
    "/usr/sbin/slapd"
}

impl Slapd {
    /// `None` (the test skips) where slapd is not installed.
    pub fn start() -> Option<Slapd> {
        if !have(slapd_bin()) || !have("ldapadd") || !have("openssl") {
            eprintln!("SKIPPED: slapd, ldap-utils and openssl are needed");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("db")).unwrap();
        // A server certificate for 127.0.0.1 (its own CA, as the gateway's ca_file).
        let ok = Command::new("openssl")
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"])
            .args(["-nodes", "-subj", "/CN=127.0.0.1", "-days", "2"])
            .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
            .args(["-addext", "basicConstraints=critical,CA:FALSE"])
            .args(["-addext", "extendedKeyUsage=serverAuth"])
            .arg("-keyout")
            .arg(d.join("server.key"))
            .arg("-out")
            .arg(d.join("server.pem"))
            .output()
            .unwrap();
        assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
        let conf = format!(
            "include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
pidfile {d}/slapd.pid
argsfile {d}/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
TLSCertificateFile {d}/server.pem
TLSCertificateKeyFile {d}/server.key
database mdb
maxsize 10485760
suffix \"{SUFFIX}\"
rootdn \"{ROOT_DN}\"
rootpw {ROOT_PW}
directory {d}/db
access to attrs=userPassword by self write by anonymous auth by * none
access to * by * read
",
            d = d.display()
        );
        std::fs::write(d.join("slapd.conf"), conf).unwrap();
        let mut s = Slapd {
            dir,
            child: None,
            port: free_port(),
            tls_port: free_port(),
        };
        // A port picked free can be taken (an outgoing connection's ephemeral port) before
        // slapd binds it; slapd then exits. A fresh pair of ports is tried then.
        for attempt in 1.. {
            match s.try_run() {
                Ok(()) => break,
                Err(why) if attempt < 3 => {
                    eprintln!("slapd start {attempt} failed, new ports: {why}");
                    s.stop();
                    s.port = free_port();
                    s.tls_port = free_port();
                }
                Err(why) => panic!("slapd did not start: {why}"),
            }
        }
        s.ldif("ldapadd", &fixture());
        Some(s)
    }

    /// Starts the server process (again, after [`stop`](Self::stop)) and waits for it.
    pub fn run(&mut self) {
        if let Err(why) = self.try_run() {
            panic!("slapd did not start: {why}");
        }
    }

    fn try_run(&mut self) -> Result<(), String> {
        let d = self.dir.path();
        let urls = format!("ldap://127.0.0.1:{}/ ldaps://127.0.0.1:{}/", self.port, self.tls_port);
        let child = Command::new(slapd_bin())
            .arg("-f")
            .arg(d.join("slapd.conf"))
            .args(["-h", &urls, "-d", "0"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.join("slapd.log")).unwrap())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let log = || std::fs::read_to_string(d.join("slapd.log")).unwrap_or_default();
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err()
            || std::net::TcpStream::connect(("127.0.0.1", self.tls_port)).is_err()
        {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                return Err(format!("slapd exited ({status}):\n{}", log()));
            }
            if Instant::now() > deadline {
                return Err(format!("not listening after 15 s:\n{}", log()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("server.pem")
    }

    /// Runs `ldapadd`/`ldapmodify`/`ldapdelete` as the root DN with `input` on stdin.
    pub fn ldif(&self, tool: &str, input: &str) {
        use std::io::Write;
        let mut c = Command::new(tool)
            .args(["-x", "-D", ROOT_DN, "-w", ROOT_PW, "-H"])
            .arg(format!("ldap://127.0.0.1:{}", self.port))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        c.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{tool}: {}", String::from_utf8_lossy(&o.stderr));
    }

    /// The `directory:` section for this server: `scheme` `ldap`, `starttls` or `ldaps`.
    pub fn config(&self, scheme: &str, extra: &str) -> String {
        let (url, start_tls) = match scheme {
            "ldaps" => (format!("ldaps://127.0.0.1:{}", self.tls_port), false),
            "starttls" => (format!("ldap://127.0.0.1:{}", self.port), true),
            _ => (format!("ldap://127.0.0.1:{}", self.port), false),
        };
        format!(
            "directory:\n  ldap:\n    url: \"{url}\"\n    start_tls: {start_tls}\n    ca_file: \"{ca}\"\n    bind_dn: \"{SERVICE_DN}\"\n    bind_password: \"${{PORTCULLIS_TEST_LDAP_BIND}}\"\n    timeout: 2s\n    users: {{ base_dn: \"ou=people,{SUFFIX}\" }}\n    groups: {{ base_dn: \"ou=groups,{SUFFIX}\" }}\n{extra}",
            ca = self.ca().display()
        )
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Routes for directory users: one for `eng`, one for anyone signed in.
const ROUTES: &str = r#"
  - { name: eng, path: "/eng/**", upstream: app, auth: required, allow: [{ groups: [eng] }] }
  - { name: app, path: "/**", upstream: app, auth: required }
"#;

async fn gateway(ldap: &Slapd, scheme: &str, extra: &str) -> (Upstream, Gateway) {
    let section = ldap.config(scheme, extra);
    start_with(|o| {
        o.routes = ROUTES.into();
        o.extra = section;
        o.env = vec![("PORTCULLIS_TEST_LDAP_BIND".into(), SERVICE_PW.into())];
    })
    .await
}

async fn login(g: &Gateway, email: &str, password: &str) -> reqwest::Response {
    g.post_json("/api/login", json!({"email": email, "password": password}), None)
        .await
}

async fn token(g: &Gateway, email: &str, password: &str) -> String {
    let r = login(g, email, password).await;
    assert_eq!(r.status(), 200, "{email}: {}", r.text().await.unwrap());
    r.json().await.unwrap()
}

#[tokio::test]
async fn directory_users_sign_in_by_bind_and_their_groups_reach_routes() {
    let Some(ldap) = Slapd::start() else { return };
    let (up, g) = gateway(&ldap, "ldap", "").await;
    let ann = token(&g, "ann@example.test", ANN_PW).await;
    assert_eq!(g.get("/eng/x", Some(&ann)).await.status(), 200);
    let seen = up.last().headers;
    assert_eq!(seen["x-auth-groups"], "eng,ops");
    assert_eq!(seen["x-auth-name"], "Ann Directory");
    // Every password sign-in: the Nuxt Users session and the sign-in page too.
    let r = g
        .post_json("/api/nuxt-users/session", json!({"email": "bob@example.test", "password": "bob-directory-pw"}), None)
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["user"]["groups"], json!(["sales"]));
    let bob = token(&g, "bob@example.test", "bob-directory-pw").await;
    assert_eq!(g.get("/eng/x", Some(&bob)).await.status(), 403);
    // Non-ASCII names and passwords.
    let zoe = token(&g, "zoe@example.test", "zoë-pässwörd").await;
    assert_eq!(g.get("/eng/x", Some(&zoe)).await.status(), 200);
    assert_eq!(up.last().headers["x-auth-name"], "Zo%C3%AB");
    // A DN with a comma, parentheses and a star: bound as a DN, a value in the groups filter.
    let dana = token(&g, "dana@example.test", "dana-directory-pw").await;
    assert_eq!(g.get("/eng/x", Some(&dana)).await.status(), 200);
    assert_eq!(up.last().headers["x-auth-groups"], "eng");
    // The sign-in page.
    let c = no_redirects();
    let r = c.get(g.url("/login")).send().await.unwrap();
    let (csrf, _) = set_cookie(&r);
    let form = [
        ("csrf", csrf.trim_start_matches("portcullis_csrf=")),
        ("returnTo", "/eng/page"),
        ("email", "ann@example.test"),
        ("password", ANN_PW),
    ];
    let r = c.post(g.url("/login")).header("cookie", &csrf).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let (session, _) = set_cookie(&r);
    let r = c.get(g.url("/eng/page")).header("cookie", &session).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // The Altogic tutorial's sign-in.
    let r = g.post_json("/api/auth/login", json!({"email": "ann@example.test", "password": ANN_PW}), None).await;
    assert_eq!(r.status(), 200);
    // A wrong password is the usual answer; the local admin keeps working beside.
    let r = login(&g, "ann@example.test", "not-her-password").await;
    assert_eq!(error_body(r, 400).await["statusCode"], 400);
    let admin = g.admin_token().await;
    assert_eq!(g.get("/x", Some(&admin)).await.status(), 200);
    // What a person types is a value, never filter syntax: `*@example.test` is no wildcard.
    for typed in ["*@example.test", "ann@example.test)(uid=*", "*)(uid=*@x.test", "*@*"] {
        let r = login(&g, typed, ANN_PW).await;
        assert!(matches!(r.status().as_u16(), 400 | 422), "{typed}: {}", r.status());
    }
    // The directory is the one place for a directory user's credentials: 409 here.
    let r = g
        .call(http::Method::PATCH, "/api/nuxt-users/password", Some(&ann), Some(json!({"currentPassword": ANN_PW, "newPassword": "another-pass-1", "newPasswordConfirmation": "another-pass-1"})))
        .await;
    let e = error_body(r, 409).await;
    assert!(e["message"].as_str().unwrap().contains("managed by the directory"), "{e}");
    let r = g.call(http::Method::PATCH, "/api/nuxt-users/me", Some(&ann), Some(json!({"email": "ann2@example.test"}))).await;
    assert_eq!(r.status(), 409);
    let r = g.call(http::Method::PATCH, "/api/profile", Some(&ann), Some(json!({"password": "another-pass-1", "currentPassword": ANN_PW}))).await;
    assert_eq!(r.status(), 409);
    // Counted.
    let m = g.metrics().await;
    for want in [
        r#"portcullis_directory_requests_total{operation="bind_user",result="ok"}"#,
        r#"portcullis_directory_requests_total{operation="search",result="ok"}"#,
        "portcullis_directory_request_seconds_bucket",
    ] {
        assert!(m.contains(want), "{want}");
    }
}

#[tokio::test]
async fn the_directory_is_asked_by_bind_only_and_never_with_an_empty_password() {
    let Some(ldap) = Slapd::start() else { return };
    std::env::set_var("PORTCULLIS_TEST_LDAP_BIND", SERVICE_PW);
    let cfg = portcullis::config::from_yaml(
        &format!("{}\n", ldap.config("ldap", "")),
        &Default::default(),
        Path::new("."),
    )
    .unwrap();
    use portcullis::directory::{Directory, SignIn};
    let dir = portcullis::directory::ldap::LdapDirectory::new(cfg.directory.as_ref().unwrap()).unwrap();
    let pw = |p: &str| secrecy::SecretString::from(p.to_string());
    let SignIn::Entry(e) = dir.sign_in("ann", &pw(ANN_PW)).await.unwrap() else {
        panic!("ann signs in by uid too")
    };
    assert_eq!((e.email.as_deref(), e.groups.clone()), (Some("ann@example.test"), vec!["eng".into(), "ops".into()]));
    assert_eq!(e.id.len(), 36, "entryUUID: {}", e.id);
    let binds = || {
        let m = portcullis::metrics::render();
        m.lines()
            .filter(|l| l.starts_with("portcullis_directory_requests_total{operation=\"bind_user\""))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>()
    };
    let before = binds();
    assert_eq!(dir.sign_in("ann", &pw("")).await.unwrap(), SignIn::WrongPassword);
    assert_eq!(binds(), before, "an empty password is refused before any bind");
    assert_eq!(dir.sign_in("ann", &pw("wrong")).await.unwrap(), SignIn::WrongPassword);
    assert_eq!(binds(), before + 1.0);
    // Injections are values: none of them finds (and binds as) anyone.
    for typed in ["*", "*)(uid=*", ")(|(uid=*", "ann\0", "ann)(|(uid=*", "a*", "\\2a", "zoë*"] {
        assert_eq!(dir.sign_in(typed, &pw(ANN_PW)).await.unwrap(), SignIn::Unknown, "{typed:?}");
    }
    // Re-read by stable id: present people with their groups; unknown ids are absent.
    let found = dir.by_ids(&[e.id.clone(), "00000000-0000-0000-0000-000000000000".into()]).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].groups, vec!["eng".to_string(), "ops".to_string()]);
    assert!(dir.check().await.is_ok());
}

#[tokio::test]
async fn starttls_and_ldaps_sign_in_and_an_unknown_certificate_is_refused() {
    let Some(ldap) = Slapd::start() else { return };
    for scheme in ["starttls", "ldaps"] {
        let (_up, g) = gateway(&ldap, scheme, "").await;
        let t = token(&g, "ann@example.test", ANN_PW).await;
        assert_eq!(g.get("/eng/x", Some(&t)).await.status(), 200, "{scheme}");
    }
    // A CA the server's certificate is not from: no connection, so 503, never "wrong password".
    let other = tempfile::tempdir().unwrap();
    let o = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=other", "-days", "2", "-keyout"])
        .arg(other.path().join("k"))
        .arg("-out")
        .arg(other.path().join("ca.pem"))
        .output()
        .unwrap();
    assert!(o.status.success());
    let section = ldap
        .config("ldaps", "")
        .replace(&ldap.ca().display().to_string(), &other.path().join("ca.pem").display().to_string());
    let (_up, g) = start_with(|o| {
        o.routes = ROUTES.into();
        o.extra = section;
        o.env = vec![("PORTCULLIS_TEST_LDAP_BIND".into(), SERVICE_PW.into())];
    })
    .await;
    let r = login(&g, "ann@example.test", ANN_PW).await;
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn removals_and_group_changes_in_the_directory_are_followed_within_refresh() {
    let Some(ldap) = Slapd::start() else { return };
    let (up, g) = gateway(&ldap, "ldap", "    refresh: 1s\n").await;
    let ann = token(&g, "ann@example.test", ANN_PW).await;
    let bob = token(&g, "bob@example.test", "bob-directory-pw").await;
    let key: Value = g
        .post_json("/api/auth/api-keys", json!({"name": "bob's script"}), Some(&bob))
        .await
        .json()
        .await
        .unwrap();
    let key = key["key"].as_str().unwrap().to_string();
    assert_eq!(g.get("/x", Some(&key)).await.status(), 200);
    assert_eq!(g.get("/eng/x", Some(&ann)).await.status(), 200);
    // A group an admin gives her here is kept apart from the directory's (source ldap).
    let admin = g.admin_token().await;
    let ann_id = payload(&ann)["sub"].as_str().unwrap().parse::<i64>().unwrap();
    let r = g
        .call(http::Method::PATCH, &format!("/api/nuxt-users/{ann_id}"), Some(&admin), Some(json!({"groups": ["reviewers"]})))
        .await;
    assert_eq!(r.status(), 200);
    // Ann leaves eng: her live session loses it within a refresh.
    ldap.ldif(
        "ldapmodify",
        &format!("dn: cn=eng,ou=groups,{SUFFIX}\nchangetype: modify\ndelete: member\nmember: uid=ann,ou=people,{SUFFIX}\n"),
    );
    within(Duration::from_secs(5), "ann's groups", || async {
        g.get("/eng/x", Some(&ann)).await.status() == 403
    })
    .await;
    assert_eq!(g.get("/x", Some(&ann)).await.status(), 200);
    assert_eq!(up.last().headers["x-auth-groups"], "ops,reviewers");
    let o = Command::new(bin())
        .args(["user", "groups", "ann@example.test", "--config"])
        .arg(&g.config)
        .env("PORTCULLIS_TEST_LDAP_BIND", SERVICE_PW)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "ops\t(ldap)\nreviewers\t(local)\n",
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // Bob is removed: his sessions and his API key end within a refresh.
    ldap.ldif("ldapdelete", &format!("uid=bob,ou=people,{SUFFIX}\n"));
    within(Duration::from_secs(5), "bob's session", || async {
        g.get("/x", Some(&bob)).await.status() == 401
    })
    .await;
    within(Duration::from_secs(3), "bob's key", || async {
        g.get("/x", Some(&key)).await.status() == 401
    })
    .await;
    assert_eq!(login(&g, "bob@example.test", "bob-directory-pw").await.status(), 400);
    assert_eq!(g.get("/x", Some(&ann)).await.status(), 200, "ann stays");
}

#[tokio::test]
async fn one_removed_from_the_directory_cannot_come_back_another_way_before_the_refresh() {
    let Some(ldap) = Slapd::start() else { return };
    // A long refresh: only the sign-in itself can notice.
    let section = ldap.config("ldap", "    refresh: 1h\n");
    let (_up, g) = start_with(|o| {
        o.routes = ROUTES.into();
        o.extra = format!("{section}{}  link_by_verified_email: true\n", crate::oauth::MOCK);
        o.env = vec![("PORTCULLIS_TEST_LDAP_BIND".into(), SERVICE_PW.into())];
    })
    .await;
    let bob = token(&g, "bob@example.test", "bob-directory-pw").await;
    // Bob links the provider's account with his (directory-verified) address, then signs in
    // through it: the directory is asked, his groups come along.
    let (by_provider, _) = crate::oauth::signed_in(&g, "?user=p-2").await;
    assert_eq!(payload(&by_provider)["sub"], payload(&bob)["sub"]);
    assert_eq!(g.get("/x", Some(&by_provider)).await.status(), 200);
    ldap.ldif("ldapdelete", &format!("uid=bob,ou=people,{SUFFIX}\n"));
    // The session is made when the code is redeemed: that is where the directory says no.
    let cb = crate::oauth::sign_in(&g, "?user=p-2").await;
    let e = error_body(crate::oauth::redeem(&g, &cb).await, 403).await;
    assert!(e["message"].as_str().unwrap().contains("no longer in the directory"), "{e}");
    // Asking found him gone: what he held ends now, not at the next refresh.
    assert_eq!(g.get("/x", Some(&bob)).await.status(), 401);
    assert_eq!(g.get("/x", Some(&by_provider)).await.status(), 401);
}

#[tokio::test]
async fn an_overridden_filter_and_attributes_decide_who_is_enabled_and_what_they_are_called() {
    let Some(ldap) = Slapd::start() else { return };
    let people = format!("users: {{ base_dn: \"ou=people,{SUFFIX}\" }}");
    let custom = format!(
        "users: {{ base_dn: \"ou=people,{SUFFIX}\", filter: \"(&(objectClass=inetOrgPerson)(mail={{login}})(!(employeeType=disabled)))\", attributes: {{ name: sn }} }}"
    );
    let section = ldap.config("ldap", "    refresh: 1s\n").replace(&people, &custom);
    assert!(section.contains("employeeType"), "{section}");
    let (up, g) = start_with(|o| {
        o.routes = ROUTES.into();
        o.extra = section;
        o.env = vec![("PORTCULLIS_TEST_LDAP_BIND".into(), SERVICE_PW.into())];
    })
    .await;
    let ann = token(&g, "ann@example.test", ANN_PW).await;
    assert_eq!(g.get("/x", Some(&ann)).await.status(), 200);
    assert_eq!(up.last().headers["x-auth-name"], "Directory", "the name from sn");
    // Disabled the way this directory says it: her session ends within a refresh, and she
    // cannot sign in again.
    ldap.ldif(
        "ldapmodify",
        &format!("dn: uid=ann,ou=people,{SUFFIX}\nchangetype: modify\nadd: employeeType\nemployeeType: disabled\n"),
    );
    within(Duration::from_secs(5), "ann disabled", || async {
        g.get("/x", Some(&ann)).await.status() == 401
    })
    .await;
    assert_eq!(login(&g, "ann@example.test", ANN_PW).await.status(), 400);
}

#[tokio::test]
async fn a_directory_that_goes_away_costs_no_live_session_and_is_asked_again_when_back() {
    let Some(mut ldap) = Slapd::start() else { return };
    let (_up, g) = gateway(&ldap, "ldap", "").await;
    let ann = token(&g, "ann@example.test", ANN_PW).await;
    ldap.stop();
    // Live sessions work; a directory user's sign-in is a 503 to retry, never "incorrect".
    assert_eq!(g.get("/eng/x", Some(&ann)).await.status(), 200);
    let r = login(&g, "ann@example.test", ANN_PW).await;
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    // Degraded, not unready: the local admin still signs in.
    let h: Value = g.admin_get("/healthz").await.json().await.unwrap();
    assert_eq!(h["checks"]["directory"], "degraded", "{h}");
    assert_eq!(g.admin_get("/readyz").await.status(), 200);
    assert!(g.metrics().await.contains("result=\"unreachable\""));
    let admin = g.admin_token().await;
    assert_eq!(g.get("/x", Some(&admin)).await.status(), 200);
    // A local account's wrong password is still just that (the directory could not have let
    // anyone in under its address without link_by_email).
    assert_eq!(login(&g, ADMIN_EMAIL, "not-the-admin-password").await.status(), 400);
    // Back: the same pool reconnects.
    ldap.run();
    within(Duration::from_secs(10), "sign-in after the restart", || async {
        login(&g, "ann@example.test", ANN_PW).await.status() == 200
    })
    .await;
    let h: Value = g.admin_get("/healthz").await.json().await.unwrap();
    assert_eq!(h["checks"]["directory"], "ok", "{h}");
}

#[tokio::test]
async fn health_follows_the_directory_before_anyone_signs_in() {
    let Some(mut ldap) = Slapd::start() else { return };
    let (_up, g) = gateway(&ldap, "ldap", "    refresh: 1s\n").await;
    let directory = || async {
        let h: Value = g.admin_get("/healthz").await.json().await.unwrap();
        h["checks"]["directory"].as_str().unwrap_or_default().to_string()
    };
    assert_eq!(directory().await, "ok");
    ldap.stop();
    within(Duration::from_secs(5), "degraded", || async { directory().await == "degraded" }).await;
    assert_eq!(g.admin_get("/readyz").await.status(), 200);
    ldap.run();
    within(Duration::from_secs(5), "ok again", || async { directory().await == "ok" }).await;
}

#[tokio::test]
async fn a_directory_restarted_between_sign_ins_is_reconnected_at_once() {
    let Some(mut ldap) = Slapd::start() else { return };
    let (_up, g) = gateway(&ldap, "ldap", "").await;
    // Several sign-ins at once: the pool holds several connections.
    let people = [
        ("ann@example.test", ANN_PW),
        ("zoe@example.test", "zoë-pässwörd"),
        ("dana@example.test", "dana-directory-pw"),
        ("carl@example.test", "carl-directory-pw"),
    ];
    let all = people.iter().map(|(e, p)| login(&g, e, p));
    for r in futures_util::future::join_all(all).await {
        assert_eq!(r.status(), 200);
    }
    // Restarted while no one signs in: each pooled connection is dead, and the very next
    // sign-in still succeeds (the pool is dropped at the first dead one, not tried in turn).
    ldap.stop();
    ldap.run();
    assert_eq!(login(&g, "ann@example.test", ANN_PW).await.status(), 200);
}

#[tokio::test]
async fn no_mail_opens_a_directory_account() {
    let Some(ldap) = Slapd::start() else { return };
    let smtp = SmtpServer::start();
    let section = ldap.config("ldap", "");
    let (_up, g) = start_with(|o| {
        o.routes = ROUTES.into();
        o.extra = format!("{}\n{section}", smtp.config());
        o.env = vec![("PORTCULLIS_TEST_LDAP_BIND".into(), SERVICE_PW.into())];
    })
    .await;
    let _ = token(&g, "ann@example.test", ANN_PW).await;
    // Neither a reset nor a magic link is mailed to a directory user (the answers are the same
    // as for anyone, so they say nothing of who is in the directory).
    let r = g.post_json("/api/nuxt-users/password/forgot", json!({"email": "ann@example.test"}), None).await;
    assert_eq!(r.status(), 200);
    let r = g.post_json("/api/auth/magic-link", json!({"email": "ann@example.test"}), None).await;
    assert_eq!(r.status(), 200);
    // A local account's reset is mailed: the only message.
    let r = g.post_json("/api/nuxt-users/password/forgot", json!({"email": ADMIN_EMAIL}), None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(smtp.nth(1).await.to, vec![ADMIN_EMAIL.to_string()]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(smtp.count(), 1);
}

#[tokio::test]
async fn a_local_account_with_the_same_address_is_linked_only_when_allowed() {
    let Some(ldap) = Slapd::start() else { return };
    let (_up, g) = gateway(&ldap, "ldap", "").await;
    let admin = g.admin_token().await;
    g.create_user(&admin, "carl@example.test", "user", "carl-local-pw-1").await;
    // Not linked: the directory's password is refused, saying why in the log; the local one
    // keeps working.
    assert_eq!(login(&g, "carl@example.test", "carl-directory-pw").await.status(), 400);
    g.wait_log("set directory.ldap.link_by_email: true to link them").await;
    let _ = token(&g, "carl@example.test", "carl-local-pw-1").await;

    let (_up, g) = gateway(&ldap, "ldap", "    link_by_email: true\n").await;
    let admin = g.admin_token().await;
    let id = g.create_user(&admin, "carl@example.test", "user", "carl-local-pw-1").await;
    let carl = token(&g, "carl@example.test", "carl-directory-pw").await;
    let me: Value = g.get("/api/nuxt-users/me", Some(&carl)).await.json().await.unwrap();
    assert_eq!(me["user"]["id"], id, "the same account, now the directory's");
    // From now on its password is the directory's.
    assert_eq!(login(&g, "carl@example.test", "carl-local-pw-1").await.status(), 400);
}

#[tokio::test]
async fn a_refusal_takes_as_long_whether_the_directory_knows_the_login_or_not() {
    let Some(ldap) = Slapd::start() else { return };
    let (_up, g) = gateway(&ldap, "ldap", "rate_limits: { login: { per_minute: 1000, burst: 1000 }, account: { free_failures: 100 } }\n").await;
    login(&g, "warm@example.test", "x-password-1").await;
    // Interleaved, alternating which goes first, as in bruteforce.rs: a bind that fails takes
    // a fraction of a millisecond, an unknown login a whole (dummy) argon2 check; without a
    // hash checked on the directory's refusal too, the ratio is about 0.1.
    let mut times = [Vec::new(), Vec::new()];
    for round in 0..15 {
        for k in [round % 2, 1 - round % 2] {
            let email = ["ann@example.test", "nobody@example.test"][k];
            let t = Instant::now();
            assert_eq!(login(&g, email, "wrong-password-1").await.status(), 400);
            times[k].push(t.elapsed());
        }
    }
    let median: Vec<f64> = times
        .iter_mut()
        .map(|t| {
            t.sort();
            t[t.len() / 2].as_secs_f64()
        })
        .collect();
    let ratio = median[0] / median[1];
    assert!(
        (0.33..3.0).contains(&ratio),
        "directory user {:.1} ms vs unknown {:.1} ms",
        median[0] * 1e3,
        median[1] * 1e3
    );
}

#[tokio::test]
async fn directory_users_get_backoff_and_second_factors_like_anyone() {
    let Some(ldap) = Slapd::start() else { return };
    let (_up, g) = gateway(&ldap, "ldap", "").await;
    // Five wrong passwords are free, then each attempt waits (429), the right one too.
    for _ in 0..5 {
        assert_eq!(login(&g, "zoe@example.test", "wrong-password").await.status(), 400);
    }
    let r = login(&g, "zoe@example.test", "zoë-pässwörd").await;
    assert_eq!(r.status(), 429);
    // The per-address limit counts directory sign-ins like any, right passwords too.
    let (_up2, g2) = gateway(&ldap, "ldap", "rate_limits: { login: { per_minute: 1, burst: 3 } }\n").await;
    for _ in 0..3 {
        assert_eq!(login(&g2, "bob@example.test", "bob-directory-pw").await.status(), 200);
    }
    let r = login(&g2, "dana@example.test", "dana-directory-pw").await;
    assert_eq!(r.status(), 429);
    // TOTP for a directory user: turned on, then asked for at the next sign-in.
    let ann = token(&g, "ann@example.test", ANN_PW).await;
    let setup: Value = g.post_json("/api/auth/mfa/totp/setup", json!({}), Some(&ann)).await.json().await.unwrap();
    let secret = crate::mfa::base32_decode(setup["secret"].as_str().unwrap());
    let mut clock = crate::mfa::Clock { offset: 0 };
    clock.next_step(&g).await;
    let r = g.post_json("/api/auth/mfa/totp/enable", json!({"code": crate::mfa::totp(&secret, clock.now())}), Some(&ann)).await;
    assert_eq!(r.status(), 200);
    let r = g.post_json("/api/auth/login", json!({"email": "ann@example.test", "password": ANN_PW}), None).await;
    let c: Value = r.json().await.unwrap();
    assert_eq!(c["mfaRequired"], true, "{c}");
    clock.next_step(&g).await;
    let r = g
        .post_json("/api/auth/mfa/verify", json!({"mfaToken": c["mfaToken"], "code": crate::mfa::totp(&secret, clock.now())}), None)
        .await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn check_config_binds_the_service_account() {
    let Some(ldap) = Slapd::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let check = |section: String, pw: &str| {
        let file = dir.path().join("c.yaml");
        std::fs::write(&file, section).unwrap();
        Command::new(bin())
            .args(["check-config", "--config"])
            .arg(&file)
            .env("PORTCULLIS_TEST_LDAP_BIND", pw)
            .output()
            .unwrap()
    };
    let o = check(ldap.config("ldap", ""), SERVICE_PW);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("the service account binds"));
    let o = check(ldap.config("ldap", ""), "not-the-password");
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("directory.ldap.bind_dn"), "{}", String::from_utf8_lossy(&o.stderr));
    // The password's variable unset: named.
    let file = dir.path().join("unset.yaml");
    std::fs::write(&file, ldap.config("ldap", "")).unwrap();
    let o = Command::new(bin())
        .args(["check-config", "--config"])
        .arg(&file)
        .env_remove("PORTCULLIS_TEST_LDAP_BIND")
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("directory.ldap.bind_password") && err.contains("PORTCULLIS_TEST_LDAP_BIND"), "{err}");
    // A server this machine cannot reach: a warning (it may be reachable where the gateway runs).
    let o = check(ldap.config("ldap", "").replace(&ldap.port.to_string(), &free_port().to_string()), SERVICE_PW);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("warning: directory.ldap.url"));
}
