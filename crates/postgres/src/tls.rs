//! The rustls client configuration: aws-lc-rs, and either the CA bundle the function is
//! configured with or the system's roots. There is no "prefer" mode and no fallback.

use std::path::Path;
use std::sync::Arc;

use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use secret_rotor::{Error, Result};

/// Where the SAM template's layer puts RDS's global CA bundle (layers are extracted
/// under `/opt`).
pub const RDS_CA_BUNDLE: &str = "/opt/rds-ca/global-bundle.pem";

/// Builds the client configuration. With `ca_bundle`, only the certificates of that PEM
/// file are trusted; without, the system's roots plus the certificates of
/// `default_bundle` when that file exists (RDS's global bundle, [`RDS_CA_BUNDLE`]).
pub fn client_config(ca_bundle: Option<&Path>, default_bundle: &Path) -> Result<ClientConfig> {
    let mut roots = RootCertStore::empty();
    match ca_bundle {
        Some(path) => {
            if add_bundle(&mut roots, path, "TLS_CA_BUNDLE")? == 0 {
                return Err(Error::config(format!(
                    "TLS_CA_BUNDLE {} holds no usable CA certificate",
                    path.display()
                )));
            }
        }
        None => {
            let native = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(native.certs);
            if default_bundle.exists() {
                add_bundle(&mut roots, default_bundle, "the default CA bundle")?;
            }
            if roots.is_empty() {
                return Err(Error::config(
                    "no system CA certificates found: set TLS_CA_BUNDLE to a PEM bundle",
                ));
            }
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::config(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// Adds the certificates of a PEM file; returns how many were usable.
fn add_bundle(roots: &mut RootCertStore, path: &Path, name: &str) -> Result<usize> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<std::result::Result<Vec<_>, _>>())
        .map_err(|e| Error::config(format!("{name} {}: {e}", path.display())))?;
    Ok(roots.add_parsable_certificates(certs).0)
}
