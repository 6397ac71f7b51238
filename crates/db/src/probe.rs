//! The certificate a database server presents, for `check`: a TLS handshake on a
//! connection of its own — after the database's own request to start TLS — verified as
//! a login verifies it (the trusted CAs, the host name); then the connection is dropped
//! without logging in.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use rustls_pki_types::ServerName;
use secret_rotor::inspect::CertificateInfo;
use secret_rotor::{Error, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use x509_cert::Certificate;
use x509_cert::der::Decode;

use crate::{DbConfig, TlsMode, TrustedCas, failure};

/// How a server's protocol starts TLS on a new connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StartTls {
    /// TLS from the first byte (Redis with TLS, HTTPS).
    Direct,
    /// PostgreSQL's `SSLRequest`: the server answers `S` and the handshake follows.
    Postgres,
    /// MySQL's: the server's greeting (which must offer `CLIENT_SSL`), then an
    /// `SSLRequest` packet from the client.
    Mysql,
}

/// `CLIENT_LONG_PASSWORD | CLIENT_PROTOCOL_41 | CLIENT_SSL | CLIENT_SECURE_CONNECTION`.
const MYSQL_SSL_REQUEST_FLAGS: u32 = 0x0001 | 0x0200 | 0x0800 | 0x8000;
/// `CLIENT_SSL` in the server's greeting.
const MYSQL_CLIENT_SSL: u16 = 0x0800;

/// The certificate a credential's server presents: `None` when the credential does not
/// use TLS (`"ssl": false`), else [`server_certificate`].
pub async fn certificate_for(
    config: &DbConfig,
    cas: &TrustedCas,
    (host, port, tls): (&str, u16, TlsMode),
    start: StartTls,
) -> Result<Option<CertificateInfo>> {
    match tls {
        TlsMode::Disabled => Ok(None),
        TlsMode::VerifyFull => server_certificate(config, cas, host, port, start)
            .await
            .map(Some),
    }
}

/// Connects to `host:port`, starts TLS the protocol's way and returns the server's leaf
/// certificate, within `config.connect_timeout`. Failures sort as a login's do:
/// `TargetUnreachable`, or `TlsError` (no TLS on the server, an untrusted CA, a wrong
/// host name).
pub async fn server_certificate(
    config: &DbConfig,
    cas: &TrustedCas,
    host: &str,
    port: u16,
    start: StartTls,
) -> Result<CertificateInfo> {
    let server = format!("{}:{port}", host.to_ascii_lowercase());
    let probe = async {
        let mut tcp = TcpStream::connect((host, port))
            .await
            .map_err(|e| failure::unreachable(server.clone(), e))?;
        let lost = |e: std::io::Error| failure::unreachable(server.clone(), e);
        match start {
            StartTls::Direct => {}
            StartTls::Postgres => {
                tcp.write_all(&[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])
                    .await
                    .map_err(lost)?;
                if tcp.read_u8().await.map_err(lost)? != b'S' {
                    return Err(failure::no_tls(
                        server.clone(),
                        "the server refused SSLRequest",
                    ));
                }
            }
            StartTls::Mysql => {
                let mut header = [0u8; 4];
                tcp.read_exact(&mut header).await.map_err(lost)?;
                let len = u32::from_le_bytes([header[0], header[1], header[2], 0]) as usize;
                let mut greeting = vec![0u8; len];
                tcp.read_exact(&mut greeting).await.map_err(lost)?;
                if mysql_capabilities(&greeting).is_none_or(|c| c & MYSQL_CLIENT_SSL == 0) {
                    return Err(failure::no_tls(
                        server.clone(),
                        "the server does not offer TLS",
                    ));
                }
                let mut request = vec![32, 0, 0, header[3].wrapping_add(1)];
                request.extend(MYSQL_SSL_REQUEST_FLAGS.to_le_bytes());
                request.extend(16_777_216u32.to_le_bytes()); // max packet size
                request.push(45); // utf8mb4
                request.extend([0u8; 23]);
                tcp.write_all(&request).await.map_err(lost)?;
            }
        }
        let name = ServerName::try_from(host.to_owned())
            .map_err(|e| Error::config(format!("host {host:?} is not a TLS server name: {e}")))?;
        let tls = TlsConnector::from(Arc::new(cas.client_config()?))
            .connect(name, tcp)
            .await
            .map_err(|e| failure::tls_failure(server.clone(), e))?;
        let leaf = (tls.get_ref().1.peer_certificates())
            .and_then(|chain| chain.first())
            .ok_or_else(|| failure::tls_failure(server.clone(), "no certificate presented"))?;
        describe(leaf).map_err(|e| failure::tls_failure(server.clone(), e))
    };
    failure::within(config.connect_timeout, &server, probe).await
}

/// The capability flags (lower 16 bits) of a MySQL protocol-10 greeting.
fn mysql_capabilities(greeting: &[u8]) -> Option<u16> {
    let (&10, rest) = greeting.split_first()? else {
        return None;
    };
    let version_end = rest.iter().position(|&b| b == 0)?;
    // version NUL, connection id (4), auth data part 1 (8), filler (1), then the flags.
    let at = version_end + 1 + 4 + 8 + 1;
    Some(u16::from_le_bytes([*rest.get(at)?, *rest.get(at + 1)?]))
}

/// Subject, issuer and expiry of a DER certificate.
fn describe(der: &[u8]) -> std::result::Result<CertificateInfo, x509_cert::der::Error> {
    let cert = Certificate::from_der(der)?;
    let tbs = &cert.tbs_certificate;
    let not_after = tbs.validity.not_after;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let seconds_left = not_after.to_unix_duration().as_secs() as i64 - now.as_secs() as i64;
    Ok(CertificateInfo {
        subject: tbs.subject.to_string(),
        issuer: tbs.issuer.to_string(),
        not_after: not_after.to_date_time().to_string(),
        days_left: seconds_left.div_euclid(86_400),
    })
}

#[cfg(test)]
mod tests {
    use super::mysql_capabilities;

    #[test]
    fn reads_the_capability_flags_of_a_mysql_greeting() {
        let mut greeting = vec![10];
        greeting.extend(b"10.11.6-MariaDB\0");
        greeting.extend([1, 0, 0, 0]); // connection id
        greeting.extend([b'a'; 8]); // auth data
        greeting.push(0); // filler
        greeting.extend(0xf7feu16.to_le_bytes());
        assert_eq!(mysql_capabilities(&greeting), Some(0xf7fe));
        assert_eq!(mysql_capabilities(&greeting[..20]), None);
        assert_eq!(mysql_capabilities(&[9, 0]), None);
        assert_eq!(mysql_capabilities(&[]), None);
    }
}
