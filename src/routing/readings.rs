//! The route a path selects, checked against every way a real app server might read the same
//! path: still encoded (Express, many Node routers), decoded twice, with ASCII case ignored
//! (IIS, Express by default), with `;parameters` dropped (Tomcat, Jetty, Spring), with trailing
//! dots and spaces trimmed (Windows), or after Unicode compatibility folding. When any reading
//! selects another route, the request is refused instead of authorised under the wrong rule.

use super::index::{first_match, RouteIndex};
use crate::config::Route;
use crate::path::pattern::{segments, Mode};
use crate::path::target::{BadTarget, Target};
use http::Method;
use std::borrow::Cow;
use unicode_normalization::UnicodeNormalization;

/// The route the gateway decides on (`None`: no route), or why the path is refused.
pub fn route(
    index: &RouteIndex,
    routes: &[Route],
    host: Option<&str>,
    method: &Method,
    target: &Target,
) -> Result<Option<usize>, BadTarget> {
    let decided_parts: Vec<&str> = segments(&target.decoded).collect();
    let decided = index.find(routes, host, method, &decided_parts);
    let encoded = target.path.contains('%').then_some(target.path.as_str());
    let readings = [
        Some((target.decoded.as_str(), false)),
        encoded.map(|p| (p, true)),
        target.twice.as_deref().map(|p| (p, false)),
    ];
    let fold_literals = index.has_uppercase_literal();
    for (i, (path, encoded)) in readings.into_iter().flatten().enumerate() {
        let other_parts: Vec<&str>;
        let parts = if i == 0 {
            // The decoded, exact reading is the decision itself.
            &decided_parts
        } else {
            other_parts = segments(path).collect();
            let mode = Mode {
                encoded,
                loose: false,
            };
            if first_match(routes, host, method, &other_parts, mode) != decided {
                return Err(BadTarget::RouteDepends);
            }
            &other_parts
        };
        // Compared again folded only where folding changes a segment (`fold` returns it as it
        // is, allocating nothing, unless it does) or it has upper case, or literals need it.
        let changed = parts.iter().any(|p| {
            !matches!(fold(p), Some(Cow::Borrowed(_))) || p.bytes().any(|b| b.is_ascii_uppercase())
        });
        if changed || fold_literals {
            let folded: Vec<Cow<str>> = parts.iter().filter_map(|p| fold(p)).collect();
            let folded: Vec<&str> = folded.iter().map(AsRef::as_ref).collect();
            let mode = Mode {
                encoded,
                loose: true,
            };
            if first_match(routes, host, method, &folded, mode) != decided {
                return Err(BadTarget::RouteDepends);
            }
        }
    }
    Ok(decided)
}

/// A segment as a lenient server reads it: `;parameters` dropped, trailing dots and spaces
/// trimmed, compatibility characters folded (case is compared loosely by the matcher).
/// `None` when nothing is left: such servers then drop the segment.
fn fold(seg: &str) -> Option<Cow<'_, str>> {
    let bare = seg.split(';').next().unwrap_or("");
    let trimmed = bare.trim_end_matches([' ', '.']);
    if trimmed.is_empty() {
        return None;
    }
    if !trimmed.is_ascii() {
        return Some(Cow::Owned(trimmed.nfkc().collect()));
    }
    Some(if trimmed.len() == seg.len() {
        Cow::Borrowed(seg)
    } else {
        Cow::Owned(trimmed.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::target::{parse, Parsed};

    fn table() -> crate::config::Config {
        crate::config::from_yaml(
            "upstreams: { a: { addrs: [\"127.0.0.1:1\"] } }\nroutes:\n  - { path: \"/public/**\", upstream: a, auth: none }\n  - { path: \"/admin/**\", upstream: a, auth: { roles: [admin] } }\n  - { path: \"/static/*.css\", upstream: a, auth: none }\n  - { path: \"/café/**\", upstream: a, auth: none }\n  - { path: \"/**\", upstream: a, auth: required }\n",
            &Default::default(),
            std::path::Path::new("."),
        )
        .unwrap()
    }

    fn decide(cfg: &crate::config::Config, raw: &str) -> Result<Option<usize>, BadTarget> {
        let index = RouteIndex::new(&cfg.routes);
        let Ok(Parsed::Path(t)) = parse(raw.as_bytes(), &Method::GET, |_| false) else {
            return Err(BadTarget::NotOriginForm);
        };
        route(&index, &cfg.routes, None, &Method::GET, &t)
    }

    #[test]
    fn readings_that_change_the_route_are_refused() {
        let cfg = table();
        for p in [
            "/ADMIN/x",
            "/Admin/x",
            "/admin;jsessionid=1/x",
            "/admin;/x",
            "/;x/admin/x",
            "/admin./x",
            "/admin%20/x",
            "/PUBLIC/x",
            "/static/A.CSS",
            "/static/a.css;x",
            "/%70ublic/x",
            "/%61dmin/x",
            "/public%3Bx/y",
            "/ａｄｍｉｎ/x",
            "/%EF%BD%81dmin/x",
            "/p%2575blic/x",
        ] {
            assert_eq!(decide(&cfg, p), Err(BadTarget::RouteDepends), "{p}");
        }
    }

    #[test]
    fn legitimate_paths_pass() {
        let cfg = table();
        for (p, route) in [
            ("/admin/X", Some(1)),
            ("/public/Readme", Some(0)),
            ("/users/ABC", Some(4)),
            ("/app;v=1", Some(4)),
            ("/admin/x;y", Some(1)),
            ("/public/a%20b", Some(0)),
            ("/public/caf%C3%A9", Some(0)),
            ("/public/a%2Bb", Some(0)),
            ("/static/a.css", Some(2)),
            ("/café/x", Some(3)),
            ("/caf%C3%A9/x", Some(3)),
            ("/caf%c3%a9/x", Some(3)),
            ("/public/%2541", Some(0)),
            ("/public/x?q=%2F..%2F%00", Some(0)),
        ] {
            assert_eq!(decide(&cfg, p), Ok(route), "{p}");
        }
    }
}
