//! The integration suite: the real gateway binary, a real upstream, a real SQLite file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod api;
mod avatar;
mod browser;
mod harness;
mod mail;
mod oauth;
mod ops;
mod pages;
mod proxy;
mod users;
mod webdriver;
