//! Errors in the protocol's own words (RFC 6749 §4.1.2.1 and §5.2, Core §3.1.2.6, RFC 6750
//! §3.1): a code, a description for people, and the status the endpoint answers with. The
//! control plane writes them out; nothing internal goes into a description.

use http::StatusCode;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub code: &'static str,
    pub description: String,
    pub status: StatusCode,
}

impl OAuthError {
    fn new(code: &'static str, status: StatusCode, description: impl Into<String>) -> Self {
        OAuthError {
            code,
            description: description.into(),
            status,
        }
    }

    pub fn invalid_request(d: impl Into<String>) -> Self {
        Self::new("invalid_request", StatusCode::BAD_REQUEST, d)
    }
    /// RFC 6749 §5.2: 401 where the client tried the Authorization header.
    pub fn invalid_client(d: impl Into<String>) -> Self {
        Self::new("invalid_client", StatusCode::UNAUTHORIZED, d)
    }
    pub fn invalid_grant(d: impl Into<String>) -> Self {
        Self::new("invalid_grant", StatusCode::BAD_REQUEST, d)
    }
    pub fn unauthorized_client(d: impl Into<String>) -> Self {
        Self::new("unauthorized_client", StatusCode::BAD_REQUEST, d)
    }
    pub fn unsupported_grant_type(d: impl Into<String>) -> Self {
        Self::new("unsupported_grant_type", StatusCode::BAD_REQUEST, d)
    }
    pub fn unsupported_response_type(d: impl Into<String>) -> Self {
        Self::new("unsupported_response_type", StatusCode::BAD_REQUEST, d)
    }
    pub fn invalid_scope(d: impl Into<String>) -> Self {
        Self::new("invalid_scope", StatusCode::BAD_REQUEST, d)
    }
    pub fn access_denied(d: impl Into<String>) -> Self {
        Self::new("access_denied", StatusCode::FORBIDDEN, d)
    }
    pub fn login_required(d: impl Into<String>) -> Self {
        Self::new("login_required", StatusCode::BAD_REQUEST, d)
    }
    pub fn consent_required(d: impl Into<String>) -> Self {
        Self::new("consent_required", StatusCode::BAD_REQUEST, d)
    }
    pub fn interaction_required(d: impl Into<String>) -> Self {
        Self::new("interaction_required", StatusCode::BAD_REQUEST, d)
    }
    /// RFC 6750 §3.1.
    pub fn invalid_token(d: impl Into<String>) -> Self {
        Self::new("invalid_token", StatusCode::UNAUTHORIZED, d)
    }
    pub fn insufficient_scope(d: impl Into<String>) -> Self {
        Self::new("insufficient_scope", StatusCode::FORBIDDEN, d)
    }
    pub fn slow_down(d: impl Into<String>) -> Self {
        Self::new("slow_down", StatusCode::TOO_MANY_REQUESTS, d)
    }
    /// The store or a key failed: the details are logged, never sent.
    pub fn server_error() -> Self {
        Self::new(
            "server_error",
            StatusCode::SERVICE_UNAVAILABLE,
            "The provider cannot answer now; try again",
        )
    }
    pub fn temporarily_unavailable() -> Self {
        Self::new(
            "temporarily_unavailable",
            StatusCode::SERVICE_UNAVAILABLE,
            "The provider cannot answer now; try again",
        )
    }
}

impl From<crate::store::StoreError> for OAuthError {
    fn from(e: crate::store::StoreError) -> Self {
        tracing::error!(error = %e, "the OpenID provider's store failed");
        OAuthError::server_error()
    }
}
