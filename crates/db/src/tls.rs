//! Which certificate authorities a verify-full connection trusts: the configured bundle,
//! or the system's roots plus RDS's global bundle. There is no "prefer" mode and no
//! fallback to plain text: a target that uses TLS verifies the chain and the host name.

use std::path::Path;
use std::sync::Arc;

use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use secret_rotor::{Error, Result};

use crate::DbConfig;

/// Where the SAM template's layer puts RDS's global CA bundle (layers are extracted
/// under `/opt`).
pub const RDS_CA_BUNDLE: &str = "/opt/rds-ca/global-bundle.pem";

/// The certificate authorities to trust, loaded once when the target is built.
#[derive(Clone)]
pub struct TrustedCas {
    certs: Vec<CertificateDer<'static>>,
}

impl std::fmt::Debug for TrustedCas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustedCas")
            .field("certificates", &self.certs.len())
            .finish()
    }
}

impl TrustedCas {
    /// With `config.ca_bundle`, only the certificates of that PEM file; without, the
    /// system's roots plus the certificates of `config.default_ca_bundle` when that file
    /// exists (RDS's global bundle, [`RDS_CA_BUNDLE`]). An unreadable or empty bundle is a
    /// `ConfigError` naming the variable.
    pub fn load(config: &DbConfig) -> Result<Self> {
        let mut certs = Vec::new();
        match &config.ca_bundle {
            Some(path) => {
                certs = read_bundle(path, "TLS_CA_BUNDLE")?;
                if usable(&certs) == 0 {
                    return Err(Error::config(format!(
                        "TLS_CA_BUNDLE {} holds no usable CA certificate",
                        path.display()
                    )));
                }
            }
            None => {
                certs.extend(rustls_native_certs::load_native_certs().certs);
                if config.default_ca_bundle.exists() {
                    certs.extend(read_bundle(
                        &config.default_ca_bundle,
                        "the default CA bundle",
                    )?);
                }
                if usable(&certs) == 0 {
                    return Err(Error::config(
                        "no system CA certificates found: set TLS_CA_BUNDLE to a PEM bundle",
                    ));
                }
            }
        }
        // Keep only what a root store takes: some drivers refuse a whole list for one
        // certificate they cannot parse.
        certs.retain(|c| RootCertStore::empty().add(c.clone()).is_ok());
        Ok(TrustedCas { certs })
    }

    /// The certificates, DER-encoded (each one a valid trust anchor), for drivers that
    /// build their own TLS configuration.
    pub fn certificates(&self) -> &[CertificateDer<'static>] {
        &self.certs
    }

    /// A rustls client configuration (aws-lc-rs, safe default protocol versions) that
    /// trusts these CAs only.
    pub fn client_config(&self) -> Result<ClientConfig> {
        let mut roots = RootCertStore::empty();
        roots.add_parsable_certificates(self.certs.iter().cloned());
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        Ok(ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::config(format!("TLS: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth())
    }
}

/// How many of `certs` a root store accepts.
fn usable(certs: &[CertificateDer<'static>]) -> usize {
    RootCertStore::empty()
        .add_parsable_certificates(certs.iter().cloned())
        .0
}

/// The certificates of a PEM file.
fn read_bundle(path: &Path, name: &str) -> Result<Vec<CertificateDer<'static>>> {
    CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<std::result::Result<Vec<_>, _>>())
        .map_err(|e| Error::config(format!("{name} {}: {e}", path.display())))
}
