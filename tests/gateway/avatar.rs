//! Avatar upload: recognised from the bytes, re-encoded without metadata, served with caching.

use crate::harness::*;

fn multipart(field: &str, filename: &str, content_type: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----portcullis-test-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

fn encode(img: &image::DynamicImage, format: image::ImageFormat) -> Vec<u8> {
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), format)
        .unwrap();
    out
}

/// Adds a tEXt chunk (where cameras and editors put their metadata) after IHDR.
fn with_text_chunk(png: &[u8], text: &str) -> Vec<u8> {
    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xffff_ffffu32;
        for &b in data {
            crc ^= b as u32;
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xedb8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    let ihdr_end = 8 + 4 + 4 + 13 + 4;
    let mut chunk = b"tEXt".to_vec();
    chunk.extend_from_slice(text.as_bytes());
    let mut out = png[..ihdr_end].to_vec();
    out.extend_from_slice(&((chunk.len() - 4) as u32).to_be_bytes());
    out.extend_from_slice(&chunk);
    out.extend_from_slice(&crc32(&chunk).to_be_bytes());
    out.extend_from_slice(&png[ihdr_end..]);
    out
}

async fn upload(
    g: &Gateway,
    token: &str,
    filename: &str,
    ct: &str,
    bytes: &[u8],
) -> reqwest::Response {
    let (content_type, body) = multipart("avatar", filename, ct, bytes);
    g.client
        .post(g.url("/api/auth/avatar"))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn avatars_are_checked_re_encoded_served_and_shown() {
    let (up, g) = start_with(|o| {
        o.extra = "identity_headers: { picture: true }".into();
    })
    .await;
    let t = g.admin_token().await;

    let wide = image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(
        1024,
        512,
        image::Rgb([200, 30, 30]),
    ));
    let r = upload(
        &g,
        &t,
        "me.jpg",
        "image/jpeg",
        &encode(&wide, image::ImageFormat::Jpeg),
    )
    .await;
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    let url = v["picture"].as_str().unwrap().to_string();
    assert!(
        url.starts_with("/api/auth/avatar/") && url.ends_with(".png"),
        "{url}"
    );
    let served = g.client.get(g.url(&url)).send().await.unwrap();
    assert_eq!(served.headers()["content-type"], "image/png");
    assert!(served.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("immutable"));
    let png = served.bytes().await.unwrap();
    let img = image::load_from_memory(&png).unwrap();
    assert_eq!(
        (img.width(), img.height()),
        (512, 256),
        "scaled down, proportions kept"
    );

    // Metadata does not survive the re-encoding.
    let small = image::DynamicImage::ImageRgb8(image::RgbImage::from_pixel(
        64,
        64,
        image::Rgb([0, 90, 200]),
    ));
    let tagged = with_text_chunk(
        &encode(&small, image::ImageFormat::Png),
        "GPS\0secret-location-52.1N",
    );
    assert!(
        image::load_from_memory(&tagged).is_ok(),
        "the tagged file is a valid PNG"
    );
    let r = upload(&g, &t, "tagged.png", "image/png", &tagged).await;
    let url = r.json::<serde_json::Value>().await.unwrap()["picture"]
        .as_str()
        .unwrap()
        .to_string();
    let png = g
        .client
        .get(g.url(&url))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(
        !png.windows(15).any(|w| w == b"secret-location"),
        "metadata stripped"
    );

    // The picture shows in /api/user/me and reaches the app.
    let me: serde_json::Value = g.get("/api/user/me", Some(&t)).await.json().await.unwrap();
    assert!(me["picture"].as_str().unwrap().ends_with(&url), "{me}");
    g.get("/app", Some(&t)).await;
    assert_eq!(up.last().headers["x-auth-picture"], url.as_str());

    // Not an image, whatever the name says; no file; no session.
    let v = error_body(
        upload(&g, &t, "fake.png", "image/png", b"GIF89a not really").await,
        400,
    )
    .await;
    assert!(v["data"]["avatar"]
        .as_str()
        .unwrap()
        .contains("PNG, JPEG or WebP"));
    let (ct, body) = multipart("other", "x.png", "image/png", b"x");
    let r = g
        .client
        .post(g.url("/api/auth/avatar"))
        .bearer_auth(&t)
        .header("content-type", ct)
        .body(body)
        .send()
        .await
        .unwrap();
    error_body(r, 400).await;
    error_body(upload(&g, "nope", "a.png", "image/png", &tagged).await, 401).await;
    // Sent raw: an HTTP client would resolve the dot segments itself.
    let head = raw_request(
        &g.base,
        b"GET /api/auth/avatar/../../etc.png HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    assert_eq!(
        g.client
            .get(g.url("/api/auth/avatar/0123.png"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

#[tokio::test]
async fn avatars_over_the_limit_are_413() {
    let (_up, g) = start_with(|o| {
        o.extra = "users: { avatar_max_size: 2000 }".into();
    })
    .await;
    let t = g.admin_token().await;
    let noisy = image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(200, 200, |x, y| {
        image::Rgb([(x * 7) as u8, (y * 13) as u8, (x ^ y) as u8])
    }));
    let big = encode(&noisy, image::ImageFormat::Png);
    assert!(big.len() > 2000);
    error_body(upload(&g, &t, "big.png", "image/png", &big).await, 413).await;
}
