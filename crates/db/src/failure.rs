//! Sorting a failed connection: the same error codes and the same words for every
//! database (`TargetUnreachable`, `TlsError` with "not issued by a trusted CA", "does not
//! name the host", "does not offer TLS"). The driver's error is kept as the source.

use std::error::Error as StdError;
use std::future::Future;
use std::time::Duration;

use secret_rotor::{BoxError, DisplayChain, Error, Result};

/// The words for a server that does not offer TLS.
pub const NO_TLS: &str = "the server does not offer TLS; set \"ssl\": false in the secret to allow a plain-text connection";

/// `TlsError`: the server does not offer TLS (the driver said so in its own way).
pub fn no_tls(server: String, source: impl Into<BoxError>) -> Error {
    Error::Tls {
        target: server,
        reason: NO_TLS.to_owned(),
        source: Some(source.into()),
    }
}

/// `TlsError` for a failed handshake, with the reason read from the error chain (a
/// `rustls::Error` anywhere in it, or its text).
pub fn tls_failure(server: String, source: impl Into<BoxError>) -> Error {
    let source = source.into();
    let reason = tls_reason(source.as_ref());
    Error::Tls {
        target: server,
        reason: reason.to_owned(),
        source: Some(source),
    }
}

/// Whether a TLS handshake failure (a `rustls::Error`) is anywhere in `error`'s chain.
pub fn is_tls_failure(error: &(dyn StdError + 'static)) -> bool {
    find_rustls(error).is_some()
}

/// Whether `error` is a connection lost on the way (reset, aborted, closed mid-message)
/// rather than a TLS verdict: an `io::Error` of that kind in the chain and no
/// `rustls::Error`. A handshake that breaks this way is `TargetUnreachable`, not
/// `TlsError`: the certificate was never in question.
pub fn is_connection_lost(error: &(dyn StdError + 'static)) -> bool {
    use std::io::ErrorKind as K;
    if find_rustls(error).is_some() {
        return false;
    }
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                K::ConnectionReset | K::ConnectionAborted | K::UnexpectedEof | K::BrokenPipe
            )
        {
            return true;
        }
        next = e.source();
    }
    false
}

/// `TargetUnreachable` for a connection that could not be made (refused, reset, DNS).
pub fn unreachable(server: String, source: impl Into<BoxError>) -> Error {
    Error::Unreachable {
        target: server,
        reason: "the connection failed".to_owned(),
        source: Some(source.into()),
    }
}

/// Runs a connection attempt within `timeout`; `TargetUnreachable` (naming
/// `CONNECT_TIMEOUT_SECS`) when it does not finish in time.
pub async fn within<T>(
    timeout: Duration,
    server: &str,
    attempt: impl Future<Output = Result<T>>,
) -> Result<T> {
    match tokio::time::timeout(timeout, attempt).await {
        Ok(result) => result,
        Err(_) => Err(Error::Unreachable {
            target: server.to_owned(),
            reason: format!(
                "no answer within {} s (CONNECT_TIMEOUT_SECS)",
                timeout.as_secs_f32()
            ),
            source: None,
        }),
    }
}

/// A `rustls::Error` in the chain (also inside an `io::Error`, which does not expose its
/// inner error as a source).
fn find_rustls<'e>(error: &'e (dyn StdError + 'static)) -> Option<&'e rustls::Error> {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(found) = e.downcast_ref::<rustls::Error>() {
            return Some(found);
        }
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Some(inner);
        }
        next = e.source();
    }
    None
}

/// The words for a failed handshake.
fn tls_reason(error: &(dyn StdError + 'static)) -> &'static str {
    use rustls::CertificateError as C;
    if let Some(rustls::Error::InvalidCertificate(cert)) = find_rustls(error) {
        return match cert {
            C::UnknownIssuer | C::BadSignature => UNTRUSTED,
            C::NotValidForName | C::NotValidForNameContext { .. } => WRONG_NAME,
            C::Expired
            | C::ExpiredContext { .. }
            | C::NotValidYet
            | C::NotValidYetContext { .. } => OUTSIDE_VALIDITY,
            _ => HANDSHAKE,
        };
    }
    // Drivers that do not keep the rustls error say it in words.
    let text = DisplayChain::of(error).to_string();
    if text.contains("UnknownIssuer") || text.contains("BadSignature") {
        UNTRUSTED
    } else if text.to_lowercase().contains("not valid for name") {
        WRONG_NAME
    } else if text.contains("Expired") || text.contains("NotValidYet") {
        OUTSIDE_VALIDITY
    } else {
        HANDSHAKE
    }
}

const UNTRUSTED: &str = "the server's certificate is not issued by a trusted CA (TLS_CA_BUNDLE; RDS needs its CA bundle)";
const WRONG_NAME: &str =
    "the server's certificate does not name the host in the secret (verify-full checks it)";
const OUTSIDE_VALIDITY: &str = "the server's certificate is outside its validity period";
const HANDSHAKE: &str = "the TLS handshake failed";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reset_is_a_lost_connection_and_a_certificate_error_is_not() {
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert!(is_connection_lost(&reset));
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(!is_connection_lost(&refused));
        let untrusted = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        assert!(!is_connection_lost(&untrusted));
    }

    #[test]
    fn reasons_come_from_the_rustls_error_inside_io_errors() {
        let unknown = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        let e = tls_failure("db:3306".into(), unknown);
        assert_eq!(e.code(), "TlsError");
        assert!(e.to_string().contains("not issued by a trusted CA"), "{e}");
        assert!(
            e.display_chain().to_string().contains("UnknownIssuer"),
            "{}",
            e.display_chain()
        );
        let name = rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName);
        assert!(is_tls_failure(&name));
        assert!(
            tls_failure("db".into(), name)
                .to_string()
                .contains("does not name the host")
        );
        let io = std::io::Error::other("connection refused");
        assert!(!is_tls_failure(&io));
        assert_eq!(unreachable("db".into(), io).code(), "TargetUnreachable");
        assert!(
            no_tls("db".into(), std::io::Error::other("x"))
                .to_string()
                .contains("\"ssl\": false")
        );
    }
}
