//! # secret-rotor-http
//!
//! The HTTP API target of secret-rotor: credentials of internal services, SaaS APIs and
//! message brokers, rotated by **configuration alone** — a declarative [`Spec`] — or by a
//! target written in code against the same trait.
//!
//! Two shapes fit without special cases in the core:
//!
//! - **password change**: the rotation chooses the new secret and the API takes it
//!   (`set_password`, e.g. `PUT /api/users/{name}`), single user or alternating users;
//! - **key issuing**: the API creates the new secret and shows it once (`issue`, e.g.
//!   `POST /keys`); the key is stored in createSecret, the old one revoked two generations
//!   later (`revoke`), and leftovers of a crash found again (`list`).
//!
//! Every step is a templated request (`{{pending.password}}`, `{{current.username |
//! url}}`, `{{token}}`), with basic, bearer or header authentication, JSON pointers into
//! the answers, bounded timeouts, retries with backoff on 429 and 5xx, and TLS through
//! rustls with the CAs of `TLS_CA_BUNDLE`. The spec is checked when it is loaded. Nothing
//! secret is logged: not URLs, not headers, not answers.
//!
//! Configuration (environment): `HTTP_SPEC_FILE` (the spec; without it, each secret carries
//! its own under `rotation_spec`), `TLS_CA_BUNDLE`, and the core's variables.

mod alternate;
mod client;
mod credential;
mod keys;
mod spec;
mod steps;
mod target;
mod template;

pub use credential::{HttpCredential, SPEC_KEY};
pub use spec::{Fields, Spec};
pub use target::{HttpTarget, SPEC_FILE, load_spec};
