//! The HTTP API rotation Lambda function (its spec from `HTTP_SPEC_FILE`, or embedded in
//! each secret).

use secret_rotor_http::HttpTarget;

#[tokio::main]
async fn main() -> Result<(), secret_rotor::lambda::LambdaError> {
    secret_rotor::lambda::run(HttpTarget::from_env()).await
}
