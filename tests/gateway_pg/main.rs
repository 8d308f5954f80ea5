//! The integration suite again, every test, with each gateway on a real PostgreSQL that the
//! harness starts (`initdb` + a server on a free port); plus what only a shared database
//! can show: several instances following each other's revocations, and database outages.
//! Skipped, saying so, where PostgreSQL is not installed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub const ON_POSTGRES: bool = true;

#[path = "../gateway/api.rs"]
mod api;
#[path = "../gateway/assertion.rs"]
mod assertion;
#[path = "../gateway/attacks.rs"]
mod attacks;
#[path = "../gateway/avatar.rs"]
mod avatar;
#[path = "../gateway/boundary.rs"]
mod boundary;
#[path = "../gateway/browser.rs"]
mod browser;
#[path = "../gateway/bruteforce.rs"]
mod bruteforce;
mod cluster;
#[path = "../gateway/faults.rs"]
mod faults;
#[path = "../gateway/harness.rs"]
mod harness;
#[path = "../gateway/logs.rs"]
mod logs;
#[path = "../gateway/mail.rs"]
mod mail;
#[path = "../gateway/oauth.rs"]
mod oauth;
#[path = "../gateway/openapi.rs"]
mod openapi;
#[path = "../gateway/operator.rs"]
mod operator;
#[path = "../gateway/ops.rs"]
mod ops;
#[path = "../gateway/pages.rs"]
mod pages;
#[path = "../gateway/pg.rs"]
mod pg;
#[path = "../gateway/proxy.rs"]
mod proxy;
#[path = "../gateway/races.rs"]
mod races;
#[path = "../gateway/reload.rs"]
mod reload;
#[path = "../gateway/sessions.rs"]
mod sessions;
#[path = "../gateway/takeover.rs"]
mod takeover;
#[path = "../gateway/users.rs"]
mod users;
#[path = "../gateway/webdriver.rs"]
mod webdriver;
