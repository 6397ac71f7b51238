//! The exact requests `AwsSecretStore` sends, checked with aws-smithy-mocks: the
//! `RotationToken` is forwarded, the pending version is staged under the token, and
//! reads name both the version and the stage.

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::operation::describe_secret::DescribeSecretOutput;
use aws_sdk_secretsmanager::operation::get_secret_value::{
    GetSecretValueError, GetSecretValueOutput,
};
use aws_sdk_secretsmanager::operation::put_secret_value::PutSecretValueOutput;
use aws_sdk_secretsmanager::types::error::ResourceNotFoundException;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use secret_rotor::store::AwsSecretStore;
use secret_rotor::{RotationConfig, RotationEvent, Rotator};
use secret_rotor_testkit::memory_target::MemoryTarget;
use serde_json::json;

const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf";
const TOKEN: &str = "5e0b1c4c-0c4e-4d1e-9f7a-3b2a1c0d9e8f";

#[tokio::test]
async fn create_secret_forwards_the_rotation_token_and_stages_under_the_token() {
    let describe = mock!(Client::describe_secret)
        .match_requests(|r| r.secret_id() == Some(ARN))
        .then_output(|| {
            DescribeSecretOutput::builder()
                .arn(ARN)
                .rotation_enabled(true)
                .version_ids_to_stages("v1", vec!["AWSCURRENT".into()])
                .version_ids_to_stages(TOKEN, vec!["AWSPENDING".into()])
                .build()
        });
    let pending_empty = mock!(Client::get_secret_value)
        .match_requests(|r| {
            r.version_id() == Some(TOKEN) && r.version_stage() == Some("AWSPENDING")
        })
        .then_error(|| {
            GetSecretValueError::ResourceNotFoundException(
                ResourceNotFoundException::builder().build(),
            )
        });
    let current = mock!(Client::get_secret_value)
        .match_requests(|r| r.version_id() == Some("v1") && r.version_stage() == Some("AWSCURRENT"))
        .then_output(|| {
            GetSecretValueOutput::builder()
                .secret_string(r#"{"username":"app","password":"old","kept":true}"#)
                .build()
        });
    let put = mock!(Client::put_secret_value)
        .match_requests(|r| {
            r.secret_id() == Some(ARN)
                && r.client_request_token() == Some(TOKEN)
                && r.version_stages() == ["AWSPENDING".to_owned()]
                && r.rotation_token() == Some("opaque-rotation-token")
                && r.secret_string()
                    .is_some_and(|s| s.contains(r#""kept":true"#) && !s.contains(r#""old""#))
        })
        .then_output(|| PutSecretValueOutput::builder().build());
    let client = mock_client!(
        aws_sdk_secretsmanager,
        RuleMode::MatchAny,
        [&describe, &pending_empty, &current, &put]
    );

    let target = MemoryTarget::new();
    let rotator = Rotator::new(
        target.clone(),
        AwsSecretStore::new(client),
        RotationConfig::defaults(&target),
    )
    .unwrap();
    let event = RotationEvent::from_json(&json!({
        "Step": "createSecret", "SecretId": ARN, "ClientRequestToken": TOKEN,
        "RotationToken": "opaque-rotation-token"
    }))
    .unwrap();
    rotator.handle(&event).await.unwrap();
    assert_eq!(
        (
            describe.num_calls(),
            pending_empty.num_calls(),
            current.num_calls(),
            put.num_calls()
        ),
        (1, 1, 1, 1)
    );
}
