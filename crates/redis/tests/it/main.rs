//! secret-rotor-redis on a private `redis-server` that enforces ACL passwords: the
//! conformance suite, and what only this target promises (two live passwords, no window).

mod conformance;
mod kills;
mod lambda;
mod server;
mod tls;
mod window;
