//! Route matching: compiled path patterns, first match wins, read the way the gateway reads a
//! path or the way a lenient server might (see [`super::readings`]).

use crate::config::Route;
use http::Method;

/// One segment of a compiled path pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Lit(Lit),
    /// `*`: exactly one segment.
    Any,
    /// `*` inside a segment, e.g. `*.css`: prefix and suffix around it.
    Glob(String, String),
    /// `**`: zero or more segments.
    Rest,
}

/// A literal segment, and how a browser would percent-encode it when that differs (a server
/// matching still-encoded paths sees that spelling).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Lit {
    text: String,
    encoded: Option<String>,
}

impl Lit {
    fn new(text: &str) -> Self {
        let mut enc = String::with_capacity(text.len());
        for b in text.bytes() {
            if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b) {
                enc.push(b as char);
            } else {
                enc.push_str(&format!("%{b:02X}"));
            }
        }
        Lit {
            text: text.to_string(),
            encoded: (enc != text).then_some(enc),
        }
    }
}

/// How path segments are compared with a pattern's literals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Mode {
    /// The segments are still percent-encoded: a literal also matches its encoded spelling.
    pub encoded: bool,
    /// ASCII case is ignored (the segments were already folded as a lenient server would).
    pub loose: bool,
}

/// The gateway's own reading: decoded segments compared exactly.
pub const EXACT: Mode = Mode {
    encoded: false,
    loose: false,
};

/// A path pattern such as `/admin/**`, `/static/*.css` or `/api/items/*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPattern {
    segs: Vec<Seg>,
    source: String,
}

impl PathPattern {
    pub fn parse(text: &str) -> Result<Self, String> {
        if !text.starts_with('/') {
            return Err(format!("{text:?} must start with '/'"));
        }
        let mut segs = Vec::new();
        for s in text.split('/').filter(|s| !s.is_empty()) {
            let seg = match s {
                "**" => Seg::Rest,
                "*" => Seg::Any,
                _ if s.contains("**") => {
                    return Err(format!("{text:?}: '**' must be a whole segment"))
                }
                _ => match s.split_once('*') {
                    Some((_, rest)) if rest.contains('*') => {
                        return Err(format!("{text:?}: at most one '*' inside a segment"))
                    }
                    Some((pre, post)) => Seg::Glob(pre.to_string(), post.to_string()),
                    None if s == "." || s == ".." => {
                        return Err(format!("{text:?}: dot segments are not allowed"))
                    }
                    None => Seg::Lit(Lit::new(s)),
                },
            };
            segs.push(seg);
        }
        Ok(PathPattern {
            segs,
            source: text.to_string(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether a decoded path matches, read as the gateway reads it.
    pub fn matches(&self, decoded_path: &str) -> bool {
        let parts: Vec<&str> = segments(decoded_path).collect();
        match_from(&self.segs, &parts, EXACT)
    }

    /// The first segment when it is a literal: only paths starting with it can match.
    fn first_literal(&self) -> Option<&str> {
        match self.segs.first() {
            Some(Seg::Lit(l)) => Some(&l.text),
            _ => None,
        }
    }
}

/// The non-empty segments of a path.
pub fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}

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
            index.uppercase |= r.path.source.bytes().any(|b| b.is_ascii_uppercase());
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

/// Matches pattern segments against path segments in the given reading.
fn match_from(pat: &[Seg], parts: &[&str], mode: Mode) -> bool {
    match pat.split_first() {
        None => parts.is_empty(),
        Some((Seg::Rest, rest)) => {
            (0..=parts.len()).any(|skip| match_from(rest, &parts[skip..], mode))
        }
        Some((seg, rest)) => match parts.split_first() {
            None => false,
            Some((part, more)) => {
                let eq = |a: &[u8], b: &[u8]| {
                    if mode.loose {
                        a.eq_ignore_ascii_case(b)
                    } else {
                        a == b
                    }
                };
                let (p, n) = (part.as_bytes(), part.len());
                let ok = match seg {
                    Seg::Lit(l) => {
                        eq(l.text.as_bytes(), p)
                            || (mode.encoded
                                && l.encoded.as_ref().is_some_and(|e| eq(e.as_bytes(), p)))
                    }
                    Seg::Any => true,
                    Seg::Glob(pre, post) => {
                        n >= pre.len() + post.len()
                            && eq(&p[..pre.len()], pre.as_bytes())
                            && eq(&p[n - post.len()..], post.as_bytes())
                    }
                    Seg::Rest => false,
                };
                ok && match_from(rest, more, mode)
            }
        },
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
        .is_none_or(|h| host.is_some_and(|x| x.eq_ignore_ascii_case(h)))
        && r.methods.as_ref().is_none_or(|ms| ms.contains(method))
        && match_from(&r.path.segs, parts, mode)
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn m(pat: &str, path: &str) -> bool {
        PathPattern::parse(pat).map(|p| p.matches(path)) == Ok(true)
    }

    #[test]
    fn double_star_matches_zero_or_more_segments() {
        assert!(m("/public/**", "/public"));
        assert!(m("/public/**", "/public/"));
        assert!(m("/public/**", "/public/a/b/c"));
        assert!(!m("/public/**", "/publicx"));
        assert!(m("/**", "/"));
        assert!(m("/a/**/z", "/a/b/c/z"));
        assert!(!m("/a/**/z", "/a/b/c"));
    }

    #[test]
    fn single_star_and_globs() {
        assert!(m("/items/*", "/items/42"));
        assert!(!m("/items/*", "/items/42/x"));
        assert!(m("/static/*.css", "/static/site.css"));
        assert!(!m("/static/*.css", "/static/site.js"));
    }

    #[test]
    fn literals_match_their_encoded_spelling_in_the_encoded_reading() {
        let p = PathPattern::parse("/café/**").unwrap();
        let enc = Mode {
            encoded: true,
            loose: false,
        };
        assert!(match_from(&p.segs, &parts("/caf%C3%A9/x"), enc));
        assert!(!match_from(&p.segs, &parts("/caf%C3%A9/x"), EXACT));
        assert!(match_from(&p.segs, &parts("/café/x"), EXACT));
        let p = PathPattern::parse("/public/**").unwrap();
        assert!(!match_from(&p.segs, &parts("/%70ublic/x"), enc));
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

    #[test]
    fn bad_patterns_are_reported() {
        assert!(PathPattern::parse("admin").is_err());
        assert!(PathPattern::parse("/a**").is_err());
        assert!(PathPattern::parse("/a/*x*").is_err());
        assert!(PathPattern::parse("/a/../b").is_err());
    }
}
