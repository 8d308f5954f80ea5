//! Account flows without a transport: signing in, sessions (start, renew, end), sign-up,
//! password reset and change, magic links, email changes, avatars. The control plane's
//! handlers (JSON APIs, pages, OAuth) call these; they know nothing of HTTP.

pub mod api_keys;
pub mod avatar;
pub mod directory;
pub mod email_change;
pub mod groups;
pub mod links;
pub mod login;
pub mod magic;
pub mod mfa;
pub mod oidc_apps;
pub mod passkeys;
pub mod password;
pub mod profile;
pub mod recovery;
pub mod sessions;
pub mod signup;
