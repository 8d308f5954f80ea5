//! The non-serving subcommands: check-config and user management on the config's database.

use crate::auth::policy::normalize_email;
use crate::auth::{policy, PasswordHasher};
use crate::config;
use crate::control::web::views::rfc3339;
use crate::store::{self, now, NewUser, StoreError};
use secrecy::SecretString;
use std::io::Read;
use std::path::Path;

/// Validates the config; prints every problem. Returns whether it is valid.
pub fn check_config(path: &Path) -> bool {
    match config::load(path, &config::Overrides::from_env()) {
        Ok(cfg) => {
            println!(
                "{}: OK ({} routes, {} upstreams, database {})",
                path.display(),
                cfg.routes.len(),
                cfg.upstreams.len(),
                cfg.database.url.split('?').next().unwrap_or("")
            );
            for w in cfg.server.tls.iter().flat_map(|t| t.expiring(now())) {
                println!("warning: {w}");
            }
            for w in config::warnings(&cfg) {
                println!("warning: {w}");
            }
            // The directory: its service account must bind; a server this machine cannot reach
            // may be reachable where the gateway runs (a warning).
            if let Some(l) = &cfg.directory {
                match check_directory(l) {
                    Ok(()) => println!("directory: {} answers, the service account binds", l.url),
                    Err(crate::directory::DirError::ServiceAccount(why)) => {
                        eprintln!("directory.ldap.bind_dn: {why}");
                        return false;
                    }
                    Err(e) => println!("warning: directory.ldap.url: {e}"),
                }
            }
            // A name that does not resolve here may on the machine that runs the gateway.
            for (name, u) in &cfg.upstreams {
                if let crate::config::UpstreamTarget::Named(names) = &u.target {
                    if let Err(why) = crate::upstream::resolve(names) {
                        println!("warning: upstreams.{name}: {why} (requests to it get 502 until it resolves)");
                    }
                }
            }
            true
        }
        Err(e) => {
            eprint!("{e}");
            false
        }
    }
}

/// `portcullis edge-config`: the edge's config on standard output, what the operator should
/// check on standard error.
pub fn edge_config(
    path: &Path,
    edge: crate::edge_config::Edge,
    site: &crate::edge_config::Site,
) -> anyhow::Result<()> {
    let cfg = crate::app::load_config(path)?;
    let written = crate::edge_config::write(edge, &cfg, site).map_err(anyhow::Error::msg)?;
    for w in &written.warnings {
        eprintln!("warning: {w}");
    }
    print!("{}", written.text);
    Ok(())
}

/// `portcullis oidc rotate-key`: a new signing key in the provider's key directory, which
/// every replica reads again each second; keys no token can need any more are deleted.
pub fn oidc_rotate_key(path: &Path) -> anyhow::Result<()> {
    let cfg = crate::app::load_config(path)?;
    let op = cfg
        .oidc_provider
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("oidc_provider is not enabled in {}", path.display()))?;
    let keep = op.lifetimes.longest_signed();
    let (kid, deleted) = crate::oidc::keys::rotate(&op.key_dir, op.signing, keep, now())?;
    println!(
        "signing with {} key {kid} from now on; the previous key stays published for {}s",
        op.signing.name(),
        keep.as_secs()
    );
    for d in deleted {
        println!(
            "deleted {} (no token it signed is still valid)",
            d.display()
        );
    }
    Ok(())
}

/// `portcullis oidc hash-secret`: the argon2 PHC string of a client secret read from standard
/// input (so it is in no shell history), for `oidc_provider.clients.<id>.secret_hash`.
pub fn oidc_hash_secret(input: &mut impl Read) -> anyhow::Result<String> {
    let mut text = String::new();
    input.read_to_string(&mut text)?;
    let secret = text.lines().next().unwrap_or("");
    // The same floor check-config asks of a plain `secret`.
    if secret.len() < crate::config::CLIENT_SECRET_MIN {
        anyhow::bail!(
            "the secret on standard input is shorter than {} characters",
            crate::config::CLIENT_SECRET_MIN
        );
    }
    crate::auth::password::hash_blocking(secret)
        .map_err(|_| anyhow::anyhow!("the secret could not be hashed"))
}

/// Binds the directory's service account once.
fn check_directory(l: &crate::config::Ldap) -> Result<(), crate::directory::DirError> {
    use crate::directory::{DirError, Directory};
    let rt = crate::app::control_runtime().map_err(|e| DirError::Failed(e.to_string()))?;
    rt.block_on(async {
        let dir = crate::directory::ldap::LdapDirectory::new(l)?;
        dir.check().await
    })
}

/// `portcullis health`: asks the admin listener's `/healthz` as a container's `HEALTHCHECK`
/// does (the image has no curl). Succeeds on a 200 within two seconds.
pub fn health(path: &Path) -> anyhow::Result<()> {
    use std::io::{Read, Write};
    let cfg = crate::app::load_config(path)?;
    let admin = cfg
        .server
        .admin_listen
        .ok_or_else(|| anyhow::anyhow!("server.admin_listen is not set: nothing to ask"))?;
    // A listener on every interface is asked on loopback.
    let ip = match admin.ip() {
        std::net::IpAddr::V4(v4) if v4.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(v6) if v6.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    let at = std::net::SocketAddr::new(ip, admin.port());
    let limit = std::time::Duration::from_secs(2);
    let mut s = std::net::TcpStream::connect_timeout(&at, limit)?;
    s.set_read_timeout(Some(limit))?;
    s.set_write_timeout(Some(limit))?;
    write!(
        s,
        "GET /healthz HTTP/1.1\r\nHost: {at}\r\nConnection: close\r\n\r\n"
    )?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head)?;
    anyhow::ensure!(
        head.starts_with(b"HTTP/1.1 200"),
        "{at}/healthz answered {}",
        String::from_utf8_lossy(&head)
    );
    println!("healthy ({at}/healthz)");
    Ok(())
}

pub fn user_add(
    path: &Path,
    email: &str,
    name: &str,
    role: &str,
    groups: &[String],
    password_stdin: bool,
) -> anyhow::Result<()> {
    let cfg = crate::app::load_config(path)?;
    let groups =
        crate::groups::normalize(groups).map_err(|why| anyhow::anyhow!("--group: {why}"))?;
    let email = normalize_email(email)
        .ok_or_else(|| anyhow::anyhow!("{email:?} is not a valid email address"))?;
    let name = name.trim();
    anyhow::ensure!(!name.is_empty(), "--name must not be empty");
    anyhow::ensure!(!role.trim().is_empty(), "--role must not be empty");
    anyhow::ensure!(
        password_stdin,
        "pass the password on standard input with --password-stdin"
    );
    let mut password = String::new();
    std::io::stdin().read_to_string(&mut password)?;
    let password = password.trim_end_matches(['\r', '\n']).to_string();
    policy::check(&password, cfg.passwords.min_length)
        .map_err(|why| anyhow::anyhow!("the password {why}"))?;
    on_store(&cfg, |store| async move {
        let hash = PasswordHasher::new(1)?
            .hash(&SecretString::from(password))
            .await?;
        let new_user = NewUser {
            email,
            name: name.to_string(),
            role: role.trim().to_string(),
            password_hash: Some(hash),
            active: true,
            email_verified: true,
            now: now(),
        };
        let event = crate::audit::changes::user_created("cli", &new_user)
            .by_system("cli")
            .build();
        let user = store
            .create_user(new_user, &[event])
            .await
            .map_err(|e| match e {
                StoreError::Conflict => anyhow::anyhow!("a user with this email already exists"),
                e => e.into(),
            })?;
        if !groups.is_empty() {
            store
                .set_groups(
                    user.id,
                    crate::groups::LOCAL,
                    &groups,
                    now(),
                    Some(&crate::audit::changes::of_groups(
                        user.id,
                        crate::groups::LOCAL,
                        Some("cli"),
                    )),
                )
                .await?;
        }
        println!(
            "created user {} <{}> with role {}{}",
            user.id,
            user.email,
            user.role,
            if groups.is_empty() {
                String::new()
            } else {
                format!(" in groups {}", groups.join(", "))
            }
        );
        Ok(())
    })
}

/// `user groups EMAIL`: prints the user's groups and where each comes from; with `set`,
/// replaces the local ones (the admin's) first. A running gateway applies the change within a
/// second (the change feed on PostgreSQL, the poll of changed users on SQLite).
pub fn user_groups(path: &Path, email: &str, set: Option<&[String]>) -> anyhow::Result<()> {
    let cfg = crate::app::load_config(path)?;
    let set = set
        .map(crate::groups::normalize)
        .transpose()
        .map_err(|why| anyhow::anyhow!("--set: {why}"))?;
    on_store(&cfg, |store| async move {
        let user = user_named(&*store, email).await?;
        if let Some(names) = &set {
            if store
                .set_groups(
                    user.id,
                    crate::groups::LOCAL,
                    names,
                    now(),
                    Some(&crate::audit::changes::of_groups(
                        user.id,
                        crate::groups::LOCAL,
                        Some("cli"),
                    )),
                )
                .await?
            {
                tracing::info!(user = user.id, by = "cli", groups = %names.join(","), "local groups set");
            }
        }
        let rows = store.user_groups(user.id).await?;
        if rows.is_empty() {
            println!("{} is in no group", user.email);
        }
        let mut i = 0;
        while i < rows.len() {
            let same: Vec<&str> = rows[i..]
                .iter()
                .take_while(|r| r.name == rows[i].name)
                .map(|r| r.source.as_str())
                .collect();
            println!("{}\t({})", rows[i].name, same.join(", "));
            i += same.len();
        }
        Ok(())
    })
}

/// Removes a user's second factors and ends their sessions (audited in the log). A running
/// gateway drops the ended sessions from its cache within a second (the change feed on
/// PostgreSQL, `tasks::Revocations` on SQLite).
pub fn user_reset_mfa(path: &Path, email: &str) -> anyhow::Result<()> {
    let cfg = crate::app::load_config(path)?;
    on_store(&cfg, |store| async move {
        let user = store
            .user_by_email(email)
            .await?
            .ok_or_else(|| anyhow::anyhow!("no user has the email {email:?}"))?;
        store
            .reset_mfa(
                user.id,
                Some(&crate::accounts::mfa::factors_removed(user.id, Some("cli"))),
            )
            .await?;
        let revoked = crate::audit::Event::new(crate::audit::kinds::SESSION_REVOKED)
            .by_system("cli")
            .target_user(user.id)
            .reason("mfa_reset")
            .build();
        let ended = store
            .revoke_user_sessions(user.id, None, now(), Some(&revoked))
            .await?;
        tracing::info!(
            user = user.id,
            by = "cli",
            sessions_ended = ended.len(),
            "second factors reset"
        );
        println!(
            "removed every second factor of user {} <{}> and ended {} session(s)",
            user.id,
            user.email,
            ended.len()
        );
        Ok(())
    })
}

pub fn user_list(path: &Path) -> anyhow::Result<()> {
    let cfg = crate::app::load_config(path)?;
    on_store(&cfg, |store| async move {
        println!(
            "{:>5}  {:<32} {:<24} {:<10} {:<7} created",
            "id", "email", "name", "role", "active"
        );
        for u in store.list_users().await? {
            println!(
                "{:>5}  {:<32} {:<24} {:<10} {:<7} {}",
                u.id,
                u.email,
                u.name,
                u.role,
                u.active,
                rfc3339(u.created_at)
            );
        }
        Ok(())
    })
}

/// Runs `f` with the config's database, on a runtime of its own (the commands are not async).
/// `audit verify`: true when the chain holds (what was checked on stdout), false when it
/// breaks (the first break on stderr).
pub fn audit_verify(path: &Path) -> anyhow::Result<bool> {
    let cfg = crate::app::load_config(path)?;
    on_store(&cfg, |store| async move {
        match crate::audit::verify::verify(&*store).await {
            Ok(v) => {
                println!(
                    "audit trail verified: {} events, seq {} to {}, head {}",
                    v.events, v.first_seq, v.last_seq, v.head_hash
                );
                Ok(true)
            }
            Err(crate::audit::verify::VerifyError::Broken(b)) => {
                eprintln!("audit trail broken: {b}");
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    })
}

fn on_store<T, F>(
    cfg: &crate::config::Config,
    f: impl FnOnce(std::sync::Arc<dyn crate::store::Store>) -> F,
) -> anyhow::Result<T>
where
    F: std::future::Future<Output = anyhow::Result<T>>,
{
    let rt = crate::app::control_runtime()?;
    rt.block_on(async { f(store::open(&cfg.database.url, 1).await?).await })
}

async fn user_named(
    store: &dyn crate::store::Store,
    email: &str,
) -> anyhow::Result<crate::store::User> {
    store
        .user_by_email(email)
        .await?
        .filter(|u| u.deleted_at.is_none())
        .ok_or_else(|| anyhow::anyhow!("no user has the email {email:?}"))
}

/// `key create`: prints the key, which is shown nowhere else.
pub fn key_create(
    path: &Path,
    email: &str,
    name: &str,
    scopes: &[String],
    expires: Option<&str>,
) -> anyhow::Result<()> {
    let cfg = crate::app::load_config(path)?;
    let expires = expires
        .map(|e| {
            crate::config::parse_duration(e)
                .map_err(|_| anyhow::anyhow!("--expires {e:?} is not a duration like 90d"))
        })
        .transpose()?;
    on_store(&cfg, |store| async move {
        let user = user_named(&*store, email).await?;
        let (row, key) = crate::accounts::api_keys::create_in(
            &*store,
            &user,
            name,
            scopes,
            expires,
            Some("cli"),
        )
        .await
        .map_err(|r| anyhow::anyhow!("{}", r.message()))?;
        eprintln!(
            "created key {} ({}) for {}; it is shown only now:",
            row.id, row.name, user.email
        );
        println!("{key}");
        Ok(())
    })
}

pub fn key_list(path: &Path, email: &str) -> anyhow::Result<()> {
    let cfg = crate::app::load_config(path)?;
    on_store(&cfg, |store| async move {
        let user = user_named(&*store, email).await?;
        println!(
            "{:<36}  {:<8}  {:<24} {:<20} {:<20} scopes",
            "id", "prefix", "name", "expires", "last used"
        );
        for k in store.api_keys(user.id).await? {
            println!(
                "{:<36}  {:<8}  {:<24} {:<20} {:<20} {}",
                k.id,
                k.prefix,
                k.name,
                k.expires_at.map(rfc3339).unwrap_or_else(|| "never".into()),
                k.last_used_at
                    .map(rfc3339)
                    .unwrap_or_else(|| "never".into()),
                k.scopes
            );
        }
        Ok(())
    })
}

/// `key revoke`: running gateways poll revocations and refuse the key within a second.
pub fn key_revoke(path: &Path, id: &str) -> anyhow::Result<()> {
    let cfg = crate::app::load_config(path)?;
    on_store(&cfg, |store| async move {
        let event = match store.api_key(id).await? {
            Some(k) => crate::accounts::api_keys::revoked_event(&k)
                .by_system("cli")
                .build(),
            None => return Err(anyhow::anyhow!("no live key has the id {id:?}")),
        };
        match store.revoke_api_key(id, now(), &[event]).await? {
            Some(_) => {
                println!("revoked key {id}");
                Ok(())
            }
            None => Err(anyhow::anyhow!("no live key has the id {id:?}")),
        }
    })
}
