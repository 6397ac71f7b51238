//! A token-issuing API: Verdaccio's npm token API (a private server started by the tests,
//! from `tests/verdaccio/`, installed by `scripts/setup.sh` with `npm ci`), rotated by the
//! spec in `examples/specs/verdaccio.json`: tokens are issued in createSecret, the one two
//! generations old is revoked after finishSecret, and a key issued but never stored (a
//! crash) is swept. Verdaccio keeps no label on its tokens, so the spec declares the
//! account's tokens as this secret's alone (`exclusive_keys`).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use secret_rotor::{
    Outcome, RotationConfig, RotationEvent, Rotator, SecretId, Step, Target, VersionId,
};
use secret_rotor_db::DbConfig;
use secret_rotor_http::{HttpTarget, Spec};
use secret_rotor_testkit::conformance::IssuingFixture;
use secret_rotor_testkit::moto::{Moto, unique_name};
use secret_rotor_testkit::process::{
    ServiceGuard, free_port, service_dir, shell_quote, wait_for_port,
};
use serde_json::{Value, json};

/// A running Verdaccio (stopped when the test process exits).
pub(crate) struct Verdaccio {
    url: String,
    _guard: ServiceGuard,
}

impl Verdaccio {
    pub(crate) fn shared() -> &'static Verdaccio {
        static SHARED: OnceLock<Verdaccio> = OnceLock::new();
        SHARED.get_or_init(Verdaccio::start)
    }

    /// Its base URL (`http://127.0.0.1:PORT`).
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    fn start() -> Verdaccio {
        let install = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/verdaccio");
        let binary = install.join("node_modules/.bin/verdaccio");
        assert!(
            binary.exists(),
            "Verdaccio is not installed: run `npm ci` in {} (scripts/setup.sh does it)",
            install.display()
        );
        let dir = service_dir("secret-rotor-verdaccio-", None);
        let port = free_port();
        std::fs::write(
            dir.join("config.yaml"),
            format!(
                "storage: {d}/storage\nauth:\n  htpasswd:\n    file: {d}/htpasswd\n    max_users: 100000\n    rounds: 4\n\
                 uplinks: {{}}\npackages:\n  '**':\n    access: $authenticated\n    publish: $authenticated\n\
                 listen: 127.0.0.1:{port}\nlog: {{ type: stdout, format: json, level: warn }}\n\
                 userRateLimit: {{ windowMs: 1000, max: 100000 }}\n",
                d = dir.display()
            ),
        )
        .unwrap();
        let pid = dir.join("verdaccio.pid");
        let stop = format!(
            "[ -f {p} ] && kill -TERM \"$(cat {p})\" 2>/dev/null",
            p = shell_quote(&pid.to_string_lossy())
        );
        let guard = ServiceGuard::new("verdaccio", None, stop, Some(dir.clone()));
        let status = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "{} --config {} > {} 2>&1 & echo $! > {}",
                shell_quote(&binary.to_string_lossy()),
                shell_quote(&dir.join("config.yaml").to_string_lossy()),
                shell_quote(&dir.join("verdaccio.log").to_string_lossy()),
                shell_quote(&pid.to_string_lossy()),
            ))
            .stdin(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        assert!(
            wait_for_port(("127.0.0.1", port), Duration::from_secs(60)),
            "Verdaccio did not start: {}",
            std::fs::read_to_string(dir.join("verdaccio.log")).unwrap_or_default()
        );
        Verdaccio {
            url: format!("http://127.0.0.1:{port}"),
            _guard: guard,
        }
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// The example spec, allowed to use plain http to the local server.
pub(crate) fn spec_json(exclusive: bool) -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/specs/verdaccio.json");
    let mut raw: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    raw["allow_http"] = true.into();
    raw["exclusive_keys"] = exclusive.into();
    raw
}

fn spec(exclusive: bool) -> Spec {
    Spec::from_value(&spec_json(exclusive)).unwrap()
}

pub(crate) struct Tokens {
    exclusive: bool,
}

pub(crate) fn fixture() -> Tokens {
    Tokens { exclusive: true }
}

impl Tokens {
    /// Creates a user and issues its first token, as an operator would once.
    pub(crate) async fn account(&self) -> Value {
        let v = Verdaccio::shared();
        let user = unique_name("npm-");
        let password = format!("pw-{}", unique_name(""));
        // Verdaccio's htpasswd store refuses a registration while another one writes the
        // file ("bad username/password"): one registration at a time.
        static REGISTER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
        let _one_at_a_time = REGISTER.lock().await;
        let r = http()
            .put(format!("{}/-/user/org.couchdb.user:{user}", v.url))
            .json(&json!({"name": user, "password": password}))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        assert_eq!(
            status,
            201,
            "create {user}: {}",
            r.text().await.unwrap_or_default()
        );
        let token: Value = http()
            .post(format!("{}/-/npm/v1/tokens", v.url))
            .basic_auth(&user, Some(&password))
            .json(&json!({"password": password, "readonly": false, "cidr_whitelist": []}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        json!({"url": v.url, "username": user, "password": password,
               "token": token["token"], "key_id": token["key"], "registry": "kept as is"})
    }
}

impl IssuingFixture for Tokens {
    type Target = HttpTarget;

    fn target(&self) -> HttpTarget {
        HttpTarget::new(Some(spec(self.exclusive)), &DbConfig::default()).unwrap()
    }

    async fn first_secret(&self) -> Value {
        self.account().await
    }

    async fn works(&self, secret: &Value) -> bool {
        let r = http()
            .get(format!("{}/-/npm/v1/user", secret["url"].as_str().unwrap()))
            .bearer_auth(secret["token"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        r.status().as_u16() == 200
    }

    async fn live_keys(&self, secret: &Value) -> Vec<String> {
        let body: Value = http()
            .get(format!(
                "{}/-/npm/v1/tokens",
                secret["url"].as_str().unwrap()
            ))
            .basic_auth(
                secret["username"].as_str().unwrap(),
                secret["password"].as_str(),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["objects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["key"].as_str().unwrap().to_owned())
            .collect()
    }

    fn key_id_field(&self) -> &'static str {
        "key_id"
    }

    fn key_field(&self) -> &'static str {
        "token"
    }
}

secret_rotor_testkit::issuing_conformance_tests!(fixture());

/// Without `exclusive_keys`, a key no version holds is reported (its id and when it was
/// issued), not revoked: other secrets may hold the account's other tokens.
#[tokio::test]
async fn keys_of_a_shared_account_are_reported_not_revoked() {
    let fx = Tokens { exclusive: false };
    let secret = fx.account().await;
    // Someone else's token on the same account.
    let other: Value = http()
        .post(format!(
            "{}/-/npm/v1/tokens",
            secret["url"].as_str().unwrap()
        ))
        .basic_auth(
            secret["username"].as_str().unwrap(),
            secret["password"].as_str(),
        )
        .json(&json!({"password": secret["password"], "readonly": false, "cidr_whitelist": []}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let moto = Moto::shared();
    let arn = moto
        .create_secret(&unique_name("npm/shared"), &secret.to_string())
        .await;
    let target = fx.target();
    let rotator = Rotator::new(
        target,
        moto.store().await,
        RotationConfig::defaults(&fx.target()),
    )
    .unwrap();
    let id = SecretId::new(&arn).unwrap();
    let mut last = None;
    for _ in 0..2 {
        let token = VersionId::new(moto.start_rotation(&arn, None).await.unwrap()).unwrap();
        for step in Step::ALL {
            let report = rotator
                .handle(&RotationEvent::new(step, id.clone(), token.clone()))
                .await
                .unwrap_or_else(|e| panic!("{step}: {}", e.display_chain()));
            last = Some(report.outcome);
        }
    }
    let Some(Outcome::Promoted {
        retired: Some(retired),
        ..
    }) = last
    else {
        panic!("{last:?}")
    };
    let other_key = other["key"].as_str().unwrap();
    assert!(
        retired
            .possible_orphans
            .iter()
            .any(|o| o.starts_with(other_key) && o.contains("issued 20")),
        "{retired:?}"
    );
    assert!(!retired.revoked.iter().any(|r| r == other_key));
    assert!(
        fx.works(&json!({"url": secret["url"], "token": other["token"]}))
            .await,
        "not revoked"
    );
    assert_eq!(
        retired.revoked,
        [secret["key_id"].as_str().unwrap()],
        "the first key, two generations old"
    );
}

/// testSecret's proof is the API's own check of the token (`verify`): a token the API does
/// not know is refused, the issued one accepted.
#[tokio::test]
async fn test_secret_proves_the_pending_token_with_the_api() {
    let fx = fixture();
    let secret = fx.account().await;
    let target = fx.target();
    let good = target
        .parse_credential(&secret_rotor::SecretValue::from_json(secret.clone()).unwrap())
        .unwrap();
    assert!(target.verify(&good).await.unwrap().is_accepted());
    let mut bad = secret.clone();
    bad["token"] = "not-a-token".into();
    let bad = target
        .parse_credential(&secret_rotor::SecretValue::from_json(bad).unwrap())
        .unwrap();
    assert!(!target.verify(&bad).await.unwrap().is_accepted());
}
