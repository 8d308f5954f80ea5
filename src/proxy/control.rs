//! The bridge to the control plane: turns the Pingora request into an `http::Request` with a
//! bounded body, calls the axum router in-process, and writes its response back.

use super::respond;
use crate::error::{Reject, Rendered};
use crate::request::ClientInfo;
use axum::body::Body;
use axum::Router;
use bytes::{Bytes, BytesMut};
use pingora::proxy::Session;
use tower::ServiceExt;

/// Serves one control-plane request; returns the status written.
pub async fn serve(
    session: &mut Session,
    router: &Router,
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
    let resp = match router.clone().oneshot(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    let (parts, body) = resp.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let rendered = Rendered {
        status: parts.status,
        headers: parts
            .headers
            .iter()
            .filter(|(k, _)| *k != http::header::CONTENT_LENGTH)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        body,
    };
    respond::write(session, &rendered).await?;
    Ok(parts.status.as_u16())
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
