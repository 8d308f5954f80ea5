//! The `headers` property (`fuzz/checks/headers.rs`) under libFuzzer.
#![no_main]

#[path = "../checks/headers.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
