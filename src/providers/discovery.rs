//! Provider metadata and JWKS from `/.well-known/openid-configuration`, cached per issuer:
//! refreshed after an hour or on demand (an ID token signed by an unknown key), and served
//! stale when the provider cannot be reached (stale-if-error).

use openidconnect::core::CoreProviderMetadata;
use openidconnect::IssuerUrl;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

const FRESH_FOR: Duration = Duration::from_secs(3600);

#[derive(Default)]
pub struct Cache {
    entries: Mutex<HashMap<String, (CoreProviderMetadata, Instant)>>,
}

/// Why a provider's metadata could not be had.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("issuer URL: {0}")]
    Issuer(String),
    #[error("discovery failed: {0}")]
    Failed(String),
}

impl Cache {
    pub async fn metadata(
        &self,
        issuer: &str,
        http: &reqwest::Client,
        force: bool,
    ) -> Result<CoreProviderMetadata, DiscoveryError> {
        let mut entries = self.entries.lock().await;
        if let Some((meta, at)) = entries.get(issuer) {
            if !force && at.elapsed() < FRESH_FOR {
                return Ok(meta.clone());
            }
        }
        let url = IssuerUrl::new(issuer.to_string())
            .map_err(|e| DiscoveryError::Issuer(e.to_string()))?;
        match CoreProviderMetadata::discover_async(url, http).await {
            Ok(meta) => {
                entries.insert(issuer.to_string(), (meta.clone(), Instant::now()));
                Ok(meta)
            }
            Err(e) => match entries.get(issuer) {
                Some((stale, _)) => {
                    tracing::warn!(issuer, error = %e, "discovery failed; using cached metadata");
                    Ok(stale.clone())
                }
                None => Err(DiscoveryError::Failed(e.to_string())),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    /// A provider that can be switched off, serving discovery and an empty JWKS.
    async fn provider(up: Arc<AtomicBool>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let iss = base.clone();
        let app = axum::Router::new().fallback(move |uri: http::Uri| {
            let (up, iss) = (up.clone(), iss.clone());
            async move {
                let json = [(http::header::CONTENT_TYPE, "application/json")];
                if !up.load(Ordering::SeqCst) {
                    return (http::StatusCode::SERVICE_UNAVAILABLE, json, String::new());
                }
                let body = if uri.path().ends_with("jwks") {
                    r#"{"keys":[]}"#.to_string()
                } else {
                    serde_json::json!({
                        "issuer": iss, "authorization_endpoint": format!("{iss}/authorize"),
                        "token_endpoint": format!("{iss}/token"), "jwks_uri": format!("{iss}/jwks"),
                        "response_types_supported": ["code"], "subject_types_supported": ["public"],
                        "id_token_signing_alg_values_supported": ["RS256"],
                    })
                    .to_string()
                };
                (http::StatusCode::OK, json, body)
            }
        });
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        base
    }

    #[tokio::test]
    async fn serves_cached_metadata_when_the_provider_is_down() {
        let up = Arc::new(AtomicBool::new(true));
        let issuer = provider(up.clone()).await;
        let http = reqwest::Client::new();
        let cache = Cache::default();
        let first = cache.metadata(&issuer, &http, false).await.unwrap();
        up.store(false, Ordering::SeqCst);
        // A forced refresh fails at the provider and falls back to what was cached.
        let stale = cache.metadata(&issuer, &http, true).await.unwrap();
        assert_eq!(stale.issuer(), first.issuer());
        // Nothing cached for another issuer: the failure is reported.
        let other = Cache::default();
        assert!(other.metadata(&issuer, &http, false).await.is_err());
    }
}
