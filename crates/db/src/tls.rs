//! Which certificate authorities a verify-full connection trusts: the configured bundle,
//! or the system's roots plus RDS's global bundle. There is no "prefer" mode and no
//! fallback to plain text: a target that uses TLS verifies the chain and the host name.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use secret_rotor::{Error, Result};

use crate::DbConfig;

/// Where the SAM template's layer puts RDS's global CA bundle (layers are extracted
/// under `/opt`).
pub const RDS_CA_BUNDLE: &str = "/opt/rds-ca/global-bundle.pem";

/// The certificate authorities to trust. A configured bundle (`TLS_CA_BUNDLE`) is read
/// when the target is built, so that a bad file fails at start-up; the system's roots are
/// read and parsed once, on the first TLS connection (a function that never opens one, e.g.
/// with `"ssl": false`, never pays for them). Clones share what was loaded.
#[derive(Clone)]
pub struct TrustedCas {
    inner: Arc<Inner>,
}

struct Inner {
    /// `None`: the system's roots plus this default bundle when it exists.
    system_with: Option<std::path::PathBuf>,
    loaded: OnceLock<std::result::Result<Loaded, String>>,
}

/// The certificates, and the root store parsed from them once.
struct Loaded {
    certs: Vec<CertificateDer<'static>>,
    roots: Arc<RootCertStore>,
}

impl std::fmt::Debug for TrustedCas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let certificates = match self.inner.loaded.get() {
            Some(Ok(loaded)) => loaded.certs.len().to_string(),
            Some(Err(_)) => "failed".into(),
            None => "not loaded yet".into(),
        };
        f.debug_struct("TrustedCas")
            .field("certificates", &certificates)
            .finish()
    }
}

impl TrustedCas {
    /// With `config.ca_bundle`, only the certificates of that PEM file (read now); without,
    /// the system's roots plus the certificates of `config.default_ca_bundle` when that
    /// file exists (RDS's global bundle, [`RDS_CA_BUNDLE`]), read on first use. An
    /// unreadable or empty bundle is a `ConfigError` naming the variable.
    pub fn load(config: &DbConfig) -> Result<Self> {
        let loaded = OnceLock::new();
        let system_with = match &config.ca_bundle {
            Some(path) => {
                let certs = read_bundle(path, "TLS_CA_BUNDLE")?;
                let loaded_now = Loaded::from(certs).ok_or_else(|| {
                    Error::config(format!(
                        "TLS_CA_BUNDLE {} holds no usable CA certificate",
                        path.display()
                    ))
                })?;
                let _ = loaded.set(Ok(loaded_now));
                None
            }
            None => Some(config.default_ca_bundle.clone()),
        };
        Ok(TrustedCas {
            inner: Arc::new(Inner {
                system_with,
                loaded,
            }),
        })
    }

    fn loaded(&self) -> Result<&Loaded> {
        let loaded = self.inner.loaded.get_or_init(|| {
            let default_bundle = self.inner.system_with.as_deref().unwrap_or(Path::new(""));
            let mut certs = rustls_native_certs::load_native_certs().certs;
            if default_bundle.exists() {
                certs.extend(
                    read_bundle(default_bundle, "the default CA bundle")
                        .map_err(|e| e.to_string())?,
                );
            }
            Loaded::from(certs).ok_or_else(|| {
                "no system CA certificates found: set TLS_CA_BUNDLE to a PEM bundle".to_owned()
            })
        });
        loaded.as_ref().map_err(|e| Error::config(e.clone()))
    }

    /// The certificates, DER-encoded (each one a valid trust anchor), for drivers that
    /// build their own TLS configuration.
    pub fn certificates(&self) -> Result<&[CertificateDer<'static>]> {
        Ok(&self.loaded()?.certs)
    }

    /// A rustls client configuration (aws-lc-rs, safe default protocol versions) that
    /// trusts these CAs only.
    pub fn client_config(&self) -> Result<ClientConfig> {
        let roots = Arc::clone(&self.loaded()?.roots);
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        Ok(ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::config(format!("TLS: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth())
    }
}

impl Loaded {
    /// Keeps only what a root store takes (some drivers refuse a whole list for one
    /// certificate they cannot parse), parsing each certificate once; `None` when none is.
    fn from(certs: Vec<CertificateDer<'static>>) -> Option<Loaded> {
        let mut roots = RootCertStore::empty();
        let certs: Vec<_> = certs
            .into_iter()
            .filter(|c| roots.add(c.clone()).is_ok())
            .collect();
        (!certs.is_empty()).then(|| Loaded {
            certs,
            roots: Arc::new(roots),
        })
    }
}

/// The certificates of a PEM file.
fn read_bundle(path: &Path, name: &str) -> Result<Vec<CertificateDer<'static>>> {
    CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<std::result::Result<Vec<_>, _>>())
        .map_err(|e| Error::config(format!("{name} {}: {e}", path.display())))
}
