//! One test per sample event in `events/`: it parses into the engine's event type with the
//! step its file name says, and round-trips to the same JSON.

use std::path::{Path, PathBuf};

use secret_rotor::{RotationEvent, Step};
use serde_json::Value;

fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../events")
}

fn load(name: &str) -> (Value, RotationEvent) {
    let path = events_dir().join(name);
    let raw: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("readable"))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let event = RotationEvent::from_json(&raw).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(event.to_json(), raw, "{name} round-trips");
    assert!(
        event
            .secret_id
            .as_str()
            .starts_with("arn:aws:secretsmanager:"),
        "{name}: SecretId is an ARN"
    );
    (raw, event)
}

macro_rules! sample_event_tests {
    ($($test:ident: $file:literal => $step:expr, rotation_token: $rt:literal;)*) => {
        $(
            #[test]
            fn $test() {
                let (_, event) = load($file);
                assert_eq!(event.step, $step);
                assert_eq!(event.rotation_token.is_some(), $rt);
            }
        )*

        /// Every file in `events/` has a test above.
        #[test]
        fn every_sample_event_is_tested() {
            let tested = [$($file),*];
            for entry in std::fs::read_dir(events_dir()).expect("events/") {
                let entry = entry.expect("entry");
                if entry.file_type().expect("file type").is_dir() {
                    continue; // events/secrets: example secret values, tested apart
                }
                let name = entry.file_name().into_string().expect("utf-8");
                assert!(tested.contains(&name.as_str()), "events/{name} has no test");
            }
        }
    };
}

sample_event_tests! {
    create_secret: "createSecret.json" => Step::CreateSecret, rotation_token: false;
    set_secret: "setSecret.json" => Step::SetSecret, rotation_token: false;
    test_secret: "testSecret.json" => Step::TestSecret, rotation_token: false;
    finish_secret: "finishSecret.json" => Step::FinishSecret, rotation_token: false;
    create_secret_with_rotation_token: "createSecret-rotationToken.json" => Step::CreateSecret, rotation_token: true;
}

#[test]
fn the_four_steps_share_one_rotation() {
    let tokens: Vec<String> = ["createSecret", "setSecret", "testSecret", "finishSecret"]
        .iter()
        .map(|s| {
            load(&format!("{s}.json"))
                .1
                .client_request_token
                .to_string()
        })
        .collect();
    assert!(tokens.windows(2).all(|w| w[0] == w[1]), "{tokens:?}");
}
