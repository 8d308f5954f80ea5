//! argon2id hashing off the async threads, bounded in concurrency, with a dummy verify for
//! unknown users so response time does not reveal which emails exist.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString,
};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;
use tokio::sync::Semaphore;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("password hashing failed")]
    Failed,
}

/// OWASP's argon2id recommendation: m=19456 KiB, t=2, p=1.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub struct PasswordHasher {
    // Each hash takes ~19 MiB and ~15 ms of CPU; unbounded concurrency lets a login flood
    // exhaust memory and starve the proxy threads.
    permits: Arc<Semaphore>,
    dummy_hash: String,
}

impl PasswordHasher {
    pub fn new(max_concurrent: usize) -> Result<Self, HashError> {
        let dummy_hash = hash_blocking("portcullis-dummy-password-for-timing")?;
        Ok(PasswordHasher {
            permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
            dummy_hash,
        })
    }

    pub async fn hash(&self, password: &SecretString) -> Result<String, HashError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| HashError::Failed)?;
        let pw = password.expose_secret().to_string();
        tokio::task::spawn_blocking(move || hash_blocking(&pw))
            .await
            .map_err(|_| HashError::Failed)?
    }

    /// Verifies against `hash`, or against a dummy hash when there is none (unknown user,
    /// OAuth-only account) so both paths cost the same.
    pub async fn verify(&self, password: &SecretString, hash: Option<&str>) -> bool {
        let Ok(_permit) = self.permits.acquire().await else {
            return false;
        };
        let known = hash.is_some();
        let hash = hash.unwrap_or(&self.dummy_hash).to_string();
        let pw = password.expose_secret().to_string();
        let ok = tokio::task::spawn_blocking(move || verify_blocking(&pw, &hash))
            .await
            .unwrap_or(false);
        ok && known
    }
}

fn hash_blocking(password: &str) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| HashError::Failed)
}

fn verify_blocking(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            argon2()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_unknown_users_fail() {
        let h = PasswordHasher::new(2).unwrap();
        let pw = SecretString::from("correct horse battery");
        let hash = h.hash(&pw).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(h.verify(&pw, Some(&hash)).await);
        assert!(!h.verify(&SecretString::from("wrong"), Some(&hash)).await);
        // The dummy hash's own password must not log anyone in.
        let dummy = SecretString::from("portcullis-dummy-password-for-timing");
        assert!(!h.verify(&dummy, None).await);
    }
}
