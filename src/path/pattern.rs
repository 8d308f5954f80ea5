//! Path patterns as routes write them (`/admin/**`, `/static/*.css`, `/api/items/*`) and how
//! path segments are compared with them: exactly, still percent-encoded, or case-folded.

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

/// Why a route's path pattern is refused (the config names the route).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("{0:?} must start with '/'")]
    NotAbsolute(String),
    #[error("{0:?}: '**' must be a whole segment")]
    PartialRest(String),
    #[error("{0:?}: at most one '*' inside a segment")]
    TwoStars(String),
    #[error("{0:?}: dot segments are not allowed")]
    DotSegment(String),
}

impl PathPattern {
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        if !text.starts_with('/') {
            return Err(PatternError::NotAbsolute(text.into()));
        }
        let mut segs = Vec::new();
        for s in text.split('/').filter(|s| !s.is_empty()) {
            let seg = match s {
                "**" => Seg::Rest,
                "*" => Seg::Any,
                _ if s.contains("**") => return Err(PatternError::PartialRest(text.into())),
                _ => match s.split_once('*') {
                    Some((_, rest)) if rest.contains('*') => {
                        return Err(PatternError::TwoStars(text.into()))
                    }
                    Some((pre, post)) => Seg::Glob(pre.to_string(), post.to_string()),
                    None if s == "." || s == ".." => {
                        return Err(PatternError::DotSegment(text.into()))
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

    /// Whether path segments match, compared in `mode`.
    pub fn matches_parts(&self, parts: &[&str], mode: Mode) -> bool {
        match_from(&self.segs, parts, mode)
    }

    /// The first segment when it is a literal: only paths starting with it can match.
    pub fn first_literal(&self) -> Option<&str> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(p: &str) -> Vec<&str> {
        segments(p).collect()
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
    fn bad_patterns_are_reported() {
        assert!(PathPattern::parse("admin").is_err());
        assert!(PathPattern::parse("/a**").is_err());
        assert!(PathPattern::parse("/a/*x*").is_err());
        assert!(PathPattern::parse("/a/../b").is_err());
    }
}
