//! Second factors without a transport or a store: sealing TOTP secrets, TOTP codes and their
//! enrolment artefacts (otpauth URL, QR code), recovery codes, and the WebAuthn relying party.
//! `accounts::mfa` and `accounts::passkeys` run the flows over the store.

pub mod recovery;
pub mod rp;
pub mod seal;
pub mod totp;
