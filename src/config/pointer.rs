//! Claims named in the config: an RFC 6901 JSON pointer (`/realm_access/roles`), or a bare
//! name for a top-level claim (`groups`), turned into the pointer form once, when the config
//! loads, so nothing re-parses it per request.

/// The pointer `text` names, in RFC 6901 form, or why it is not one.
pub fn parse(text: &str) -> Result<String, &'static str> {
    if text.is_empty() {
        return Err(
            "name a claim: a top-level name or a JSON pointer like \"/realm_access/roles\"",
        );
    }
    if !text.starts_with('/') {
        // A bare name is one reference token: escape what RFC 6901 escapes.
        return Ok(format!("/{}", text.replace('~', "~0").replace('/', "~1")));
    }
    // `~` only as `~0` or `~1`.
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '~' && !matches!(chars.next(), Some('0' | '1')) {
            return Err(
                "is not an RFC 6901 JSON pointer: `~` must be written ~0, and `/` inside a name ~1",
            );
        }
    }
    Ok(text.to_string())
}

/// A pointer split at its first reference token: the top-level claim's name (unescaped) and
/// the pointer below it (`""` for the claim itself): `/a~1b/c` → (`a/b`, `/c`).
pub fn split(pointer: &str) -> (String, &str) {
    let body = pointer.strip_prefix('/').unwrap_or(pointer);
    let (first, rest) = match body.find('/') {
        Some(i) => (&body[..i], &body[i..]),
        None => (body, ""),
    };
    (first.replace("~1", "/").replace("~0", "~"), rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_pointers_and_pointers_are_checked() {
        assert_eq!(parse("groups").unwrap(), "/groups");
        assert_eq!(parse("a/b~c").unwrap(), "/a~1b~0c");
        assert_eq!(parse("/realm_access/roles").unwrap(), "/realm_access/roles");
        assert_eq!(parse("/a~1b/~0").unwrap(), "/a~1b/~0");
        assert!(parse("/a~2").is_err());
        assert!(parse("/a~").is_err());
        assert!(parse("").is_err());
        let v = serde_json::json!({"a/b~c": 1, "realm_access": {"roles": ["x"]}});
        assert_eq!(
            v.pointer(&parse("a/b~c").unwrap()),
            Some(&serde_json::json!(1))
        );
        assert_eq!(split("/a~1b/c"), ("a/b".to_string(), "/c"));
        assert_eq!(
            split("/realm_access/roles"),
            ("realm_access".to_string(), "/roles")
        );
        assert_eq!(split("/groups"), ("groups".to_string(), ""));
        assert_eq!(split("//x"), (String::new(), "/x"));
    }
}
