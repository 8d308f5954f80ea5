//! The audit trail through the real gateway, on SQLite and on PostgreSQL: every flow's events
//! with their actors, targets, clients and changes; the admin's filtered, paged list and a
//! user's own; denials kept to one a second; no secret in any stored, listed, printed or
//! logged event; the chain verified by `portcullis audit verify`, and tampering behind the
//! gateway's back (an edited row, a deleted row, with `sqlite3` or `psql`) detected and named;
//! retention purging from the start with the chain still whole; `system.stopped` written and
//! the JSON-lines output flushed on SIGTERM.

use crate::harness::*;
use crate::mfa::{base32_decode, totp, Clock};
use http::Method;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

const ANN: &str = "ann@example.test";
const ANN_PW: &str = "ann-first-password-1";
const ANN_PW2: &str = "ann-second-password-2";
const ANN_PW3: &str = "ann-third-password-3";

const ROUTES: &str = r#"
  - { name: ops, path: "/ops/**", upstream: app, auth: required, allow: [{ name: ops-only, groups: [ops] }] }
  - { name: app, path: "/**", upstream: app, auth: required }
"#;

/// Every event of the trail, newest first, read through the admin API a page at a time.
pub async fn all_events(g: &Gateway, admin: &str, filter: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let r = g
            .get(&format!("/api/auth/audit?limit=7{filter}{cursor}"), Some(admin))
            .await;
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        let page: Value = r.json().await.unwrap();
        out.extend(page["events"].as_array().unwrap().iter().cloned());
        match page["nextCursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => return out,
        }
    }
}

fn of_type<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == kind).collect()
}

/// `portcullis audit verify` on the gateway's config: (exit code, stdout, stderr).
pub fn verify(g: &Gateway) -> (i32, String, String) {
    let o = Command::new(bin())
        .args(["audit", "verify", "--config"])
        .arg(&g.config)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The database URL the gateway's config names.
fn database_url(g: &Gateway) -> String {
    let cfg = std::fs::read_to_string(&g.config).unwrap();
    let line = cfg
        .lines()
        .find(|l| l.trim_start().starts_with("url:"))
        .unwrap();
    line.split('"').nth(1).unwrap().to_string()
}

/// Runs `sql` on the gateway's database behind its back: `sqlite3` on the file, `psql` on
/// PostgreSQL. (exit success, stderr).
fn behind_its_back(g: &Gateway, sql: &str) -> (bool, String) {
    let url = database_url(g);
    let o = match url.strip_prefix("sqlite://") {
        Some(file) => Command::new("sqlite3").arg(file).arg(sql).output().unwrap(),
        None => Command::new("psql")
            .arg(&url)
            .args(["-v", "ON_ERROR_STOP=1", "-c", sql])
            .output()
            .unwrap(),
    };
    (o.status.success(), String::from_utf8_lossy(&o.stderr).into_owned())
}

async fn gateway(extra: &str) -> (Upstream, SmtpServer, Gateway) {
    let smtp = SmtpServer::start();
    let extra = format!("{}\n{extra}", smtp.config());
    let (up, g) = start_with(|o| {
        o.routes = ROUTES.into();
        o.extra = extra;
    })
    .await;
    (up, smtp, g)
}

#[tokio::test]
async fn every_flow_leaves_its_events_with_who_and_where_and_never_a_secret() {
    let out_dir = tempfile::tempdir().unwrap();
    let out_file = out_dir.path().join("audit.jsonl");
    let (_up, smtp, mut g) =
        gateway(&format!("audit: {{ output: \"{}\" }}\n", out_file.display())).await;
    let mut secrets: Vec<String> = vec![ADMIN_PASSWORD.into(), ANN_PW.into(), ANN_PW2.into(), ANN_PW3.into()];
    let admin = g.admin_token().await;
    secrets.push(admin.clone());
    let admin_id = payload(&admin)["sub"].as_str().unwrap().to_string();

    // An admin makes Ann; she fails, then signs in.
    let ann_id = g.create_user(&admin, ANN, "user", ANN_PW).await;
    let r = g.post_json("/api/login", json!({"email": ANN, "password": "not-her-password"}), None).await;
    assert_eq!(r.status(), 400);
    let r = g.post_json("/api/login", json!({"email": "nobody@example.test", "password": "whatever-pass-1"}), None).await;
    assert_eq!(r.status(), 400);
    let ann = g.login(ANN, ANN_PW, false).await;
    secrets.push(ann.clone());

    // TOTP on, and a sign-in that gets the code wrong once.
    let mut clock = Clock { offset: 0 };
    let setup: Value = g.post_json("/api/auth/mfa/totp/setup", json!({}), Some(&ann)).await.json().await.unwrap();
    let totp_secret = base32_decode(setup["secret"].as_str().unwrap());
    secrets.push(setup["secret"].as_str().unwrap().to_string());
    clock.next_step(&g).await;
    let code = totp(&totp_secret, clock.now());
    secrets.push(code.clone());
    let r = g.post_json("/api/auth/mfa/totp/enable", json!({"code": code}), Some(&ann)).await;
    assert_eq!(r.status(), 200);
    let codes: Vec<String> = serde_json::from_value(r.json::<Value>().await.unwrap()["recoveryCodes"].clone()).unwrap();
    secrets.extend(codes.iter().cloned());
    let c: Value = g.post_json("/api/login", json!({"email": ANN, "password": ANN_PW}), None).await.json().await.unwrap();
    let mfa_token = c["mfaToken"].as_str().unwrap().to_string();
    secrets.push(mfa_token.clone());
    let r = g.post_json("/api/auth/mfa/verify", json!({"mfaToken": mfa_token, "code": "000000"}), None).await;
    assert_eq!(r.status(), 401);
    clock.next_step(&g).await;
    let code = totp(&totp_secret, clock.now());
    secrets.push(code.clone());
    let r = g.post_json("/api/auth/mfa/verify", json!({"mfaToken": mfa_token, "code": code}), None).await;
    assert_eq!(r.status(), 200);
    let ann2: String = r.json().await.unwrap();
    secrets.push(ann2.clone());
    // A recovery code instead of the app.
    let c: Value = g.post_json("/api/login", json!({"email": ANN, "password": ANN_PW}), None).await.json().await.unwrap();
    let r = g.post_json("/api/auth/mfa/verify", json!({"mfaToken": c["mfaToken"], "recoveryCode": codes[0]}), None).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());

    // A key, used and revoked.
    let k: Value = g.post_json("/api/auth/api-keys", json!({"name": "ci", "scopes": ["deploy"]}), Some(&ann)).await.json().await.unwrap();
    let key = k["key"].as_str().unwrap().to_string();
    secrets.push(key.clone());
    assert_eq!(g.get("/x", Some(&key)).await.status(), 200);
    let r = g.call(Method::DELETE, &format!("/api/auth/api-keys/{}", k["id"].as_str().unwrap()), Some(&ann), None).await;
    assert_eq!(r.status(), 200);

    // A policy refuses her three times in a row: one event for the second.
    for _ in 0..3 {
        assert_eq!(g.get("/ops/board?secret=in-a-query", Some(&ann)).await.status(), 403);
    }
    secrets.push("in-a-query".into());

    // Her password, changed, then forgotten and reset through the mailed link.
    let r = g
        .call(Method::PATCH, "/api/nuxt-users/password", Some(&ann), Some(json!({"currentPassword": ANN_PW, "newPassword": ANN_PW2, "newPasswordConfirmation": ANN_PW2})))
        .await;
    assert_eq!(r.status(), 200);
    let mailed = smtp.count();
    let r = g.post_json("/api/nuxt-users/password/forgot", json!({"email": ANN}), None).await;
    assert_eq!(r.status(), 200);
    let link = smtp.next_matching(mailed, |m| m.subject().starts_with("Reset")).await.link();
    let reset_token = query_param(&link, "token");
    secrets.push(reset_token.clone());
    let r = crate::mail::reset(&g, &reset_token, ANN, ANN_PW3).await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());

    // The admin: role, groups, deactivation and back, then deletion.
    let patch = |body: Value| {
        let (g, admin) = (&g, &admin);
        async move {
            let r = g.call(Method::PATCH, &format!("/api/nuxt-users/{ann_id}"), Some(admin), Some(body)).await;
            assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        }
    };
    let sign_in = |code: String| {
        let g = &g;
        async move {
            let c: Value = g.post_json("/api/login", json!({"email": ANN, "password": ANN_PW3}), None).await.json().await.unwrap();
            let r = g.post_json("/api/auth/mfa/verify", json!({"mfaToken": c["mfaToken"], "recoveryCode": code}), None).await;
            assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
            r.json::<String>().await.unwrap()
        }
    };
    let live = sign_in(codes[1].clone()).await;
    secrets.push(live.clone());
    patch(json!({"role": "editor", "name": "Ann A."})).await;
    patch(json!({"groups": ["ops", "eng"]})).await;
    patch(json!({"active": false})).await;
    assert_eq!(g.get("/x", Some(&live)).await.status(), 401, "deactivated: her session ended");
    patch(json!({"active": true})).await;
    let ann3 = sign_in(codes[2].clone()).await;
    secrets.push(ann3.clone());
    let own: Value = g.get("/api/auth/audit/me?limit=500", Some(&ann3)).await.json().await.unwrap();
    let r = g.get("/api/auth/audit", Some(&ann3)).await;
    assert_eq!(r.status(), 403, "the trail is the admins'");
    let r = g.call(Method::DELETE, &format!("/api/nuxt-users/{ann_id}"), Some(&admin), None).await;
    assert_eq!(r.status(), 200);

    // Everything, through the admin's list, a page of 7 at a time.
    tokio::time::sleep(Duration::from_millis(300)).await; // the request path's queue
    let events = all_events(&g, &admin, "").await;
    let types: BTreeSet<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    for want in [
        "system.started",
        "user.created",
        "authn.login.failed",
        "authn.login.succeeded",
        "session.created",
        "credential.totp.enrolled",
        "credential.recovery_codes.generated",
        "authn.mfa.failed",
        "credential.recovery_codes.used",
        "credential.api_key.created",
        "credential.api_key.revoked",
        "authz.denied",
        "credential.password.changed",
        "session.revoked",
        "credential.password.reset_requested",
        "credential.password.reset_completed",
        "user.updated",
        "user.role.changed",
        "user.groups.changed",
        "user.deactivated",
        "user.reactivated",
        "user.deleted",
    ] {
        assert!(types.contains(want), "{want} missing from {types:?}");
    }
    // Newest first, seq strictly down, each with its hashes.
    let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] > w[1]), "{seqs:?}");
    assert!(events.iter().all(|e| e["hash"].as_str().unwrap().len() == 64));

    // Who and what.
    let created = of_type(&events, "user.created").into_iter().find(|e| e["target"]["id"] == ann_id.to_string().as_str()).unwrap();
    assert_eq!(created["actor"], json!({"type": "admin", "id": admin_id, "email": ADMIN_EMAIL}));
    assert_eq!(created["changes"]["email"], json!({"from": null, "to": ANN}));
    assert_eq!(created["request"]["method"], "POST");
    assert_eq!(created["request"]["path"], "/api/nuxt-users");
    assert_eq!(created["client"]["ip"], "127.0.0.1");
    let failed = of_type(&events, "authn.login.failed");
    let bad = failed.iter().find(|e| e["reason"] == "bad_password").unwrap();
    assert_eq!((bad["outcome"].as_str(), bad["actor"]["type"].as_str()), (Some("failure"), Some("anonymous")));
    assert_eq!(bad["target"], json!({"type": "user", "id": ann_id.to_string()}));
    let unknown = failed.iter().find(|e| e["reason"] == "unknown_user").unwrap();
    assert_eq!(unknown["actor"]["email"], "nobody@example.test");
    assert!(unknown["target"].is_null());
    let mfa_failed = &of_type(&events, "authn.mfa.failed")[0];
    assert_eq!(mfa_failed["reason"], "bad_code");
    let signed_in = of_type(&events, "authn.login.succeeded");
    assert!(signed_in.iter().any(|e| e["reason"] == "pwd,otp"), "the second step's sign-in");
    let role = &of_type(&events, "user.role.changed")[0];
    assert_eq!(role["changes"]["role"], json!({"from": "user", "to": "editor"}));
    assert_eq!(role["actor"]["type"], "admin");
    let updated = of_type(&events, "user.updated");
    assert!(updated.iter().any(|e| e["changes"]["name"]["to"] == "Ann A."));
    let groups = &of_type(&events, "user.groups.changed")[0];
    assert_eq!(groups["changes"]["groups"], json!({"from": [], "to": ["eng", "ops"]}));
    let own_change = &of_type(&events, "credential.password.changed")[0];
    assert_eq!(own_change["actor"]["type"], "user", "her own");
    let ended = of_type(&events, "session.revoked");
    for reason in ["password_change", "deactivate", "delete"] {
        assert!(ended.iter().any(|e| e["reason"] == reason), "session.revoked {reason}: {ended:?}");
    }
    // One denial recorded for three in the same second (or two, across a second's edge).
    let denied = of_type(&events, "authz.denied");
    assert!((1..=2).contains(&denied.len()), "{denied:?}");
    assert_eq!(denied[0]["target"], json!({"type": "route", "id": "ops"}));
    assert!(denied[0]["reason"].as_str().unwrap().starts_with("policy"), "{}", denied[0]);
    assert_eq!(denied[0]["request"]["path"], "/ops/board", "never the query");
    assert_eq!(denied[0]["actor"]["email"], ANN);

    // The filters: type prefix, actor, target, address, and a bad one named.
    let authn = all_events(&g, &admin, "&type=authn.").await;
    assert!(!authn.is_empty() && authn.iter().all(|e| e["type"].as_str().unwrap().starts_with("authn.")));
    let by_admin = all_events(&g, &admin, &format!("&actor={admin_id}")).await;
    assert!(by_admin.iter().all(|e| e["actor"]["id"] == admin_id.as_str()));
    assert!(by_admin.len() >= 6);
    let about_ann = all_events(&g, &admin, &format!("&target=user:{ann_id}")).await;
    assert!(about_ann.len() > 10 && about_ann.iter().all(|e| e["target"]["id"] == ann_id.to_string().as_str()));
    assert_eq!(all_events(&g, &admin, "&ip=127.0.0.1").await.len(), events.iter().filter(|e| e["client"]["ip"] == "127.0.0.1").count());
    let since = events[3]["ts"].as_str().unwrap();
    let recent = all_events(&g, &admin, &format!("&since={since}")).await;
    assert!(recent.len() >= 4 && recent.len() < events.len());
    let r = g.get("/api/auth/audit?type=authn.nope&since=yesterday&limit=0", Some(&admin)).await;
    let e = error_body(r, 400).await;
    for field in ["type", "since", "limit"] {
        assert!(e["data"][field].is_string(), "{field}: {e}");
    }
    // Her own list: only what was hers, whoever did it.
    let own = own["events"].as_array().unwrap();
    assert!(own.iter().any(|e| e["type"] == "user.role.changed"), "the admin's change to her");
    assert!(own.iter().all(|e| e["target"]["id"] == ann_id.to_string().as_str() || e["actor"]["id"] == ann_id.to_string().as_str()));
    assert!(!own.iter().any(|e| e["type"] == "system.started"));

    // The chain holds.
    let (code, stdout, stderr) = verify(&g);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("audit trail verified"), "{stdout}");

    // SIGTERM: system.stopped written, the output flushed with every event of this instance.
    g.signal("TERM");
    g.wait_exit(Duration::from_secs(15)).await;
    let lines = std::fs::read_to_string(&out_file).unwrap();
    let printed: Vec<Value> = lines.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(printed.last().unwrap()["type"], "system.stopped", "{lines}");
    assert!(printed.len() >= events.len(), "{} printed, {} listed", printed.len(), events.len());
    let (code, stdout, stderr) = verify(&g);
    assert_eq!(code, 0, "{stdout}{stderr}");

    // No secret anywhere: the listed events, the printed ones, the database's files, the log.
    let listed = serde_json::to_string(&events).unwrap();
    let mut stored = Vec::new();
    let url = database_url(&g);
    if let Some(file) = url.strip_prefix("sqlite://") {
        for suffix in ["", "-wal"] {
            stored.extend(std::fs::read(format!("{file}{suffix}")).unwrap_or_default());
        }
    } else {
        let o = Command::new("psql").arg(&url).args(["-At", "-c", "SELECT row_to_json(a) FROM audit_events a"]).output().unwrap();
        assert!(o.status.success());
        stored = o.stdout;
    }
    let stored = String::from_utf8_lossy(&stored).into_owned();
    let log = g.log();
    for s in &secrets {
        for (place, text) in [("listed", &listed), ("printed", &lines), ("stored", &stored), ("log", &log)] {
            assert!(!text.contains(s.as_str()), "a secret ({}…) in the {place} events", &s[..4.min(s.len())]);
        }
    }
}

#[tokio::test]
async fn an_edited_row_is_named_by_verify() {
    let (_up, _smtp, g) = gateway("").await;
    let admin = g.admin_token().await;
    for i in 0..3 {
        g.create_user(&admin, &format!("u{i}@example.test"), "user", "some-password-1").await;
    }
    assert_eq!(verify(&g).0, 0);
    // The table refuses an edit outright.
    let (ok, err) = behind_its_back(&g, "UPDATE audit_events SET actor_email = 'mallory@example.test' WHERE seq = 3");
    assert!(!ok && err.contains("append-only"), "{err}");
    // Someone with the database's keys drops the guard and edits: the chain names the row.
    let drop = if crate::ON_POSTGRES {
        "DROP TRIGGER audit_events_append_only ON audit_events"
    } else {
        "DROP TRIGGER audit_events_append_only"
    };
    let (ok, err) = behind_its_back(
        &g,
        &format!("{drop}; UPDATE audit_events SET actor_email = 'mallory@example.test' WHERE seq = 3"),
    );
    assert!(ok, "{err}");
    let (code, out, err) = verify(&g);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("seq 3") && err.contains("altered"), "{err}");
}

#[tokio::test]
async fn a_deleted_row_is_named_by_verify() {
    let (_up, _smtp, g) = gateway("").await;
    let admin = g.admin_token().await;
    for i in 0..3 {
        g.create_user(&admin, &format!("u{i}@example.test"), "user", "some-password-1").await;
    }
    let (ok, err) = behind_its_back(&g, "DELETE FROM audit_events WHERE seq = 4");
    assert!(!ok && err.contains("audit events"), "{err}");
    let drop = if crate::ON_POSTGRES {
        "DROP TRIGGER audit_events_append_only ON audit_events"
    } else {
        "DROP TRIGGER audit_events_kept"
    };
    let (ok, err) = behind_its_back(&g, &format!("{drop}; DELETE FROM audit_events WHERE seq = 4"));
    assert!(ok, "{err}");
    let (code, out, err) = verify(&g);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("missing before seq 5"), "{err}");
}

#[tokio::test]
async fn the_newest_rows_cut_off_are_named_by_verify() {
    let (_up, _smtp, g) = gateway("").await;
    let admin = g.admin_token().await;
    g.create_user(&admin, "u@example.test", "user", "some-password-1").await;
    let drop = if crate::ON_POSTGRES {
        "DROP TRIGGER audit_events_append_only ON audit_events"
    } else {
        "DROP TRIGGER audit_events_kept"
    };
    let (ok, err) = behind_its_back(
        &g,
        &format!("{drop}; DELETE FROM audit_events WHERE seq = (SELECT MAX(seq) FROM audit_events)"),
    );
    assert!(ok, "{err}");
    let (code, out, err) = verify(&g);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("are missing: the chain's head is at seq"), "{err}");
}

#[tokio::test]
async fn retention_purges_from_the_start_and_the_chain_still_holds() {
    let (_up, _smtp, g) = gateway("audit: { retention: 1d }\n").await;
    let admin = g.admin_token().await;
    g.create_user(&admin, "old@example.test", "user", "some-password-1").await;
    let before = all_events(&g, &admin, "").await;
    g.advance_clock(Duration::from_secs(2 * 86_400)).await;
    let admin = g.admin_token().await;
    g.create_user(&admin, "new@example.test", "user", "some-password-1").await;
    let r = g.client.post(format!("{}/test/upkeep", g.admin)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let after = all_events(&g, &admin, "").await;
    let purge = &of_type(&after, "audit.retention_purged")[0];
    let first_seq = purge["changes"]["first_seq"]["to"].as_i64().unwrap();
    assert!(first_seq > 1);
    assert_eq!(after.iter().map(|e| e["seq"].as_i64().unwrap()).min(), Some(first_seq));
    assert!(after.iter().all(|e| e["changes"]["email"]["to"] != "old@example.test"), "the old events are gone");
    assert!(after.iter().any(|e| e["changes"]["email"]["to"] == "new@example.test"));
    assert!(before.len() >= 2);
    let (code, out, err) = verify(&g);
    assert_eq!(code, 0, "{out}{err}");
    // The purge did not open the table: deleting is refused again.
    let (ok, err) = behind_its_back(&g, "DELETE FROM audit_events");
    assert!(!ok && err.contains("audit events"), "{err}");
}

#[tokio::test]
async fn a_reload_records_the_files_hashes() {
    let (_up, _smtp, g) = gateway("").await;
    let admin = g.admin_token().await;
    let before = std::fs::read_to_string(&g.config).unwrap();
    std::fs::write(&g.config, format!("{before}\n# a comment changes the hash\n")).unwrap();
    g.signal("HUP");
    g.wait_log("config reloaded").await;
    std::fs::write(&g.config, format!("{before}\nnot: [valid\n")).unwrap();
    g.signal("HUP");
    g.wait_log("config reload refused").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let events = all_events(&g, &admin, "&type=config.reloaded").await;
    assert_eq!(events.len(), 2, "{events:?}");
    let (refused, applied) = (&events[0], &events[1]);
    assert_eq!(applied["outcome"], "success");
    let from = applied["changes"]["file_sha256"]["from"].as_str().unwrap();
    let to = applied["changes"]["file_sha256"]["to"].as_str().unwrap();
    assert!(from.len() == 64 && to.len() == 64 && from != to);
    let started = &all_events(&g, &admin, "&type=system.started").await[0];
    assert_eq!(started["changes"]["file_sha256"]["to"], from);
    assert_eq!(refused["outcome"], "failure");
    assert_eq!(refused["changes"]["file_sha256"]["from"], to, "the running file's");
}
