//! Resolves the token signing key: configured secret, PEM files, or a secret generated on
//! first start and kept (mode 0600) in the data directory so restarts keep sessions valid.

use super::tokens::KeyMaterial;
use crate::config::{Config, TokenKey};
use base64::Engine;
use rand::RngCore;
use secrecy::ExposeSecret;
use std::io::Write;
use std::path::{Path, PathBuf};

pub const SECRET_FILE: &str = "jwt-secret";

/// Why key material could not be had; each names the file or key concerned.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} {problem}")]
    Invalid {
        path: PathBuf,
        problem: &'static str,
    },
    #[error("{what}: {detail}")]
    Unusable { what: &'static str, detail: String },
    #[error("cannot generate {0}")]
    Generate(&'static str),
}

impl KeyError {
    pub(crate) fn read(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
        move |source| KeyError::Read {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn write(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
        move |source| KeyError::Write {
            path: path.to_path_buf(),
            source,
        }
    }
}

pub fn secret_path(cfg: &Config) -> PathBuf {
    cfg.server.data_dir.join(SECRET_FILE)
}

/// The token keys the config names, with the material they were made from.
pub fn token_keys(cfg: &Config) -> Result<(super::TokenKeys, KeyMaterial), KeyError> {
    let material = load(cfg)?;
    let keys = super::TokenKeys::new(&cfg.tokens, &material)?;
    Ok((keys, material))
}

pub fn load(cfg: &Config) -> Result<KeyMaterial, KeyError> {
    match &cfg.tokens.key {
        TokenKey::Hs256(Some(secret)) => Ok(KeyMaterial::Hmac(
            secret.expose_secret().as_bytes().to_vec(),
        )),
        TokenKey::Hs256(None) => load_or_generate(&secret_path(cfg)).map(KeyMaterial::Hmac),
        TokenKey::EdDsa {
            private_key_file,
            public_key_file,
        } => {
            let read = |p: &Path| std::fs::read(p).map_err(KeyError::read(p));
            Ok(KeyMaterial::Ed25519 {
                private_pem: read(private_key_file)?,
                public_pem: read(public_key_file)?,
            })
        }
    }
}

fn load_or_generate(path: &Path) -> Result<Vec<u8>, KeyError> {
    match std::fs::read_to_string(path) {
        Ok(text) => base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .ok()
            .filter(|k| k.len() >= crate::config::MIN_SECRET_BYTES)
            .ok_or_else(|| KeyError::Invalid {
                path: path.to_path_buf(),
                problem: "is not a valid secret; delete it to generate a new one",
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = vec![0u8; 64];
            rand::rng().fill_bytes(&mut key);
            write_private(
                path,
                base64::engine::general_purpose::STANDARD
                    .encode(&key)
                    .as_bytes(),
            )
            .map_err(KeyError::write(path))?;
            tracing::warn!(
                path = %path.display(),
                "no tokens.secret configured: generated a signing secret and stored it here (mode 0600); \
                 set PORTCULLIS_JWT_SECRET to share one across instances"
            );
            Ok(key)
        }
        Err(e) => Err(KeyError::read(path)(e)),
    }
}

/// Writes a new file only its owner may read (mode 0600); never replaces one.
pub(crate) fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path)?;
    f.write_all(contents)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_once_then_reused_with_private_mode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub").join(SECRET_FILE);
        let a = load_or_generate(&p).unwrap();
        let b = load_or_generate(&p).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }
}
