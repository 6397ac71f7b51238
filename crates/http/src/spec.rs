//! The declarative spec: how an HTTP API's credential is checked, changed or issued,
//! revoked, listed, and (alternating users) copied to another user — each step a templated
//! request. Loaded once, checked completely before anything is called: an unknown
//! template variable, a bad JSON pointer, a missing step, a header name or value HTTP
//! does not allow, or a plain-`http` URL without `"allow_http": true` is a `ConfigError`
//! naming the place.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;

use crate::template::{self, Allowed, Body, Part};

/// What a check, a change, an issue or a revoke sends.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequest {
    method: String,
    url: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    auth: Option<RawAuth>,
    #[serde(default)]
    body: Option<Value>,
    /// Statuses that mean success (default: any 2xx).
    #[serde(default)]
    expect: Vec<u16>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
enum RawAuth {
    Basic { username: String, password: String },
    Bearer(String),
    Header { name: String, value: String },
}

/// A request with its templates parsed.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub(crate) method: Method,
    pub(crate) url: Vec<Part>,
    pub(crate) headers: Vec<(String, Vec<Part>)>,
    pub(crate) auth: Option<Auth>,
    pub(crate) body: Option<Body>,
    pub(crate) expect: Vec<u16>,
}

/// How a request authenticates.
#[derive(Debug, Clone)]
pub(crate) enum Auth {
    Basic {
        username: Vec<Part>,
        password: Vec<Part>,
    },
    Bearer(Vec<Part>),
    Header {
        name: String,
        value: Vec<Part>,
    },
}

impl Request {
    /// Whether `status` is a success for this request.
    pub(crate) fn succeeded(&self, status: u16) -> bool {
        if self.expect.is_empty() {
            (200..300).contains(&status)
        } else {
            self.expect.contains(&status)
        }
    }
}

/// A spec step that checks a credential (the login, testSecret).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCheck {
    #[serde(flatten)]
    request: RawRequest,
    /// Statuses that mean "this credential is refused" (default 401, 403).
    #[serde(default)]
    refused: Vec<u16>,
    /// A JSON pointer into the answer whose value must equal `equals` (e.g. the user name
    /// the API says it authenticated).
    #[serde(default)]
    pointer: Option<String>,
    #[serde(default)]
    equals: Option<String>,
}

/// A check with its templates parsed.
#[derive(Debug, Clone)]
pub(crate) struct Check {
    pub(crate) request: Request,
    pub(crate) refused: Vec<u16>,
    pub(crate) pointer: Option<String>,
    pub(crate) equals: Option<Vec<Part>>,
}

/// Issuing a key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIssue {
    #[serde(flatten)]
    request: RawRequest,
    /// Secret field → JSON pointer into the answer (`{"token": "/token", "key_id": "/key"}`).
    extract: BTreeMap<String, String>,
}

/// Listing the account's keys, to find leftovers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawList {
    #[serde(flatten)]
    request: RawRequest,
    /// Pointer to the array of keys in the answer ("" for the answer itself).
    #[serde(default)]
    items: String,
    /// Pointer to a key's id within an item.
    id: String,
    /// Pointer to when it was issued (reported with possible orphans).
    #[serde(default)]
    created: Option<String>,
    /// Pointer to the label the issue request gave it (the rotation token), when the API
    /// keeps one.
    #[serde(default)]
    label: Option<String>,
}

/// Listing with its templates parsed.
#[derive(Debug, Clone)]
pub(crate) struct List {
    pub(crate) request: Request,
    pub(crate) items: String,
    pub(crate) id: String,
    pub(crate) created: Option<String>,
    pub(crate) label: Option<String>,
}

/// One request of the alternating-users procedure.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    #[serde(flatten)]
    request: RawRequest,
    /// Name → pointer: values of the answer kept for later templates (`{{saved.name}}`).
    #[serde(default)]
    save: BTreeMap<String, String>,
    /// Keep the whole answer under this name (for `for_each` and `parity`).
    #[serde(default)]
    save_as: Option<String>,
    /// Run once per element of this saved array (`{{item.field}}`).
    #[serde(default)]
    for_each: Option<String>,
    /// `"created"`: only when the pending user did not exist (e.g. make it without a usable
    /// password, marked as half-made).
    #[serde(default)]
    when: Option<When>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum When {
    Created,
}

/// A step with its templates parsed.
#[derive(Debug, Clone)]
pub(crate) struct Step {
    pub(crate) request: Request,
    pub(crate) save: BTreeMap<String, String>,
    pub(crate) save_as: Option<String>,
    pub(crate) for_each: Option<String>,
    /// Only when the pending user was just created.
    pub(crate) when_created: bool,
}

/// A comparison that must hold before the pending user gets its password.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParity {
    /// What is compared, for messages (`vhost permissions`).
    name: String,
    /// The saved answer (`save_as`) about the current user.
    current: String,
    /// The request that reads the same about the pending user.
    pending: RawRequest,
    /// Keys of each element that differ by design (e.g. the user name).
    #[serde(default)]
    ignore: Vec<String>,
}

/// A parity check with its templates parsed.
#[derive(Debug, Clone)]
pub(crate) struct ParityCheck {
    pub(crate) name: String,
    pub(crate) current: String,
    pub(crate) pending: Request,
    pub(crate) ignore: Vec<String>,
}

/// Whether the pending user exists, and whether a half-made one is this rotation's.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExists {
    #[serde(flatten)]
    request: RawRequest,
    /// Statuses that mean "no such user" (default 404).
    #[serde(default)]
    absent: Vec<u16>,
    /// A pointer and a text it contains, marking a user a rotation began (e.g. a tag the
    /// `steps` give it until `password` removes it).
    #[serde(default)]
    ours: Option<RawMark>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMark {
    pointer: String,
    contains: String,
}

/// The existence check, parsed.
#[derive(Debug, Clone)]
pub(crate) struct Exists {
    pub(crate) request: Request,
    pub(crate) absent: Vec<u16>,
    pub(crate) ours: Option<(String, String)>,
}

/// Alternating users: as the master, make the pending user hold what the current one
/// holds, password last.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlternate {
    exists: RawExists,
    steps: Vec<RawStep>,
    #[serde(default)]
    parity: Vec<RawParity>,
    password: RawRequest,
}

/// Alternating users, parsed.
#[derive(Debug, Clone)]
pub(crate) struct Alternate {
    pub(crate) exists: Exists,
    pub(crate) steps: Vec<Step>,
    pub(crate) parity: Vec<ParityCheck>,
    pub(crate) password: Request,
}

/// Which fields of the secret hold what.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fields {
    /// The field holding the user name; none for key-only credentials.
    #[serde(default)]
    pub username: Option<String>,
    /// The field holding the secret that rotates (`password`, `api_key`, `token`,
    /// `client_secret`...).
    pub secret: String,
    /// The field holding an issued key's id (the key-issuing shape).
    #[serde(default)]
    pub key_id: Option<String>,
    /// The field holding the API's base URL (default `url`); it also tells servers apart.
    #[serde(default = "default_url_field")]
    pub url: String,
}

fn default_url_field() -> String {
    "url".to_owned()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    name: String,
    #[serde(default)]
    allow_http: bool,
    #[serde(default)]
    timeout_secs: Option<f64>,
    #[serde(default)]
    retries: Option<u32>,
    fields: Fields,
    /// Keys this API user holds belong to this secret alone: leftovers may be revoked.
    #[serde(default)]
    exclusive_keys: bool,
    login: RawCheck,
    #[serde(default)]
    test: Option<RawCheck>,
    #[serde(default)]
    set_password: Option<RawSetPassword>,
    #[serde(default)]
    issue: Option<RawIssue>,
    #[serde(default)]
    revoke: Option<RawRequest>,
    #[serde(default)]
    list: Option<RawList>,
    #[serde(default)]
    alternate: Option<RawAlternate>,
}

/// The password change: one request, or steps whose last one sets the password (the
/// earlier ones read what it needs, e.g. the user's tags, with `save`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum RawSetPassword {
    One(RawRequest),
    Steps(Vec<RawStep>),
}

/// A loaded, checked spec. See the crate docs and the README for the format.
#[derive(Debug, Clone)]
pub struct Spec {
    pub(crate) name: String,
    pub(crate) allow_http: bool,
    pub(crate) timeout: Duration,
    pub(crate) retries: u32,
    pub(crate) fields: Fields,
    pub(crate) exclusive_keys: bool,
    pub(crate) login: Check,
    pub(crate) test: Option<Check>,
    /// Steps; the last one sets the password.
    pub(crate) set_password: Option<Vec<Step>>,
    pub(crate) issue: Option<(Request, BTreeMap<String, String>)>,
    pub(crate) revoke: Option<Request>,
    pub(crate) list: Option<List>,
    pub(crate) alternate: Option<Alternate>,
}

/// The namespaces each kind of request may use.
const LOGIN: Allowed = &["login"];
const SET_PASSWORD: Allowed = &["login", "pending", "saved"];
const ISSUE: Allowed = &["current", "token"];
const REVOKE: Allowed = &["current", "key"];
const LIST: Allowed = &["current"];
const ALTERNATE: Allowed = &["master", "current", "pending", "saved", "item", "token"];

impl Spec {
    /// Parses and checks a spec (JSON). The error names the place: `login.url: unknown
    /// template variable {{pending.password}}: "pending" is not available here`.
    pub fn from_json(text: &str) -> Result<Spec, String> {
        let raw: RawSpec = serde_json::from_str(text).map_err(|e| {
            format!(
                "not a valid spec (line {}, column {}): {e}",
                e.line(),
                e.column()
            )
        })?;
        Spec::check(raw)
    }

    /// Parses and checks a spec given as a JSON value (e.g. embedded in a secret).
    pub fn from_value(value: &Value) -> Result<Spec, String> {
        let raw: RawSpec =
            serde_json::from_value(value.clone()).map_err(|e| format!("not a valid spec: {e}"))?;
        Spec::check(raw)
    }

    fn check(raw: RawSpec) -> Result<Spec, String> {
        let allow_http = raw.allow_http;
        let request = |place: &str, r: &RawRequest, allowed: Allowed| {
            compile_request(place, r, allowed, allow_http)
        };
        let check = |place: &str, c: &RawCheck| -> Result<Check, String> {
            if let Some(p) = &c.pointer {
                pointer(&format!("{place}.pointer"), p)?;
            }
            if c.pointer.is_some() != c.equals.is_some() {
                return Err(format!("{place}: \"pointer\" and \"equals\" go together"));
            }
            Ok(Check {
                request: request(place, &c.request, LOGIN)?,
                refused: if c.refused.is_empty() {
                    vec![401, 403]
                } else {
                    c.refused.clone()
                },
                pointer: c.pointer.clone(),
                equals: c
                    .equals
                    .as_deref()
                    .map(|e| template::parse(e, LOGIN).map_err(|m| format!("{place}.equals: {m}")))
                    .transpose()?,
            })
        };
        let issue = raw
            .issue
            .as_ref()
            .map(|i| -> Result<_, String> {
                for (field, p) in &i.extract {
                    pointer(&format!("issue.extract.{field}"), p)?;
                }
                if !i.extract.contains_key(&raw.fields.secret) {
                    return Err(format!(
                        "issue.extract: nothing fills the secret field {:?}",
                        raw.fields.secret
                    ));
                }
                Ok((request("issue", &i.request, ISSUE)?, i.extract.clone()))
            })
            .transpose()?;
        match (&raw.set_password, &issue) {
            (None, None) => {
                return Err(
                    "a spec needs \"set_password\" (the API takes a new password) or \
                            \"issue\" (the API issues the credential)"
                        .into(),
                );
            }
            (Some(_), Some(_)) => {
                return Err("a spec has \"set_password\" or \"issue\", not both".into());
            }
            (None, Some(_)) if raw.revoke.is_none() => {
                return Err(
                    "issue: a spec that issues keys needs \"revoke\" (old keys are \
                            revoked two generations later)"
                        .into(),
                );
            }
            (None, Some(_)) if raw.fields.key_id.is_none() => {
                return Err(
                    "fields.key_id: a spec that issues keys keeps the key's id in the \
                            secret (revoke and list need it)"
                        .into(),
                );
            }
            _ => {}
        }
        let list = raw
            .list
            .as_ref()
            .map(|l| -> Result<List, String> {
                if !l.items.is_empty() {
                    pointer("list.items", &l.items)?;
                }
                pointer("list.id", &l.id)?;
                for (place, p) in [("list.created", &l.created), ("list.label", &l.label)] {
                    if let Some(p) = p {
                        pointer(place, p)?;
                    }
                }
                Ok(List {
                    request: request("list", &l.request, LIST)?,
                    items: l.items.clone(),
                    id: l.id.clone(),
                    created: l.created.clone(),
                    label: l.label.clone(),
                })
            })
            .transpose()?;
        let alternate = raw
            .alternate
            .as_ref()
            .map(|a| compile_alternate(a, allow_http))
            .transpose()?;
        let timeout = raw.timeout_secs.unwrap_or(10.0);
        if !(timeout > 0.0 && timeout <= 120.0) {
            return Err("timeout_secs must be greater than 0 and at most 120".into());
        }
        Ok(Spec {
            login: check("login", &raw.login)?,
            test: raw.test.as_ref().map(|t| check("test", t)).transpose()?,
            set_password: raw
                .set_password
                .as_ref()
                .map(|p| match p {
                    RawSetPassword::One(r) => Ok(vec![Step {
                        request: request("set_password", r, SET_PASSWORD)?,
                        save: BTreeMap::new(),
                        save_as: None,
                        for_each: None,
                        when_created: false,
                    }]),
                    RawSetPassword::Steps(steps) if steps.is_empty() => {
                        Err("set_password: no steps".to_owned())
                    }
                    RawSetPassword::Steps(steps) => {
                        compile_steps("set_password", steps, SET_PASSWORD, allow_http)
                            .map(|(steps, _)| steps)
                    }
                })
                .transpose()?,
            revoke: raw
                .revoke
                .as_ref()
                .map(|r| request("revoke", r, REVOKE))
                .transpose()?,
            issue,
            list,
            alternate,
            name: raw.name,
            allow_http,
            timeout: Duration::from_secs_f64(timeout),
            retries: raw.retries.unwrap_or(2).min(5),
            fields: raw.fields,
            exclusive_keys: raw.exclusive_keys,
        })
    }

    /// The spec's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the API issues the credential (rather than taking a new password).
    pub fn issues_keys(&self) -> bool {
        self.issue.is_some()
    }

    /// Whether alternating users are described.
    pub fn alternates(&self) -> bool {
        self.alternate.is_some()
    }
}

fn compile_alternate(a: &RawAlternate, allow_http: bool) -> Result<Alternate, String> {
    let request = |place: &str, r: &RawRequest| compile_request(place, r, ALTERNATE, allow_http);
    let (steps, saved) = compile_steps("alternate.steps", &a.steps, ALTERNATE, allow_http)?;
    let mut parity = Vec::new();
    for (i, p) in a.parity.iter().enumerate() {
        let place = format!("alternate.parity[{i}]");
        if !saved.contains(&p.current) {
            return Err(format!(
                "{place}.current: {:?} is not saved by a step (save_as)",
                p.current
            ));
        }
        parity.push(ParityCheck {
            name: p.name.clone(),
            current: p.current.clone(),
            pending: request(&format!("{place}.pending"), &p.pending)?,
            ignore: p.ignore.clone(),
        });
    }
    let ours = match &a.exists.ours {
        Some(m) => {
            pointer("alternate.exists.ours.pointer", &m.pointer)?;
            Some((m.pointer.clone(), m.contains.clone()))
        }
        None => None,
    };
    Ok(Alternate {
        exists: Exists {
            request: request("alternate.exists", &a.exists.request)?,
            absent: if a.exists.absent.is_empty() {
                vec![404]
            } else {
                a.exists.absent.clone()
            },
            ours,
        },
        steps,
        parity,
        password: request("alternate.password", &a.password)?,
    })
}

/// Steps in order; `for_each` may only name what an earlier step saved. Returns the steps
/// and every saved name.
fn compile_steps(
    place: &str,
    raw: &[RawStep],
    allowed: Allowed,
    allow_http: bool,
) -> Result<(Vec<Step>, Vec<String>), String> {
    let mut saved: Vec<String> = Vec::new();
    let mut steps = Vec::new();
    for (i, s) in raw.iter().enumerate() {
        let place = format!("{place}[{i}]");
        for (name, p) in &s.save {
            pointer(&format!("{place}.save.{name}"), p)?;
        }
        if let Some(each) = &s.for_each
            && !saved.contains(each)
        {
            return Err(format!(
                "{place}.for_each: {each:?} is not saved by an earlier step (save_as)"
            ));
        }
        saved.extend(s.save.keys().cloned());
        saved.extend(s.save_as.clone());
        steps.push(Step {
            request: compile_request(&place, &s.request, allowed, allow_http)?,
            save: s.save.clone(),
            save_as: s.save_as.clone(),
            for_each: s.for_each.clone(),
            when_created: s.when == Some(When::Created),
        });
    }
    Ok((steps, saved))
}

/// A JSON pointer (RFC 6901): empty, or starting with `/`.
fn pointer(place: &str, p: &str) -> Result<(), String> {
    if p.is_empty() || p.starts_with('/') {
        Ok(())
    } else {
        Err(format!(
            "{place}: {p:?} is not a JSON pointer (it starts with \"/\", e.g. \"/token\")"
        ))
    }
}

/// A header name HTTP allows (a token: no space, no CR/LF, not empty).
fn header_name(place: &str, name: &str) -> Result<(), String> {
    reqwest::header::HeaderName::from_bytes(name.as_bytes())
        .map(|_| ())
        .map_err(|_| format!("{place}: {name:?} is not a header name"))
}

/// The literal text of a header value template: visible ASCII, spaces and tabs only (no
/// CR/LF that would start another header). Values the variables bring are checked when
/// the request is sent.
fn header_text(place: &str, parts: &[Part]) -> Result<(), String> {
    for part in parts {
        if let Part::Text(text) = part
            && reqwest::header::HeaderValue::from_str(text).is_err()
        {
            return Err(format!(
                "{place}: {text:?} is not allowed in a header value (control characters, \
                 CR/LF or non-ASCII)"
            ));
        }
    }
    Ok(())
}

fn compile_request(
    place: &str,
    r: &RawRequest,
    allowed: Allowed,
    allow_http: bool,
) -> Result<Request, String> {
    let method = Method::from_bytes(r.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| format!("{place}.method: {:?} is not an HTTP method", r.method))?;
    let url = template::parse(&r.url, allowed).map_err(|m| format!("{place}.url: {m}"))?;
    let literal_start = match url.first() {
        Some(Part::Text(t)) => t.to_ascii_lowercase(),
        _ => String::new(),
    };
    if literal_start.starts_with("http://") && !allow_http {
        return Err(format!(
            "{place}.url: plain http; use https, or set \"allow_http\": true (the \
             credential would cross the network in clear)"
        ));
    }
    if !(literal_start.starts_with("http://")
        || literal_start.starts_with("https://")
        || matches!(url.first(), Some(Part::Var(_))))
    {
        return Err(format!(
            "{place}.url: must start with https:// (or a variable holding the base URL)"
        ));
    }
    let headers = r
        .headers
        .iter()
        .map(|(name, value)| {
            let field = format!("{place}.headers.{name:?}");
            header_name(&field, name)?;
            let parts = template::parse(value, allowed).map_err(|m| format!("{field}: {m}"))?;
            header_text(&field, &parts)?;
            Ok((name.clone(), parts))
        })
        .collect::<Result<_, String>>()?;
    let parse = |field: &str, text: &str| {
        template::parse(text, allowed).map_err(|m| format!("{place}.auth.{field}: {m}"))
    };
    let auth = match &r.auth {
        None => None,
        Some(RawAuth::Basic { username, password }) => Some(Auth::Basic {
            username: parse("basic.username", username)?,
            password: parse("basic.password", password)?,
        }),
        Some(RawAuth::Bearer(token)) => Some(Auth::Bearer(parse("bearer", token)?)),
        Some(RawAuth::Header { name, value }) => {
            header_name(&format!("{place}.auth.header.name"), name)?;
            let value = parse("header.value", value)?;
            header_text(&format!("{place}.auth.header.value"), &value)?;
            Some(Auth::Header {
                name: name.clone(),
                value,
            })
        }
    };
    let body = r
        .body
        .as_ref()
        .map(|b| Body::parse(b, allowed).map_err(|m| format!("{place}.body: {m}")))
        .transpose()?;
    Ok(Request {
        method,
        url,
        headers,
        auth,
        body,
        expect: r.expect.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> Value {
        json!({
            "name": "example",
            "fields": {"username": "username", "secret": "password"},
            "login": {"method": "GET", "url": "https://api.example.com/whoami",
                      "auth": {"basic": {"username": "{{login.username}}", "password": "{{login.password}}"}}},
            "set_password": {"method": "PUT", "url": "https://api.example.com/users/{{pending.username | url}}",
                             "auth": {"basic": {"username": "{{login.username}}", "password": "{{login.password}}"}},
                             "body": {"password": "{{pending.password}}"}, "expect": [204]}
        })
    }

    fn err(spec: Value) -> String {
        Spec::from_value(&spec).unwrap_err()
    }

    #[test]
    fn a_good_spec_loads() {
        let spec = Spec::from_value(&base()).unwrap();
        assert!(!spec.issues_keys() && !spec.alternates());
        assert_eq!(spec.retries, 2);
    }

    #[test]
    fn mistakes_are_configuration_errors_naming_the_place() {
        let mut s = base();
        s["login"]["auth"]["basic"]["password"] = json!("{{pending.password}}");
        assert!(err(s).starts_with("login.auth.basic.password: unknown template variable"));
        let mut s = base();
        s["set_password"]["url"] = json!("http://api.example.com/users/x");
        assert!(err(s).contains("set_password.url: plain http"));
        let mut s = base();
        s["allow_http"] = json!(true);
        s["set_password"]["url"] = json!("http://api.example.com/users/x");
        assert!(Spec::from_value(&s).is_ok(), "explicit opt-in");
        let mut s = base();
        s.as_object_mut().unwrap().remove("set_password");
        assert!(err(s).contains("needs \"set_password\""));
        let mut s = base();
        s["login"]["pointer"] = json!("name");
        s["login"]["equals"] = json!("{{login.username}}");
        assert!(err(s).contains("login.pointer: \"name\" is not a JSON pointer"));
        let mut s = base();
        s["login"]["colour"] = json!("blue");
        assert!(err(s).contains("unknown field"));
        let mut s = base();
        s.as_object_mut().unwrap().remove("set_password");
        s["issue"] = json!({"method": "POST", "url": "https://api.example.com/keys", "extract": {"password": "/key"}});
        assert!(err(s).contains("needs \"revoke\""));
        let mut s = base();
        s["login"]["headers"] = json!({"Bad Header": "x"});
        assert!(err(s).contains("is not a header name"));
        let mut s = base();
        s["login"]["headers"] = json!({"X-Note": "a\r\nX-Evil: 1 {{login.username}}"});
        assert!(err(s).contains("not allowed in a header value"));
        let mut s = base();
        s["login"]["auth"] = json!({"header": {"name": "X Key", "value": "{{login.password}}"}});
        assert!(err(s).contains("login.auth.header.name"));
        let mut s = base();
        s["login"]["headers"] = json!({"X-User": "user {{login.username}}"});
        assert!(
            Spec::from_value(&s).is_ok(),
            "variables are checked when sent"
        );
    }
}
