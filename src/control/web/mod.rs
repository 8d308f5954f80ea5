//! What the control plane's families share: extractors that read bodies field by field and
//! authenticate (`extract`), the session cookie (`cookies`), the cross-site guard (`csrf`) and
//! how users and sessions are shown (`views`).

pub mod cookies;
pub mod csrf;
pub mod extract;
pub mod page;
pub mod views;
