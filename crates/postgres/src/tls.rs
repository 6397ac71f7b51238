//! The rustls client configuration: aws-lc-rs, and either the CA bundle the function is
//! configured with or the system's roots. There is no "prefer" mode and no fallback.

use std::path::Path;
use std::sync::Arc;

use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use secret_rotor::{Error, Result};

/// Builds the client configuration. With `ca_bundle`, only the certificates of that PEM
/// file are trusted (e.g. RDS's global bundle); without, the system's roots.
pub fn client_config(ca_bundle: Option<&Path>) -> Result<ClientConfig> {
    let mut roots = RootCertStore::empty();
    match ca_bundle {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|iter| iter.collect::<std::result::Result<Vec<_>, _>>())
                .map_err(|e| Error::config(format!("TLS_CA_BUNDLE {}: {e}", path.display())))?;
            let (added, _ignored) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(Error::config(format!(
                    "TLS_CA_BUNDLE {} holds no usable CA certificate",
                    path.display()
                )));
            }
        }
        None => {
            let native = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(native.certs);
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
