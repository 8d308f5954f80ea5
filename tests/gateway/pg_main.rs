//! The integration suite again, every test, with each gateway on a real PostgreSQL that the
//! harness starts (`initdb` + a server on a free port); plus what only a shared database can
//! show (`cluster`: several instances following each other's revocations, database outages).
//! Skipped, saying so, where PostgreSQL is not installed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

/// This pass gives each gateway a database on PostgreSQL.
pub const ON_POSTGRES: bool = true;

include!("suite.rs");
