//! Every input of the committed fuzz corpora (`fuzz/corpus/<target>/`, crashes found once
//! included) through the same property checks the fuzz targets run (`fuzz/checks/`), in the
//! ordinary test build: a change that breaks a property on a known input fails `cargo test`
//! without a libFuzzer build. Exploring for new inputs is `cargo fuzz run` (SECURITY.md).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../fuzz/checks/config.rs"]
mod config;
#[path = "../fuzz/checks/headers.rs"]
mod headers;
#[path = "../fuzz/checks/paths.rs"]
mod paths;
#[path = "../fuzz/checks/token.rs"]
mod token;

use std::path::Path;

/// Runs `check` on each file of the target's corpus; fails naming every input that panics.
fn replay(target: &str, check: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    inputs.sort();
    assert!(inputs.len() > 100, "{target}: only {} inputs", inputs.len());
    let failed: Vec<String> = inputs
        .iter()
        .filter(|p| {
            let data = std::fs::read(p).unwrap();
            std::panic::catch_unwind(|| check(&data)).is_err()
        })
        .map(|p| p.display().to_string())
        .collect();
    assert!(failed.is_empty(), "{target}: {failed:#?}");
}

#[test]
fn token_corpus() {
    replay("token", token::check);
}

#[test]
fn headers_corpus() {
    replay("headers", headers::check);
}

#[test]
fn paths_corpus() {
    replay("paths", paths::check);
}

#[test]
fn config_corpus() {
    replay("config", config::check);
}
