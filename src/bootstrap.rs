//! First start: with no users at all, create an admin so the gateway is usable at once.

use crate::auth::policy;
use crate::auth::policy::normalize_email;
use crate::state::State;
use crate::store::{now, NewUser};
use rand::distr::{Alphanumeric, SampleString};
use secrecy::SecretString;

/// Why the first admin could not be created.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error("{0}")]
    Env(String),
    #[error("PORTCULLIS_ADMIN_EMAIL is not a valid email address")]
    Email,
    #[error("PORTCULLIS_ADMIN_PASSWORD {0}")]
    Password(policy::PasswordProblem),
    #[error("the first admin could not be stored")]
    Store(#[from] crate::store::StoreError),
    #[error("the first admin's password could not be hashed")]
    Hash(#[from] crate::auth::password::HashError),
}

pub async fn ensure_admin(state: &State) -> Result<(), BootstrapError> {
    if state.store.count_users().await? > 0 {
        return Ok(());
    }
    let env = |k: &str| crate::config::env::var(k).map_err(BootstrapError::Env);
    let raw_email = env("PORTCULLIS_ADMIN_EMAIL")?.unwrap_or_else(|| "admin@localhost".into());
    let email = normalize_email(&raw_email).ok_or(BootstrapError::Email)?;
    let (password, generated) = match env("PORTCULLIS_ADMIN_PASSWORD")? {
        Some(p) => {
            policy::check(&p, state.config().passwords.min_length)
                .map_err(BootstrapError::Password)?;
            (p, false)
        }
        None => (Alphanumeric.sample_string(&mut rand::rng(), 24), true),
    };
    let hash = state
        .passwords
        .hash(&SecretString::from(password.clone()))
        .await?;
    let new_user = NewUser {
        email: email.clone(),
        name: "Administrator".into(),
        role: "admin".into(),
        password_hash: Some(hash),
        active: true,
        email_verified: true,
        now: now(),
    };
    let event = crate::audit::changes::user_created("bootstrap", &new_user)
        .by_system("bootstrap")
        .build();
    state.store.create_user(new_user, &[event]).await?;
    if generated {
        // Printed once to the terminal, never to the log.
        println!("Created the first admin: {email}  password: {password}");
        println!("(shown once; change it with PATCH /api/profile, or set PORTCULLIS_ADMIN_EMAIL/PORTCULLIS_ADMIN_PASSWORD before the first start)");
    } else {
        tracing::info!(email = %email, "created the first admin from PORTCULLIS_ADMIN_EMAIL");
    }
    Ok(())
}
