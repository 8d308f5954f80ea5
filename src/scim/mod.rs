//! SCIM 2.0 provisioning (RFC 7643 / RFC 7644), with no HTTP in it: what a request asks of
//! the store, decided by plain functions. Issue #35; the endpoints come with the store's side.

pub mod filter;
pub mod patch;
