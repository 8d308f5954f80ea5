//! The bridge to the control plane: turns the Pingora request into an `http::Request` with a
//! bounded body, runs the axum router on the control plane's own runtime, and writes its
//! response back.
//!
//! The worker thread only reads the request and writes the answer; JSON, the store, token
//! signing and password checks run on the control runtime, whose threads have a lower CPU
//! priority (`priority::CONTROL`). A login flood then competes with proxied requests for
//! I/O only, never queues its handlers ahead of them on a worker thread.

use super::respond;
use crate::error::{Reject, Rendered};
use crate::request::ClientInfo;
use axum::body::Body;
use axum::Router;
use bytes::{Bytes, BytesMut};
use pingora::proxy::Session;
use tower::ServiceExt;

/// A refusal for load (429, 503) is written after this pause: a client that retries at once
/// (a flood on a few hundred connections) then sends a few hundred requests a second, not the
/// tens of thousands a worker could refuse, and each answer still says when to come back.
/// Waiting costs a timer, no CPU. A legitimate client told to retry after at least a second
/// loses nothing.
pub const REFUSAL_PAUSE: std::time::Duration = std::time::Duration::from_secs(1);

/// The auth API's router and the runtime its handlers run on.
#[derive(Clone)]
pub struct ControlPlane {
    router: Router,
    runtime: tokio::runtime::Handle,
    /// Turns for HTTP/2 connections (this worker's).
    streams: std::sync::Arc<super::streams::Streams>,
}

impl ControlPlane {
    pub fn new(router: Router, runtime: tokio::runtime::Handle) -> Self {
        ControlPlane {
            router,
            runtime,
            streams: Default::default(),
        }
    }

    /// The router's answer, rendered, from the control runtime. A handler that panicked is a
    /// 500, not a lost connection.
    async fn answer(&self, req: http::Request<Body>) -> Rendered {
        let router = self.router.clone();
        let task = self.runtime.spawn(async move {
            let resp = match router.oneshot(req).await {
                Ok(r) => r,
                Err(never) => match never {},
            };
            let (parts, body) = resp.into_parts();
            let body = axum::body::to_bytes(body, usize::MAX)
                .await
                .unwrap_or_default();
            if paced(parts.status) {
                tokio::time::sleep(REFUSAL_PAUSE).await;
            }
            Rendered {
                status: parts.status,
                headers: parts
                    .headers
                    .iter()
                    .filter(|(k, _)| *k != http::header::CONTENT_LENGTH)
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                body,
            }
        });
        task.await.unwrap_or_else(|e| {
            tracing::error!(panic = e.is_panic(), "control-plane handler did not finish");
            Reject::Internal.render()
        })
    }
}

/// Refusals for load, answered after [`REFUSAL_PAUSE`].
fn paced(status: http::StatusCode) -> bool {
    status == http::StatusCode::TOO_MANY_REQUESTS || status == http::StatusCode::SERVICE_UNAVAILABLE
}

/// Serves one control-plane request; returns the status written.
pub async fn serve(
    session: &mut Session,
    control: &ControlPlane,
    client: ClientInfo,
    max_body: usize,
    body_timeout: std::time::Duration,
) -> pingora::Result<u16> {
    // One deadline for the whole body, so a client trickling bytes cannot hold a worker.
    let read = tokio::time::timeout(body_timeout, read_body(session, max_body)).await;
    let body = match read.unwrap_or(Ok(Err(Reject::RequestTimeout)))? {
        Ok(b) => b,
        Err(reject) => {
            // The rest of the body was never read: this connection cannot be reused.
            respond::reject_and_close(session, &reject).await?;
            return Ok(reject.status().as_u16());
        }
    };
    let head = session.req_header();
    let mut builder = http::Request::builder()
        .method(head.method.clone())
        .uri(head.uri.clone());
    if let Some(h) = builder.headers_mut() {
        *h = head.headers.clone();
    }
    let Ok(mut req) = builder.body(Body::from(body)) else {
        let reject = Reject::BadRequest("The request could not be read".into());
        respond::reject(session, &reject).await?;
        return Ok(400);
    };
    req.extensions_mut().insert(client);
    // Held through the answer, its pause for a refusal included.
    let _turn = control.streams.turn(session).await;
    let rendered = control.answer(req).await;
    respond::write(session, &rendered).await?;
    Ok(rendered.status.as_u16())
}

/// Reads the whole body, refusing (413) as soon as it is known to exceed `max`.
async fn read_body(session: &mut Session, max: usize) -> pingora::Result<Result<Bytes, Reject>> {
    let declared = session
        .req_header()
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > max) {
        return Ok(Err(Reject::PayloadTooLarge(max)));
    }
    let mut buf = BytesMut::new();
    while let Some(chunk) = session.read_request_body().await? {
        if buf.len() + chunk.len() > max {
            return Ok(Err(Reject::PayloadTooLarge(max)));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Ok(buf.freeze()))
}
