//! Any payload: `RotationEvent::from_json` returns an event or an `InvalidEvent` error,
//! never panics; a parsed event's fields are what the payload said.
#![no_main]

use libfuzzer_sys::fuzz_target;
use secret_rotor::RotationEvent;

fuzz_target!(|data: &[u8]| {
    let Ok(payload) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    match RotationEvent::from_json(&payload) {
        Ok(event) => {
            assert_eq!(
                payload["SecretId"].as_str(),
                Some(event.secret_id.as_str()),
                "the secret id is the payload's"
            );
        }
        Err(e) => {
            let _ = (e.code(), e.to_string());
        }
    }
});
