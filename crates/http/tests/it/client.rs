//! What a real API does on a bad day, played by a small local server: 503s and 429s are
//! retried with backoff (bounded), a server that hangs ends in a bounded time, error
//! answers that echo the request never reach an error message, and a spec mistake stops
//! everything before a request is sent.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, put};
use secret_rotor::{Login, SecretValue, Target};
use secret_rotor_db::DbConfig;
use secret_rotor_http::{HttpCredential, HttpTarget, Spec};
use serde_json::{Value, json};

#[derive(Clone, Default)]
struct Counters {
    flaky: Arc<AtomicUsize>,
}

async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

fn api(counters: Counters) -> Router {
    Router::new()
        .route(
            "/flaky",
            get(|State(c): State<Counters>| async move {
                match c.flaky.fetch_add(1, Ordering::SeqCst) {
                    0 => StatusCode::SERVICE_UNAVAILABLE,
                    1 => StatusCode::TOO_MANY_REQUESTS,
                    _ => StatusCode::OK,
                }
            }),
        )
        .route("/down", get(|| async { StatusCode::BAD_GATEWAY }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                StatusCode::OK
            }),
        )
        .route(
            "/echo",
            put(|body: String| async move { (StatusCode::BAD_REQUEST, format!("bad request: {body}")) }),
        )
        .with_state(counters)
}

fn spec(base: &str, login_path: &str, timeout: f64) -> Spec {
    Spec::from_value(&json!({
        "name": "local",
        "allow_http": true,
        "timeout_secs": timeout,
        "retries": 2,
        "fields": {"username": "username", "secret": "password"},
        "login": {"method": "GET", "url": format!("{base}{login_path}"),
                  "auth": {"basic": {"username": "{{login.username}}", "password": "{{login.password}}"}}},
        "set_password": {"method": "PUT", "url": format!("{base}/echo"),
                         "body": {"password": "{{pending.password}}"}, "expect": [204]}
    }))
    .unwrap()
}

fn credential(target: &HttpTarget, password: &str) -> HttpCredential {
    target
        .parse_credential(
            &SecretValue::from_json(json!({"username": "app", "password": password})).unwrap(),
        )
        .unwrap()
}

#[tokio::test]
async fn transient_answers_are_retried_with_backoff_and_bounded() {
    let counters = Counters::default();
    let base = serve(api(counters.clone())).await;
    let target = HttpTarget::new(Some(spec(&base, "/flaky", 5.0)), &DbConfig::default()).unwrap();
    let started = Instant::now();
    assert_eq!(
        target
            .try_login(&credential(&target, "pw-1"))
            .await
            .unwrap(),
        Login::Accepted
    );
    assert_eq!(
        counters.flaky.load(Ordering::SeqCst),
        3,
        "503, 429, then 200"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "it waited between attempts"
    );

    let target = HttpTarget::new(Some(spec(&base, "/down", 5.0)), &DbConfig::default()).unwrap();
    let err = target
        .try_login(&credential(&target, "pw-1"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "TargetError");
    assert!(
        err.is_retryable(),
        "a 502 after the retries is worth another try later"
    );
    assert!(err.to_string().contains("502"), "{err}");
}

#[tokio::test]
async fn a_hanging_server_ends_in_bounded_time() {
    let base = serve(api(Counters::default())).await;
    let target = HttpTarget::new(Some(spec(&base, "/slow", 0.3)), &DbConfig::default()).unwrap();
    let started = Instant::now();
    let err = target
        .try_login(&credential(&target, "pw-1"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "TargetUnreachable", "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn answers_that_echo_the_request_never_reach_an_error() {
    let base = serve(api(Counters::default())).await;
    let target = HttpTarget::new(Some(spec(&base, "/flaky", 5.0)), &DbConfig::default()).unwrap();
    let secret = "S3cret-echoed-back";
    let err = target
        .set_password(&credential(&target, "pw-1"), &credential(&target, secret))
        .await
        .unwrap_err();
    let shown = err.display_chain().to_string();
    assert!(shown.contains("400"), "{shown}");
    assert!(!shown.contains(secret), "{shown}");
    assert!(!shown.contains("/echo"), "no URL in the message: {shown}");
}

#[tokio::test]
async fn plain_http_is_refused_unless_the_spec_allows_it() {
    let mut raw: Value = json!({
        "name": "local",
        "fields": {"secret": "password"},
        "login": {"method": "GET", "url": "{{login.url}}/whoami"},
        "set_password": {"method": "PUT", "url": "{{login.url}}/x"}
    });
    let spec = Spec::from_value(&raw).unwrap();
    let target = HttpTarget::new(Some(spec), &DbConfig::default()).unwrap();
    let c = target
        .parse_credential(
            &SecretValue::from_json(json!({"url": "http://127.0.0.1:9", "password": "pw"}))
                .unwrap(),
        )
        .unwrap();
    let err = target.try_login(&c).await.unwrap_err();
    assert_eq!(err.code(), "ConfigError");
    assert!(err.to_string().contains("allow_http"), "{err}");
    raw["login"]["url"] = json!("http://127.0.0.1:9/whoami");
    assert!(
        Spec::from_value(&raw)
            .unwrap_err()
            .contains("login.url: plain http")
    );
}
