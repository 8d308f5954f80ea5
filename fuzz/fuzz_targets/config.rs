//! The `config` property (`fuzz/checks/config.rs`) under libFuzzer.
#![no_main]

#[path = "../checks/config.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
