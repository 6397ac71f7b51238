//! Templates in a spec: `{{pending.password}}`, `{{current.username | url}}`,
//! `{{token}}`. A template is parsed and checked when the spec is loaded (unknown
//! namespaces and filters are configuration errors naming the place), and rendered at
//! request time from the credentials of the step.

use std::collections::BTreeMap;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

/// What may be written between `{{` and `}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Var {
    /// `login`, `pending`, `current`, `master`, `saved`, `item`, `key`, or `token`.
    pub(crate) namespace: String,
    /// The field (`password`, `username`, a secret key, a saved name); empty for `token`.
    pub(crate) field: String,
    /// `| url`: percent-encode for a path segment or a query value.
    pub(crate) url_encode: bool,
}

/// A parsed template: literal text and variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Part {
    Text(String),
    Var(Var),
}

/// The namespaces a template may use in one kind of request.
pub(crate) type Allowed = &'static [&'static str];

/// Parses `text`; `allowed` are the namespaces of this request. The error says what is
/// wrong (the caller adds where).
pub(crate) fn parse(text: &str, allowed: Allowed) -> Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        if open > 0 {
            parts.push(Part::Text(rest[..open].to_owned()));
        }
        let after = &rest[open + 2..];
        let close = after
            .find("}}")
            .ok_or_else(|| format!("unclosed \"{{{{\" in {text:?}"))?;
        parts.push(Part::Var(parse_var(&after[..close], allowed)?));
        rest = &after[close + 2..];
    }
    if rest.contains("}}") {
        return Err(format!("\"}}}}\" without \"{{{{\" in {text:?}"));
    }
    if !rest.is_empty() {
        parts.push(Part::Text(rest.to_owned()));
    }
    Ok(parts)
}

fn parse_var(inner: &str, allowed: Allowed) -> Result<Var, String> {
    let mut pieces = inner.split('|').map(str::trim);
    let name = pieces.next().unwrap_or_default();
    let mut url_encode = false;
    for filter in pieces {
        match filter {
            "url" => url_encode = true,
            other => {
                return Err(format!(
                    "unknown filter {other:?} in {{{{{inner}}}}} (known: url)"
                ));
            }
        }
    }
    let (namespace, field) = match name.split_once('.') {
        Some((ns, field)) if !field.is_empty() => (ns, field),
        _ if name == "token" => ("token", ""),
        _ => {
            return Err(format!(
                "unknown template variable {{{{{inner}}}}}: write namespace.field ({})",
                allowed.join(", ")
            ));
        }
    };
    if !allowed.contains(&namespace) {
        return Err(format!(
            "unknown template variable {{{{{inner}}}}}: {namespace:?} is not available here \
             (available: {})",
            allowed.join(", ")
        ));
    }
    Ok(Var {
        namespace: namespace.to_owned(),
        field: field.to_owned(),
        url_encode,
    })
}

/// Percent-encodes everything but unreserved characters: safe in a path segment and a
/// query value.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Where variables get their values at request time.
pub(crate) trait Scope: Sync {
    /// The value of `namespace.field`, or `None` when there is none. Secret values are
    /// returned too: a rendered template may hold a secret and is never logged.
    fn lookup(&self, namespace: &str, field: &str) -> Option<Value>;
}

/// A value as text in a template.
fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Renders `parts` to text. A missing value is an error naming the variable (never its
/// value).
pub(crate) fn render(parts: &[Part], scope: &dyn Scope) -> Result<String, String> {
    let mut out = String::new();
    for part in parts {
        match part {
            Part::Text(t) => out.push_str(t),
            Part::Var(var) => {
                let value = scope
                    .lookup(&var.namespace, &var.field)
                    .ok_or_else(|| missing(var))?;
                let text = text_of(&value);
                if var.url_encode {
                    out.extend(utf8_percent_encode(&text, SEGMENT));
                } else {
                    out.push_str(&text);
                }
            }
        }
    }
    Ok(out)
}

fn missing(var: &Var) -> String {
    if var.namespace == "token" {
        "{{token}} has no value here".to_owned()
    } else {
        format!("{{{{{}.{}}}}} has no value", var.namespace, var.field)
    }
}

/// A JSON body whose string leaves are templates.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Body {
    /// A string with variables; a string that is one variable without a filter keeps the
    /// value's JSON type (a saved array stays an array).
    Template(Vec<Part>),
    Array(Vec<Body>),
    Object(BTreeMap<String, Body>),
    Literal(Value),
}

impl Body {
    /// Parses every string of `value` as a template.
    pub(crate) fn parse(value: &Value, allowed: Allowed) -> Result<Body, String> {
        Ok(match value {
            Value::String(s) => Body::Template(parse(s, allowed)?),
            Value::Array(items) => Body::Array(
                items
                    .iter()
                    .map(|i| Body::parse(i, allowed))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => Body::Object(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), Body::parse(v, allowed)?)))
                    .collect::<Result<_, String>>()?,
            ),
            other => Body::Literal(other.clone()),
        })
    }

    /// Renders the body.
    pub(crate) fn render(&self, scope: &dyn Scope) -> Result<Value, String> {
        Ok(match self {
            Body::Template(parts) => match parts.as_slice() {
                [Part::Var(var)] if !var.url_encode => scope
                    .lookup(&var.namespace, &var.field)
                    .ok_or_else(|| missing(var))?,
                _ => Value::String(render(parts, scope)?),
            },
            Body::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|i| i.render(scope))
                    .collect::<Result<_, _>>()?,
            ),
            Body::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), v.render(scope)?)))
                    .collect::<Result<_, String>>()?,
            ),
            Body::Literal(v) => v.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Fixed;
    impl Scope for Fixed {
        fn lookup(&self, namespace: &str, field: &str) -> Option<Value> {
            match (namespace, field) {
                ("pending", "username") => Some(json!("a b/ü")),
                ("pending", "password") => Some(json!("p\"w")),
                ("saved", "tags") => Some(json!(["x", "y"])),
                ("token", "") => Some(json!("tok")),
                _ => None,
            }
        }
    }

    const ALL: Allowed = &["pending", "saved", "token"];

    #[test]
    fn templates_render_encode_and_keep_json_types() {
        let url = parse(
            "https://h/api/users/{{pending.username | url}}?t={{token}}",
            ALL,
        )
        .unwrap();
        assert_eq!(
            render(&url, &Fixed).unwrap(),
            "https://h/api/users/a%20b%2F%C3%BC?t=tok"
        );
        let body = Body::parse(
            &json!({"password": "{{pending.password}}", "tags": "{{saved.tags}}", "n": 1, "s": "x-{{token}}"}),
            ALL,
        )
        .unwrap();
        assert_eq!(
            body.render(&Fixed).unwrap(),
            json!({"password": "p\"w", "tags": ["x", "y"], "n": 1, "s": "x-tok"})
        );
    }

    #[test]
    fn mistakes_are_named_at_load_time() {
        let err = parse("{{master.password}}", ALL).unwrap_err();
        assert!(err.contains("\"master\" is not available here"), "{err}");
        assert!(
            parse("{{pending.username | base64}}", ALL)
                .unwrap_err()
                .contains("unknown filter")
        );
        assert!(
            parse("{{pending}}", ALL)
                .unwrap_err()
                .contains("unknown template variable")
        );
        assert!(
            parse("{{pending.username", ALL)
                .unwrap_err()
                .contains("unclosed")
        );
        let missing = render(&parse("{{pending.other}}", ALL).unwrap(), &Fixed).unwrap_err();
        assert_eq!(missing, "{{pending.other}} has no value");
    }
}
