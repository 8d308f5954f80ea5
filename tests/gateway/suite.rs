// The integration suite's modules, listed once for both passes (`main.rs`: SQLite,
// `pg_main.rs`: PostgreSQL).

mod api;
mod api_keys;
mod audit;
mod assertion;
mod attacks;
mod avatar;
mod boundary;
mod browser;
mod bruteforce;
mod chart;
mod cluster;
mod console;
mod container;
mod deployment;
mod edge;
mod edges;
#[path = "../differential/client.rs"]
#[allow(dead_code)]
mod client;
#[path = "../differential/corpus.rs"]
#[allow(dead_code)]
mod corpus;
mod explain_agrees;
mod faults;
mod harness;
mod hosts;
mod hsts;
mod ldap;
mod logs;
mod mfa;
mod mail;
mod oauth;
mod oidc;
mod oidc_apache;
mod oidc_operations;
mod oidc_refusals;
mod oidc_subjects;
mod op;
mod openapi;
mod operator;
mod ops;
mod pages;
mod pg;
mod policies;
mod proxy;
mod races;
mod reload;
mod sessions;
mod startup;
mod syscalls;
mod takeover;
mod tls;
mod tunnels;
mod users;
mod webdriver;
