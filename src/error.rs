//! Every client-facing failure, and the one place it becomes a response: status, headers and
//! the JSON body `{statusCode, statusMessage, message, error}`. Internal details are logged by
//! whoever saw them and never reach the body.

use bytes::Bytes;
use http::{header, HeaderName, HeaderValue, StatusCode};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reject {
    /// No usable credentials; `invalid_token` when some were presented.
    Unauthenticated {
        invalid_token: bool,
        message: &'static str,
    },
    Forbidden(&'static str),
    NotFound,
    MethodNotAllowed,
    BadRequest(String),
    BadCredentials,
    /// Field → message, for 422 (the Pruvious contract).
    Validation(BTreeMap<String, String>),
    /// Field → message, for 400 (the Nuxt Users contract).
    Invalid(BTreeMap<String, String>),
    Conflict(String),
    PayloadTooLarge(usize),
    /// The request head is over `server.max_header_size`.
    HeadersTooLarge,
    /// The body did not arrive within `server.body_timeout`.
    RequestTimeout,
    RateLimited {
        retry_after_secs: u64,
    },
    UpstreamUnavailable,
    UpstreamTimeout,
    Unavailable,
    Internal,
    /// An HTTP/2 request for a host its connection's certificate does not cover.
    Misdirected,
    /// The route demands a second factor the session's sign-in did not use (RFC 9470).
    StepUpRequired,
}

/// A response ready to be written by axum or by Pingora.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub status: StatusCode,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
}

impl Reject {
    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        Reject::Validation(BTreeMap::from([(field.to_string(), message.into())]))
    }

    /// One field's problem, for 400 ([`Reject::Invalid`]).
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Reject::Invalid(BTreeMap::from([(field.to_string(), message.into())]))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Reject::Unauthenticated { .. } | Reject::StepUpRequired => StatusCode::UNAUTHORIZED,
            Reject::Forbidden(_) => StatusCode::FORBIDDEN,
            Reject::NotFound => StatusCode::NOT_FOUND,
            Reject::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Reject::BadRequest(_) | Reject::BadCredentials | Reject::Invalid(_) => {
                StatusCode::BAD_REQUEST
            }
            Reject::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Reject::Conflict(_) => StatusCode::CONFLICT,
            Reject::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Reject::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Reject::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Reject::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Reject::UpstreamUnavailable => StatusCode::BAD_GATEWAY,
            Reject::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            Reject::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Reject::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Reject::Misdirected => StatusCode::MISDIRECTED_REQUEST,
        }
    }

    pub fn message(&self) -> String {
        match self {
            Reject::Unauthenticated { message, .. } => (*message).to_string(),
            Reject::Forbidden(m) => (*m).to_string(),
            Reject::NotFound => "Nothing is served at this path".into(),
            Reject::MethodNotAllowed => "This method is not allowed here".into(),
            Reject::BadRequest(m) | Reject::Conflict(m) => m.clone(),
            Reject::BadCredentials => "Incorrect credentials".into(),
            Reject::Validation(_) => "Some fields are missing or invalid".into(),
            Reject::Invalid(fields) => fields
                .iter()
                .map(|(f, m)| format!("{f} {m}"))
                .collect::<Vec<_>>()
                .join("; "),
            Reject::PayloadTooLarge(0) => "The request body is too large".into(),
            Reject::PayloadTooLarge(limit) => {
                format!("The request body exceeds the limit of {limit} bytes")
            }
            Reject::HeadersTooLarge => "The request headers are too large".into(),
            Reject::RequestTimeout => "The request body did not arrive in time".into(),
            Reject::RateLimited { retry_after_secs } => {
                format!("Too many requests; try again in {retry_after_secs} s")
            }
            Reject::UpstreamUnavailable => {
                "The application behind the gateway is unavailable".into()
            }
            Reject::UpstreamTimeout => {
                "The application behind the gateway did not answer in time".into()
            }
            Reject::Unavailable => "The service is temporarily unavailable".into(),
            Reject::Internal => "Something went wrong on our side".into(),
            Reject::Misdirected => {
                "This connection's certificate does not cover that host; open a new one".into()
            }
            Reject::StepUpRequired => {
                "This needs a sign-in with a second factor: verify with /mfa/verify".into()
            }
        }
    }

    pub fn render(&self) -> Rendered {
        let status = self.status();
        let message = self.message();
        let mut body = serde_json::json!({
            "statusCode": status.as_u16(),
            "statusMessage": message,
            "message": message,
            "error": status.canonical_reason().unwrap_or(""),
        });
        if let Reject::Validation(fields) | Reject::Invalid(fields) = self {
            body["data"] = serde_json::json!(fields);
        }
        let mut headers = vec![
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ];
        match self {
            Reject::Unauthenticated { invalid_token, .. } => headers.push((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(if *invalid_token {
                    "Bearer realm=\"portcullis\", error=\"invalid_token\""
                } else {
                    "Bearer realm=\"portcullis\""
                }),
            )),
            Reject::StepUpRequired => headers.push((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(
                    "Bearer realm=\"portcullis\", error=\"insufficient_user_authentication\", error_description=\"A second factor is required\"",
                ),
            )),
            Reject::RateLimited { retry_after_secs } => {
                headers.push((header::RETRY_AFTER, HeaderValue::from(*retry_after_secs)))
            }
            Reject::Unavailable => headers.push((
                header::RETRY_AFTER,
                HeaderValue::from(UNAVAILABLE_RETRY_SECS),
            )),
            _ => {}
        }
        Rendered {
            status,
            headers,
            body: Bytes::from(body.to_string()),
        }
    }
}

impl Reject {
    /// The same refusal as a small page for a browser: status, reason and message, escaped,
    /// with the same headers as the JSON form.
    pub fn render_html(&self) -> Rendered {
        let mut r = self.render();
        let status = r.status;
        let esc = |s: &str| {
            s.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&quot;")
        };
        let reason = status.canonical_reason().unwrap_or("Error");
        let body = format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{code} {reason}</title>\
             <meta name=\"viewport\" content=\"width=device-width\"></head>\
             <body style=\"font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem\">\
             <h1>{code} {reason}</h1><p>{message}</p></body></html>\n",
            code = status.as_u16(),
            message = esc(&self.message()),
        );
        for (k, v) in r.headers.iter_mut() {
            if *k == header::CONTENT_TYPE {
                *v = HeaderValue::from_static("text/html; charset=utf-8");
            }
        }
        r.headers.push((
            HeaderName::from_static("content-security-policy"),
            HeaderValue::from_static(
                "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
            ),
        ));
        r.body = Bytes::from(body);
        r
    }
}

/// What a 503 asks the client to wait: about as long as a database restart takes.
pub const UNAVAILABLE_RETRY_SECS: u64 = 5;

impl From<crate::auth::Rejection> for Reject {
    /// The 401 for a presented but unusable token, worded by cause.
    fn from(r: crate::auth::Rejection) -> Self {
        use crate::auth::Rejection;
        if r == Rejection::KeyNotAllowed {
            return Reject::Forbidden(
                "API keys cannot use the account API; sign in with a session",
            );
        }
        let message = match r {
            Rejection::Malformed => "The Authorization header must be \"Bearer <token>\"",
            Rejection::Expired => "The token has expired",
            Rejection::Revoked => "The session has ended",
            Rejection::Inactive => "The account is deactivated",
            Rejection::Invalid => "The token is invalid",
            Rejection::KeyNotAllowed => "API keys cannot use the account API",
        };
        Reject::Unauthenticated {
            invalid_token: true,
            message,
        }
    }
}

impl From<crate::auth::NoIdentity> for Reject {
    fn from(n: crate::auth::NoIdentity) -> Self {
        use crate::auth::NoIdentity;
        match n {
            NoIdentity::Missing => Reject::Unauthenticated {
                invalid_token: false,
                message: "Authentication is required",
            },
            NoIdentity::Rejected(r) => r.into(),
            NoIdentity::Unavailable => Reject::Unavailable,
        }
    }
}

impl From<crate::auth::password::HashError> for Reject {
    fn from(e: crate::auth::password::HashError) -> Self {
        match e {
            crate::auth::password::HashError::Busy => {
                tracing::warn!("password check refused: every hashing thread is busy");
                Reject::Unavailable
            }
            crate::auth::password::HashError::Failed => {
                tracing::error!("password hashing failed");
                Reject::Internal
            }
        }
    }
}

impl From<crate::store::StoreError> for Reject {
    /// A database that cannot be reached is a 503 the client may retry; anything else is ours.
    fn from(e: crate::store::StoreError) -> Self {
        tracing::error!(error = %e, "store error");
        crate::metrics::db_error("query");
        if e.is_unreachable() {
            Reject::Unavailable
        } else {
            Reject::Internal
        }
    }
}

impl axum::response::IntoResponse for Reject {
    fn into_response(self) -> axum::response::Response {
        let r = self.render();
        let mut resp = axum::response::Response::new(axum::body::Body::from(r.body));
        *resp.status_mut() = r.status;
        resp.headers_mut().extend(r.headers);
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_shape_and_headers() {
        let r = Reject::RateLimited {
            retry_after_secs: 3,
        }
        .render();
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["statusCode"], 429);
        assert_eq!(v["error"], "Too Many Requests");
        assert_eq!(v["message"], v["statusMessage"]);
        assert!(r
            .headers
            .iter()
            .any(|(k, v)| k == header::RETRY_AFTER && v == "3"));
        let r = Reject::validation("email", "is required").render();
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["data"]["email"], "is required");
    }
}
