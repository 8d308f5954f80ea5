//! The integration suite: the real gateway binary, a real upstream, a real SQLite file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

/// This run keeps each gateway's data in a SQLite file; `tests/gateway_pg` runs the same
/// tests on PostgreSQL.
pub const ON_POSTGRES: bool = false;

mod api;
mod assertion;
mod attacks;
mod avatar;
mod boundary;
mod browser;
mod bruteforce;
#[path = "../differential/client.rs"]
#[allow(dead_code)]
mod client;
#[path = "../differential/corpus.rs"]
#[allow(dead_code)]
mod corpus;
mod explain_agrees;
mod faults;
mod harness;
mod logs;
mod mail;
mod oauth;
mod openapi;
mod operator;
mod ops;
mod pages;
mod pg;
mod proxy;
mod races;
mod reload;
mod sessions;
mod startup;
mod takeover;
mod users;
mod webdriver;
