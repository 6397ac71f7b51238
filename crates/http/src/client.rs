//! Sending a spec's request: templates rendered, bounded time, retries with backoff on
//! 429 and 5xx, TLS through rustls with the configured CAs. Nothing secret is logged or put
//! in an error: not the URL (it may carry a key), not the headers, not the answer's body
//! (APIs echo what they were sent).

use std::error::Error as _;
use std::sync::OnceLock;
use std::time::Duration;

use reqwest::header::{HeaderName, HeaderValue};
use secret_rotor::{Error, Result};
use secret_rotor_db::{TrustedCas, failure};
use serde_json::Value;
use tracing::{debug, warn};

use crate::spec::{Auth, Request, Spec};
use crate::template::{self, Scope};

/// An answer: its status and its body as JSON (`Null` when it is not JSON).
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Value,
}

/// The first wait between attempts; it doubles each time, and `Retry-After` is honoured
/// up to [`MAX_WAIT`].
const FIRST_WAIT: Duration = Duration::from_millis(200);
const MAX_WAIT: Duration = Duration::from_secs(5);

/// Sends requests for one spec.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    cas: TrustedCas,
    timeout: Duration,
    /// Built on the first request: its TLS configuration reads the system's root
    /// certificates, which the function's start and a step refused before any request
    /// never need.
    http: OnceLock<reqwest::Client>,
}

impl Client {
    /// A client trusting `cas` (verify-full) and bounded by the spec's timeout.
    pub(crate) fn new(cas: TrustedCas, timeout: Duration) -> Client {
        Client {
            cas,
            timeout,
            http: OnceLock::new(),
        }
    }

    /// The HTTP client, built once.
    fn http(&self) -> Result<&reqwest::Client> {
        if let Some(http) = self.http.get() {
            return Ok(http);
        }
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(self.cas.client_config()?)
            .timeout(self.timeout)
            .connect_timeout(self.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .map_err(|e| Error::config(format!("cannot build the HTTP client: {e}")))?;
        Ok(self.http.get_or_init(|| http))
    }

    /// Sends `request` (the spec step `place`) with values from `scope`; retries 429 and
    /// 5xx answers and connection failures up to the spec's `retries`, with backoff.
    pub(crate) async fn send(
        &self,
        spec: &Spec,
        place: &str,
        request: &Request,
        scope: &dyn Scope,
    ) -> Result<Answer> {
        let url = template::render(&request.url, scope).map_err(|m| config(place, m))?;
        check_url(place, &url)?;
        let server = origin(&url);
        if url.to_ascii_lowercase().starts_with("http://") && !spec.allow_http {
            return Err(Error::config(format!(
                "{place}: the URL is plain http; use https, or set \"allow_http\": true in the spec"
            )));
        }
        let body = request
            .body
            .as_ref()
            .map(|b| b.render(scope).map_err(|m| config(place, m)))
            .transpose()?;
        let mut headers = Vec::new();
        for (name, value) in &request.headers {
            headers.push((
                name.clone(),
                template::render(value, scope).map_err(|m| config(place, m))?,
            ));
        }
        let render = |parts| template::render(parts, scope).map_err(|m| config(place, m));
        let auth = match &request.auth {
            None => None,
            Some(Auth::Basic { username, password }) => {
                Some(Authorization::Basic(render(username)?, render(password)?))
            }
            Some(Auth::Bearer(token)) => Some(Authorization::Bearer(render(token)?)),
            Some(Auth::Header { name, value }) => {
                headers.push((name.clone(), render(value)?));
                None
            }
        };
        let http = self.http()?;
        let mut wait = FIRST_WAIT;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut builder = http.request(request.method.clone(), &url);
            builder = match &auth {
                Some(Authorization::Basic(user, password)) => {
                    builder.basic_auth(user, Some(password))
                }
                Some(Authorization::Bearer(token)) => builder.bearer_auth(token),
                None => builder,
            };
            for (name, value) in &headers {
                let name = HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| config(place, format!("{name:?} is not a header name")))?;
                let mut value = HeaderValue::from_str(value).map_err(|_| {
                    config(place, format!("the value of header {name} is not valid"))
                })?;
                value.set_sensitive(true);
                builder = builder.header(name, value);
            }
            if let Some(body) = &body {
                builder = builder.json(body);
            }
            let retry_after;
            match builder.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    retry_after = response
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    let transient = status == 429 || status >= 500;
                    if !transient || attempt > spec.retries {
                        let bytes = read_body(response, &server, place).await?;
                        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                        debug!(spec = %spec.name, step = place, status, "HTTP answer");
                        return Ok(Answer { status, body });
                    }
                    warn!(spec = %spec.name, step = place, status, attempt, "transient HTTP answer; retrying");
                }
                Err(e) => {
                    let e = e.without_url();
                    if attempt > spec.retries || !(e.is_connect() || e.is_timeout()) {
                        return Err(transport_error(server, place, e));
                    }
                    warn!(spec = %spec.name, step = place, attempt, "HTTP request failed; retrying");
                    retry_after = None;
                }
            }
            let pause = retry_after.unwrap_or(wait).min(MAX_WAIT);
            tokio::time::sleep(pause).await;
            wait = (wait * 2).min(MAX_WAIT);
        }
    }
}

/// The largest answer read: spec answers are small JSON documents; an API that sends more
/// (or never stops) is cut off rather than filling the function's memory.
pub(crate) const MAX_BODY: usize = 4 * 1024 * 1024;

/// Reads an answer's body, up to [`MAX_BODY`]. A body that breaks off (a reset, the
/// spec's timeout) is an error, not an empty answer.
async fn read_body(mut response: reqwest::Response, server: &str, place: &str) -> Result<Vec<u8>> {
    let too_large = || Error::Target {
        target: server.to_owned(),
        reason: format!(
            "{place}: the answer is larger than {} MiB; not read",
            MAX_BODY / (1024 * 1024)
        ),
        retryable: false,
        source: None,
    };
    if response
        .content_length()
        .is_some_and(|n| n > MAX_BODY as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_BODY {
                    return Err(too_large());
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) => return Err(transport_error(server.to_owned(), place, e.without_url())),
        }
    }
}

/// A rendered URL must be an absolute `http(s)` URL without a fragment: a `#` (or a `?`
/// in the base URL) would make the rest of a template — the path naming the user — a
/// part the server never sees as a path, so a request meant for one resource would reach
/// another. The URL is not shown (it may carry a key).
fn check_url(place: &str, url: &str) -> Result<()> {
    let parsed = reqwest::Url::parse(url).map_err(|e| {
        Error::config(format!(
            "{place}: the rendered URL is not a valid URL ({e}); check the secret's base URL"
        ))
    })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(Error::config(format!(
            "{place}: the rendered URL is not an http(s) URL with a host"
        )));
    }
    if url.contains('#') || parsed.fragment().is_some() {
        return Err(Error::config(format!(
            "{place}: the rendered URL holds a fragment (#): the rest of the template would \
             not reach the server; encode values with `| url`"
        )));
    }
    Ok(())
}

/// The URL's scheme, host and port, for messages (never its path or query).
fn origin(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => format!(
            "{}://{}{}",
            u.scheme(),
            u.host_str().unwrap_or("?"),
            u.port().map(|p| format!(":{p}")).unwrap_or_default()
        ),
        Err(_) => "the API".to_owned(),
    }
}

fn config(place: &str, message: String) -> Error {
    Error::config(format!("{place}: {message}"))
}

/// `Authorization` as reqwest writes it (and marks it sensitive).
enum Authorization {
    Basic(String, String),
    Bearer(String),
}

/// A request that got no answer: TLS refused, unreachable, or timed out.
fn transport_error(server: String, place: &str, e: reqwest::Error) -> Error {
    if failure::is_tls_failure(&e) {
        return failure::tls_failure(server, e);
    }
    let timeout = e.is_timeout();
    let mut text = String::new();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(&s.to_string());
        source = s.source();
    }
    if text.contains("InvalidContentType") || text.contains("corrupt message") {
        // A plain-http server answering a TLS handshake.
        return failure::no_tls(server, e);
    }
    Error::Unreachable {
        target: server,
        reason: if timeout {
            format!("{place}: no answer in time")
        } else {
            format!("{place}: the request failed")
        },
        source: Some(Box::new(e)),
    }
}
