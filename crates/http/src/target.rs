//! [`HttpTarget`]: the [`Target`] implementation that runs a spec.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use secret_rotor::{
    AlternateContext, AlternateReport, Capabilities, Error, Login, PendingRequest, Result,
    RetireReport, RetireRequest, SecretValue, Strategy, Target, TargetInfo,
};
use secret_rotor_db::{DbConfig, TrustedCas};
use serde_json::Value;

use crate::client::{Answer, Client};
use crate::credential::{HttpCredential, SPEC_KEY};
use crate::spec::{Check, Request, Spec};
use crate::steps::{self, Ran};
use crate::template::{self, Scope};
use crate::{alternate, keys};

/// The environment variable naming the spec file.
pub const SPEC_FILE: &str = "HTTP_SPEC_FILE";

/// The values a request's templates can use.
#[derive(Default)]
pub(crate) struct Vars<'a> {
    pub(crate) login: Option<&'a HttpCredential>,
    pub(crate) current: Option<&'a HttpCredential>,
    pub(crate) pending: Option<&'a HttpCredential>,
    pub(crate) master: Option<&'a HttpCredential>,
    pub(crate) token: Option<&'a str>,
    pub(crate) saved: Option<&'a BTreeMap<String, Value>>,
    pub(crate) item: Option<&'a Value>,
    pub(crate) key: Option<&'a Value>,
}

impl<'a> Vars<'a> {
    /// The same credentials, with these saved values and `for_each` element.
    pub(crate) fn with<'b>(
        &self,
        saved: Option<&'b BTreeMap<String, Value>>,
        item: Option<&'b Value>,
    ) -> Vars<'b>
    where
        'a: 'b,
    {
        Vars {
            login: self.login,
            current: self.current,
            pending: self.pending,
            master: self.master,
            token: self.token,
            saved,
            item,
            key: self.key,
        }
    }
}

impl Scope for Vars<'_> {
    fn lookup(&self, namespace: &str, field: &str) -> Option<Value> {
        let credential = match namespace {
            "login" => self.login,
            "current" => self.current,
            "pending" => self.pending,
            "master" => self.master,
            "token" => return self.token.map(|t| Value::String(t.to_owned())),
            "saved" => return self.saved?.get(field).cloned(),
            "item" => return self.item?.get(field).cloned(),
            "key" => return self.key?.get(field).cloned(),
            _ => None,
        };
        credential?.lookup(field)
    }
}

/// The HTTP API target: a spec from `HTTP_SPEC_FILE`, or one embedded in each secret
/// under `rotation_spec`.
#[derive(Debug, Clone)]
pub struct HttpTarget {
    spec: Option<(Arc<Spec>, Arc<Client>)>,
    cas: TrustedCas,
}

impl HttpTarget {
    /// A target for `spec` (or, with `None`, for specs embedded in the secrets), trusting
    /// the CAs of `config` (`TLS_CA_BUNDLE`).
    pub fn new(spec: Option<Spec>, config: &DbConfig) -> Result<Self> {
        let cas = TrustedCas::load(config)?;
        let spec = spec.map(|spec| {
            let client = Client::new(cas.clone(), spec.timeout);
            (Arc::new(spec), Arc::new(client))
        });
        Ok(HttpTarget { spec, cas })
    }

    /// A target configured from the environment: the spec of `HTTP_SPEC_FILE` (checked
    /// now: a mistake is a `ConfigError` naming its place, and nothing is called), or
    /// specs embedded in the secrets; `TLS_CA_BUNDLE` for the CAs.
    pub fn from_env() -> Result<Self> {
        let spec = match std::env::var(SPEC_FILE)
            .ok()
            .filter(|p| !p.trim().is_empty())
        {
            Some(path) => Some(load_spec(Path::new(&path))?),
            None => None,
        };
        HttpTarget::new(spec, &DbConfig::from_env()?)
    }

    /// Runs a check (login or testSecret) for `credential`.
    async fn check(
        &self,
        place: &str,
        check: &Check,
        credential: &HttpCredential,
    ) -> Result<Login> {
        let vars = Vars {
            login: Some(credential),
            ..Vars::default()
        };
        let answer = send(credential, place, &check.request, &vars).await?;
        if check.refused.contains(&answer.status) {
            return Ok(Login::Refused {
                reason: format!("{place}: status {}", answer.status),
            });
        }
        expect(credential, place, &check.request, &answer)?;
        if let (Some(pointer), Some(equals)) = (&check.pointer, &check.equals) {
            let want = template::render(equals, &vars)
                .map_err(|m| Error::config(format!("{place}.equals: {m}")))?;
            let got = answer.body.pointer(pointer).and_then(Value::as_str);
            if got != Some(want.as_str()) {
                return Ok(Login::Refused {
                    reason: format!("{place}: the answer's {pointer} is not the credential's"),
                });
            }
        }
        Ok(Login::Accepted)
    }
}

/// Reads and checks a spec file.
pub fn load_spec(path: &Path) -> Result<Spec> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::config(format!("{SPEC_FILE} {}: {e}", path.display())))?;
    Spec::from_json(&text)
        .map_err(|m| Error::config(format!("{SPEC_FILE} {}: {m}", path.display())))
}

/// Sends a request of `credential`'s spec.
pub(crate) async fn send(
    credential: &HttpCredential,
    place: &str,
    request: &Request,
    vars: &Vars<'_>,
) -> Result<Answer> {
    credential
        .client
        .send(&credential.spec, place, request, vars)
        .await
}

/// An error unless the answer's status is a success of `request`.
pub(crate) fn expect(
    credential: &HttpCredential,
    place: &str,
    request: &Request,
    answer: &Answer,
) -> Result<()> {
    if request.succeeded(answer.status) {
        return Ok(());
    }
    Err(Error::Target {
        target: credential.server(),
        reason: format!(
            "{} {place}: unexpected status {} (the answer's body is not shown: APIs echo what \
             they were sent)",
            credential.spec.name(),
            answer.status
        ),
        retryable: answer.status == 429 || answer.status >= 500,
        source: None,
    })
}

use secret_rotor::Credential as _;

impl Target for HttpTarget {
    type Credential = HttpCredential;

    fn info(&self) -> TargetInfo {
        let capabilities = Capabilities::new(&[Strategy::SingleUser, Strategy::AlternatingUsers]);
        // Keys the API issues are retired two generations later; with specs embedded in
        // the secrets, the target cannot know up front and asks for what retiring needs.
        let retiring = self
            .spec
            .as_ref()
            .is_none_or(|(spec, _)| spec.issues_keys());
        TargetInfo::new(
            "http",
            if retiring {
                capabilities.retiring()
            } else {
                capabilities
            },
        )
    }

    fn parse_credential(&self, secret: &SecretValue) -> Result<HttpCredential> {
        let (spec, client) = match &self.spec {
            Some((spec, client)) => (Arc::clone(spec), Arc::clone(client)),
            None => {
                let embedded = secret.get(SPEC_KEY).ok_or_else(|| {
                    Error::invalid_secret(format!(
                        "no spec: set {SPEC_FILE}, or put the spec under \"{SPEC_KEY}\""
                    ))
                })?;
                let spec = Spec::from_value(embedded)
                    .map_err(|m| Error::invalid_secret(format!("\"{SPEC_KEY}\": {m}")))?;
                let client = Client::new(self.cas.clone(), spec.timeout);
                (Arc::new(spec), Arc::new(client))
            }
        };
        HttpCredential::parse(secret, spec, client)
    }

    async fn try_login(&self, credential: &HttpCredential) -> Result<Login> {
        let spec = Arc::clone(&credential.spec);
        self.check("login", &spec.login, credential).await
    }

    async fn set_password(
        &self,
        login_as: &HttpCredential,
        pending: &HttpCredential,
    ) -> Result<Login> {
        let spec = Arc::clone(&pending.spec);
        let Some(steps) = &spec.set_password else {
            return Ok(Login::Refused {
                reason: "the API issues its credentials: one cannot be set (it was revoked?)"
                    .into(),
            });
        };
        // Prove who `login_as` is first (the spec's login, with its identity check): the
        // steps act with its rights, and a base URL that bends the templated paths (a query,
        // dot segments) must not make them act on another user.
        if let refused @ Login::Refused { .. } = self.check("login", &spec.login, login_as).await? {
            return Ok(refused);
        }
        let vars = Vars {
            login: Some(login_as),
            pending: Some(pending),
            ..Vars::default()
        };
        let ran = steps::run(
            pending,
            "set_password",
            steps,
            &vars,
            false,
            &spec.login.refused,
            BTreeMap::new(),
        )
        .await?;
        Ok(match ran {
            Ran::Done(_) => Login::Accepted,
            Ran::Refused(status) => Login::Refused {
                reason: format!("set_password: status {status}"),
            },
        })
    }

    async fn verify(&self, pending: &HttpCredential) -> Result<Login> {
        let spec = Arc::clone(&pending.spec);
        match &spec.test {
            Some(test) => self.check("test", test, pending).await,
            None => self.check("login", &spec.login, pending).await,
        }
    }

    async fn pending_value(
        &self,
        request: PendingRequest<'_, HttpCredential>,
    ) -> Result<SecretValue> {
        if request.current.spec.issues_keys() {
            keys::issue(request).await
        } else {
            Ok(request.proposed)
        }
    }

    async fn retire(&self, request: RetireRequest<'_, HttpCredential>) -> Result<RetireReport> {
        keys::retire(request).await
    }

    async fn sync_alternate(
        &self,
        master: &HttpCredential,
        current: &HttpCredential,
        pending: &HttpCredential,
        context: AlternateContext,
    ) -> Result<AlternateReport> {
        alternate::sync(master, current, pending, context).await
    }
}
