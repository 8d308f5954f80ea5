//! Authentication: credentials, tokens, the session cache, passwords and their policy.

/// The role that administers users (the users API, the admin console).
pub const ADMIN_ROLE: &str = "admin";

pub mod all_claims;
pub mod amr;
pub mod api_keys;
pub mod assertion;
pub mod authenticate;
pub mod backoff;
pub mod cache;
pub mod follow;
pub mod keys;
pub mod one_time;
pub mod password;
pub mod policy;
pub mod tokens;
pub mod verified;

pub use amr::Amr;
pub use authenticate::{require, Authenticator, Authn, Identity, NoIdentity, Rejection};
pub use cache::{CachedUser, SessionCache, SessionEntry};
pub use password::PasswordHasher;
pub use tokens::{Claims, KeyMaterial, TokenKeys};
