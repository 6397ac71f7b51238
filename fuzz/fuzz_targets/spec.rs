//! Any HTTP spec text: `Spec::from_json` returns a checked spec or an error naming the
//! place, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use secret_rotor_http::Spec;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(message) = Spec::from_json(text) {
        assert!(!message.is_empty());
    }
});
