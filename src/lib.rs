//! Portcullis: an authentication gateway on Pingora. It terminates the auth API, checks a
//! Bearer token or session cookie on every other request from memory, and forwards identity
//! headers to the app behind it.

pub mod access_line;
pub mod accounts;
pub mod admin;
pub mod app;
pub mod audit;
pub mod auth;
pub mod bootstrap;
pub mod certs;
pub mod cli;
pub mod clock;
pub mod config;
pub mod control;
pub mod decision;
pub mod directory;
pub mod edge_config;
pub mod error;
pub mod explain;
pub mod groups;
pub mod hosts;
pub mod ipfmt;
pub mod live;
pub mod logbuf;
pub mod logfmt;
pub mod mail;
pub mod metrics;
pub mod mfa;
pub mod oidc;
pub mod path;
pub mod priority;
pub mod providers;
pub mod proxy;
pub mod ratelimit;
pub mod redirect;
pub mod reload;
pub mod request;
pub mod routing;
pub mod scim;
pub mod startup;
pub mod state;
pub mod store;
pub mod tasks;
pub mod tunnels;
pub mod upstream;
pub mod whoami;
