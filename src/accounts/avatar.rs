//! Avatars: recognised from their bytes (PNG, JPEG, WebP), decoded within limits, scaled and
//! re-encoded as PNG without metadata, stored under a content hash.

use crate::error::Reject;
use crate::state::State;
use crate::store::{now, Guarded, UserChanges};
use image::{ImageFormat, ImageReader, Limits};
use sha2::{Digest, Sha256};
use std::io::Cursor;

const MAX_SIDE: u32 = 512;

pub fn invalid(msg: &str) -> Reject {
    Reject::invalid("avatar", msg)
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
    let user = match state
        .store
        .update_user(
            user_id,
            &changes,
            now(),
            Some(&crate::audit::changes::of_user(user_id)),
        )
        .await?
    {
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
