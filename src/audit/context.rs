//! Who and where an event comes from, without threading it through every function: the
//! control plane runs each request inside [`scope`] (the client as the proxy saw it, the
//! request's id, method, host and path — never its query string), and the extractor that
//! authenticates the caller records them here ([`set_caller`]). Events built outside a
//! request (the CLI, upkeep) have none and are the system's.

use crate::request::ClientInfo;
use std::sync::{Arc, Mutex};

/// The request an event happened in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestMeta {
    pub id: Option<String>,
    pub method: Option<String>,
    pub host: Option<String>,
    /// Path only: a query string can carry a token or a code.
    pub path: Option<String>,
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user_id: i64,
    pub email: String,
    pub role: String,
    /// Set when an API key made the request.
    pub key_id: Option<String>,
}

#[derive(Debug, Default)]
pub struct Ctx {
    pub client: ClientInfo,
    pub request: RequestMeta,
    caller: Mutex<Option<Caller>>,
}

impl Ctx {
    pub fn new(client: ClientInfo, request: RequestMeta) -> Ctx {
        Ctx {
            client,
            request,
            caller: Mutex::new(None),
        }
    }

    pub fn caller(&self) -> Option<Caller> {
        self.caller.lock().ok().and_then(|c| c.clone())
    }
}

tokio::task_local! {
    static CTX: Arc<Ctx>;
}

/// Runs `f` with `ctx` as the current request's.
pub async fn scope<F: std::future::Future>(ctx: Ctx, f: F) -> F::Output {
    CTX.scope(Arc::new(ctx), f).await
}

/// The current request's context, if running inside one.
pub fn current() -> Option<Arc<Ctx>> {
    CTX.try_with(Arc::clone).ok()
}

/// Records `id` as the current request's authenticated caller.
pub fn authenticated(id: &crate::auth::Identity) {
    set_caller(Caller {
        user_id: id.user.id,
        email: id.user.email.clone(),
        role: id.user.role.clone(),
        key_id: id.key.as_ref().map(|k| k.id.clone()),
    });
}

/// Records the authenticated caller of the current request.
pub fn set_caller(caller: Caller) {
    if let Some(ctx) = current() {
        if let Ok(mut c) = ctx.caller.lock() {
            *c = Some(caller);
        }
    }
}

impl RequestMeta {
    /// From a request head: the path without its query.
    pub fn from_parts(
        method: &http::Method,
        uri: &http::Uri,
        headers: &http::HeaderMap,
    ) -> RequestMeta {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.chars().take(256).collect::<String>())
        };
        RequestMeta {
            id: header("x-request-id"),
            method: Some(method.as_str().to_string()),
            host: uri.host().map(str::to_string).or_else(|| header("host")),
            path: Some(uri.path().chars().take(1024).collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_caller_is_the_requests_and_the_query_never_kept() {
        assert!(current().is_none());
        let uri: http::Uri = "/api/nuxt-users/password/reset?token=s3cret"
            .parse()
            .unwrap();
        let mut h = http::HeaderMap::new();
        h.insert("host", "gw.example".parse().unwrap());
        h.insert("x-request-id", "r-1".parse().unwrap());
        let meta = RequestMeta::from_parts(&http::Method::POST, &uri, &h);
        assert_eq!(meta.path.as_deref(), Some("/api/nuxt-users/password/reset"));
        assert_eq!(meta.host.as_deref(), Some("gw.example"));
        let ctx = Ctx::new(ClientInfo::default(), meta);
        scope(ctx, async {
            set_caller(Caller {
                user_id: 7,
                email: "a@x.test".into(),
                role: "admin".into(),
                key_id: None,
            });
            assert_eq!(current().unwrap().caller().unwrap().user_id, 7);
        })
        .await;
        assert!(current().is_none());
    }
}
