//! The admin listener: `/metrics` (Prometheus text), `/healthz` (the process is up), `/readyz`
//! (ready for traffic) and `/explain`. Kept off the public port.

use crate::state::State;
use axum::extract::State as S;
use axum::response::IntoResponse;
use axum::routing::get;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use std::net::SocketAddr;
use std::sync::Arc;

pub struct Admin {
    pub addr: SocketAddr,
    pub state: Arc<State>,
    /// Bound at start; `None` during a graceful upgrade, where the previous instance still
    /// holds the port and it is bound once that instance lets it go.
    pub listener: std::sync::Mutex<Option<std::net::TcpListener>>,
}

pub fn router(state: Arc<State>) -> axum::Router {
    let r = axum::Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/explain", get(crate::explain::admin))
        .route("/api/openapi.json", get(openapi));
    let r = if crate::clock::movable() {
        r.route("/test/clock", axum::routing::post(advance_clock))
            .route("/test/upkeep", axum::routing::post(upkeep_now))
    } else {
        r
    };
    r.with_state(state)
}

/// `POST /test/clock?advance_ms=N`: tests of expiries move the clock instead of sleeping.
async fn advance_clock(
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, u64>>,
) -> impl IntoResponse {
    let ms = q.get("advance_ms").copied().unwrap_or(0);
    crate::clock::advance(std::time::Duration::from_millis(ms));
    axum::Json(serde_json::json!({ "now_ms": crate::clock::now_ms() }))
}

/// `POST /test/upkeep`: one run of the upkeep now (with the moved clock: retention, expiry
/// purges), instead of waiting for its minute.
async fn upkeep_now(S(state): S<Arc<State>>) -> impl IntoResponse {
    crate::tasks::Upkeep {
        state,
        every: std::time::Duration::from_secs(60),
    }
    .run_once()
    .await;
    axum::Json(serde_json::json!({ "done": true }))
}

async fn metrics(S(state): S<Arc<State>>) -> impl IntoResponse {
    crate::metrics::METRICS
        .cache_entries
        .set(state.auth.cache.len() as i64);
    crate::metrics::METRICS
        .sessions_active
        .set(state.auth.cache.live(crate::store::now()) as i64);
    (
        [(
            http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::metrics::render(),
    )
}

/// The OpenAPI document of the auth API this config serves.
async fn openapi(S(state): S<Arc<State>>) -> impl IntoResponse {
    axum::Json(crate::control::openapi(state))
}

/// The process is up and serving this listener; nothing else is checked, so a database
/// outage never gets a healthy gateway restarted. A user directory that did not answer the
/// last time it was asked is reported `degraded`, still 200: its users cannot sign in, but
/// everyone's live sessions work, and a restart would not mend it.
async fn healthz(S(state): S<Arc<State>>) -> impl IntoResponse {
    let mut body = serde_json::json!({"status": "ok"});
    if state.directory.is_some() {
        let up = state
            .directory_up
            .load(std::sync::atomic::Ordering::Relaxed);
        body["checks"] = serde_json::json!({"directory": if up { "ok" } else { "degraded" }});
    }
    axum::Json(body)
}

/// Ready for traffic: a valid config is loaded (it is, or we would not be running), the
/// database answers, and the proxy listener accepts connections.
async fn readyz(S(state): S<Arc<State>>) -> impl IntoResponse {
    let limit = std::time::Duration::from_secs(2);
    let database = matches!(
        tokio::time::timeout(limit, state.store.count_users()).await,
        Ok(Ok(_))
    );
    crate::metrics::database_answered(database);
    let listener = matches!(
        tokio::time::timeout(
            limit,
            tokio::net::TcpStream::connect(state.config().server.listen)
        )
        .await,
        Ok(Ok(_))
    );
    let word = |ok: bool| if ok { "ok" } else { "failing" };
    let ready = database && listener;
    (
        if ready {
            http::StatusCode::OK
        } else {
            http::StatusCode::SERVICE_UNAVAILABLE
        },
        axum::Json(serde_json::json!({
            "status": if ready { "ready" } else { "not ready" },
            "checks": { "config": "ok", "database": word(database), "listener": word(listener) },
        })),
    )
}

#[async_trait::async_trait]
impl BackgroundService for Admin {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let bound = self
            .listener
            .lock()
            .ok()
            .and_then(|mut l| l.take())
            .and_then(|l| {
                l.set_nonblocking(true).ok()?;
                tokio::net::TcpListener::from_std(l).ok()
            });
        let listener = match bound {
            Some(l) => l,
            None => match bind_when_free(self.addr).await {
                Some(l) => l,
                None => return,
            },
        };
        let _ = axum::serve(listener, router(self.state.clone()))
            .with_graceful_shutdown(async move {
                let _ = shutdown.changed().await;
            })
            .await;
    }
}

/// Binds `addr`, waiting while the port is in use: during a graceful upgrade the previous
/// instance holds it until it has drained (the proxy's sockets are handed over; these are not).
async fn bind_when_free(addr: std::net::SocketAddr) -> Option<tokio::net::TcpListener> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut waiting = false;
    loop {
        match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => return Some(l),
            Err(e)
                if e.kind() == std::io::ErrorKind::AddrInUse
                    && std::time::Instant::now() < deadline =>
            {
                if !waiting {
                    tracing::info!(%addr, "admin port in use (an instance being upgraded?); waiting for it");
                    waiting = true;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => {
                tracing::error!(%addr, error = %e, "admin listener could not bind");
                return None;
            }
        }
    }
}
