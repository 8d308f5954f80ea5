//! The framework's floor for the load benchmark: a Pingora proxy built from the same vendored
//! crates as the gateway, whose `ProxyHttp` has only `upstream_peer` (no routing, no
//! authentication, no log, no metrics). One worker thread, like every proxy the load script
//! measures, and the gateway's allocator (mimalloc), so the gap to the gateway is what the
//! gateway does, not how it allocates.
//! `cargo run --release --example bare_pingora -- 127.0.0.1:8081 127.0.0.1:3000`

use async_trait::async_trait;
use pingora::prelude::*;
use pingora::server::configuration::ServerConf;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Bare {
    upstream: String,
}

#[async_trait]
impl ProxyHttp for Bare {
    type CTX = ();

    fn new_ctx(&self) {}

    async fn upstream_peer(&self, _: &mut Session, _: &mut ()) -> Result<Box<HttpPeer>> {
        Ok(Box::new(HttpPeer::new(
            self.upstream.as_str(),
            false,
            String::new(),
        )))
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:8081".into());
    let upstream = args.next().unwrap_or_else(|| "127.0.0.1:3000".into());
    // SIGTERM ends it at once: the load script's clean-up waits for it (Pingora's default
    // grace period is five minutes).
    let conf = ServerConf {
        threads: 1,
        grace_period_seconds: Some(0),
        graceful_shutdown_timeout_seconds: Some(1),
        ..Default::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let mut proxy = http_proxy_service(&server.configuration, Bare { upstream });
    proxy.add_tcp(&listen);
    server.add_service(proxy);
    server.run_forever();
}
