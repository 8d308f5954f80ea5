//! The WebAuthn relying party from config (`mfa.webauthn`), built per ceremony: cheap, and a
//! reload that changes the origins applies at once.

use crate::config::WebauthnRp;
use webauthn_rs::{Webauthn, WebauthnBuilder};

pub fn build(rp: &WebauthnRp) -> Option<Webauthn> {
    let first = rp.origins.first()?;
    let mut b = WebauthnBuilder::new(&rp.rp_id, first)
        .ok()?
        .rp_name(&rp.rp_name);
    for o in &rp.origins[1..] {
        b = b.append_allowed_origin(o);
    }
    b.build().ok()
}
