//! The MySQL / MariaDB rotation Lambda function.

use secret_rotor_mysql::MysqlTarget;

#[tokio::main]
async fn main() -> Result<(), secret_rotor::lambda::LambdaError> {
    secret_rotor::lambda::run(MysqlTarget::from_env()).await
}
