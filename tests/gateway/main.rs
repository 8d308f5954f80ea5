//! The integration suite: the real gateway binary, a real upstream, a real SQLite file. The
//! same suite runs again on PostgreSQL as `gateway_pg` (`pg_main.rs`); its modules are listed
//! once, in `suite.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

/// This pass keeps each gateway's data in a SQLite file.
pub const ON_POSTGRES: bool = false;

include!("suite.rs");
