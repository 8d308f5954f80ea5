//! WebSockets and streaming through the gateway: an upgrade is authenticated like any request,
//! then tunnelled; revoking the session behind an open tunnel (logout, deactivation, on this
//! instance or another) closes it within a second. Streams pass unbuffered, and responses carry
//! the gateway's HTTP version whatever the app spoke.

use crate::harness::*;
use futures_util::{SinkExt, StreamExt};
use http::Method;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest, Message};

/// A WebSocket echo server (tungstenite) recording the `x-auth-*` headers of each handshake.
struct EchoServer {
    addr: SocketAddr,
    identities: Arc<Mutex<Vec<http::HeaderMap>>>,
}

impl EchoServer {
    async fn start() -> EchoServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let identities: Arc<Mutex<Vec<http::HeaderMap>>> = Arc::default();
        let record = identities.clone();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let record = record.clone();
                tokio::spawn(async move {
                    // The callback's error type is tungstenite's, not ours.
                    #[allow(clippy::result_large_err)]
                    let cb = |req: &tungstenite::handshake::server::Request,
                              resp: tungstenite::handshake::server::Response| {
                        record.lock().unwrap().push(req.headers().clone());
                        Ok(resp)
                    };
                    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(tcp, cb).await else {
                        return;
                    };
                    while let Some(Ok(m)) = ws.next().await {
                        if (m.is_text() || m.is_binary()) && ws.send(m).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        EchoServer { addr, identities }
    }
}

const ROUTES: &str = r#"
  - { name: ws, path: "/ws/**", upstream: ws, auth: required }
  - { name: app, path: "/**", upstream: app, auth: required }
"#;

fn options(up: &Upstream, echo: &EchoServer) -> Options {
    let mut o = Options::new(up.addr);
    o.routes = ROUTES.into();
    o.more_upstreams = format!("  ws: {{ addrs: [\"{}\"], read_timeout: 60s }}", echo.addr);
    o
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn open(g: &Gateway, token: Option<&str>) -> Result<Socket, tungstenite::Error> {
    let url = g.url("/ws/chat").replace("http://", "ws://");
    let mut req = url.into_client_request().unwrap();
    if let Some(t) = token {
        req.headers_mut()
            .insert("authorization", format!("Bearer {t}").parse().unwrap());
    }
    tokio_tungstenite::connect_async(req).await.map(|(ws, _)| ws)
}

async fn echoes(ws: &mut Socket, text: &str) -> bool {
    if ws.send(Message::text(text)).await.is_err() {
        return false;
    }
    matches!(
        tokio::time::timeout(Duration::from_secs(3), ws.next()).await,
        Ok(Some(Ok(m))) if m.to_text().ok() == Some(text)
    )
}

/// How long until the connection ends (a close, an error or EOF); panics past `limit`.
async fn closed_within(ws: &mut Socket, limit: Duration) -> Duration {
    let start = Instant::now();
    loop {
        match tokio::time::timeout(limit.saturating_sub(start.elapsed()), ws.next()).await {
            Err(_) => panic!("the tunnel was still open after {limit:?}"),
            Ok(None) | Ok(Some(Err(_))) | Ok(Some(Ok(Message::Close(_)))) => {
                return start.elapsed()
            }
            Ok(Some(Ok(_))) => {}
        }
    }
}

pub fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn a_websocket_is_authenticated_then_closed_within_a_second_of_logout() {
    let (up, echo) = (Upstream::start().await, EchoServer::start().await);
    let g = Gateway::start(options(&up, &echo)).await;

    match open(&g, None).await {
        Err(tungstenite::Error::Http(r)) => assert_eq!(r.status(), 401),
        other => panic!("an anonymous upgrade got through: {:?}", other.map(|_| ())),
    }
    match open(&g, Some("not-a-token")).await {
        Err(tungstenite::Error::Http(r)) => assert_eq!(r.status(), 401),
        other => panic!("a forged token got through: {:?}", other.map(|_| ())),
    }
    assert!(echo.identities.lock().unwrap().is_empty(), "no refused upgrade reached the app");

    let token = g.admin_token().await;
    let other = g.admin_token().await;
    let mut ws = open(&g, Some(&token)).await.unwrap();
    let mut kept = open(&g, Some(&other)).await.unwrap();
    assert!(echoes(&mut ws, "hello").await);
    assert!(echoes(&mut kept, "hello too").await);
    let seen = echo.identities.lock().unwrap()[0].clone();
    assert_eq!(seen["x-auth-email"], ADMIN_EMAIL);
    assert!(seen.get("authorization").is_none(), "the token stays at the gateway");
    assert_eq!(metric(&g.metrics().await, "portcullis_tunnels_open"), 2.0);

    assert_eq!(g.post("/api/logout", Some(&token)).await.status(), 200);
    let took = closed_within(&mut ws, Duration::from_secs(1)).await;
    eprintln!("tunnel closed {took:?} after the logout answered");
    // Another session of the same user keeps its tunnel.
    assert!(echoes(&mut kept, "still here").await);
    let m = g.metrics().await;
    assert_eq!(metric(&m, "portcullis_tunnels_open"), 1.0);
    assert_eq!(
        metric(&m, "portcullis_tunnels_closed_total{reason=\"revoked\"}"),
        1.0
    );
    // The revoked token cannot open a new one.
    match open(&g, Some(&token)).await {
        Err(tungstenite::Error::Http(r)) => assert_eq!(r.status(), 401),
        other => panic!("a revoked token opened a tunnel: {:?}", other.map(|_| ())),
    }
    drop(kept);
    let deadline = Instant::now() + Duration::from_secs(5);
    while metric(&g.metrics().await, "portcullis_tunnels_open") != 0.0 {
        assert!(Instant::now() < deadline, "a closed tunnel still counts as open");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn deactivating_a_user_closes_their_tunnels_and_no_one_elses() {
    let (up, echo) = (Upstream::start().await, EchoServer::start().await);
    let g = Gateway::start(options(&up, &echo)).await;
    let admin = g.admin_token().await;
    let uid = g
        .create_user(&admin, "ws-user@example.test", "user", "ws-user-password-1")
        .await;
    let user = g
        .login("ws-user@example.test", "ws-user-password-1", false)
        .await;
    let mut theirs = open(&g, Some(&user)).await.unwrap();
    let mut mine = open(&g, Some(&admin)).await.unwrap();
    assert!(echoes(&mut theirs, "a").await && echoes(&mut mine, "b").await);

    let r = g
        .call(
            Method::PATCH,
            &format!("/api/nuxt-users/{uid}"),
            Some(&admin),
            Some(json!({"active": false})),
        )
        .await;
    assert_eq!(r.status(), 200);
    closed_within(&mut theirs, Duration::from_secs(1)).await;
    assert!(echoes(&mut mine, "c").await);
    assert_eq!(
        metric(
            &g.metrics().await,
            "portcullis_tunnels_closed_total{reason=\"deactivated\"}"
        ),
        1.0
    );
}

#[tokio::test]
async fn a_logout_on_one_instance_closes_a_tunnel_held_by_another() {
    let Some(shared) = crate::pg::for_this_pass() else {
        return; // runs in the PostgreSQL pass (`gateway_pg`)
    };
    let (up, echo) = (Upstream::start().await, EchoServer::start().await);
    let url = shared.database("tunnels_follow");
    let instance = || {
        let mut o = options(&up, &echo);
        o.database_url = Some(url.clone());
        o
    };
    let (a, b) = (
        Gateway::start(instance()).await,
        Gateway::start(instance()).await,
    );
    let token = a.admin_token().await;
    let mut ws = open(&b, Some(&token)).await.unwrap();
    assert!(echoes(&mut ws, "over b").await);
    assert_eq!(a.post("/api/logout", Some(&token)).await.status(), 200);
    let took = closed_within(&mut ws, Duration::from_secs(1)).await;
    eprintln!("tunnel on the other instance closed {took:?} after the logout");
}

/// An app answering every request with `head` and then, after `pause`, `tail`, raw.
pub async fn raw_app(head: &'static [u8], pause: Duration, tail: &'static [u8]) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = s.write_all(head).await;
                tokio::time::sleep(pause).await;
                let _ = s.write_all(tail).await;
                let _ = s.shutdown().await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn responses_carry_the_gateways_http_version_and_streams_are_not_buffered() {
    let old = raw_app(
        b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello",
        Duration::ZERO,
        b"",
    )
    .await;
    let events = raw_app(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n8\r\ndata: 1\n\r\n",
        Duration::from_secs(2),
        b"8\r\ndata: 2\n\r\n0\r\n\r\n",
    )
    .await;
    let up = Upstream::start().await;
    let mut o = Options::new(up.addr);
    o.routes = r#"
  - { name: old, path: "/old/**", upstream: old, auth: none }
  - { name: events, path: "/events/**", upstream: events, auth: none }
"#
    .into();
    o.more_upstreams = format!(
        "  old: {{ addrs: [\"{old}\"] }}\n  events: {{ addrs: [\"{events}\"], read_timeout: 10s }}"
    );
    let g = Gateway::start(o).await;

    for version in ["1.1", "1.0"] {
        let head = raw_request(
            &g.base,
            format!("GET /old/x HTTP/{version}\r\nHost: localhost\r\n\r\n").as_bytes(),
        )
        .await;
        assert!(
            head.starts_with("HTTP/1.1 200"),
            "an HTTP/{version} client got: {head}"
        );
    }
    let r = g.client.get(g.url("/old/x")).send().await.unwrap();
    assert_eq!(r.version(), http::Version::HTTP_11);
    assert_eq!(r.text().await.unwrap(), "hello");

    // The first event arrives while the app is still holding the second back.
    let start = Instant::now();
    let mut r = g.client.get(g.url("/events/x")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let first = r.chunk().await.unwrap().unwrap();
    assert_eq!(&first[..], b"data: 1\n");
    assert!(
        start.elapsed() < Duration::from_millis(1500),
        "the first event waited for the second: {:?}",
        start.elapsed()
    );
    let second = r.chunk().await.unwrap().unwrap();
    assert_eq!(&second[..], b"data: 2\n");
}

#[tokio::test]
async fn an_event_stream_ends_within_a_second_of_logout() {
    let events = raw_app(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n8\r\ndata: 1\n\r\n",
        Duration::from_secs(60),
        b"0\r\n\r\n",
    )
    .await;
    let up = Upstream::start().await;
    let mut o = Options::new(up.addr);
    o.routes = r#"
  - { name: events, path: "/events/**", upstream: events, auth: required }
"#
    .into();
    o.more_upstreams = format!("  events: {{ addrs: [\"{events}\"], read_timeout: 120s }}");
    let g = Gateway::start(o).await;
    let token = g.admin_token().await;
    let mut r = g
        .client
        .get(g.url("/events/feed"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(&r.chunk().await.unwrap().unwrap()[..], b"data: 1\n");
    assert_eq!(metric(&g.metrics().await, "portcullis_tunnels_open"), 1.0);
    assert_eq!(g.post("/api/logout", Some(&token)).await.status(), 200);
    let start = Instant::now();
    let end = tokio::time::timeout(Duration::from_secs(1), r.chunk())
        .await
        .expect("the stream was still open a second after the logout");
    assert!(!matches!(end, Ok(Some(_))), "more data after the logout: {end:?}");
    eprintln!("event stream ended {:?} after the logout", start.elapsed());
}

/// Creates an API key for the admin; `(id, key)`.
async fn api_key(g: &Gateway, session: &str, name: &str) -> (String, String) {
    let r = g
        .post_json("/api/auth/api-keys", json!({ "name": name }), Some(session))
        .await;
    assert_eq!(r.status(), 201);
    let k: serde_json::Value = r.json().await.unwrap();
    (
        k["id"].as_str().unwrap().to_owned(),
        k["key"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn revoking_an_api_key_closes_its_websockets_only_here_or_from_the_cli() {
    let (up, echo) = (Upstream::start().await, EchoServer::start().await);
    let g = Gateway::start(options(&up, &echo)).await;
    let admin = g.admin_token().await;
    let (id, key) = api_key(&g, &admin, "socket script").await;
    let (cli_id, cli_key) = api_key(&g, &admin, "another script").await;
    let (_, kept_key) = api_key(&g, &admin, "kept").await;
    // By either header; the admin's own session holds a tunnel too.
    let mut by_key = open(&g, Some(&key)).await.unwrap();
    let mut by_cli_key = {
        let url = g.url("/ws/chat").replace("http://", "ws://");
        let mut req = url.into_client_request().unwrap();
        req.headers_mut()
            .insert("x-api-key", cli_key.parse().unwrap());
        tokio_tungstenite::connect_async(req).await.unwrap().0
    };
    let mut kept = open(&g, Some(&kept_key)).await.unwrap();
    let mut session = open(&g, Some(&admin)).await.unwrap();
    for ws in [&mut by_key, &mut by_cli_key, &mut kept, &mut session] {
        assert!(echoes(ws, "hi").await);
    }
    let seen = echo.identities.lock().unwrap()[0].clone();
    assert_eq!(seen["x-auth-key-id"], id.as_str());

    let r = g
        .call(
            Method::DELETE,
            &format!("/api/auth/api-keys/{id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status(), 200);
    let took = closed_within(&mut by_key, Duration::from_secs(1)).await;
    eprintln!("the key's tunnel closed {took:?} after its revocation");
    assert!(echoes(&mut by_cli_key, "still").await && echoes(&mut kept, "still").await);
    assert!(echoes(&mut session, "still").await);

    // Revoked from the CLI (another process): the gateway's poll closes the tunnel too.
    let out = std::process::Command::new(bin())
        .args(["key", "revoke", &cli_id, "--config"])
        .arg(g.dir.path().join("portcullis.yaml"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let took = closed_within(&mut by_cli_key, Duration::from_secs(2)).await;
    eprintln!("the key's tunnel closed {took:?} after the CLI's revocation");
    assert!(echoes(&mut kept, "still").await && echoes(&mut session, "still").await);
    assert_eq!(
        metric(
            &g.metrics().await,
            "portcullis_tunnels_closed_total{reason=\"revoked\"}"
        ),
        2.0
    );
}
