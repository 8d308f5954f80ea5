//! HTTPS: the TLS listener's hooks, HSTS on its answers, and the plain listener's redirect to
//! it. Certificates come from `certs::Resolver` (chosen by SNI at each handshake); Pingora's
//! rustls listener takes a resolver only through its callback-carrying settings, which
//! `Handshakes` also uses to mark each connection.

use async_trait::async_trait;
use pingora::listeners::TlsAccept;
use std::sync::Arc;

/// The TLS listener's hooks: each connection learns the names its certificate covers and
/// the `Strict-Transport-Security` value its answers carry.
pub struct Handshakes {
    pub certs: Arc<crate::certs::Resolver>,
    pub hsts: Option<http::HeaderValue>,
}

/// What a connection over the TLS listener carries (its digest's extension).
pub struct Conn {
    /// For the 421 rule.
    names: Arc<crate::certs::Names>,
    hsts: Option<http::HeaderValue>,
}

#[async_trait]
impl TlsAccept for Handshakes {
    async fn handshake_complete_callback(
        &self,
        tls: &pingora::protocols::tls::TlsRef,
    ) -> Option<Arc<dyn std::any::Any + Send + Sync>> {
        Some(Arc::new(Conn {
            names: self.certs.names_for(tls.server_name()),
            hsts: self.hsts.clone(),
        }))
    }
}

fn conn(session: &pingora::proxy::Session) -> Option<&Conn> {
    session
        .digest()
        .and_then(|d| d.ssl_digest.as_ref())
        .and_then(|t| t.extension.get::<Conn>())
}

/// The HSTS value for an answer on this connection: only over the TLS listener, since a
/// browser ignores the header over plain HTTP (RFC 6797 §8.1) and the plain listener's answer
/// is a redirect to HTTPS or the app's own.
pub fn hsts(session: &pingora::proxy::Session) -> Option<&http::HeaderValue> {
    conn(session)?.hsts.as_ref()
}

/// An HTTP/2 request for a host the connection's certificate does not cover: a client reusing
/// a connection made for another host (RFC 9113 §9.1.1) must be told 421, to open its own.
pub fn misdirected(session: &pingora::proxy::Session) -> bool {
    if !session.downstream_session.is_http2() {
        return false;
    }
    let names = conn(session).map(|c| &c.names);
    let host = crate::routing::bare_host(super::request_host(session.req_header()));
    match (names, host) {
        (Some(names), Some(host)) => !names.cover(&host.to_ascii_lowercase()),
        _ => false,
    }
}

/// With `server.redirect_to_https`, where a request that came over plain HTTP goes instead:
/// the same host (when it is one the gateway serves; `public_url`'s otherwise) and target on
/// the TLS listener's port. ACME HTTP-01 challenges stay on plain HTTP.
pub fn https_location(
    session: &pingora::proxy::Session,
    live: &crate::live::Live,
) -> Option<String> {
    let server = &live.config.server;
    let tls = server.tls.as_ref().filter(|_| server.redirect_to_https)?;
    let over_tls = session
        .digest()
        .and_then(|d| d.ssl_digest.as_ref())
        .is_some();
    let req = session.req_header();
    let target = std::str::from_utf8(req.raw_path()).unwrap_or("/");
    if over_tls || target.starts_with("/.well-known/acme-challenge/") {
        return None;
    }
    let asked = req
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| crate::routing::bare_host(Some(h)))
        .map(str::to_ascii_lowercase)
        .filter(|h| live.serves_host(h));
    let public = url::Url::parse(&server.public_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| "localhost".into());
    let host = asked.unwrap_or(public);
    let port = match tls.listen.port() {
        443 => String::new(),
        p => format!(":{p}"),
    };
    let target = if target.starts_with('/') { target } else { "/" };
    Some(format!("https://{host}{port}{target}"))
}
