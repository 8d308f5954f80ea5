//! Validation of how requests are routed: upstreams, routes, identity headers, API paths.

use super::error::ConfigError;
use super::file::{self, RouteSetting};
use super::runtime::*;
use crate::path::pattern::PathPattern;
use http::Method;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

pub(super) fn upstreams(
    ups: BTreeMap<String, file::UpstreamFile>,
    errs: &mut Vec<ConfigError>,
) -> BTreeMap<String, Upstream> {
    let mut out = BTreeMap::new();
    for (name, u) in ups {
        let path = format!("upstreams.{name}");
        let target = match (u.builtin.as_deref(), u.addrs.is_empty()) {
            (Some("whoami"), true) => UpstreamTarget::Whoami,
            (Some(other), true) => {
                errs.push(ConfigError::at(
                    format!("{path}.builtin"),
                    format!("{other:?} is not a built-in upstream; the one there is is \"whoami\""),
                ));
                continue;
            }
            (Some(_), false) => {
                errs.push(ConfigError::at(
                    &path,
                    "give either addrs or builtin, not both",
                ));
                continue;
            }
            (None, true) => {
                errs.push(ConfigError::at(
                    format!("{path}.addrs"),
                    "needs at least one address",
                ));
                continue;
            }
            (None, false) if u.addrs.iter().all(|a| a.parse::<SocketAddr>().is_ok()) => {
                UpstreamTarget::Addrs(u.addrs.iter().filter_map(|a| a.parse().ok()).collect())
            }
            // Names (or names and addresses): resolved at start and every few seconds after.
            (None, false) => UpstreamTarget::Named(
                u.addrs
                    .iter()
                    .enumerate()
                    .filter_map(|(i, a)| host_port(a, &format!("{path}.addrs[{i}]"), errs))
                    .collect(),
            ),
        };
        let d = |v: Option<super::HumanDuration>, default: u64| {
            v.map(|d| d.0).unwrap_or(Duration::from_secs(default))
        };
        out.insert(
            name,
            Upstream {
                target,
                connect_timeout: d(u.connect_timeout, 2),
                read_timeout: d(u.read_timeout, 30),
                write_timeout: d(u.write_timeout, 30),
                assertion: u.assertion,
            },
        );
    }
    out
}

/// `host:port` (a name, or an address), or the problem named at `path`.
fn host_port(text: &str, path: &str, errs: &mut Vec<ConfigError>) -> Option<(String, u16)> {
    if let Ok(a) = text.parse::<SocketAddr>() {
        return Some((a.ip().to_string(), a.port()));
    }
    let parsed = text.rsplit_once(':').and_then(|(host, port)| {
        let name_ok = !host.is_empty()
            && host.len() <= 253
            && host.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        Some((
            host.to_ascii_lowercase(),
            port.parse::<u16>().ok().filter(|p| *p > 0)?,
        ))
        .filter(|_| name_ok)
    });
    if parsed.is_none() {
        errs.push(ConfigError::at(
            path,
            format!("{text:?} is not an address like \"127.0.0.1:8080\" or a name like \"app.default.svc:3000\""),
        ));
    }
    parsed
}

pub(super) fn routes(
    rs: Vec<file::RouteFile>,
    upstreams: &BTreeMap<String, Upstream>,
    forward_token: bool,
    networks: &super::validate_policy::Networks,
    errs: &mut Vec<ConfigError>,
) -> Vec<Route> {
    let mut out = Vec::new();
    for (i, r) in rs.into_iter().enumerate() {
        let at = |k: &str| format!("routes[{i}].{k}");
        let path = match PathPattern::parse(&r.path) {
            Ok(p) => Some(p),
            Err(e) => {
                errs.push(ConfigError::at(at("path"), e.to_string()));
                None
            }
        };
        if !upstreams.contains_key(&r.upstream) {
            errs.push(ConfigError::at(
                at("upstream"),
                format!("no upstream named {:?} under `upstreams`", r.upstream),
            ));
        }
        let methods = r.methods.map(|ms| {
            ms.iter()
                .enumerate()
                .filter_map(
                    |(j, m)| match Method::from_bytes(m.to_ascii_uppercase().as_bytes()) {
                        Ok(m) => Some(m),
                        Err(_) => {
                            errs.push(ConfigError::at(
                                format!("routes[{i}].methods[{j}]"),
                                "not an HTTP method",
                            ));
                            None
                        }
                    },
                )
                .collect()
        });
        let (auth, policy) =
            super::validate_policy::route_policy(&at, r.auth, r.allow, r.deny, networks, errs);
        let rate_limit = r
            .rate_limit
            .and_then(|l| super::validate::limit(l, &at("rate_limit"), errs));
        if let Some(path) = path {
            out.push(Route {
                rate_limit,
                forward_token: r.forward_token.unwrap_or(forward_token),
                name: r.name.unwrap_or_else(|| format!("route{i}")),
                path,
                host: r.host.map(|h| h.to_ascii_lowercase()).filter(|h| {
                    let why = crate::hosts::pattern_error(h);
                    if let Some(why) = why {
                        errs.push(ConfigError::at(at("host"), format!("{h:?}: {why}")));
                    }
                    why.is_none()
                }),
                methods,
                policy,
                upstream: r.upstream,
                auth,
                redirect_browsers: match r.on_unauthenticated.as_deref() {
                    None | Some("redirect") => true,
                    Some("deny") => false,
                    Some(other) => {
                        errs.push(ConfigError::at(
                            at("on_unauthenticated"),
                            format!("{other:?} is not one of redirect, deny"),
                        ));
                        true
                    }
                },
            });
        }
    }
    out
}

pub(super) fn api_routes(a: file::ApiFile, errs: &mut Vec<ConfigError>) -> ApiRoutes {
    let mut out = ApiRoutes::default();
    let opt_in = EDGE_ROUTE_DEFAULTS.iter().map(|(k, d)| (*k, *d, false));
    for (key, default, on) in API_ROUTE_DEFAULTS
        .iter()
        .map(|(k, d)| (*k, *d, true))
        .chain(opt_in)
    {
        let setting = a.routes.get(key).cloned();
        let path = match setting {
            None => on.then(|| default.to_string()),
            Some(RouteSetting::Enabled(true)) => Some(default.to_string()),
            Some(RouteSetting::Enabled(false)) => None,
            Some(RouteSetting::Path(p)) if p.starts_with('/') && !p.contains(['*', '?', '#']) => {
                Some(p)
            }
            Some(RouteSetting::Path(p)) => {
                errs.push(ConfigError::at(
                    format!("api.routes.{key}"),
                    format!("{p:?} must be an absolute path like \"/api/login\", or false"),
                ));
                None
            }
        };
        *out.slot(key) = path;
    }
    let mut seen = std::collections::BTreeMap::new();
    let keys = API_ROUTE_DEFAULTS.iter().chain(EDGE_ROUTE_DEFAULTS);
    let paths = out.all().into_iter().chain(out.edges().map(|(_, at)| at));
    for ((key, _), path) in keys.zip(paths) {
        if let Some(p) = path {
            if let Some(first) = seen.insert(p.clone(), *key) {
                errs.push(ConfigError::at(
                    format!("api.routes.{key}"),
                    format!("{p:?} is already the path of api.routes.{first}"),
                ));
            }
        }
    }
    for key in a.routes.keys() {
        let mut known = API_ROUTE_DEFAULTS.iter().chain(EDGE_ROUTE_DEFAULTS);
        if !known.any(|(k, _)| k == key) {
            let known: Vec<_> = API_ROUTE_DEFAULTS
                .iter()
                .chain(EDGE_ROUTE_DEFAULTS)
                .map(|(k, _)| *k)
                .collect();
            errs.push(ConfigError::at(
                format!("api.routes.{key}"),
                format!("unknown API route; known: {}", known.join(", ")),
            ));
        }
    }
    out
}
