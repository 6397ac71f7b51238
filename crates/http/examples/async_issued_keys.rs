//! A target written in code, for an API the declarative spec cannot express: keys are
//! issued **asynchronously** (`POST /v1/keys` answers `202` with a job id, and the key
//! appears at `GET /v1/jobs/{id}` some seconds later), and every request is scoped by an
//! `X-Tenant` header taken from the secret.
//!
//! It implements the same `Target` trait as `rotate-http`: the core runs the protocol
//! (labels, preconditions, idempotence, the proof before promotion, the retire after
//! finishSecret); this file only talks to the API. Build it as a Lambda binary with
//! `cargo lambda build --release --example async_issued_keys`, or copy it into a crate
//! of its own.
//!
//! The secret: `{"url": "https://keys.example.com", "tenant": "acme", "key_id": "…",
//! "api_key": "…"}`.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use secret_rotor::{
    Capabilities, Credential, Error, Login, PendingRequest, Result, RetireReport, RetireRequest,
    SecretValue, Strategy, Target, TargetInfo,
};
use serde_json::Value;

/// One issued key, as the secret holds it.
struct ApiKey {
    url: String,
    tenant: String,
    id: String,
    key: SecretString,
}

impl Credential for ApiKey {
    /// Keys have no user; the tenant names whose they are.
    fn username(&self) -> &str {
        &self.tenant
    }

    fn server(&self) -> String {
        self.url.clone()
    }
}

/// The target: one HTTP client, reused across invocations.
struct AsyncKeys {
    http: reqwest::Client,
}

fn field(secret: &SecretValue, key: &str) -> Result<String> {
    secret
        .str(key)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| Error::invalid_secret(format!("missing \"{key}\"")))
}

/// A request that failed: retryable, with the client's error (URL stripped) as its source.
fn api_error(what: &str, e: reqwest::Error) -> Error {
    Error::Target {
        target: "async-keys API".into(),
        reason: what.into(),
        retryable: true,
        source: Some(Box::new(e.without_url())),
    }
}

/// An answer the API should not give: a person must look.
fn api_answer(reason: String) -> Error {
    Error::Target {
        target: "async-keys API".into(),
        reason,
        retryable: false,
        source: None,
    }
}

impl AsyncKeys {
    fn request(
        &self,
        method: reqwest::Method,
        key: &ApiKey,
        path: &str,
    ) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", key.url))
            .header("X-Tenant", &key.tenant)
            .bearer_auth(key.key.expose_secret())
    }

    /// Issues a key labelled with `label`, waiting (bounded) for the job to finish.
    async fn issue(&self, current: &ApiKey, label: &str) -> Result<(String, String)> {
        let job: Value = self
            .request(reqwest::Method::POST, current, "/v1/keys")
            .json(&serde_json::json!({"label": label}))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| api_error("POST /v1/keys", e))?
            .json()
            .await
            .map_err(|e| api_error("POST /v1/keys", e))?;
        let job_id = job["job"]
            .as_str()
            .ok_or_else(|| api_answer("POST /v1/keys: no job id".into()))?;
        for _ in 0..20 {
            let state: Value = self
                .request(reqwest::Method::GET, current, &format!("/v1/jobs/{job_id}"))
                .send()
                .await
                .and_then(reqwest::Response::error_for_status)
                .map_err(|e| api_error("GET /v1/jobs", e))?
                .json()
                .await
                .map_err(|e| api_error("GET /v1/jobs", e))?;
            if let (Some(id), Some(key)) = (state["key_id"].as_str(), state["key"].as_str()) {
                return Ok((id.to_owned(), key.to_owned()));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Err(api_answer(format!("job {job_id} did not finish in 10 s")))
    }

    /// Revokes key `id` (an absent key counts as revoked).
    async fn revoke(&self, current: &ApiKey, id: &str) -> Result<()> {
        let answer = self
            .request(reqwest::Method::DELETE, current, &format!("/v1/keys/{id}"))
            .send()
            .await
            .map_err(|e| api_error("DELETE /v1/keys", e))?;
        match answer.status().as_u16() {
            200..=299 | 404 => Ok(()),
            status => Err(api_answer(format!("DELETE /v1/keys: status {status}"))),
        }
    }

    /// Ids of the tenant's live keys carrying `label`.
    async fn labelled(&self, current: &ApiKey, label: &str) -> Result<Vec<String>> {
        let keys: Value = self
            .request(reqwest::Method::GET, current, "/v1/keys")
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| api_error("GET /v1/keys", e))?
            .json()
            .await
            .map_err(|e| api_error("GET /v1/keys", e))?;
        Ok(keys
            .as_array()
            .into_iter()
            .flatten()
            .filter(|k| k["label"] == label)
            .filter_map(|k| k["id"].as_str().map(str::to_owned))
            .collect())
    }
}

impl Target for AsyncKeys {
    type Credential = ApiKey;

    fn info(&self) -> TargetInfo {
        TargetInfo::new(
            "async-keys",
            Capabilities::new(&[Strategy::SingleUser]).retiring(),
        )
    }

    fn parse_credential(&self, secret: &SecretValue) -> Result<ApiKey> {
        Ok(ApiKey {
            url: field(secret, "url")?,
            tenant: field(secret, "tenant")?,
            id: field(secret, "key_id")?,
            key: SecretString::from(field(secret, "api_key")?),
        })
    }

    async fn try_login(&self, key: &ApiKey) -> Result<Login> {
        let answer = self
            .request(reqwest::Method::GET, key, "/v1/whoami")
            .send()
            .await
            .map_err(|e| api_error("GET /v1/whoami", e))?;
        Ok(match answer.status().as_u16() {
            200..=299 => Login::Accepted,
            401 | 403 => Login::Refused {
                reason: format!("key {} refused", key.id),
            },
            status => return Err(api_answer(format!("GET /v1/whoami: status {status}"))),
        })
    }

    /// Issued keys cannot be set: the key is live from createSecret on.
    async fn set_password(&self, _: &ApiKey, pending: &ApiKey) -> Result<Login> {
        self.try_login(pending).await
    }

    async fn pending_value(&self, request: PendingRequest<'_, ApiKey>) -> Result<SecretValue> {
        let label = request.token.to_string();
        // An earlier attempt of this rotation may have issued a key and crashed before
        // the core stored it: revoke those first, so retries never pile up live keys.
        for id in self.labelled(request.current, &label).await? {
            self.revoke(request.current, &id).await?;
        }
        let (id, key) = self.issue(request.current, &label).await?;
        Ok(request
            .proposed
            .with_field("key_id", id.into())
            .with_field("api_key", key.into()))
    }

    async fn retire(&self, request: RetireRequest<'_, ApiKey>) -> Result<RetireReport> {
        let mut report = RetireReport::default();
        let [current, previous] = request.keep;
        if let Some(old) = request.retired
            && old.id != current.id
            && old.id != previous.id
        {
            self.revoke(current, &old.id).await?;
            report.revoked.push(old.id.clone());
        }
        Ok(report)
    }
}

#[tokio::main]
async fn main() -> std::result::Result<(), secret_rotor::lambda::LambdaError> {
    let target = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map(|http| AsyncKeys { http })
        .map_err(|e| Error::config(format!("HTTP client: {e}")));
    secret_rotor::lambda::run(target).await
}
