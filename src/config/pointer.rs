//! Claims named in the config: an RFC 6901 JSON pointer (`/realm_access/roles`), or a bare
//! name for a top-level claim (`groups`), turned into its unescaped reference tokens once,
//! when the config loads, so reading a claim per request compares and allocates nothing
//! (serde_json's own `pointer` unescapes into a new string at every step).

use serde_json::{Map, Value};

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

/// A pointer (as [`parse`] returns it) as its reference tokens, unescaped: `/a~1b/c` →
/// `["a/b", "c"]`. The first is the top-level claim.
pub fn tokens(pointer: &str) -> Vec<String> {
    pointer
        .strip_prefix('/')
        .unwrap_or(pointer)
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect()
}

/// The value at `tokens` in `claims`: object members by name, array items by index (RFC
/// 6901: decimal, no leading zeros).
pub fn resolve<'a>(claims: &'a Map<String, Value>, tokens: &[String]) -> Option<&'a Value> {
    let (first, rest) = tokens.split_first()?;
    let mut at = claims.get(first)?;
    for t in rest {
        at = match at {
            Value::Object(m) => m.get(t)?,
            Value::Array(items) => {
                let canonical =
                    t == "0" || (!t.starts_with('0') && t.bytes().all(|b| b.is_ascii_digit()));
                items.get(t.parse::<usize>().ok().filter(|_| canonical)?)?
            }
            _ => return None,
        };
    }
    Some(at)
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
        assert_eq!(tokens("/a~1b/c"), ["a/b", "c"]);
        assert_eq!(tokens("/a~01"), ["a~1"], "~01 is ~ then 1, not /");
        assert_eq!(tokens("//x"), ["", "x"]);
    }

    #[test]
    fn resolving_agrees_with_serde_json() {
        let v = serde_json::json!({
            "a/b~c": 1, "realm_access": {"roles": ["x", "y"]}, "": {"x": true}, "n": [[0, 1]]
        });
        let m = v.as_object().unwrap();
        for p in [
            "a/b~c",
            "/realm_access/roles",
            "/realm_access/roles/1",
            "/realm_access/roles/01",
            "/realm_access/roles/2",
            "//x",
            "/n/0/1",
            "/n/+0",
            "/missing",
            "/realm_access/roles/x",
        ] {
            let ptr = if p.starts_with('/') {
                p.to_string()
            } else {
                parse(p).unwrap()
            };
            assert_eq!(resolve(m, &tokens(&ptr)), v.pointer(&ptr), "{p}");
        }
    }
}
