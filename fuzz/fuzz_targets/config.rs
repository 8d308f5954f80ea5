//! Config parsing: any YAML is a config or a list of problems, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = portcullis::config::from_yaml(text, &Default::default(), std::path::Path::new("."));
});
