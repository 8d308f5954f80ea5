//! The OpenID provider's signing keys: a directory of PKCS#8 PEM files, one a key, named
//! `<unix seconds>-<alg>.pem`. The newest of the configured algorithm signs; older ones stay in
//! the JWKS until every token they signed has expired (`longest_signed` after their successor
//! began), then `rotate` deletes them. Every replica names the same directory, as they share
//! the assertion key file, so each publishes and verifies the same keys.

use crate::auth::keys::KeyError;
use crate::config::SigningAlg;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    EcdsaKeyPair, Ed25519KeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING,
};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, Header};
use serde_json::{json, Value};
use sha2::Digest;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One key: what signs with it and how it is published.
pub struct SigningKey {
    pub kid: String,
    pub alg: SigningAlg,
    /// When it began signing (its file's name).
    pub created: i64,
    signer: Signer,
    /// Its public half, for checking what it signed (built once: introspection checks one
    /// signature per request).
    pub decoding: DecodingKey,
    /// Its public half as a JWK.
    pub jwk: Value,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({} {})", self.alg.name(), self.kid)
    }
}

/// A private key, parsed once. (jsonwebtoken's `encode` parses its DER key again for every
/// signature; for RSA that check cost more than the signature itself.)
enum Signer {
    Rsa(aws_lc_rs::rsa::KeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

impl Signer {
    fn sign(&self, msg: &[u8]) -> Option<Vec<u8>> {
        let rng = SystemRandom::new();
        match self {
            Signer::Rsa(k) => {
                let mut sig = vec![0; k.public_modulus_len()];
                k.sign(&aws_lc_rs::signature::RSA_PKCS1_SHA256, &rng, msg, &mut sig)
                    .ok()?;
                Some(sig)
            }
            // The fixed (r || s) form JWS asks for (RFC 7518 §3.4).
            Signer::Ec(k) => k.sign(&rng, msg).ok().map(|s| s.as_ref().to_vec()),
            Signer::Ed(k) => Some(k.sign(msg).as_ref().to_vec()),
        }
    }
}

/// The keys in use: the one that signs, and every one still published.
#[derive(Debug)]
pub struct KeyRing {
    pub current: SigningKey,
    /// Older keys still published, newest first.
    pub retired: Vec<SigningKey>,
    jwks: bytes::Bytes,
    /// The directory's key files when it was read: a different listing means a rotation.
    listing: Vec<PathBuf>,
}

impl KeyRing {
    /// The keys in `dir`; one of `alg` is generated first when the newest is not of it.
    pub fn load(dir: &Path, alg: SigningAlg, keep: Duration, now: i64) -> Result<Self, KeyError> {
        let mut keys = read_dir(dir)?;
        if keys.first().is_none_or(|k| k.alg != alg) {
            // Never in the same second as the newest: names order the keys.
            let after = keys.first().map(|k| k.created + 1).unwrap_or(now);
            generate(dir, alg, now.max(after))?;
            keys = read_dir(dir)?;
        }
        let mut keys = keys.into_iter();
        let current = keys
            .next()
            .ok_or(KeyError::Generate("an OpenID signing key"))?;
        // A retired key is published while a token it signed may live: until `keep` after the
        // next key began.
        let mut successor_began = current.created;
        let mut retired = Vec::new();
        for k in keys {
            if successor_began + keep.as_secs() as i64 > now {
                successor_began = k.created;
                retired.push(k);
            } else {
                break;
            }
        }
        let all: Vec<&Value> = std::iter::once(&current.jwk)
            .chain(retired.iter().map(|k| &k.jwk))
            .collect();
        let jwks = serde_json::to_vec(&json!({ "keys": all }))
            .unwrap_or_default()
            .into();
        Ok(KeyRing {
            current,
            retired,
            jwks,
            listing: listing(dir)?,
        })
    }

    /// Whether `dir` holds other key files than when this ring was read.
    pub fn changed(&self, dir: &Path) -> bool {
        listing(dir).map_or(true, |l| l != self.listing)
    }

    /// The published keys, as a JWK set.
    pub fn jwks(&self) -> bytes::Bytes {
        self.jwks.clone()
    }

    /// Signs `claims` as a compact JWS (RFC 7515 §7.1) with the current key, typed `typ`.
    pub fn sign(&self, typ: &str, claims: &impl serde::Serialize) -> Option<String> {
        let k = &self.current;
        let header = json!({ "typ": typ, "alg": k.alg.name(), "kid": k.kid });
        let mut jws = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).ok()?);
        jws.push('.');
        jws.push_str(&URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).ok()?));
        let sig = k.signer.sign(jws.as_bytes())?;
        jws.push('.');
        jws.push_str(&URL_SAFE_NO_PAD.encode(sig));
        Some(jws)
    }

    /// The key a token names by `kid`, among those published.
    pub fn by_kid(&self, kid: &str) -> Option<&SigningKey> {
        std::iter::once(&self.current)
            .chain(&self.retired)
            .find(|k| k.kid == kid)
    }

    /// The published key that signed a token with `header`, only when the header's `alg` is
    /// that key's own (RFC 8725 §3.1): `none`, or HS256 keyed with a public key, never match.
    pub fn verifier(&self, header: &Header) -> Option<&SigningKey> {
        let key = self.by_kid(header.kid.as_deref()?)?;
        (header.alg == algorithm(key.alg)).then_some(key)
    }
}

pub fn algorithm(alg: SigningAlg) -> Algorithm {
    match alg {
        SigningAlg::Rs256 => Algorithm::RS256,
        SigningAlg::Es256 => Algorithm::ES256,
        SigningAlg::EdDsa => Algorithm::EdDSA,
    }
}

/// `portcullis oidc rotate-key`: a new key of `alg` signs from now on; keys retired longer
/// than `keep` ago are deleted. Returns the new key's id and the files deleted.
pub fn rotate(
    dir: &Path,
    alg: SigningAlg,
    keep: Duration,
    now: i64,
) -> Result<(String, Vec<PathBuf>), KeyError> {
    // Never in the same second as the newest: names order the keys.
    let newest = files(dir)?.first().map(|(_, c)| *c).unwrap_or(0);
    let created = now.max(newest + 1);
    generate(dir, alg, created)?;
    let ring = KeyRing::load(dir, alg, keep, created)?;
    let kept: Vec<i64> = std::iter::once(ring.current.created)
        .chain(ring.retired.iter().map(|k| k.created))
        .collect();
    let mut deleted = Vec::new();
    for (path, created) in files(dir)? {
        if !kept.contains(&created) {
            std::fs::remove_file(&path).map_err(KeyError::write(&path))?;
            deleted.push(path);
        }
    }
    Ok((ring.current.kid, deleted))
}

fn listing(dir: &Path) -> Result<Vec<PathBuf>, KeyError> {
    Ok(files(dir)?.into_iter().map(|(p, _)| p).collect())
}

/// `(path, created)` of every key file, newest first.
fn files(dir: &Path) -> Result<Vec<(PathBuf, i64)>, KeyError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(KeyError::read(dir)(e)),
    };
    let mut out: Vec<(PathBuf, i64)> = entries
        .flatten()
        .filter_map(|e| {
            let p = e.path();
            let name = p.file_name()?.to_str()?;
            let created = name.strip_suffix(".pem")?.split('-').next()?.parse().ok()?;
            Some((p, created))
        })
        .collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| b.0.cmp(&a.0)));
    Ok(out)
}

fn read_dir(dir: &Path) -> Result<Vec<SigningKey>, KeyError> {
    files(dir)?
        .into_iter()
        .map(|(path, created)| {
            let text = std::fs::read_to_string(&path).map_err(KeyError::read(&path))?;
            let alg = match path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.split(['-', '.']).nth(1))
            {
                Some("RS256") => SigningAlg::Rs256,
                Some("ES256") => SigningAlg::Es256,
                Some("EdDSA") => SigningAlg::EdDsa,
                _ => {
                    return Err(KeyError::Invalid {
                        path: path.clone(),
                        problem: "is not named <seconds>-RS256|ES256|EdDSA.pem",
                    })
                }
            };
            let der = pem_body(&text).ok_or(KeyError::Invalid {
                path: path.clone(),
                problem: "is not a PKCS#8 PEM private key",
            })?;
            from_pkcs8(&der, alg, created).map_err(|detail| KeyError::Unusable {
                what: "OpenID signing key",
                detail: format!("{}: {detail}", path.display()),
            })
        })
        .collect()
}

fn pem_body(text: &str) -> Option<Vec<u8>> {
    let body: String = text
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN PRIVATE KEY-----"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    STANDARD.decode(body.trim()).ok().filter(|d| !d.is_empty())
}

fn generate(dir: &Path, alg: SigningAlg, created: i64) -> Result<(), KeyError> {
    let rng = SystemRandom::new();
    let pkcs8: Vec<u8> = match alg {
        SigningAlg::Rs256 => aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
            .and_then(|k| k.as_der())
            .map(|d| d.as_ref().to_vec()),
        SigningAlg::Es256 => EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map(|d| d.as_ref().to_vec()),
        SigningAlg::EdDsa => Ed25519KeyPair::generate_pkcs8(&rng).map(|d| d.as_ref().to_vec()),
    }
    .map_err(|_| KeyError::Generate("an OpenID signing key"))?;
    std::fs::create_dir_all(dir).map_err(KeyError::write(dir))?;
    let path = dir.join(format!("{created}-{}.pem", alg.name()));
    let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in STANDARD.encode(&pkcs8).as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    crate::auth::keys::write_private(&path, pem.as_bytes()).map_err(KeyError::write(&path))
}

/// The signing key and its JWK from PKCS#8 DER.
fn from_pkcs8(der: &[u8], alg: SigningAlg, created: i64) -> Result<SigningKey, String> {
    let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
    // RFC 7638 §3.2: the thumbprint hashes the required members, in lexical order.
    let (signer, canonical, jwk) = match alg {
        SigningAlg::Rs256 => {
            let pair = aws_lc_rs::rsa::KeyPair::from_pkcs8(der).map_err(|e| e.to_string())?;
            let public = pair.public_key();
            let (n, e) = (
                b64(public.modulus().big_endian_without_leading_zero()),
                b64(public.exponent().big_endian_without_leading_zero()),
            );
            (
                Signer::Rsa(pair),
                format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#),
                json!({"kty": "RSA", "n": n, "e": e}),
            )
        }
        SigningAlg::Es256 => {
            let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
                .map_err(|e| e.to_string())?;
            // Uncompressed point: 0x04 || x || y.
            let point = pair.public_key().as_ref();
            if point.len() != 65 {
                return Err("not an uncompressed P-256 point".into());
            }
            let (x, y) = (b64(&point[1..33]), b64(&point[33..]));
            (
                Signer::Ec(pair),
                format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#),
                json!({"kty": "EC", "crv": "P-256", "x": x, "y": y}),
            )
        }
        SigningAlg::EdDsa => {
            let pair = Ed25519KeyPair::from_pkcs8(der).map_err(|e| e.to_string())?;
            let x = b64(pair.public_key().as_ref());
            (
                Signer::Ed(pair),
                format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#),
                json!({"kty": "OKP", "crv": "Ed25519", "x": x}),
            )
        }
    };
    let kid = b64(&sha2::Sha256::digest(canonical.as_bytes()));
    let mut jwk = jwk;
    jwk["kid"] = kid.clone().into();
    jwk["alg"] = alg.name().into();
    jwk["use"] = "sig".into();
    let decoding = serde_json::from_value::<jsonwebtoken::jwk::Jwk>(jwk.clone())
        .map_err(|e| e.to_string())
        .and_then(|j| DecodingKey::from_jwk(&j).map_err(|e| e.to_string()))?;
    Ok(SigningKey {
        kid,
        alg,
        created,
        signer,
        decoding,
        jwk,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEEP: Duration = Duration::from_secs(600);

    #[test]
    fn each_algorithm_signs_what_its_jwk_verifies() {
        for alg in [SigningAlg::Rs256, SigningAlg::Es256, SigningAlg::EdDsa] {
            let dir = tempfile::tempdir().unwrap();
            let ring = KeyRing::load(dir.path(), alg, KEEP, 1_000).unwrap();
            let token = ring
                .sign("JWT", &json!({"sub": "7", "exp": u64::MAX / 2}))
                .unwrap();
            let header = jsonwebtoken::decode_header(&token).unwrap();
            assert_eq!(header.kid.as_deref(), Some(ring.current.kid.as_str()));
            assert_eq!(
                (header.alg, header.typ.as_deref()),
                (algorithm(alg), Some("JWT"))
            );
            assert!(ring.verifier(&header).is_some());
            let mut confused = header.clone();
            confused.alg = Algorithm::HS256;
            assert!(ring.verifier(&confused).is_none(), "RFC 8725 §3.1");
            let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_slice(&ring.jwks()).unwrap();
            let key = jsonwebtoken::DecodingKey::from_jwk(&jwks.keys[0]).unwrap();
            let mut v = jsonwebtoken::Validation::new(algorithm(alg));
            v.validate_aud = false;
            let got = jsonwebtoken::decode::<Value>(&token, &key, &v).unwrap();
            assert_eq!(got.claims["sub"], "7", "{alg:?}");
            // The same directory loads the same key again.
            let again = KeyRing::load(dir.path(), alg, KEEP, 2_000).unwrap();
            assert_eq!(again.current.kid, ring.current.kid);
        }
    }

    #[test]
    fn a_rotated_key_stays_published_until_its_tokens_expire() {
        let dir = tempfile::tempdir().unwrap();
        let first = KeyRing::load(dir.path(), SigningAlg::EdDsa, KEEP, 1_000).unwrap();
        let (kid, deleted) = rotate(dir.path(), SigningAlg::EdDsa, KEEP, 5_000).unwrap();
        assert!(deleted.is_empty());
        let ring = KeyRing::load(dir.path(), SigningAlg::EdDsa, KEEP, 5_100).unwrap();
        assert_eq!(ring.current.kid, kid);
        assert!(
            ring.by_kid(&first.current.kid).is_some(),
            "the old key verifies its tokens"
        );
        // Past its tokens' lifetime it is no longer published, and the next rotation deletes it.
        let later = KeyRing::load(dir.path(), SigningAlg::EdDsa, KEEP, 5_000 + 601).unwrap();
        assert!(later.by_kid(&first.current.kid).is_none());
        let (_, deleted) = rotate(dir.path(), SigningAlg::EdDsa, KEEP, 7_000).unwrap();
        assert_eq!(deleted.len(), 1);
        // Another algorithm configured: a key of it is made and signs.
        let es = KeyRing::load(dir.path(), SigningAlg::Es256, KEEP, 7_001).unwrap();
        assert_eq!(es.current.alg, SigningAlg::Es256);
        // Both EdDSA keys may still have live tokens: 7000's, and 5000's until 7000 + KEEP.
        assert_eq!(es.retired.len(), 2);
    }
}
