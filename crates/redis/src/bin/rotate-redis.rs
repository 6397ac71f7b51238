//! The Redis ACL user rotation Lambda function.

use secret_rotor_redis::RedisTarget;

#[tokio::main]
async fn main() -> Result<(), secret_rotor::lambda::LambdaError> {
    secret_rotor::lambda::run(RedisTarget::from_env()).await
}
