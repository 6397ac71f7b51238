//! The PostgreSQL rotation Lambda function.

use secret_rotor_postgres::PostgresTarget;

#[tokio::main]
async fn main() -> Result<(), secret_rotor::lambda::LambdaError> {
    secret_rotor::lambda::run(PostgresTarget::from_env()).await
}
