//! Set-up the criterion benches share.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use portcullis::state::State;
use portcullis::store::{NewUser, User};

/// A new user of `role` signed in with a password: the user and their session token.
pub fn signed_in(rt: &tokio::runtime::Runtime, state: &State, role: &str) -> (User, String) {
    let user = rt
        .block_on(state.store.create_user(
            NewUser {
                email: "bench@example.test".into(),
                name: "Bench".into(),
                role: role.into(),
                password_hash: None,
                active: true,
                email_verified: true,
                now: portcullis::store::now(),
            },
            &[],
        ))
        .unwrap();
    let token = rt
        .block_on(state.start_session(
            &user,
            false,
            &Default::default(),
            portcullis::auth::Amr::PWD,
        ))
        .unwrap();
    (user, token)
}
