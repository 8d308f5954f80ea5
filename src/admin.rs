//! The admin listener: `/metrics` (Prometheus text) and `/healthz`. Kept off the public port.

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
}

pub fn router(state: Arc<State>) -> axum::Router {
    axum::Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .with_state(state)
}

async fn metrics(S(state): S<Arc<State>>) -> impl IntoResponse {
    crate::metrics::METRICS
        .cache_entries
        .set(state.auth.cache.len() as i64);
    (
        [(
            http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::metrics::render(),
    )
}

/// Healthy when the store answers.
async fn healthz(S(state): S<Arc<State>>) -> impl IntoResponse {
    match state.store.count_users().await {
        Ok(_) => (
            http::StatusCode::OK,
            axum::Json(serde_json::json!({"status": "ok"})),
        ),
        Err(e) => {
            tracing::error!(error = %e, "health check: store unavailable");
            (
                http::StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(serde_json::json!({"status": "unavailable"})),
            )
        }
    }
}

#[async_trait::async_trait]
impl BackgroundService for Admin {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let listener = match tokio::net::TcpListener::bind(self.addr).await {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(addr = %self.addr, error = %e, "admin listener could not bind");
                return;
            }
        };
        let _ = axum::serve(listener, router(self.state.clone()))
            .with_graceful_shutdown(async move {
                let _ = shutdown.changed().await;
            })
            .await;
    }
}
