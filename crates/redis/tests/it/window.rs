//! No window: from setSecret on, the old and the new password both log in; the old one
//! goes only when the next rotation finishes; a crash's leftovers go then too.

use secret_rotor::{Stage, Step};
use secret_rotor_testkit::conformance::Case;
use secret_rotor_testkit::moto::Moto;

use crate::conformance::fixture;

#[tokio::test]
async fn both_passwords_log_in_until_the_next_rotation_retires_the_old_one() {
    let fx = fixture();
    let case = Case::new(&fx, "window", "first-Password-1").await;
    let first = case.first_password.clone();
    let token = case.start().await;
    case.ok(Step::CreateSecret, &token).await;
    let second = case.password(Stage::Pending).await.expect("pending");
    for step in [Step::SetSecret, Step::TestSecret, Step::FinishSecret] {
        case.ok(step, &token).await;
        for (which, password) in [("first", &first), ("second", &second)] {
            assert!(
                fx.0.login(&case.username, password).await.is_some(),
                "after {step}: the {which} password logs in"
            );
        }
    }
    assert_eq!(fx.0.password_count(&case.username).await, 2);
    case.rotate().await;
    let third = case.password(Stage::Current).await.expect("current");
    assert!(fx.0.login(&case.username, &third).await.is_some());
    assert!(
        fx.0.login(&case.username, &second).await.is_some(),
        "AWSPREVIOUS"
    );
    assert!(
        fx.0.login(&case.username, &first).await.is_none(),
        "retired"
    );
    assert_eq!(fx.0.password_count(&case.username).await, 2);
}

#[tokio::test]
async fn an_abandoned_pending_password_is_removed_by_the_next_rotation() {
    let fx = fixture();
    let case = Case::new(&fx, "abandoned", "first-Password-1").await;
    let token = case.start().await;
    case.ok(Step::CreateSecret, &token).await;
    case.ok(Step::SetSecret, &token).await;
    let abandoned = case.password(Stage::Pending).await.expect("pending");
    // An operator gives the rotation up: AWSPENDING off its version, a new rotation.
    Moto::shared()
        .sdk_client()
        .update_secret_version_stage()
        .secret_id(case.secret_id.as_str())
        .version_stage("AWSPENDING")
        .remove_from_version_id(token.as_str())
        .send()
        .await
        .expect("AWSPENDING removed");
    case.rotate().await;
    assert!(
        fx.0.login(&case.username, &abandoned).await.is_none(),
        "a password no label holds is removed"
    );
    assert!(case.logs_in(Stage::Current).await && case.logs_in(Stage::Previous).await);
    assert_eq!(fx.0.password_count(&case.username).await, 2);
}
