//! A tiny Lambda function for proving the Runtime API emulator of
//! [`secret_rotor_testkit::runtime_api`]: it echoes its payload and fails with error type
//! `EchoFailure` when the payload has `"fail": true`. It prints one line per invocation on
//! stdout and one on stderr, so tests can check that logs are captured.

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::Value;

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
    let (payload, context) = event.into_parts();
    println!("echo-lambda stdout: request {}", context.request_id);
    eprintln!("echo-lambda stderr: request {}", context.request_id);
    if payload.get("fail").and_then(Value::as_bool) == Some(true) {
        return Err(Diagnostic {
            error_type: "EchoFailure".into(),
            error_message: format!("asked to fail (request {})", context.request_id),
        });
    }
    Ok(serde_json::json!({
        "echo": payload,
        "requestId": context.request_id,
        "functionArn": context.invoked_function_arn,
    }))
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    if std::env::var_os("ECHO_LAMBDA_FAIL_INIT").is_some() {
        // Report an init error the way a function that cannot start does.
        eprintln!("echo-lambda: failing init on purpose");
        std::process::exit(3);
    }
    lambda_runtime::run(service_fn(handler)).await
}
