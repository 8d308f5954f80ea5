//! The `token` property (`fuzz/checks/token.rs`) under libFuzzer.
#![no_main]

#[path = "../checks/token.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
