//! The built-in `whoami` upstream: answers with the request line and every header it received,
//! so a first-time user sees exactly what their app would get from the gateway.

use axum::extract::Request;
use axum::response::IntoResponse;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use std::net::SocketAddr;
use std::sync::{Mutex, OnceLock};

static ADDR: OnceLock<SocketAddr> = OnceLock::new();

/// Where the built-in upstream listens, once `Whoami::bind` has run in this process.
pub fn addr() -> Option<SocketAddr> {
    ADDR.get().copied()
}

pub struct Whoami {
    listener: Mutex<Option<std::net::TcpListener>>,
}

impl Whoami {
    /// Binds an ephemeral loopback port now, so the proxy knows where to send requests.
    /// Once per process: a second call is refused.
    pub fn bind() -> std::io::Result<(Self, SocketAddr)> {
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        l.set_nonblocking(true)?;
        let addr = l.local_addr()?;
        ADDR.set(addr).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::AddrInUse, "whoami is already bound")
        })?;
        Ok((
            Whoami {
                listener: Mutex::new(Some(l)),
            },
            addr,
        ))
    }
}

async fn echo(req: Request) -> impl IntoResponse {
    let mut out = format!("{} {} {:?}\n", req.method(), req.uri(), req.version());
    for (k, v) in req.headers() {
        out.push_str(&format!(
            "{}: {}\n",
            k,
            String::from_utf8_lossy(v.as_bytes())
        ));
    }
    (
        [(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        out,
    )
}

#[async_trait::async_trait]
impl BackgroundService for Whoami {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let Some(std_listener) = self.listener.lock().ok().and_then(|mut l| l.take()) else {
            return;
        };
        let Ok(listener) = tokio::net::TcpListener::from_std(std_listener) else {
            tracing::error!("whoami upstream could not start");
            return;
        };
        let app = axum::Router::new().fallback(echo);
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = shutdown.changed().await;
            })
            .await;
    }
}
