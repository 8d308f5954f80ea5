//! TLS certificates: PEM files loaded and checked (the key matches the leaf, the dates are
//! read), and the resolver the TLS listener asks at each handshake, choosing by SNI among the
//! configured sets. A reload swaps the whole set: new handshakes get the new certificates,
//! established connections keep theirs.

use arc_swap::ArcSwap;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A certificate chain and its key, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

/// A loaded pair.
pub struct Loaded {
    pub key: Arc<CertifiedKey>,
    /// The leaf's `notAfter`, Unix seconds.
    pub not_after: i64,
    /// The names and addresses the leaf covers (subjectAltName).
    pub names: Arc<Names>,
}

/// What a certificate covers: DNS names (`*.` patterns as written, lower-cased) and IP
/// addresses.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Names {
    pub dns: Vec<String>,
    pub ips: Vec<std::net::IpAddr>,
}

impl Names {
    /// Whether a request for `host` (no port; an IPv6 address in brackets or not) belongs on a
    /// connection with this certificate. An address is covered only by an IP entry (RFC 6125
    /// §1.7.2: never by a DNS name that spells it).
    pub fn cover(&self, host: &str) -> bool {
        let literal = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        match literal.parse::<std::net::IpAddr>() {
            Ok(ip) => self
                .ips
                .iter()
                .any(|c| c.to_canonical() == ip.to_canonical()),
            Err(_) => self.dns.iter().any(|n| crate::hosts::matches(n, host)),
        }
    }
}

/// The names and addresses of a certificate's subjectAltName.
fn names(cert: &x509_parser::certificate::X509Certificate<'_>) -> Names {
    use x509_parser::extensions::GeneralName;
    let mut out = Names::default();
    let Some(san) = cert.subject_alternative_name().ok().flatten() else {
        return out;
    };
    for n in &san.value.general_names {
        match n {
            GeneralName::DNSName(d) => out.dns.push(d.to_ascii_lowercase()),
            GeneralName::IPAddress(bytes) => match bytes.len() {
                4 => out.ips.push(std::net::IpAddr::from(
                    <[u8; 4]>::try_from(*bytes).unwrap_or_default(),
                )),
                16 => out.ips.push(std::net::IpAddr::from(
                    <[u8; 16]>::try_from(*bytes).unwrap_or_default(),
                )),
                _ => {}
            },
            _ => {}
        }
    }
    out
}

/// Reads and checks one pair: a PEM chain (leaf first) and a PEM private key that belongs to
/// the leaf. The error says which file and why.
pub fn load(p: &Pair) -> Result<Loaded, String> {
    let shown = |f: &Path| f.display().to_string();
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&p.cert_file)
        .map_err(|e| format!("{}: {e}", shown(&p.cert_file)))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", shown(&p.cert_file)))?;
    let leaf = chain
        .first()
        .ok_or_else(|| format!("{}: no certificate in the file", shown(&p.cert_file)))?;
    let (_, parsed) = x509_parser::parse_x509_certificate(leaf)
        .map_err(|e| format!("{}: not an X.509 certificate: {e}", shown(&p.cert_file)))?;
    let not_after = parsed.validity().not_after.timestamp();
    let names = names(&parsed);
    let der = PrivateKeyDer::from_pem_file(&p.key_file)
        .map_err(|e| format!("{}: no private key: {e}", shown(&p.key_file)))?;
    let signing = rustls::crypto::ring::sign::any_supported_type(&der)
        .map_err(|e| format!("{}: unusable private key: {e}", shown(&p.key_file)))?;
    let key = CertifiedKey::new(chain, signing);
    key.keys_match().map_err(|e| {
        format!(
            "{} does not belong to the certificate in {}: {e}",
            shown(&p.key_file),
            shown(&p.cert_file)
        )
    })?;
    Ok(Loaded {
        key: Arc::new(key),
        not_after,
        names: Arc::new(names),
    })
}

/// A certificate as served, with the names it covers.
pub type Chosen = (Arc<CertifiedKey>, Arc<Names>);

/// The certificates a listener serves: one per host pattern, and the default.
pub struct Set {
    default: Chosen,
    by_host: Vec<(String, Chosen)>,
    /// The earliest leaf `notAfter` of the set (Unix seconds).
    expires: i64,
}

impl Set {
    /// Loads the default pair and each `(hosts, pair)`.
    pub fn load(default: &Pair, more: &[(Vec<String>, Pair)]) -> Result<Set, String> {
        let mut by_host = Vec::new();
        let mut expires = i64::MAX;
        for (hosts, pair) in more {
            let l = load(pair)?;
            expires = expires.min(l.not_after);
            let chosen = (l.key, l.names);
            by_host.extend(
                hosts
                    .iter()
                    .map(|h| (h.to_ascii_lowercase(), chosen.clone())),
            );
        }
        let l = load(default)?;
        Ok(Set {
            expires: expires.min(l.not_after),
            default: (l.key, l.names),
            by_host,
        })
    }

    /// When the first of its certificates expires (Unix seconds).
    pub fn expires(&self) -> i64 {
        self.expires
    }

    /// The certificate (and its names) for a handshake naming `sni`: the default without SNI
    /// or a match.
    pub fn choose(&self, sni: Option<&str>) -> &Chosen {
        sni.and_then(|name| {
            self.by_host
                .iter()
                .find(|(p, _)| crate::hosts::matches(p, name))
                .map(|(_, k)| k)
        })
        .unwrap_or(&self.default)
    }
}

/// What the TLS listener asks at each handshake; [`Resolver::swap`] installs a new set.
pub struct Resolver {
    set: ArcSwap<Set>,
}

impl Resolver {
    pub fn new(set: Set) -> Arc<Resolver> {
        Arc::new(Resolver {
            set: ArcSwap::from_pointee(set),
        })
    }

    pub fn swap(&self, set: Set) {
        self.set.store(Arc::new(set));
    }

    /// The names covered by the certificate a handshake naming `sni` got (asked right after
    /// the handshake, so a reload in between is the only way to differ).
    pub fn names_for(&self, sni: Option<&str>) -> Arc<Names> {
        self.set.load().choose(sni).1.clone()
    }
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("certs::Resolver")
    }
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.set.load().choose(hello.server_name()).0.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_covered_by_ip_entries_only() {
        let n = Names {
            dns: vec!["a.test".into(), "*.c.test".into(), "127.0.0.2".into()],
            ips: vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()],
        };
        for yes in [
            "a.test",
            "x.c.test",
            "127.0.0.1",
            "[::1]",
            "::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(n.cover(yes), "{yes}");
        }
        for no in ["b.test", "127.0.0.2", "[::2]", "10.0.0.1", "[127.0.0.1]x"] {
            assert!(!n.cover(no), "{no}");
        }
    }
}
