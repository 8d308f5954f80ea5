//! A minimal upstream for load tests: answers every request with a short 200.
//! `cargo run --release --example upstream -- 127.0.0.1:3000`

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    let app = axum::Router::new().fallback(|| async { "ok\n" });
    axum::serve(listener, app).await
}
