//! Writes gateway-made responses through Pingora, and maps proxy failures to the error they
//! are for the client (refused → 502, timed out → 504).

use crate::error::{Reject, Rendered};
use pingora::http::ResponseHeader;
use pingora::proxy::Session;
use pingora::{Error, ErrorType};

pub async fn write(session: &mut Session, r: &Rendered) -> pingora::Result<()> {
    let mut h = ResponseHeader::build(r.status, Some(r.headers.len() + 3))?;
    for (k, v) in &r.headers {
        h.append_header(k.clone(), v.clone())?;
    }
    h.insert_header(http::header::CONTENT_LENGTH, r.body.len())?;
    if let Some(id) = super::request_id::of(session.req_header()) {
        h.insert_header(super::request_id::HEADER, id.clone())?;
    }
    if let Some(v) = super::tls::hsts(session) {
        h.insert_header(http::header::STRICT_TRANSPORT_SECURITY, v.clone())?;
    }
    session.write_response_header(Box::new(h), false).await?;
    session
        .write_response_body(Some(r.body.clone()), true)
        .await
}

pub async fn reject(session: &mut Session, reject: &Reject) -> pingora::Result<()> {
    write(session, &reject.render()).await
}

/// A refusal as JSON, or as a small HTML page for a browser's page load.
pub async fn reject_for(session: &mut Session, reject: &Reject, html: bool) -> pingora::Result<()> {
    let r = if html {
        reject.render_html()
    } else {
        reject.render()
    };
    write(session, &r).await
}

/// `OPTIONS *`: what the gateway accepts, with no body.
pub async fn server_options(session: &mut Session) -> pingora::Result<()> {
    let r = Rendered {
        status: http::StatusCode::NO_CONTENT,
        headers: vec![(
            http::header::ALLOW,
            http::HeaderValue::from_static("GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"),
        )],
        body: bytes::Bytes::new(),
    };
    write(session, &r).await
}

/// Like [`reject`], for when the connection cannot be reused (unread body, failed proxying):
/// says `Connection: close` so the client does not send its next request into a dead socket.
pub async fn reject_and_close(session: &mut Session, reject: &Reject) -> pingora::Result<()> {
    session.set_keepalive(None);
    let mut r = reject.render();
    r.headers.push((
        http::header::CONNECTION,
        http::HeaderValue::from_static("close"),
    ));
    write(session, &r).await
}

/// `302 Found` to `location` (a path on this site), never cached.
pub async fn redirect(session: &mut Session, location: &str) -> pingora::Result<()> {
    redirect_with(session, http::StatusCode::FOUND, location).await
}

/// A redirect with the given status (302, or 308 to https).
pub async fn redirect_with(
    session: &mut Session,
    status: http::StatusCode,
    location: &str,
) -> pingora::Result<()> {
    let r = Rendered {
        status,
        headers: vec![
            (
                http::header::LOCATION,
                http::HeaderValue::from_str(location)
                    .map_err(|_| Error::new(ErrorType::InternalError))?,
            ),
            (
                http::header::CACHE_CONTROL,
                http::HeaderValue::from_static("no-store"),
            ),
        ],
        body: bytes::Bytes::new(),
    };
    write(session, &r).await
}

/// What a failure to proxy means for the client.
pub fn from_proxy_error(e: &Error) -> Option<Reject> {
    use pingora::ErrorSource;
    match e.etype() {
        ErrorType::ConnectTimedout | ErrorType::ReadTimedout | ErrorType::WriteTimedout => {
            if *e.esource() == ErrorSource::Downstream {
                None
            } else {
                Some(Reject::UpstreamTimeout)
            }
        }
        ErrorType::HTTPStatus(413) => Some(Reject::PayloadTooLarge(0)),
        ErrorType::HTTPStatus(code) if (400..500).contains(code) => {
            Some(Reject::BadRequest("The request could not be read".into()))
        }
        _ => match e.esource() {
            ErrorSource::Upstream => Some(Reject::UpstreamUnavailable),
            ErrorSource::Downstream => match e.etype() {
                ErrorType::WriteError | ErrorType::ReadError | ErrorType::ConnectionClosed => None,
                _ => Some(Reject::BadRequest("The request could not be read".into())),
            },
            _ => Some(Reject::Internal),
        },
    }
}
