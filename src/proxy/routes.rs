//! Route matching: compiled path patterns, request-path canonicalisation, first match wins.

use crate::config::Route;
use http::Method;

/// One segment of a compiled path pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Lit(String),
    /// `*`: exactly one segment.
    Any,
    /// `*` inside a segment, e.g. `*.css`: prefix and suffix around it.
    Glob(String, String),
    /// `**`: zero or more segments.
    Rest,
}

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
                    None => Seg::Lit(s.to_string()),
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

    pub fn matches(&self, path: &CanonicalPath) -> bool {
        let parts: Vec<&str> = path.segments().collect();
        self.matches_parts(&parts, false)
    }

    fn matches_parts(&self, parts: &[&str], loose: bool) -> bool {
        match_from(&self.segs, parts, loose)
    }

    /// The first segment when it is a literal: only paths starting with it can match.
    fn first_literal(&self) -> Option<&str> {
        match self.segs.first() {
            Some(Seg::Lit(l)) => Some(l),
            _ => None,
        }
    }
}

/// The routes grouped by their pattern's first literal segment, so a table of thousands of
/// rules tries only those that can match. Candidates are tried in table order: first match
/// still wins.
#[derive(Debug, Default)]
pub struct RouteIndex {
    by_first: std::collections::HashMap<String, Vec<usize>>,
    /// Routes whose pattern starts with a wildcard (or is `/`): candidates for every path.
    anywhere: Vec<usize>,
}

impl RouteIndex {
    pub fn new(routes: &[Route]) -> Self {
        let mut index = RouteIndex::default();
        for (i, r) in routes.iter().enumerate() {
            match r.path.first_literal() {
                Some(l) => index.by_first.entry(l.to_string()).or_default().push(i),
                None => index.anywhere.push(i),
            }
        }
        index
    }

    /// The same answer as [`find`], trying fewer routes.
    pub fn find(
        &self,
        routes: &[Route],
        host: Option<&str>,
        method: &Method,
        path: &CanonicalPath,
    ) -> Option<usize> {
        let host = bare_host(host);
        let parts: Vec<&str> = path.segments().collect();
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
            if route_matches(&routes[i], host, method, &parts, false) {
                return Some(i);
            }
        }
    }
}

/// Matches pattern segments against path segments. `loose` reads each path segment as a
/// lenient server might: ASCII case ignored and `;parameters` dropped.
fn match_from(pat: &[Seg], parts: &[&str], loose: bool) -> bool {
    match pat.split_first() {
        None => parts.is_empty(),
        Some((Seg::Rest, rest)) => {
            (0..=parts.len()).any(|skip| match_from(rest, &parts[skip..], loose))
        }
        Some((seg, rest)) => match parts.split_first() {
            None => false,
            Some((part, more)) => {
                let part = if loose {
                    part.split(';').next().unwrap_or("")
                } else {
                    part
                };
                let eq = |a: &[u8], b: &[u8]| {
                    if loose {
                        a.eq_ignore_ascii_case(b)
                    } else {
                        a == b
                    }
                };
                let (p, n) = (part.as_bytes(), part.len());
                let ok = match seg {
                    Seg::Lit(l) => eq(l.as_bytes(), p),
                    Seg::Any => true,
                    Seg::Glob(pre, post) => {
                        n >= pre.len() + post.len()
                            && eq(&p[..pre.len()], pre.as_bytes())
                            && eq(&p[n - post.len()..], post.as_bytes())
                    }
                    Seg::Rest => false,
                };
                ok && match_from(rest, more, loose)
            }
        },
    }
}

/// A request path in the form the upstream will most likely understand it: percent-decoded,
/// without empty segments. Paths whose meaning depends on who decodes them are refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalPath(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadPath {
    /// `.`/`..` segments (raw or encoded), backslashes, NUL or control characters, bad escapes.
    Ambiguous,
}

impl CanonicalPath {
    /// Canonicalises the path part of a request target (no query).
    pub fn new(raw: &str) -> Result<Self, BadPath> {
        let decoded = percent_decode(raw).ok_or(BadPath::Ambiguous)?;
        if decoded.contains('\\') || decoded.chars().any(|c| c.is_control()) {
            return Err(BadPath::Ambiguous);
        }
        let mut out = String::with_capacity(decoded.len());
        for seg in decoded.split('/').filter(|s| !s.is_empty()) {
            if seg == "." || seg == ".." {
                return Err(BadPath::Ambiguous);
            }
            out.push('/');
            out.push_str(seg);
        }
        if out.is_empty() {
            out.push('/');
        }
        Ok(CanonicalPath(out))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/').filter(|s| !s.is_empty())
    }
}

/// The path to forward when it differs from the raw one: encoded slashes decoded and runs of
/// slashes collapsed, so the upstream is sent the segments the route was chosen on. Other
/// escapes are kept as the client sent them. `None` (the usual case) means forward as is.
pub fn forward_form(raw: &str) -> Option<String> {
    let b = raw.as_bytes();
    let encoded_slash = |i: usize| {
        b[i] == b'%'
            && b.get(i + 1..i + 3)
                .is_some_and(|h| h.eq_ignore_ascii_case(b"2f"))
    };
    let needs =
        (0..b.len()).any(|i| encoded_slash(i) || (b[i] == b'/' && b.get(i + 1) == Some(&b'/')));
    if !needs {
        return None;
    }
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    while i < b.len() {
        let slash = b[i] == b'/' || encoded_slash(i);
        if slash {
            if !out.ends_with('/') {
                out.push('/');
            }
            i += if b[i] == b'/' { 1 } else { 3 };
        } else {
            // Multi-byte characters are copied whole: `i` only stops at ASCII boundaries here.
            let next = raw[i..].chars().next().map_or(1, char::len_utf8);
            out.push_str(&raw[i..i + next]);
            i += next;
        }
    }
    Some(out)
}

pub fn percent_decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let s = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(s, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The first route matching host, method and path, by index into the config's routes.
pub fn find(
    routes: &[Route],
    host: Option<&str>,
    method: &Method,
    path: &CanonicalPath,
) -> Option<usize> {
    first_match(routes, host, method, path, false)
}

/// The first route matching, read strictly or (`loose`) as a lenient server would.
fn first_match(
    routes: &[Route],
    host: Option<&str>,
    method: &Method,
    path: &CanonicalPath,
    loose: bool,
) -> Option<usize> {
    let host = bare_host(host);
    let parts: Vec<&str> = path.segments().collect();
    routes
        .iter()
        .position(|r| route_matches(r, host, method, &parts, loose))
}

/// Whether a lenient upstream — one that ignores ASCII case or drops `;parameters`, as
/// IIS, Tomcat and Spring do — could read this path as one that a *different* route governs.
/// Such a path is refused rather than authorized under the wrong rule. Paths with neither
/// uppercase letters nor `;` cannot differ and cost nothing.
pub fn ambiguous_route(
    routes: &[Route],
    host: Option<&str>,
    method: &Method,
    path: &CanonicalPath,
    exact: Option<usize>,
) -> bool {
    let p = path.as_str();
    if !p.bytes().any(|b| b.is_ascii_uppercase() || b == b';') {
        return false;
    }
    let loose = first_match(routes, host, method, path, true);
    loose.is_some() && loose != exact
}

/// Host names compare case-insensitively and without the port.
fn bare_host(host: Option<&str>) -> Option<&str> {
    host.map(|h| h.rsplit_once(':').map_or(h, |(name, _)| name))
}

fn route_matches(
    r: &Route,
    host: Option<&str>,
    method: &Method,
    parts: &[&str],
    loose: bool,
) -> bool {
    r.host
        .as_deref()
        .is_none_or(|h| host.is_some_and(|x| x.eq_ignore_ascii_case(h)))
        && r.methods.as_ref().is_none_or(|ms| ms.contains(method))
        && r.path.matches_parts(parts, loose)
}

#[cfg(test)]
mod tests {
    use super::*;

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
                let p = CanonicalPath::new(path).unwrap_or_else(|_| panic!("{path}"));
                for host in [None, Some("a.test:8080"), Some("b.test")] {
                    for m in [Method::GET, Method::POST] {
                        assert_eq!(
                            index.find(&routes, host, &m, &p),
                            find(&routes, host, &m, &p),
                            "{path} {host:?} {m} with rotation {shift}"
                        );
                    }
                }
            }
        }
    }

    fn m(pat: &str, path: &str) -> bool {
        PathPattern::parse(pat)
            .map(|p| p.matches(&CanonicalPath::new(path).unwrap_or(CanonicalPath("/#".into()))))
            == Ok(true)
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
    fn canonical_form_decodes_and_collapses() {
        assert_eq!(
            CanonicalPath::new("//admin///x").map(|p| p.0),
            Ok("/admin/x".into())
        );
        assert_eq!(
            CanonicalPath::new("/%61dmin").map(|p| p.0),
            Ok("/admin".into())
        );
        assert_eq!(
            CanonicalPath::new("/admin%2Fx").map(|p| p.0),
            Ok("/admin/x".into())
        );
    }

    #[test]
    fn the_forwarded_path_has_the_matched_segments() {
        assert_eq!(forward_form("/admin/x"), None);
        assert_eq!(forward_form("/a%20b/%2e"), None);
        assert_eq!(forward_form("//admin///x/"), Some("/admin/x/".into()));
        assert_eq!(forward_form("/admin%2Fpanel"), Some("/admin/panel".into()));
        assert_eq!(
            forward_form("/admin%2f%2Fpanel"),
            Some("/admin/panel".into())
        );
        assert_eq!(forward_form("/zoë//x"), Some("/zoë/x".into()));
    }

    #[test]
    fn ambiguous_paths_are_refused() {
        for p in [
            "/public/../admin",
            "/public/%2e%2e/admin",
            "/a/./b",
            "/a\\b",
            "/a%5cb",
            "/a%00",
            "/%zz",
            "/%c3",
        ] {
            assert_eq!(CanonicalPath::new(p), Err(BadPath::Ambiguous), "{p}");
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
        let p = CanonicalPath::new("/x/1").unwrap();
        assert_eq!(
            find(&cfg.routes, Some("api.example.com:8080"), &Method::GET, &p),
            Some(0)
        );
        assert_eq!(
            find(&cfg.routes, Some("other.example.com"), &Method::POST, &p),
            Some(1)
        );
        assert_eq!(find(&cfg.routes, None, &Method::GET, &p), Some(2));
    }

    #[test]
    fn case_and_parameters_that_change_the_route_are_ambiguous() {
        let cfg = crate::config::from_yaml(
            "upstreams: { a: { addrs: [\"127.0.0.1:1\"] } }\nroutes:\n  - { path: \"/public/**\", upstream: a, auth: none }\n  - { path: \"/admin/**\", upstream: a, auth: { roles: [admin] } }\n  - { path: \"/static/*.css\", upstream: a, auth: none }\n  - { path: \"/**\", upstream: a, auth: required }\n",
            &Default::default(),
            std::path::Path::new("."),
        )
        .unwrap();
        let amb = |path: &str| {
            let p = CanonicalPath::new(path).unwrap();
            let exact = find(&cfg.routes, None, &Method::GET, &p);
            ambiguous_route(&cfg.routes, None, &Method::GET, &p, exact)
        };
        for p in [
            "/ADMIN/x",
            "/Admin/x",
            "/admin;jsessionid=1/x",
            "/PUBLIC/x",
            "/static/A.CSS",
            "/static/a.css;x",
        ] {
            assert!(amb(p), "{p}");
        }
        for p in [
            "/admin/X",
            "/public/Readme",
            "/users/ABC",
            "/app;v=1",
            "/admin/x;y",
            "/static/a.css",
        ] {
            assert!(!amb(p), "{p}");
        }
    }

    #[test]
    fn bad_patterns_are_reported() {
        assert!(PathPattern::parse("admin").is_err());
        assert!(PathPattern::parse("/a**").is_err());
        assert!(PathPattern::parse("/a/*x*").is_err());
        assert!(PathPattern::parse("/a/../b").is_err());
    }
}
