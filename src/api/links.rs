//! Links in mail are built from `server.public_url` only — never from the request's `Host` or
//! `X-Forwarded-Host`, which a client controls (reset-link poisoning).

use crate::config::Config;

/// `public_url` + `path` + `?k=v&...`, values percent-encoded.
pub fn link(cfg: &Config, path: &str, query: &[(&str, &str)]) -> String {
    let mut out = format!("{}{path}", cfg.server.public_url);
    for (i, (k, v)) in query.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(k);
        out.push('=');
        out.push_str(&escape_query(v));
    }
    out
}

pub fn escape_query(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn query_values_are_escaped() {
        assert_eq!(super::escape_query("a+b@c.d"), "a%2Bb%40c.d");
    }
}
