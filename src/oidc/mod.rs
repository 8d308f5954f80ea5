//! The gateway as an OpenID provider, with no HTTP in it: signing keys, clients' credentials,
//! codes, grants and tokens, and the back-channel logouts owed when a session ends. The
//! endpoints that speak the protocol are `control::oidc`.

pub mod keys;
