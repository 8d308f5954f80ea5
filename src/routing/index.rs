//! The route table: first match wins, host and method included, indexed by first segment.

use crate::config::Route;
use crate::path::pattern::{Mode, EXACT};
use http::Method;

/// The routes grouped by their pattern's first literal segment, so a table of thousands of
/// rules tries only those that can match. Candidates are tried in table order: first match
/// still wins.
#[derive(Debug, Default)]
pub struct RouteIndex {
    by_first: std::collections::HashMap<String, Vec<usize>>,
    /// Routes whose pattern starts with a wildcard (or is `/`): candidates for every path.
    anywhere: Vec<usize>,
    /// Some literal has an uppercase letter: a case-insensitive server may read any path
    /// differently.
    uppercase: bool,
}

impl RouteIndex {
    pub fn new(routes: &[Route]) -> Self {
        let mut index = RouteIndex::default();
        for (i, r) in routes.iter().enumerate() {
            index.uppercase |= r.path.as_str().bytes().any(|b| b.is_ascii_uppercase());
            match r.path.first_literal() {
                Some(l) => index.by_first.entry(l.to_string()).or_default().push(i),
                None => index.anywhere.push(i),
            }
        }
        index
    }

    pub fn has_uppercase_literal(&self) -> bool {
        self.uppercase
    }

    /// The same answer as [`first_match`] in the [`EXACT`] reading, trying fewer routes.
    pub fn find(
        &self,
        routes: &[Route],
        host: Option<&str>,
        method: &Method,
        parts: &[&str],
    ) -> Option<usize> {
        let host = bare_host(host);
        let literal = parts
            .first()
            .and_then(|f| self.by_first.get(*f))
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        // Both lists are in table order; walk them as one.
        let (mut a, mut b) = (literal.iter().peekable(), self.anywhere.iter().peekable());
        loop {
            let i = match (a.peek(), b.peek()) {
                (Some(&&x), Some(&&y)) if x < y => a.next(),
                (Some(_), Some(_)) | (None, Some(_)) => b.next(),
                (Some(_), None) => a.next(),
                (None, None) => return None,
            };
            let i = *i?;
            if route_matches(&routes[i], host, method, parts, EXACT) {
                return Some(i);
            }
        }
    }
}

/// The first route matching host, method and path segments in a reading (a table scan).
pub fn first_match(
    routes: &[Route],
    host: Option<&str>,
    method: &Method,
    parts: &[&str],
    mode: Mode,
) -> Option<usize> {
    let host = bare_host(host);
    routes
        .iter()
        .position(|r| route_matches(r, host, method, parts, mode))
}

/// Host names compare case-insensitively and without the port.
pub fn bare_host(host: Option<&str>) -> Option<&str> {
    host.map(|h| match h.rsplit_once(':') {
        // An IPv6 literal keeps its colons inside brackets.
        Some((name, port)) if !port.contains(']') => name,
        _ => h,
    })
}

fn route_matches(
    r: &Route,
    host: Option<&str>,
    method: &Method,
    parts: &[&str],
    mode: Mode,
) -> bool {
    r.host
        .as_deref()
        .is_none_or(|h| host.is_some_and(|x| crate::hosts::matches(h, x)))
        && r.methods.as_ref().is_none_or(|ms| ms.contains(method))
        && r.path.matches_parts(parts, mode)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::pattern::{segments, PathPattern};

    fn parts(p: &str) -> Vec<&str> {
        segments(p).collect()
    }

    #[test]
    fn the_index_answers_as_the_table_does() {
        let patterns = [
            "/api/**",
            "/*/admin/**",
            "/api/users/*",
            "/",
            "/static/*.css",
            "/**",
            "/api",
            "/docs/**",
            "/*.ico",
            "/api/**",
            "/x/*/y",
        ];
        let route = |i: usize, p: &str| Route {
            name: format!("r{i}"),
            path: PathPattern::parse(p).unwrap_or_else(|e| panic!("{e}")),
            host: (i % 4 == 1).then(|| "a.test".to_string()),
            methods: (i % 3 == 2).then(|| vec![Method::POST]),
            upstream: "u".into(),
            auth: crate::config::AuthRule::None,
            policy: Default::default(),
            redirect_browsers: false,
            rate_limit: None,
            forward_token: false,
        };
        // Every rotation of the list, so each pattern comes first, last and between.
        for shift in 0..patterns.len() {
            let routes: Vec<Route> = (0..patterns.len())
                .map(|i| route(i, patterns[(i + shift) % patterns.len()]))
                .collect();
            let index = RouteIndex::new(&routes);
            for path in [
                "/",
                "/api",
                "/api/users/7",
                "/api/x/y/z",
                "/q/admin/p",
                "/static/a.css",
                "/favicon.ico",
                "/docs",
                "/x/1/y",
                "/nothing/here",
                "/API",
            ] {
                let p = parts(path);
                for host in [None, Some("a.test:8080"), Some("b.test")] {
                    for m in [Method::GET, Method::POST] {
                        assert_eq!(
                            index.find(&routes, host, &m, &p),
                            first_match(&routes, host, &m, &p, EXACT),
                            "{path} {host:?} {m} with rotation {shift}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn first_match_wins_with_host_and_method() {
        let cfg = crate::config::from_yaml(
            "upstreams: { a: { addrs: [\"127.0.0.1:1\"] } }\nroutes:\n  - { path: \"/x/**\", host: Api.Example.com, upstream: a, auth: none }\n  - { path: \"/x/**\", methods: [POST], upstream: a, auth: required }\n  - { path: \"/**\", upstream: a, auth: { roles: [admin] } }\n",
            &Default::default(),
            std::path::Path::new("."),
        )
        .unwrap();
        let p = parts("/x/1");
        let find = |host, m: &Method| first_match(&cfg.routes, host, m, &p, EXACT);
        assert_eq!(find(Some("api.example.com:8080"), &Method::GET), Some(0));
        assert_eq!(find(Some("other.example.com"), &Method::POST), Some(1));
        assert_eq!(find(None, &Method::GET), Some(2));
        assert_eq!(bare_host(Some("[::1]:80")), Some("[::1]"));
        assert_eq!(bare_host(Some("[::1]")), Some("[::1]"));
    }
}
