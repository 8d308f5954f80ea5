//! Group names: the rule every source of groups (an admin, an identity provider's claim, a
//! directory) and every route policy share. Names go into `X-Auth-Groups` comma-joined, so the
//! alphabet has no comma, no space and nothing a header could not carry.

/// Longest group name accepted.
pub const MAX_LEN: usize = 64;

/// Most groups one source may give a user (an identity provider sending thousands is refused,
/// not stored).
pub const MAX_PER_SOURCE: usize = 256;

/// Where the admin's own groups are kept (`PATCH /api/nuxt-users/:id {groups}`, the CLI).
pub const LOCAL: &str = "local";

/// The source name of an OAuth/OIDC provider's groups.
pub fn oauth_source(provider: &str) -> String {
    format!("oauth:{provider}")
}

/// Whether `name` may be a group: 1–64 characters from `[A-Za-z0-9._:@/-]`.
pub fn valid(name: &str) -> bool {
    (1..=MAX_LEN).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_:@/".contains(&b))
}

/// Why a list of group names is refused, for the one who sent it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("{0:?} is not a group name (1-64 characters of A-Z a-z 0-9 . _ : @ / -)")]
    Name(String),
    #[error("at most {MAX_PER_SOURCE} groups")]
    TooMany,
}

/// A list of names as a sorted set, or the first problem with it.
pub fn normalize<S: AsRef<str>>(names: &[S]) -> Result<Vec<String>, Problem> {
    let mut out: Vec<String> = Vec::with_capacity(names.len());
    for n in names {
        let n = n.as_ref();
        if !valid(n) {
            return Err(Problem::Name(n.to_string()));
        }
        out.push(n.to_string());
    }
    out.sort();
    out.dedup();
    if out.len() > MAX_PER_SOURCE {
        return Err(Problem::TooMany);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_alphabet_and_lists_become_sorted_sets() {
        for ok in [
            "eng",
            "a",
            "team/eng-2",
            "user@example.com",
            "realm:role_x",
            "A.B",
        ] {
            assert!(valid(ok), "{ok}");
        }
        for bad in ["", "a b", "a,b", "é", "x\n", &"x".repeat(65)] {
            assert!(!valid(bad), "{bad:?}");
        }
        assert_eq!(
            normalize(&["ops", "eng", "ops"]).unwrap(),
            vec!["eng".to_string(), "ops".to_string()]
        );
        assert_eq!(
            normalize(&["ok", "no way"]),
            Err(Problem::Name("no way".into()))
        );
        let many: Vec<String> = (0..=MAX_PER_SOURCE).map(|i| format!("g{i}")).collect();
        assert_eq!(normalize(&many), Err(Problem::TooMany));
    }
}
