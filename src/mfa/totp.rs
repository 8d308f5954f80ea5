//! RFC 6238 codes (SHA-1, 6 digits, 30 s steps, ±1 step of skew) through totp-rs, and what an
//! authenticator app needs to enrol: the `otpauth://` URL and its QR code as SVG.

use rand::RngCore;
use totp_rs::{Algorithm, Builder, Totp};

pub const STEP: u64 = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeError {
    /// Not six digits.
    Malformed,
}

/// 160 random bits, as RFC 4226 recommends.
pub fn new_secret() -> Vec<u8> {
    let mut s = vec![0u8; 20];
    rand::rng().fill_bytes(&mut s);
    s
}

fn totp(secret: &[u8], issuer: &str, account: &str) -> Option<Totp> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(STEP)
        .with_secret(secret.to_vec())
        .with_issuer(Some(issuer))
        .with_account_name(account.replace(':', ""))
        .build()
        .ok()
}

/// A code as typed: digits, perhaps with spaces.
pub fn normalize(code: &str) -> Result<String, CodeError> {
    let digits: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.len() == 6 && digits.chars().all(|c| c.is_ascii_digit()) {
        Ok(digits)
    } else {
        Err(CodeError::Malformed)
    }
}

/// The time step `code` is valid for at `now` (within ±1 step), if any.
pub fn check(secret: &[u8], code: &str, now: i64) -> Result<Option<i64>, CodeError> {
    let code = normalize(code)?;
    let Some(t) = totp(secret, "x", "x") else {
        return Ok(None);
    };
    Ok(t.check(&code, now.max(0) as u64).map(|step| step as i64))
}

pub fn base32(secret: &[u8]) -> String {
    totp_rs::Secret::new(secret.to_vec().into_boxed_slice()).to_base32()
}

pub fn otpauth_url(secret: &[u8], issuer: &str, account: &str) -> String {
    totp(secret, issuer, account)
        .and_then(|t| t.to_url().ok())
        .unwrap_or_default()
}

/// The URL as a QR code: an SVG any page can show without a script.
pub fn qr_svg(url: &str) -> String {
    match qrcode::QrCode::new(url.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build(),
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6238_sha1_vectors_and_skew() {
        // RFC 6238 appendix B, SHA-1 secret "12345678901234567890", last six digits.
        let secret = b"12345678901234567890";
        assert_eq!(check(secret, "287082", 59), Ok(Some(1)));
        assert_eq!(check(secret, "081804", 1111111109), Ok(Some(37037036)));
        assert_eq!(check(secret, "050471", 1111111111), Ok(Some(37037037)));
        // One step either side is accepted, two are not.
        assert_eq!(check(secret, "081804", 1111111109 + 30), Ok(Some(37037036)));
        assert_eq!(check(secret, "081804", 1111111109 + 60), Ok(None));
        assert_eq!(check(secret, "000000", 59), Ok(None));
        assert_eq!(check(secret, "28708", 59), Err(CodeError::Malformed));
        assert_eq!(check(secret, "28708a", 59), Err(CodeError::Malformed));
        assert_eq!(check(secret, "287 082", 59), Ok(Some(1)));
    }

    #[test]
    fn enrolment_artefacts() {
        let s = new_secret();
        assert_eq!(s.len(), 20);
        let url = otpauth_url(&s, "Portcullis", "ada@example.com");
        assert!(
            url.starts_with("otpauth://totp/Portcullis:ada%40example.com?"),
            "{url}"
        );
        assert!(url.contains(&format!("secret={}", base32(&s))), "{url}");
        assert!(url.contains("issuer=Portcullis"), "{url}");
        let svg = qr_svg(&url);
        assert!(
            svg.starts_with("<?xml") && svg.contains("<svg"),
            "{}",
            &svg[..60]
        );
    }
}
