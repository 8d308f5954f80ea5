//! List filters (RFC 7644 §3.4.2.2), narrowed to what the gateway answers from an index:
//! parsed by Kanidm's `scim_proto`, then turned into a [`Query`] the store runs as SQL.
//! Anything else is refused as `invalidFilter` (§3.12), never filtered in memory, so a list
//! stays one indexed query at 10,000 users.
//!
//! Users: `eq` on `userName`, `externalId`, `emails.value` (or `emails[value eq …]`) and `id`;
//! `co` / `sw` on `userName` and `displayName`. Groups: `eq` on `displayName`, `externalId`
//! and `id`; `co` / `sw` on `displayName`. Any of these joined by `and`.

use scim_proto::filter::{ScimComplexFilter, ScimFilter};
use serde_json::Value;

/// What is being listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Users,
    Groups,
}

/// An attribute a condition may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attr {
    /// A user's `userName`: their email here.
    UserName,
    /// `emails.value`: the same email (one address per user).
    Email,
    ExternalId,
    Id,
    /// A user's name, or a group's name.
    DisplayName,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Contains,
    StartsWith,
}

/// One condition. Values compare case-insensitively where the attribute is not `caseExact`
/// (RFC 7643 §4.1.1 and §4.2: `userName`, `emails.value`, `displayName`); `id` and
/// `externalId` are `caseExact`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cond {
    pub attr: Attr,
    pub op: Op,
    pub value: String,
}

impl Cond {
    pub fn case_exact(&self) -> bool {
        matches!(self.attr, Attr::Id | Attr::ExternalId)
    }
}

/// Every condition must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query(pub Vec<Cond>);

/// Why a filter is refused: the `detail` of a 400 `invalidFilter`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(pub String);

/// The longest filter read, and the deepest nesting of `(` and `[` in it. The parser recurses
/// once per level and per `and` / `not` (`not (` 1,000 deep overflowed an 8 MiB stack, and a
/// stack overflow aborts the process), so it sees only filters well inside both.
pub const MAX_LEN: usize = 1024;
pub const MAX_DEPTH: usize = 8;

/// The query `filter` asks for over `resource`.
pub fn parse(resource: Resource, filter: &str) -> Result<Query, Refused> {
    bounded(filter)?;
    let parsed: ScimFilter = filter.trim().parse().map_err(|_| {
        Refused(format!(
            "The filter {filter:?} is not RFC 7644 §3.4.2.2 syntax"
        ))
    })?;
    let mut conds = Vec::new();
    collect(resource, &parsed, &mut conds)?;
    Ok(Query(conds))
}

/// Refuses a filter longer than [`MAX_LEN`] or nested deeper than [`MAX_DEPTH`], counting
/// brackets outside quoted strings (RFC 7644 §3.4.2.2 values are JSON strings).
pub(crate) fn bounded(filter: &str) -> Result<(), Refused> {
    if filter.len() > MAX_LEN {
        return Err(Refused(format!("A filter is at most {MAX_LEN} bytes")));
    }
    let (mut depth, mut deepest, mut quoted, mut escaped) = (0usize, 0usize, false, false);
    for c in filter.chars() {
        match (quoted, escaped, c) {
            (true, true, _) => escaped = false,
            (true, false, '\\') => escaped = true,
            (true, false, '"') => quoted = false,
            (true, false, _) => {}
            (false, _, '"') => quoted = true,
            (false, _, '(' | '[') => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            (false, _, ')' | ']') => depth = depth.saturating_sub(1),
            (false, _, _) => {}
        }
    }
    if deepest > MAX_DEPTH {
        return Err(Refused(format!(
            "A filter nests at most {MAX_DEPTH} levels of brackets"
        )));
    }
    Ok(())
}

fn collect(resource: Resource, f: &ScimFilter, out: &mut Vec<Cond>) -> Result<(), Refused> {
    let (path, op, value) = match f {
        ScimFilter::And(a, b) => {
            collect(resource, a, out)?;
            return collect(resource, b, out);
        }
        ScimFilter::Equal(p, v) => (p.to_string(), Op::Eq, v),
        ScimFilter::Contains(p, v) => (p.to_string(), Op::Contains, v),
        ScimFilter::StartsWith(p, v) => (p.to_string(), Op::StartsWith, v),
        // `emails[value eq "…"]`: the value-path spelling of `emails.value eq "…"`.
        ScimFilter::Complex(attr, inner) if attr.eq_ignore_ascii_case("emails") => {
            return match inner.as_ref() {
                ScimComplexFilter::Equal(sub, v) if sub.eq_ignore_ascii_case("value") => {
                    out.push(cond(resource, "emails.value", Op::Eq, v)?);
                    Ok(())
                }
                _ => Err(unsupported(f)),
            };
        }
        _ => return Err(unsupported(f)),
    };
    out.push(cond(resource, &path, op, value)?);
    Ok(())
}

fn unsupported(f: &ScimFilter) -> Refused {
    Refused(format!(
        "{} is not a filter this server answers: see /ServiceProviderConfig",
        f.to_string()
    ))
}

fn cond(resource: Resource, path: &str, op: Op, value: &Value) -> Result<Cond, Refused> {
    // RFC 7643 §2.1: attribute names are case-insensitive.
    let name = path.to_ascii_lowercase();
    let attr = match (resource, name.as_str()) {
        (Resource::Users, "username") => Attr::UserName,
        (Resource::Users, "emails.value") => Attr::Email,
        (_, "externalid") => Attr::ExternalId,
        (_, "id") => Attr::Id,
        (_, "displayname") => Attr::DisplayName,
        _ => return Err(Refused(format!("Filtering on {path} is not supported"))),
    };
    let allowed = match (resource, attr, op) {
        (_, _, Op::Eq) => attr != Attr::DisplayName || resource == Resource::Groups,
        (Resource::Users, Attr::UserName | Attr::DisplayName, _) => true,
        (Resource::Groups, Attr::DisplayName, _) => true,
        _ => false,
    };
    if !allowed {
        return Err(Refused(format!(
            "{path} {} is not supported",
            match op {
                Op::Eq => "eq",
                Op::Contains => "co",
                Op::StartsWith => "sw",
            }
        )));
    }
    let Value::String(value) = value else {
        return Err(Refused(format!(
            "{path} compares with a string, not {value}"
        )));
    };
    Ok(Cond {
        attr,
        op,
        value: value.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eq(attr: Attr, v: &str) -> Cond {
        Cond {
            attr,
            op: Op::Eq,
            value: v.into(),
        }
    }

    #[test]
    fn what_okta_and_entra_send_is_answered() {
        // Okta's and Entra ID's look-ups before a create (their provisioning docs).
        assert_eq!(
            parse(Resource::Users, r#"userName eq "bjensen@example.com""#),
            Ok(Query(vec![eq(Attr::UserName, "bjensen@example.com")]))
        );
        assert_eq!(
            parse(Resource::Users, r#"externalId eq "00u1abcd""#),
            Ok(Query(vec![eq(Attr::ExternalId, "00u1abcd")]))
        );
        assert_eq!(
            parse(Resource::Groups, r#"displayName eq "Engineering""#),
            Ok(Query(vec![eq(Attr::DisplayName, "Engineering")]))
        );
        // RFC 7643 §2.1: attribute names in any case; RFC 7644 §3.4.2.2: `and`.
        assert_eq!(
            parse(
                Resource::Users,
                r#"USERNAME eq "a@b.test" and emails.value eq "a@b.test""#
            ),
            Ok(Query(vec![
                eq(Attr::UserName, "a@b.test"),
                eq(Attr::Email, "a@b.test")
            ]))
        );
        assert_eq!(
            parse(Resource::Users, r#"emails[value eq "a@b.test"]"#),
            Ok(Query(vec![eq(Attr::Email, "a@b.test")]))
        );
        assert_eq!(
            parse(Resource::Users, r#"displayName sw "Bar""#),
            Ok(Query(vec![Cond {
                attr: Attr::DisplayName,
                op: Op::StartsWith,
                value: "Bar".into()
            }]))
        );
        assert!(!eq(Attr::UserName, "x").case_exact());
        assert!(eq(Attr::Id, "x").case_exact());
    }

    #[test]
    fn anything_else_is_an_invalid_filter() {
        // RFC 7644 §3.12: `invalidFilter` for a filter the server does not support, and for
        // a malformed one.
        for f in [
            r#"userName eq"#,
            r#"userName eq "unterminated"#,
            r#"userName zz "x""#,
            r#"userName eq "a" or userName eq "b""#,
            r#"not (userName eq "a")"#,
            r#"userName pr"#,
            r#"title eq "boss""#,
            r#"active eq true"#,
            r#"userName gt "a""#,
            r#"externalId co "a""#,
            r#"userName eq 42"#,
            r#"emails[type eq "work"]"#,
            r#"members.value eq "1""#,
            "",
        ] {
            assert!(parse(Resource::Users, f).is_err(), "{f}");
        }
        // A user's displayName is matched by co/sw only; a group has no userName.
        assert!(parse(Resource::Users, r#"displayName eq "x""#).is_err());
        assert!(parse(Resource::Groups, r#"userName eq "x""#).is_err());
        assert!(parse(Resource::Groups, r#"emails.value eq "x""#).is_err());
        // Bounded before the parser sees it (a stack overflow would abort the gateway).
        let nested =
            |open: &str, n: usize| format!("{}userName eq \"a\"{}", open.repeat(n), ")".repeat(n));
        for f in [
            nested("(", 500),
            nested("not (", 1_000),
            nested("(", MAX_DEPTH + 1),
        ] {
            assert!(parse(Resource::Users, &f).is_err());
        }
        let chain = vec![r#"userName eq "a""#; 5_000].join(" and ");
        assert!(
            parse(Resource::Users, &chain).is_err(),
            "longer than MAX_LEN"
        );
        assert_eq!(
            parse(Resource::Users, &nested("(", MAX_DEPTH)),
            Ok(Query(vec![eq(Attr::UserName, "a")]))
        );
        // Brackets inside a quoted value are not nesting.
        let value = format!("userName eq \"{}\\\"{}\"", "(".repeat(40), "[".repeat(40));
        assert_eq!(parse(Resource::Users, &value).map(|q| q.0.len()), Ok(1));
        // The longest chain that fits is parsed without trouble.
        let fits = vec![r#"userName sw "a""#; MAX_LEN / 20].join(" and ");
        assert!(fits.len() <= MAX_LEN);
        assert!(parse(Resource::Users, &fits).is_ok());
    }
}
