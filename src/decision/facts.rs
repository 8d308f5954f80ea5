//! What a decision is made on: the request's head as plain data, gathered by the proxy from a
//! live request or by `explain` from what an operator describes.

use http::{HeaderMap, Method};
use std::net::IpAddr;

#[derive(Debug, Clone, Copy)]
pub struct RequestFacts<'a> {
    pub method: &'a Method,
    /// The request target exactly as sent (origin-form, absolute-form, `*`, or anything else).
    pub raw_target: &'a [u8],
    /// The `Host` header; the authority of an absolute-form target takes its place.
    pub host: Option<&'a str>,
    pub headers: &'a HeaderMap,
    /// The client (the right-most address not in `server.trusted_proxies`): for per-client
    /// limits and policies' `networks`.
    pub client_ip: Option<IpAddr>,
    /// An edge proxy's original request, asked about through forward-auth: the edge proxy
    /// sends the gateway's own paths to the gateway, so here every path is the apps'.
    pub forwarded: bool,
    /// When the request is decided (Unix seconds): policies' `time`.
    pub at: i64,
    /// Whether the request counts against the per-client limits (`explain` asks without
    /// spending anyone's allowance).
    pub count: bool,
}

impl RequestFacts<'_> {
    /// What a route policy reads of the request.
    pub fn policy(&self) -> super::policy::Facts<'_> {
        super::policy::Facts {
            method: self.method,
            ip: self.client_ip,
            at: self.at,
        }
    }
}
