//! Validation of `mfa:`: the TOTP issuer, the WebAuthn relying party (its id must be the
//! public URL's host or a registrable suffix of it, each origin a web origin), the roles that
//! must enrol, and the sealing key's file.

use super::error::ConfigError;
use super::file::MfaFile;
use super::runtime::{Mfa, WebauthnRp};
use std::path::Path;

pub(super) fn mfa(f: MfaFile, public_url: &str, base: &Path, errs: &mut Vec<ConfigError>) -> Mfa {
    let issuer = f.totp.issuer.unwrap_or_else(|| "Portcullis".into());
    if issuer.is_empty() || issuer.contains(':') {
        errs.push(ConfigError::at(
            "mfa.totp.issuer",
            "must be non-empty and without ':' (authenticator apps split on it)",
        ));
    }
    let totp = f.totp.enabled.unwrap_or(true);
    let w = f.webauthn;
    let explicit = w.enabled == Some(true) || w.rp_id.is_some() || w.origins.is_some();
    let webauthn = if w.enabled.unwrap_or(true) {
        relying_party(w.rp_id, w.rp_name, w.origins, public_url, explicit, errs)
    } else {
        None
    };
    for (i, r) in f.required_for_roles.iter().enumerate() {
        if r.trim().is_empty() {
            errs.push(ConfigError::at(
                format!("mfa.required_for_roles[{i}]"),
                "must be a role name",
            ));
        }
    }
    if !f.required_for_roles.is_empty() && !totp && webauthn.is_none() {
        errs.push(ConfigError::at(
            "mfa.required_for_roles",
            "needs mfa.totp or mfa.webauthn enabled: there would be nothing to enrol",
        ));
    }
    Mfa {
        totp,
        issuer,
        webauthn,
        required_for_roles: f.required_for_roles,
        encryption_key_file: f.encryption_key_file.map(|p| base.join(p)),
    }
}

/// The relying party, or `None` when the defaults do not make one (a public URL on an IP
/// address: WebAuthn needs a domain); an explicit setting that does not work is an error.
fn relying_party(
    rp_id: Option<String>,
    rp_name: Option<String>,
    origins: Option<Vec<String>>,
    public_url: &str,
    explicit: bool,
    errs: &mut Vec<ConfigError>,
) -> Option<WebauthnRp> {
    let public = url::Url::parse(public_url).ok()?;
    let host = public.host_str()?.to_string();
    let rp_id = rp_id.unwrap_or(host);
    let origins: Vec<url::Url> = match origins {
        None => vec![public],
        Some(list) => list
            .iter()
            .enumerate()
            .filter_map(|(i, o)| match url::Url::parse(o) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Some(u),
                _ => {
                    errs.push(ConfigError::at(
                        format!("mfa.webauthn.origins[{i}]"),
                        format!("{o:?} is not an origin like \"https://example.com\""),
                    ));
                    None
                }
            })
            .collect(),
    };
    let rp = WebauthnRp {
        rp_id,
        rp_name: rp_name.unwrap_or_else(|| "Portcullis".into()),
        origins,
    };
    let first = rp.origins.first()?;
    let mut builder = match webauthn_rs::WebauthnBuilder::new(&rp.rp_id, first) {
        Ok(b) => b.rp_name(&rp.rp_name),
        Err(e) => {
            if explicit {
                errs.push(ConfigError::at(
                    "mfa.webauthn.rp_id",
                    format!(
                        "{:?} does not fit origin {first}: {e} (the RP ID must be the origin's host or a suffix of it, and a domain)",
                        rp.rp_id
                    ),
                ));
            }
            return None;
        }
    };
    for o in &rp.origins[1..] {
        builder = builder.append_allowed_origin(o);
    }
    match builder.build() {
        Ok(_) => Some(rp),
        Err(e) => {
            if explicit {
                errs.push(ConfigError::at("mfa.webauthn", e.to_string()));
            }
            None
        }
    }
}
