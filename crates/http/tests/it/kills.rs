//! The real `rotate-http` binary SIGKILLed at every Secrets Manager call and at every HTTP
//! request to the API of a rotation, before and after each, then retried as the service
//! would (`secret_rotor_testkit::kills`, an HTTP proxy in front of the API): RabbitMQ's
//! password change, single user (no lockout outside the window) and alternating users (no
//! window at all), and Verdaccio's issued tokens (no window, and after convergence every
//! live token of the account is held by AWSCURRENT or AWSPREVIOUS: a token issued by a
//! killed attempt is revoked by the next one). The figures are printed for
//! scripts/reliability.sh.

use secret_rotor_testkit::conformance::AlternatingFixture;
use secret_rotor_testkit::kills::{
    Backend, IssuedKeys, at_url, kill_and_report, kill_fixture_target,
};
use secret_rotor_testkit::moto::Moto;

use crate::verdaccio::Verdaccio;
use crate::{rabbitmq, verdaccio};

const BINARY: &str = env!("CARGO_BIN_EXE_rotate-http");

/// Kill points run at once: each has its own proxies and account, and the time goes to
/// waiting (process start, moto, the API), not to the two cores.
const PARALLEL: usize = 4;

/// A spec file for `HTTP_SPEC_FILE` (kept while the test runs).
fn spec_file(spec: serde_json::Value) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), spec.to_string()).unwrap();
    file
}

async fn rabbitmq(alternating: bool) {
    let fx = rabbitmq::fixture();
    let spec = spec_file(rabbitmq::spec_json());
    let spec_path = spec.path().display().to_string();
    let master = alternating.then(|| fx.master_secret());
    let figures = kill_fixture_target(
        "http-rabbitmq",
        BINARY.as_ref(),
        &fx,
        &[("HTTP_SPEC_FILE", spec_path.as_str())],
        &Backend::Http(rabbitmq::API.into()),
        master,
        at_url,
        PARALLEL,
    )
    .await;
    figures.assert_sound(!alternating);
    assert_eq!(figures.keys_checked, 0, "a password change issues no key");
}

#[tokio::test]
async fn a_sigkill_at_any_call_never_locks_out_rabbitmq_single_user() {
    rabbitmq(false).await;
}

#[tokio::test]
async fn a_sigkill_at_any_call_never_locks_out_rabbitmq_alternating_users() {
    rabbitmq(true).await;
}

/// Issued tokens: no window (the old token works until two generations later), and no
/// live token left that no labelled version holds — a kill after the issue request, before
/// PutSecretValue, included.
#[tokio::test]
async fn a_sigkill_at_any_call_never_leaks_or_locks_out_verdaccio_tokens() {
    let fx = verdaccio::fixture();
    let url = Verdaccio::shared().url().to_owned();
    let spec = spec_file(verdaccio::spec_json(true));
    let mut env = Moto::shared().env();
    env.push(("HTTP_SPEC_FILE".into(), spec.path().display().to_string()));
    let target = IssuedKeys {
        fixture: &fx,
        url_field: "url",
        backend_url: url.clone(),
    };
    let figures = kill_and_report(
        "http-verdaccio",
        "single-user",
        BINARY.as_ref(),
        &env,
        &Backend::Http(url),
        &target,
        false,
        PARALLEL,
    )
    .await;
    figures.assert_sound(false);
    assert_eq!(
        figures.keys_checked, figures.converged,
        "the live tokens were listed after every rotation"
    );
}
