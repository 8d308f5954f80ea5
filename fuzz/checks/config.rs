//! Config parsing: any YAML is a config or a list of problems, never a panic.
//!
//! Shared by the fuzz target of the same name and by `tests/fuzz_corpus.rs`, which replays
//! the committed corpus in `cargo test`.

/// Panics when the property does not hold for `data`.
pub fn check(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = portcullis::config::from_yaml(text, &Default::default(), std::path::Path::new("."));
}
