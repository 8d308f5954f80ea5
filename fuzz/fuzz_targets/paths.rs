//! The `paths` property (`fuzz/checks/paths.rs`) under libFuzzer.
#![no_main]

#[path = "../checks/paths.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
