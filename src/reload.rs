//! SIGHUP: re-read and validate the config file. A valid one replaces routes, upstreams,
//! identity headers, rate limits, cookies and pages in one swap; an invalid one is refused with
//! every problem logged, and the running config stays. Settings bound when the process started
//! (listeners, database, signing keys, mail, OAuth, API paths) keep their running values: a
//! change to them is logged as needing a restart rather than half-applied.

use crate::config::{self, Config, ConfigError, ConfigErrors, TokenKey, UpstreamTarget, Where};
use crate::live::Live;
use crate::state::State;
use secrecy::ExposeSecret;
use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug)]
pub enum Outcome {
    /// Installed; the named settings changed in the file but wait for a restart.
    Applied {
        needs_restart: Vec<&'static str>,
    },
    Rejected(ConfigErrors),
}

/// Loads `path` and installs it when valid. Logs and counts the outcome either way.
pub fn reload(state: &State, path: &Path) -> Outcome {
    let outcome = match config::load(path, &config::Overrides::from_env()) {
        Ok(next) => install(state, next),
        Err(errors) => Outcome::Rejected(errors),
    };
    audit(state, path, &outcome);
    // Certificate files are read again whatever the config did: a renewed certificate is
    // installed by a SIGHUP with the config unchanged.
    match state.reload_certificates() {
        Ok(()) if state.certs.is_some() => tracing::info!("TLS certificates reloaded"),
        Ok(()) => {}
        Err(why) => {
            tracing::error!(problem = %why, "TLS certificates not reloaded; the running ones stay")
        }
    }
    match &outcome {
        Outcome::Applied { needs_restart } => {
            for setting in needs_restart {
                tracing::warn!(
                    setting,
                    "changed in the file but only takes effect on restart; the running value stays"
                );
            }
            let cfg = state.config();
            tracing::info!(
                routes = cfg.routes.len(),
                upstreams = cfg.config.upstreams.len(),
                "config reloaded"
            );
            crate::metrics::config_reload("applied");
        }
        Outcome::Rejected(errors) => {
            for e in &errors.errors {
                tracing::error!(problem = %e, "config reload refused");
            }
            tracing::error!(
                file = %errors.source,
                problems = errors.errors.len(),
                "config reload refused; the running config stays"
            );
            crate::metrics::config_reload("rejected");
        }
    }
    outcome
}

/// SHA-256 of the file at `path` (hex), if it can be read.
pub fn file_hash(path: &Path) -> Option<String> {
    use sha2::Digest;
    let bytes = std::fs::read(path).ok()?;
    Some(
        sha2::Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    )
}

/// `config.reloaded`: the file's hash before and after, applied or refused.
fn audit(state: &State, path: &Path, outcome: &Outcome) {
    let after = file_hash(path);
    let Ok(mut running) = state.config_hash.lock() else {
        return;
    };
    let mut e = crate::audit::Event::new(crate::audit::kinds::CONFIG_RELOADED)
        .by_system("sighup")
        .change("file_sha256", running.clone(), after.clone());
    match outcome {
        Outcome::Applied { needs_restart } => {
            if !needs_restart.is_empty() {
                e = e.reason(format!("needs a restart: {}", needs_restart.join(", ")));
            }
            *running = after;
        }
        Outcome::Rejected(errors) => {
            e = e.failed(&format!("{} problem(s)", errors.errors.len()));
        }
    }
    state.audit.record(e);
}

fn install(state: &State, mut next: Config) -> Outcome {
    if let Some(name) = next
        .upstreams
        .iter()
        .find(|(_, u)| u.target == UpstreamTarget::Whoami)
        .map(|(n, _)| n)
        .filter(|_| crate::whoami::addr().is_none())
    {
        // The built-in upstream is only started with the process; installing this would turn
        // its routes into 502s.
        return Outcome::Rejected(ConfigErrors {
            source: "reload".into(),
            errors: vec![ConfigError {
                at: Where::Path(format!("upstreams.{name}")),
                message: "the builtin whoami upstream can only be added by a restart".into(),
            }],
        });
    }
    let running = state.config();
    let needs_restart = keep_start_settings(&running, &mut next);
    state.install(Live::succeeding(Some(&running), next));
    Outcome::Applied { needs_restart }
}

/// Copies into `next` every setting that is bound at start, and names those that differ.
pub fn keep_start_settings(running: &Config, next: &mut Config) -> Vec<&'static str> {
    let mut changed = Vec::new();
    // Names the setting when the file changed it, then puts the running value back.
    macro_rules! keep {
        ($name:literal, $($field:ident).+) => {
            if differs(&running.$($field).+, &next.$($field).+) {
                changed.push($name);
            }
            next.$($field).+ = running.$($field).+.clone();
        };
    }
    // `trusted_proxies` is read per request; the rest of `server` configures listeners, the API
    // router and the drain.
    // A renewed certificate's dates are not a change of setting.
    if let (Some(r), Some(n)) = (&running.server.tls, &mut next.server.tls) {
        n.not_after = r.not_after.clone();
    }
    let trusted = std::mem::take(&mut next.server.trusted_proxies);
    next.server.trusted_proxies = running.server.trusted_proxies.clone();
    keep!("server", server);
    next.server.trusted_proxies = trusted;
    if !same_key(&running.tokens.key, &next.tokens.key) {
        changed.push("tokens");
    }
    keep!("tokens", tokens);
    keep!("database", database);
    keep!("mail", mail);
    keep!("oauth", oauth);
    keep!("directory", directory);
    keep!("api", api);
    next.pages.login_path = running.pages.login_path.clone();
    next.pages.admin_path = running.pages.admin_path.clone();
    keep!("audit.output", audit.output);
    keep!("session_cache.max_entries", session_cache_max_entries);
    keep!(
        "passwords.max_concurrent_hashes",
        passwords.max_concurrent_hashes
    );
    keep!("users.avatar_max_size", avatar_max_size);
    keep!("signup.enabled", signup_enabled);
    keep!("rate_limits.account", rate_limits.account);
    changed.dedup();
    changed
}

/// Settings without `PartialEq` (they hold compiled or secret values) compared by their debug
/// form; secrets print redacted there and are compared by `same_key`.
fn differs<T: Debug>(a: &T, b: &T) -> bool {
    format!("{a:?}") != format!("{b:?}")
}

fn same_key(a: &TokenKey, b: &TokenKey) -> bool {
    match (a, b) {
        (TokenKey::Hs256(a), TokenKey::Hs256(b)) => {
            a.as_ref().map(|s| s.expose_secret().to_string())
                == b.as_ref().map(|s| s.expose_secret().to_string())
        }
        _ => !differs(a, b),
    }
}

/// Reloads on every SIGHUP until the process ends. The handler is in place when this returns
/// (SIGHUP's default action would end the process).
pub fn on_sighup(
    rt: &tokio::runtime::Runtime,
    state: Arc<State>,
    path: PathBuf,
) -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let _in_rt = rt.enter();
    let mut hup = signal(SignalKind::hangup())?;
    rt.spawn(async move {
        while hup.recv().await.is_some() {
            tracing::info!(file = %path.display(), "SIGHUP: reloading the config");
            let (state, path) = (state.clone(), path.clone());
            // Template compilation and file reads are blocking work.
            let _ = tokio::task::spawn_blocking(move || reload(&state, &path)).await;
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIPPED: &str = include_str!("../config/portcullis.yaml");

    fn parse(text: &str) -> Config {
        let overrides = config::Overrides {
            jwt_secret: Some("a-secret-for-the-reload-unit-tests-0123456789".into()),
            ..Default::default()
        };
        config::from_yaml(text, &overrides, Path::new(".")).expect("valid config")
    }

    #[test]
    fn per_request_settings_apply_and_start_settings_stay() {
        let running = parse(SHIPPED);
        let edited = SHIPPED
            .replace("127.0.0.1:8080", "127.0.0.1:8181")
            .replace("max_entries: 100000", "max_entries: 5")
            .replace("X-Auth-", "X-Who-")
            .replace("trusted_proxies: []", "trusted_proxies: [\"10.0.0.0/8\"]")
            .replace("per_minute: 30, burst: 10", "per_minute: 5, burst: 1");
        let mut next = parse(&edited);
        let changed = keep_start_settings(&running, &mut next);
        assert_eq!(changed, vec!["server", "session_cache.max_entries"]);
        assert_eq!(next.server.listen, running.server.listen);
        assert_eq!(next.session_cache_max_entries, 100_000);
        assert_eq!(next.identity.prefix, "x-who-");
        assert_eq!(next.server.trusted_proxies.len(), 1);
        assert_eq!(next.rate_limits.login.map(|l| l.per_minute.get()), Some(5));
    }

    #[test]
    fn an_unchanged_file_names_nothing() {
        let running = parse(SHIPPED);
        let mut next = parse(SHIPPED);
        assert!(keep_start_settings(&running, &mut next).is_empty());
    }

    #[test]
    fn unchanged_limits_keep_their_counts_and_changed_ones_start_over() {
        let running = Live::new(parse(SHIPPED));
        let ip: std::net::IpAddr = "192.0.2.1".parse().expect("ip");
        let login = running.login_limiter.as_ref().expect("login limit");
        for _ in 0..10 {
            assert!(login.keys.check(ip).is_ok());
        }
        assert!(login.keys.check(ip).is_err(), "burst of 10 spent");
        let same = Live::succeeding(Some(&running), parse(SHIPPED));
        let kept = same.login_limiter.as_ref().expect("login limit");
        assert!(
            kept.keys.check(ip).is_err(),
            "a reload is no fresh allowance"
        );
        let edited = SHIPPED.replace("per_minute: 30, burst: 10", "per_minute: 30, burst: 20");
        let changed = Live::succeeding(Some(&running), parse(&edited));
        let fresh = changed.login_limiter.as_ref().expect("login limit");
        assert!(fresh.keys.check(ip).is_ok(), "a new limit counts afresh");
    }
}
