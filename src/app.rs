//! Assembles the running gateway: state, the Pingora server with the proxy service, the admin
//! listener, the built-in upstream and upkeep tasks.

use crate::admin::Admin;
use crate::config::{self, Config};
use crate::proxy::{shutdown::Signals, Gateway};
use crate::state::State;
use crate::tasks::Upkeep;
use crate::upstream::Upstreams;
use crate::whoami::Whoami;
use pingora::listeners::tls::TlsSettings;
use pingora::server::configuration::{Opt, ServerConf};
use pingora::server::{RunArgs, Server};
use pingora::services::background::background_service;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Why the gateway did not start; each names what failed.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] config::ConfigErrors),
    #[error(transparent)]
    DataDir(#[from] crate::startup::DataDirError),
    #[error(transparent)]
    Listen(#[from] crate::startup::ListenError),
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    #[error(transparent)]
    Bootstrap(#[from] crate::bootstrap::BootstrapError),
    #[error("the TLS listener: {0}")]
    Tls(String),
    #[error("{what}")]
    Io {
        what: &'static str,
        source: std::io::Error,
    },
}

pub fn load_config(path: &Path) -> Result<Config, config::ConfigErrors> {
    config::load(path, &config::Overrides::from_env())
}

/// A runtime for the store and start-up work (the CLI's commands). It outlives the Pingora
/// server so that pooled database connections keep the reactor they were created on.
pub fn control_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    control_builder(1).build()
}

/// The serving gateway's control runtime: the store, the change feed, reloads and the auth
/// API's handlers, on `threads` threads at a lower CPU priority than the proxy's workers, so
/// that a login flood never takes the CPU from proxied requests.
fn serving_control_runtime(threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    control_builder(threads)
        .on_thread_start(|| crate::priority::lower(crate::priority::CONTROL))
        .build()
}

fn control_builder(threads: usize) -> tokio::runtime::Builder {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    b.worker_threads(threads.max(1))
        .thread_name("portcullis-control")
        .enable_all();
    b
}

/// This process in the audit trail's `instance`: the machine (a pod's name on Kubernetes) and
/// the port it serves on.
fn instance_name(cfg: &crate::config::Config) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into());
    format!("{host}:{}", cfg.server.listen.port())
}

fn io(what: &'static str) -> impl FnOnce(std::io::Error) -> StartError {
    move |source| StartError::Io { what, source }
}

/// Runs the gateway. `upgrade`: take the listening sockets over from a running instance (which
/// hands them over on SIGQUIT) instead of binding them.
pub fn serve(config_path: &Path, upgrade: bool) -> Result<(), StartError> {
    let cfg = load_config(config_path)?;
    // Every start, not once: a development gateway on a public address must not go unnoticed.
    for w in config::warnings(&cfg) {
        tracing::warn!("{w}");
    }
    crate::startup::check_data_dir(&cfg.server.data_dir)?;
    // Fail now, naming the address, rather than in Pingora's retry loop (a graceful upgrade
    // takes the sockets over from the running instance instead).
    let admin_listener = match (upgrade, cfg.server.admin_listen) {
        (false, Some(addr)) => Some(crate::startup::bind(addr, "server.admin_listen")?),
        _ => None,
    };
    if !upgrade {
        if cfg.server.listen_plain {
            crate::startup::check_can_listen(cfg.server.listen, "server.listen")?;
        }
        if let Some(t) = &cfg.server.tls {
            crate::startup::check_can_listen(t.listen, "server.tls.listen")?;
        }
    }
    // Before the state: the upstream pools built with it need the built-in upstream's address.
    let whoami = if Upstreams::has_whoami(&cfg.upstreams) {
        Some(Whoami::bind().map_err(io("the built-in whoami upstream"))?)
    } else {
        None
    };
    let rt = serving_control_runtime(cfg.server.threads).map_err(io("the control runtime"))?;
    crate::audit::event::set_instance(instance_name(&cfg));
    let state: Arc<State> = rt.block_on(async {
        let state = State::build(cfg).await?;
        let hash = crate::reload::file_hash(config_path);
        if let Ok(mut h) = state.config_hash.lock() {
            h.clone_from(&hash);
        }
        let started = crate::audit::Event::new(crate::audit::kinds::SYSTEM_STARTED)
            .by_system("gateway")
            .reason(concat!("portcullis ", env!("CARGO_PKG_VERSION")))
            .change("file_sha256", None::<String>, hash)
            .build();
        if let Ok((head, _)) = state.store.audit_head().await {
            state
                .audit
                .started_after
                .store(head, std::sync::atomic::Ordering::Relaxed);
        }
        if let Err(e) = state.store.append_audit(&[started]).await {
            tracing::warn!(error = %e, "system.started could not be recorded");
        }
        crate::bootstrap::ensure_admin(&state).await?;
        Ok::<_, StartError>(state)
    })?;
    // Other instances' revocations and user changes, on the runtime that owns the pool.
    let following = state.clone();
    rt.spawn(
        async move { crate::auth::follow::follow(&following.auth, following.store.clone()).await },
    );
    crate::reload::on_sighup(&rt, state.clone(), config_path.to_path_buf())
        .map_err(io("the SIGHUP handler"))?;
    let cfg = state.config();
    for w in cfg
        .server
        .tls
        .iter()
        .flat_map(|t| t.expiring(crate::store::now()))
    {
        tracing::warn!("{w}");
    }

    let conf = ServerConf {
        // Services without their own count (the admin and upkeep services' runtimes).
        threads: 1,
        // Ceiling only: the drain watcher exits as soon as requests in flight are done.
        grace_period_seconds: Some(cfg.server.grace_period.as_secs().max(1)),
        graceful_shutdown_timeout_seconds: Some(1),
        // One single-threaded runtime per worker: no work-stealing bookkeeping on the hot path
        // (each connection stays on the thread that accepted it).
        work_stealing: false,
        upgrade_sock: cfg
            .server
            .data_dir
            .join("upgrade.sock")
            .display()
            .to_string(),
        ..Default::default()
    };
    let opt = Opt {
        upgrade,
        ..Default::default()
    };
    let mut server = Server::new_with_opt_and_conf(Some(opt), conf);
    // With `upgrade`, this waits for the running instance to hand its sockets over.
    server.bootstrap();

    // One single-threaded proxy service per worker, all on the one listening socket: each
    // accepts its own connections and keeps them, their upstream connections (its own
    // connector and pool) and their idle watchers on its thread. One service with N threads
    // accepted on one thread and handed each connection to a random other, so every readiness
    // event on it, and every pooled upstream connection taken by another thread, woke a
    // second thread with an eventfd write.
    for worker in 0..cfg.server.threads {
        let gateway = pingora::proxy::http_proxy(
            &server.configuration,
            Gateway::new(state.clone(), rt.handle().clone()),
        );
        let mut proxy = pingora::services::listening::Service::new(
            format!("portcullis-{worker}"),
            crate::proxy::head_deadline::Guarded {
                inner: Arc::new(gateway),
                timeout: cfg.server.header_timeout,
            },
        );
        proxy.threads = Some(1);
        if cfg.server.listen_plain {
            proxy.add_tcp(&cfg.server.listen.to_string());
        }
        if let (Some(t), Some(certs)) = (&cfg.server.tls, &state.certs) {
            let mut tls = TlsSettings::with_callbacks(Box::new(crate::proxy::tls::Handshakes {
                certs: certs.clone(),
                hsts: t.hsts.clone(),
            }))
            .map_err(|e| StartError::Tls(e.to_string()))?;
            tls.set_cert_resolver(certs.clone());
            // Our order (rustls's, strongest first), not the client's: a client offering a
            // weaker suite first does not get it (testssl.sh's "cipher order" check).
            tls.prefer_server_cipher_order();
            if cfg.server.http2 {
                tls.enable_h2();
            }
            proxy.add_tls_with_settings(&t.listen.to_string(), None, tls);
        }
        server.add_service(proxy);
    }
    if let Some((w, addr)) = whoami {
        tracing::info!(%addr, "built-in whoami upstream listening");
        server.add_service(background_service("whoami", w));
    }
    if let Some(addr) = cfg.server.admin_listen {
        server.add_service(background_service(
            "admin",
            Admin {
                addr,
                state: state.clone(),
                listener: std::sync::Mutex::new(admin_listener),
            },
        ));
    }
    server.add_service(background_service(
        "revocations",
        crate::tasks::Revocations {
            state: state.clone(),
            every: Duration::from_millis(500),
            // PostgreSQL's change feed carries session revocations already (by row id, not
            // by time); SQLite has no feed.
            sessions: crate::config::backend(&cfg.database.url)
                == Some(crate::config::Backend::Sqlite),
        },
    ));
    // Upstreams given by name (now, or after a reload) are resolved again every 5 s.
    server.add_service(background_service(
        "resolve",
        crate::tasks::Resolve {
            state: state.clone(),
            every: Duration::from_secs(5),
        },
    ));
    if let Some(l) = &cfg.config.directory {
        server.add_service(background_service(
            "directory refresh",
            crate::tasks::DirectoryRefresh {
                state: state.clone(),
                every: l.refresh,
            },
        ));
    }
    if state.oidc.is_some() {
        server.add_service(background_service(
            "oidc",
            crate::tasks::OidcUpkeep {
                state: state.clone(),
                every: Duration::from_secs(1),
            },
        ));
    }
    server.add_service(background_service(
        "audit",
        crate::tasks::AuditTrail {
            state: state.clone(),
        },
    ));
    server.add_service(background_service(
        "upkeep",
        Upkeep {
            state: state.clone(),
            every: Duration::from_secs(60),
        },
    ));
    tracing::info!(
        listen = %cfg.server.listen,
        admin = ?cfg.server.admin_listen,
        routes = cfg.routes.len(),
        "portcullis is ready"
    );
    server.run(RunArgs {
        shutdown_signal: Box::new(Signals {
            grace: cfg.server.grace_period,
        }),
    });
    drop(rt);
    Ok(())
}
