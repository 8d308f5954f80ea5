//! The identity prefix in the forms edges match names by. A client may spell a header with
//! `_` for `-` (`X_Auth_Role`): CGI-style apps read it as the same header, so each form covers
//! both spellings of every separator.

/// Go's canonical form of a name (`net/textproto`): upper case at the start and after each
/// `-`, lower case elsewhere. Caddy and Traefik hold request headers under it.
fn go_canonical(name: &str) -> String {
    let mut upper = true;
    name.chars()
        .map(|c| {
            let out = if upper {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            };
            upper = c == '-';
            out
        })
        .collect()
}

/// Every spelling of a name (or a prefix) with each `-` or `_` written either way, in Go's
/// canonical form, the dashed one first: what Caddy's `request_header -<prefix>*` must name
/// to delete them all (it compares canonical names case-sensitively).
pub fn spellings(prefix: &str) -> Vec<String> {
    let seps: Vec<usize> = prefix
        .char_indices()
        .filter(|(_, c)| matches!(c, '-' | '_'))
        .map(|(i, _)| i)
        .collect();
    // A prefix of more than a few separators is unusual; cap the spellings at 2^6.
    let n = seps.len().min(6);
    let mut out: Vec<String> = (0..1u32 << n)
        .map(|mask| {
            let mut p: Vec<u8> = prefix.as_bytes().to_vec();
            for (bit, at) in seps.iter().take(n).enumerate() {
                p[*at] = if mask & (1 << bit) == 0 { b'-' } else { b'_' };
            }
            go_canonical(&String::from_utf8_lossy(&p))
        })
        .collect();
    out.dedup();
    out
}

/// A regular expression (RE2 / Go) matching any name under `prefix`, any case, `-` or `_`.
pub fn prefix_regex(prefix: &str) -> String {
    let mut re = String::from("(?i)^");
    for c in prefix.chars() {
        match c {
            '-' | '_' => re.push_str("[-_]"),
            c if c.is_ascii_alphanumeric() => re.push(c.to_ascii_lowercase()),
            c => {
                re.push('\\');
                re.push(c);
            }
        }
    }
    re
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caddy_prefixes_cover_both_separators() {
        assert_eq!(
            spellings("x-auth-"),
            ["X-Auth-", "X_auth-", "X-Auth_", "X_auth_"]
        );
        assert_eq!(go_canonical("x_AUTH-role"), "X_auth-Role");
        assert_eq!(spellings("xauth"), ["Xauth"]);
    }

    #[test]
    fn the_regex_reads_any_spelling() {
        assert_eq!(prefix_regex("x-auth-"), "(?i)^x[-_]auth[-_]");
        assert_eq!(prefix_regex("x.who-"), "(?i)^x\\.who[-_]");
    }
}
