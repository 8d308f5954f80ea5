//! `POST /api/auth/avatar` (multipart field `avatar`): the image is recognised from its bytes
//! (PNG, JPEG or WebP — never the filename), decoded under size limits, scaled down and
//! re-encoded as PNG, which drops all metadata. Stored by content hash under the data
//! directory and served with long-lived caching at `GET /api/auth/avatar/{file}`.

use crate::accounts::avatar::{invalid, store_avatar};
use crate::control::web::extract::Auth;
use crate::control::web::extract::Upload;
use crate::control::web::views::NuxtUser;
use crate::error::Reject;
use crate::state::State;
use axum::extract::{Path, State as S};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::{header, HeaderValue, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;

pub async fn upload(
    S(state): S<Arc<State>>,
    Auth(id): Auth,
    Upload(mut form): Upload,
) -> Result<Json<Value>, Reject> {
    let limit = state.config().avatar_max_size;
    let mut bytes = None;
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|_| Reject::BadRequest("The form could not be read".into()))?
    {
        if field.name() == Some("avatar") {
            let data = field
                .bytes()
                .await
                .map_err(|_| Reject::PayloadTooLarge(limit))?;
            bytes = Some(data);
        }
    }
    let bytes = bytes.ok_or_else(|| invalid("is required"))?;
    let user = store_avatar(&state, id.user.id, bytes.to_vec()).await?;
    Ok(Json(
        json!({ "picture": user.picture, "user": NuxtUser::from(&user) }),
    ))
}

/// Serves a stored avatar. Names are content hashes, so a URL's bytes never change.
pub async fn serve(S(state): S<Arc<State>>, Path(file): Path<String>) -> Response {
    let valid = file
        .strip_suffix(".png")
        .is_some_and(|h| h.len() == 32 && h.bytes().all(|b| b.is_ascii_hexdigit()));
    if !valid {
        return Reject::NotFound.into_response();
    }
    match tokio::fs::read(state.config().server.data_dir.join("avatars").join(&file)).await {
        Ok(bytes) => {
            let mut r = bytes.into_response();
            let h = r.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            );
            h.insert(
                "x-content-type-options",
                HeaderValue::from_static("nosniff"),
            );
            h.insert(
                "content-security-policy",
                HeaderValue::from_static("default-src 'none'"),
            );
            *r.status_mut() = StatusCode::OK;
            r
        }
        Err(_) => Reject::NotFound.into_response(),
    }
}
