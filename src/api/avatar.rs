//! `POST /api/auth/avatar` (multipart field `avatar`): the image is recognised from its bytes
//! (PNG, JPEG or WebP — never the filename), decoded under size limits, scaled down and
//! re-encoded as PNG, which drops all metadata. Stored by content hash under the data
//! directory and served with long-lived caching at `GET /api/auth/avatar/{file}`.

use super::extract::Auth;
use super::extract::Upload;
use super::views::NuxtUser;
use crate::error::Reject;
use crate::state::State;
use crate::store::{now, Guarded, UserChanges};
use axum::extract::{Path, State as S};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::{header, HeaderValue, StatusCode};
use image::{ImageFormat, ImageReader, Limits};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Cursor;
use std::sync::Arc;

const MAX_SIDE: u32 = 512;

fn invalid(msg: &str) -> Reject {
    Reject::Invalid(BTreeMap::from([("avatar".to_string(), msg.to_string())]))
}

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

/// Checks, re-encodes and stores an avatar for `user_id`; the updated user.
pub async fn store_avatar(
    state: &State,
    user_id: i64,
    bytes: Vec<u8>,
) -> Result<crate::store::User, Reject> {
    let limit = state.config().avatar_max_size;
    if bytes.len() > limit {
        return Err(Reject::PayloadTooLarge(limit));
    }
    let format = match image::guess_format(&bytes) {
        Ok(f @ (ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP)) => f,
        _ => return Err(invalid("must be a PNG, JPEG or WebP image")),
    };
    let png = tokio::task::spawn_blocking(move || reencode(&bytes, format))
        .await
        .map_err(|_| Reject::Internal)?
        .map_err(|e| {
            tracing::info!(error = %e, "avatar refused");
            invalid("could not be read as an image")
        })?;
    let name: String = Sha256::digest(&png)
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect();
    let dir = state.config().server.data_dir.join("avatars");
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|_| Reject::Internal)?;
    tokio::fs::write(dir.join(format!("{name}.png")), &png)
        .await
        .map_err(|_| Reject::Internal)?;
    let url = format!(
        "{}/avatar/{name}.png",
        state.config().api.auth.as_deref().unwrap_or("")
    );
    let changes = UserChanges {
        picture: Some(url),
        ..Default::default()
    };
    let user = match state.store.update_user(user_id, &changes, now()).await? {
        Guarded::Done(u) => u,
        _ => return Err(Reject::NotFound),
    };
    state.user_changed(&user);
    Ok(user)
}

/// Decodes within limits (no decompression bombs), bounds the size, and writes a clean PNG.
fn reencode(bytes: &[u8], format: ImageFormat) -> Result<Vec<u8>, image::ImageError> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(8192);
    limits.max_image_height = Some(8192);
    limits.max_alloc = Some(128 << 20);
    reader.limits(limits);
    let img = reader.decode()?;
    let img = if img.width() > MAX_SIDE || img.height() > MAX_SIDE {
        img.thumbnail(MAX_SIDE, MAX_SIDE)
    } else {
        img
    };
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), ImageFormat::Png)?;
    Ok(out)
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
