//! The page a browser sees when a sign-in fails: what happened, no session, no internals.

use axum::response::{Html, IntoResponse, Response};
use http::{header, HeaderValue, StatusCode};

/// A failure shown to the person in the browser: no session results from it.
pub struct Failure(StatusCode, String);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let body = format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>Sign-in failed</title></head>\
             <body><h1>Sign-in failed</h1><p>{}</p><p><a href=\"/\">Back</a></p></body></html>",
            escape_html(&self.1)
        );
        let mut r = (self.0, Html(body)).into_response();
        let h = r.headers_mut();
        h.insert(
            "x-content-type-options",
            HeaderValue::from_static("nosniff"),
        );
        h.insert(
            "content-security-policy",
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        r
    }
}

pub fn fail(status: StatusCode, msg: impl Into<String>) -> Failure {
    Failure(status, msg.into())
}

/// A failure of ours (the store, mostly): a 500 page that says so and nothing more; the cause
/// goes to the log where it happened.
pub fn ours() -> Failure {
    fail(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong on our side",
    )
}

pub fn escape_html(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '<' => "&lt;".into(),
            '>' => "&gt;".into(),
            '&' => "&amp;".into(),
            '"' => "&quot;".into(),
            '\'' => "&#39;".into(),
            c => c.to_string(),
        })
        .collect()
}
