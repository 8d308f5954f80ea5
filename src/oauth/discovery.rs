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

impl Cache {
    pub async fn metadata(
        &self,
        issuer: &str,
        http: &reqwest::Client,
        force: bool,
    ) -> Result<CoreProviderMetadata, String> {
        let mut entries = self.entries.lock().await;
        if let Some((meta, at)) = entries.get(issuer) {
            if !force && at.elapsed() < FRESH_FOR {
                return Ok(meta.clone());
            }
        }
        let url = IssuerUrl::new(issuer.to_string()).map_err(|e| format!("issuer URL: {e}"))?;
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
                None => Err(format!("discovery failed: {e}")),
            },
        }
    }
}
