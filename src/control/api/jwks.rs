//! `GET /.well-known/jwks.json`: the public key that identity assertions are signed with, for
//! apps that verify them. Cacheable for a while: the key only changes with the key file.

use crate::state::State;
use axum::extract::State as S;
use axum::response::{IntoResponse, Response};
use http::header;
use std::sync::Arc;

pub async fn get(S(state): S<Arc<State>>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/jwk-set+json"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        state.asserter.jwks(),
    )
        .into_response()
}
