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
    /// The DNS names the leaf covers (subjectAltName; `*.` patterns as written).
    pub names: Arc<Names>,
}

/// The host names a certificate covers.
#[derive(Debug, Default)]
pub struct Names(pub Vec<String>);

impl Names {
    /// Whether a request for `host` (no port) belongs on a connection with this certificate.
    pub fn cover(&self, host: &str) -> bool {
        self.0.iter().any(|n| crate::hosts::matches(n, host))
    }
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
    let names = parsed
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|san| {
            san.value
                .general_names
                .iter()
                .filter_map(|n| match n {
                    x509_parser::extensions::GeneralName::DNSName(d) => {
                        Some(d.to_ascii_lowercase())
                    }
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
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
        names: Arc::new(Names(names)),
    })
}

/// A certificate as served, with the names it covers.
pub type Chosen = (Arc<CertifiedKey>, Arc<Names>);

/// The certificates a listener serves: one per host pattern, and the default.
pub struct Set {
    default: Chosen,
    by_host: Vec<(String, Chosen)>,
}

impl Set {
    /// Loads the default pair and each `(hosts, pair)`.
    pub fn load(default: &Pair, more: &[(Vec<String>, Pair)]) -> Result<Set, String> {
        let mut by_host = Vec::new();
        for (hosts, pair) in more {
            let l = load(pair)?;
            let chosen = (l.key, l.names);
            by_host.extend(
                hosts
                    .iter()
                    .map(|h| (h.to_ascii_lowercase(), chosen.clone())),
            );
        }
        let l = load(default)?;
        Ok(Set {
            default: (l.key, l.names),
            by_host,
        })
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
