//! One deadline for a whole request head (slowloris). Pingora 0.9 only times each read (60 s),
//! so a client sending a header byte now and then could hold a connection for ever. Every
//! downstream connection is wrapped: from the moment Pingora starts waiting for a request
//! until the head's blank line has arrived, reads fail once `server.header_timeout` is past.
//! After the head, the wrapper only passes bytes through; the next request on a kept-alive
//! connection re-arms it.
//!
//! The wrapper also carries the connection's [`Cut`]: a tunnel (WebSocket) registered under a
//! session is ended through it when the session is revoked (see `crate::tunnels`).

use async_trait::async_trait;
use pingora::apps::ServerApp;
use pingora::protocols::{
    GetProxyDigest, GetSocketDigest, GetTimingDigest, Peek, Shutdown, Ssl, Stream, UniqueID,
};
use pingora::server::ShutdownWatch;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::tunnels::Cut;

/// The proxy application with every connection's request heads under a deadline.
pub struct Guarded<A> {
    pub inner: Arc<A>,
    pub timeout: Duration,
}

#[async_trait]
impl<A: ServerApp + Send + Sync + 'static> ServerApp for Guarded<A> {
    async fn process_new(
        self: &Arc<Self>,
        stream: Stream,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        // A kept-alive connection comes back wrapped: re-arm it rather than wrap it again.
        let (wrapped, fresh): (Stream, bool) = if stream.as_any().is::<Deadlined>() {
            let mut d = stream.into_any().downcast::<Deadlined>().ok()?;
            d.arm(self.timeout);
            (d, false)
        } else {
            (Box::new(Deadlined::new(stream, self.timeout)), true)
        };
        // A connection just accepted carries a request whose head may not have arrived yet:
        // it counts as in flight from the accept, so a stopping gateway does not exit between
        // accepting it and reading it (seen once: a request lost during an upgrade's hand-over
        // on a loaded machine). The head deadline bounds the wait.
        let _accepted = fresh.then(super::shutdown::InFlight::start);
        self.inner.process_new(wrapped, shutdown).await
    }

    async fn cleanup(&self) {
        self.inner.cleanup().await
    }
}

#[derive(Debug)]
pub struct Deadlined {
    inner: Stream,
    /// Armed until the head's end (`\r\n\r\n`) has been read.
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    /// How many bytes of `\r\n\r\n` the last read ended with.
    matched: usize,
    cut: Arc<Cut>,
}

/// The off switch of the connection a request came on (none over HTTP/2).
pub fn connection_cut(session: &pingora::proxy::Session) -> Option<Arc<Cut>> {
    let stream = session.downstream_session.stream()?;
    let d = stream.as_any().downcast_ref::<Deadlined>()?;
    Some(d.cut.clone())
}

fn cut_error() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::ConnectionAborted,
        "the session behind this tunnel ended",
    )
}

impl Deadlined {
    fn new(inner: Stream, timeout: Duration) -> Self {
        let mut d = Deadlined {
            inner,
            deadline: None,
            matched: 0,
            cut: Cut::new(),
        };
        d.arm(timeout);
        d
    }

    fn arm(&mut self, timeout: Duration) {
        self.deadline = Some(Box::pin(tokio::time::sleep(timeout)));
        self.matched = 0;
    }

    /// Follows `\r\n\r\n` across reads; true once it is complete.
    fn head_ended(&mut self, bytes: &[u8]) -> bool {
        const END: &[u8] = b"\r\n\r\n";
        for &b in bytes {
            self.matched = if b == END[self.matched] {
                self.matched + 1
            } else if b == b'\r' {
                1
            } else {
                0
            };
            if self.matched == END.len() {
                return true;
            }
        }
        false
    }
}

impl AsyncRead for Deadlined {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        if this.cut.poll_cut(cx) {
            return Poll::Ready(Err(cut_error()));
        }
        if this.deadline.is_none() {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if this.head_ended(&buf.filled()[before..]) {
                    this.deadline = None;
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => match this.deadline.as_mut().map(|d| d.as_mut().poll(cx)) {
                Some(Poll::Ready(())) => {
                    crate::metrics::auth_decision("deny_header_timeout");
                    Poll::Ready(Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "request head not complete within server.header_timeout",
                    )))
                }
                _ => Poll::Pending,
            },
        }
    }
}

impl AsyncWrite for Deadlined {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.cut.is_cut() {
            return Poll::Ready(Err(cut_error()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        if self.cut.is_cut() {
            return Poll::Ready(Err(cut_error()));
        }
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[async_trait]
impl Shutdown for Deadlined {
    async fn shutdown(&mut self) {
        self.inner.shutdown().await
    }
}

impl UniqueID for Deadlined {
    fn id(&self) -> pingora::protocols::UniqueIDType {
        self.inner.id()
    }
}

/// What the TLS layer underneath says (Pingora reads the negotiated ALPN here to choose
/// HTTP/2).
impl Ssl for Deadlined {
    fn get_ssl(&self) -> Option<&pingora::protocols::tls::TlsRef> {
        self.inner.get_ssl()
    }
    fn get_ssl_digest(&self) -> Option<Arc<pingora::protocols::tls::SslDigest>> {
        self.inner.get_ssl_digest()
    }
    fn selected_alpn_proto(&self) -> Option<pingora::protocols::ALPN> {
        self.inner.selected_alpn_proto()
    }
}

impl GetTimingDigest for Deadlined {
    fn get_timing_digest(&self) -> Vec<Option<pingora::protocols::TimingDigest>> {
        self.inner.get_timing_digest()
    }
}

impl GetProxyDigest for Deadlined {
    fn get_proxy_digest(&self) -> Option<Arc<pingora::protocols::raw_connect::ProxyDigest>> {
        self.inner.get_proxy_digest()
    }
}

impl GetSocketDigest for Deadlined {
    fn get_socket_digest(&self) -> Option<Arc<pingora::protocols::SocketDigest>> {
        self.inner.get_socket_digest()
    }
}

#[async_trait]
impl Peek for Deadlined {
    async fn try_peek(&mut self, buf: &mut [u8]) -> std::io::Result<bool> {
        self.inner.try_peek(buf).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_head_end_is_found_across_reads() {
        let mut d = Deadlined {
            inner: Box::new(std::io::Cursor::new(Vec::<u8>::new())),
            deadline: None,
            matched: 0,
            cut: Cut::new(),
        };
        assert!(!d.head_ended(b"GET / HTTP/1.1\r\nHost: a\r"));
        assert!(!d.head_ended(b"\n\r"));
        assert!(d.head_ended(b"\nbody"));
        d.matched = 0;
        assert!(!d.head_ended(b"a\r\n\r\r\n"));
        assert!(d.head_ended(b"\r\n"));
    }
}
