//! Links in mail are built from `server.public_url` only — never from the request's `Host` or
//! `X-Forwarded-Host`, which a client controls (reset-link poisoning).

use crate::config::Config;
use crate::redirect::escape_query;

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
