//! Certificates for test servers: a CA made for one server, and the server's certificate.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};

/// A CA and a server certificate signed by it, as PEM text (ECDSA P-256).
///
/// ```
/// let certs = secret_rotor_testkit::tls::TestCertificates::generate(&["localhost".into(), "127.0.0.1".into()]);
/// assert!(certs.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
/// assert!(certs.server_key_pem.contains("PRIVATE KEY"));
/// ```
#[derive(Clone)]
pub struct TestCertificates {
    /// The CA's certificate: what clients trust.
    pub ca_pem: String,
    /// The server's certificate, for the names given.
    pub server_cert_pem: String,
    /// The server's private key.
    pub server_key_pem: String,
}

impl std::fmt::Debug for TestCertificates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCertificates").finish_non_exhaustive()
    }
}

impl TestCertificates {
    /// A new CA and a server certificate for `names` (IP addresses become IP SANs).
    ///
    /// # Panics
    /// When a name is not a valid DNS name or IP address.
    pub fn generate(names: &[String]) -> TestCertificates {
        let fail = |e: rcgen::Error| -> ! { panic!("cannot generate the test certificates: {e}") };
        let ca_key = KeyPair::generate().unwrap_or_else(|e| fail(e));
        let mut ca_params =
            CertificateParams::new(Vec::<String>::new()).unwrap_or_else(|e| fail(e));
        let mut ca_name = DistinguishedName::new();
        ca_name.push(DnType::CommonName, "secret-rotor-testkit CA");
        ca_params.distinguished_name = ca_name;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params.self_signed(&ca_key).unwrap_or_else(|e| fail(e));
        let issuer = Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate().unwrap_or_else(|e| fail(e));
        let mut server_params = CertificateParams::new(names.to_vec()).unwrap_or_else(|e| fail(e));
        let mut server_name = DistinguishedName::new();
        server_name.push(
            DnType::CommonName,
            names.first().map(String::as_str).unwrap_or("localhost"),
        );
        server_params.distinguished_name = server_name;
        server_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_cert = server_params
            .signed_by(&server_key, &issuer)
            .unwrap_or_else(|e| fail(e));
        TestCertificates {
            ca_pem: ca_cert.pem(),
            server_cert_pem: server_cert.pem(),
            server_key_pem: server_key.serialize_pem(),
        }
    }
}

/// Asserts what a target's TLS tests check after provoking a wrong CA, a certificate for
/// another host name and a server without TLS: three different messages, none holding any
/// of `secrets`.
pub fn assert_distinct_tls_errors(messages: &[&str], secrets: &[&str]) {
    for (i, a) in messages.iter().enumerate() {
        for b in &messages[i + 1..] {
            assert_ne!(a, b, "two TLS failures read the same");
        }
        for secret in secrets {
            assert!(
                !a.contains(secret),
                "a TLS error message holds a password: {a}"
            );
        }
    }
}
