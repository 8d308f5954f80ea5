//! How a session's sign-in was made: the RFC 8176 authentication method references, as a
//! small set. Routes with `mfa: true` accept only sessions whose set holds a second factor.

use http::HeaderValue;
use std::sync::LazyLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Amr(u8);

/// (bit, RFC 8176 name), in the order they are written.
const METHODS: [(u8, &str); 5] = [
    (1, "pwd"),   // password
    (2, "otp"),   // one-time code (TOTP, or a recovery code)
    (4, "hwk"),   // a passkey (proof of possession of a key, with user verification)
    (8, "email"), // a link sent by mail (magic link, confirmation)
    (16, "fed"),  // an external identity provider (OAuth / OIDC)
];

impl Amr {
    pub const PWD: Amr = Amr(1);
    pub const OTP: Amr = Amr(2);
    pub const HWK: Amr = Amr(4);
    pub const EMAIL: Amr = Amr(8);
    pub const FED: Amr = Amr(16);

    pub fn with(self, other: Amr) -> Amr {
        Amr(self.0 | other.0)
    }

    /// Whether the sign-in used every method of `m`.
    pub fn has(self, m: Amr) -> bool {
        self.0 & m.0 == m.0 && m.0 != 0
    }

    /// Whether the sign-in proved a second factor (or a passkey, which is possession plus
    /// the authenticator's own user verification).
    pub fn second_factor(self) -> bool {
        self.0 & (Self::OTP.0 | Self::HWK.0) != 0
    }

    /// Parses the stored form; unknown names are ignored (an older or newer gateway's).
    pub fn parse(s: &str) -> Amr {
        s.split(',')
            .filter_map(|n| METHODS.iter().find(|(_, m)| *m == n.trim()))
            .fold(Amr(0), |a, (bit, _)| Amr(a.0 | bit))
    }

    pub fn names(self) -> Vec<&'static str> {
        METHODS
            .iter()
            .filter(|(bit, _)| self.0 & bit != 0)
            .map(|(_, m)| *m)
            .collect()
    }

    /// The `X-Auth-Amr` value, encoded once per set for the process.
    pub fn header_value(self) -> &'static HeaderValue {
        static VALUES: LazyLock<Vec<HeaderValue>> = LazyLock::new(|| {
            (0..32u8)
                .map(|b| {
                    HeaderValue::from_str(&Amr(b).to_string())
                        .unwrap_or(HeaderValue::from_static(""))
                })
                .collect()
        });
        &VALUES[(self.0 & 31) as usize]
    }
}

impl std::fmt::Display for Amr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.names().join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_knows_second_factors() {
        let a = Amr::PWD.with(Amr::OTP);
        assert_eq!(a.to_string(), "pwd,otp");
        assert_eq!(Amr::parse("pwd,otp"), a);
        assert_eq!(Amr::parse("otp, pwd,unknown"), a);
        assert!(a.second_factor());
        assert!(Amr::HWK.second_factor());
        assert!(!Amr::PWD.with(Amr::EMAIL).with(Amr::FED).second_factor());
        assert_eq!(Amr::parse(""), Amr::default());
        assert_eq!(a.header_value(), "pwd,otp");
        assert_eq!(Amr::FED.header_value(), "fed");
    }
}
