//! TLS for untrusted networks (`docs/protocol.md`): the server generates a self-signed
//! certificate per run and puts its SHA-256 fingerprint into `DAISY_CONTEXT`
//! ([`TLS_FINGERPRINT_KEY`](crate::TLS_FINGERPRINT_KEY)); a client trusts exactly the
//! certificate with that fingerprint: no certificate authority, no host name, nothing to set
//! up. TLS 1.3 only, with the `ring` provider.
//!
//! ```
//! use daisy_protocol::{PinnedConfig, TlsIdentity};
//!
//! let identity = TlsIdentity::generate().unwrap();
//! assert_eq!(identity.fingerprint().len(), 64);
//! let _server = identity.server_config();
//! let client = PinnedConfig::new(identity.fingerprint()).unwrap();
//! assert_eq!((client.expected(), client.refused()), (identity.fingerprint(), None));
//! assert!(PinnedConfig::new("not hex").is_err());
//! ```

use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, ServerConfig, SignatureScheme};
use sha2::{Digest, Sha256};

/// What can go wrong setting up or speaking TLS.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The run's certificate could not be generated.
    #[error("cannot generate the run's TLS certificate: {source}")]
    Certificate {
        /// What rcgen said.
        #[source]
        source: rcgen::Error,
    },
    /// rustls refused the configuration.
    #[error("cannot set up TLS: {source}")]
    Config {
        /// What rustls said.
        #[source]
        source: rustls::Error,
    },
    /// A fingerprint that is not 64 hex digits.
    #[error(
        "invalid TLS fingerprint '{fingerprint}' in DAISY_CONTEXT (expected the 64 hex digits \
         of a SHA-256)"
    )]
    Fingerprint {
        /// What was given.
        fingerprint: String,
    },
    /// The server presented another certificate than the run's.
    #[error(
        "the daisy server at {address} presents a TLS certificate with SHA-256 fingerprint \
         {found}, not the run's {expected}: refusing to connect"
    )]
    Mismatch {
        /// The server's `host:port`.
        address: String,
        /// The fingerprint from `DAISY_CONTEXT`.
        expected: String,
        /// The fingerprint of the certificate presented.
        found: String,
    },
    /// The peer closed the connection during the TLS handshake.
    #[error(
        "the daisy server at {address} closed the connection during the TLS handshake (a \
         server without TLS? this worker's DAISY_CONTEXT has a tls_sha256 fingerprint, so it \
         speaks TLS only)"
    )]
    Closed {
        /// The server's `host:port`.
        address: String,
    },
    /// The TLS handshake with the server failed otherwise.
    #[error("the TLS handshake with the daisy server at {address} failed: {source}")]
    Handshake {
        /// The server's `host:port`.
        address: String,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// A client connected to a TLS server without TLS (its first byte is not a TLS record).
    #[error("the peer does not speak TLS (its first byte is {first:#04x}, not a TLS handshake)")]
    PlainPeer {
        /// The first byte it sent.
        first: u8,
    },
    /// The TLS handshake with a client failed.
    #[error("TLS handshake failed: {source}")]
    Accept {
        /// What failed.
        #[source]
        source: std::io::Error,
    },
}

/// The SHA-256 of a certificate's DER bytes, as 64 lowercase hex digits.
#[must_use]
pub fn fingerprint(certificate_der: &[u8]) -> String {
    Sha256::digest(certificate_der)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The run's TLS identity: a fresh self-signed certificate and its key, for the server.
#[derive(Debug, Clone)]
pub struct TlsIdentity {
    config: Arc<ServerConfig>,
    fingerprint: String,
}

impl TlsIdentity {
    /// Generates a new ECDSA P-256 key and a self-signed certificate for it.
    ///
    /// # Errors
    ///
    /// [`TlsError::Certificate`] or [`TlsError::Config`] if the key, the certificate or the
    /// rustls configuration cannot be made.
    pub fn generate() -> Result<Self, TlsError> {
        let rcgen::CertifiedKey { cert, key_pair } =
            rcgen::generate_simple_self_signed(vec!["daisy".to_owned()])
                .map_err(|source| TlsError::Certificate { source })?;
        let fingerprint = fingerprint(cert.der());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_pair.serialize_der()));
        let config = ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|source| TlsError::Config { source })?
            .with_no_client_auth()
            .with_single_cert(vec![cert.der().clone()], key)
            .map_err(|source| TlsError::Config { source })?;
        Ok(Self {
            config: Arc::new(config),
            fingerprint,
        })
    }

    /// The certificate's SHA-256 fingerprint, 64 lowercase hex digits: the value of
    /// `tls_sha256` in `DAISY_CONTEXT`.
    #[must_use]
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The rustls server configuration presenting this certificate.
    #[must_use]
    pub fn server_config(&self) -> Arc<ServerConfig> {
        Arc::clone(&self.config)
    }
}

/// A client configuration that accepts exactly the certificate with one SHA-256 fingerprint,
/// and what its verifier saw. Make a new one per connection: it records the first refusal.
#[derive(Debug, Clone)]
pub struct PinnedConfig {
    config: Arc<ClientConfig>,
    refused: Arc<OnceLock<String>>,
    expected: String,
}

impl PinnedConfig {
    /// A configuration pinned to `fingerprint` (64 hex digits, either case).
    ///
    /// # Errors
    ///
    /// [`TlsError::Fingerprint`] if it is not 64 hex digits, [`TlsError::Config`] if rustls
    /// refuses the configuration.
    pub fn new(fingerprint: &str) -> Result<Self, TlsError> {
        let expected = fingerprint.to_ascii_lowercase();
        if expected.len() != 64 || !expected.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(TlsError::Fingerprint {
                fingerprint: fingerprint.to_owned(),
            });
        }
        let provider = provider();
        let refused = Arc::new(OnceLock::new());
        let verifier = FingerprintVerifier {
            expected: expected.clone(),
            algorithms: provider.signature_verification_algorithms,
            refused: Arc::clone(&refused),
        };
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(|source| TlsError::Config { source })?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        // The server name means nothing here: the fingerprint names the server.
        config.enable_sni = false;
        Ok(Self {
            config: Arc::new(config),
            refused,
            expected,
        })
    }

    /// The rustls client configuration.
    #[must_use]
    pub fn config(&self) -> Arc<ClientConfig> {
        Arc::clone(&self.config)
    }

    /// The pinned fingerprint, lowercase.
    #[must_use]
    pub fn expected(&self) -> &str {
        &self.expected
    }

    /// The fingerprint of a certificate a server presented and the verifier refused.
    #[must_use]
    pub fn refused(&self) -> Option<&str> {
        self.refused.get().map(String::as_str)
    }
}

/// The crypto provider: rustls's `ring` one.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Accepts the one certificate whose SHA-256 is `expected`, then checks the handshake
/// signatures with it as rustls's own verifier does.
#[derive(Debug)]
struct FingerprintVerifier {
    expected: String,
    algorithms: WebPkiSupportedAlgorithms,
    refused: Arc<OnceLock<String>>,
}

impl ServerCertVerifier for FingerprintVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let found = fingerprint(end_entity);
        if found == self.expected {
            Ok(ServerCertVerified::assertion())
        } else {
            let _ = self.refused.set(found);
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_sha256_hex() {
        // SHA-256 of the empty input.
        assert_eq!(
            fingerprint(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn every_identity_is_new() {
        let (a, b) = (
            TlsIdentity::generate().unwrap(),
            TlsIdentity::generate().unwrap(),
        );
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert!(a.fingerprint().bytes().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn fingerprints_must_be_64_hex_digits() {
        for bad in ["", "abc", &"g".repeat(64), &"a".repeat(63), &"a".repeat(65)] {
            let error = PinnedConfig::new(bad).unwrap_err();
            assert!(matches!(&error, TlsError::Fingerprint { fingerprint } if fingerprint == bad));
        }
        assert_eq!(
            PinnedConfig::new(&"AB".repeat(32)).unwrap().expected(),
            "ab".repeat(32)
        );
    }
}
