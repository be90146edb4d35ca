//! TLS 1.3 for both directions, with the peer accepted by its pinned
//! fingerprint and nothing else: no certificate authorities, no names.
//!
//! The verifiers record what the peer presented, so a refused handshake can
//! tell the user both the expected and the presented fingerprint.

use std::sync::{Arc, Mutex};

use rustls::{
    client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
    crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider},
    server::danger::{ClientCertVerified, ClientCertVerifier},
    CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme,
};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use crate::{Fingerprint, Identity, NetConfig, NetError};

/// The ALPN protocol id of count and segment mode.
pub const ALPN: &[u8] = b"venn/1";

/// The ALPN protocol id of index mode.
pub const ALPN_INDEX: &[u8] = b"venn-index/1";

/// What a server serves, told to the client by ALPN in the TLS handshake,
/// so that `venn connect` knows which session to run before it builds one.
///
/// A server advertises exactly one protocol; a client offers both and reads
/// the negotiated one ([`PeerConnection::mode`](crate::PeerConnection::mode)).
/// A peer that negotiates none (an older build, a hand-written test peer)
/// is taken as [`Mode::Match`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// A count or a segment match (`venn/1`); the Hellos tell which.
    #[default]
    Match,
    /// Index mode (`venn-index/1`): the brand downloads the platform's index
    /// over the connection, then runs an index session.
    Index,
}

impl Mode {
    /// The ALPN protocol id.
    pub fn alpn(self) -> &'static [u8] {
        match self {
            Mode::Match => ALPN,
            Mode::Index => ALPN_INDEX,
        }
    }

    /// The mode of a negotiated ALPN protocol; none (or an unknown one,
    /// which rustls never negotiates since we offer only ours) is `Match`.
    pub fn from_alpn(protocol: Option<&[u8]>) -> Mode {
        match protocol {
            Some(p) if p == ALPN_INDEX => Mode::Index,
            _ => Mode::Match,
        }
    }
}

/// Label of the TLS exporter that gives the session's channel binding.
pub(crate) const EXPORTER_LABEL: &[u8] = b"EXPORTER-venn-channel-binding";

/// The fingerprints a party accepts as its peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerPins(Vec<Fingerprint>);

impl PeerPins {
    /// Accepts exactly these peers. An empty list accepts nobody.
    pub fn new(pins: impl IntoIterator<Item = Fingerprint>) -> Self {
        Self(pins.into_iter().collect())
    }

    /// Whether `fingerprint` is pinned.
    pub fn contains(&self, fingerprint: &Fingerprint) -> bool {
        self.0.contains(fingerprint)
    }

    /// The pinned fingerprints.
    pub fn as_slice(&self) -> &[Fingerprint] {
        &self.0
    }
}

/// What the peer presented during one handshake.
#[derive(Debug, Clone, Default)]
pub(crate) struct Presented(Arc<Mutex<Option<Fingerprint>>>);

impl Presented {
    pub(crate) fn get(&self) -> Option<Fingerprint> {
        *self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn set(&self, fingerprint: Fingerprint) {
        *self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(fingerprint);
    }
}

#[derive(Debug)]
struct PinnedVerifier {
    pins: PeerPins,
    presented: Presented,
    provider: Arc<CryptoProvider>,
}

impl PinnedVerifier {
    fn check(&self, end_entity: &CertificateDer<'_>) -> Result<(), rustls::Error> {
        let fingerprint = Fingerprint::of_certificate(end_entity)
            .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
        self.presented.set(fingerprint);
        if self.pins.contains(&fingerprint) {
            Ok(())
        } else {
            Err(rustls::Error::InvalidCertificate(CertificateError::ApplicationVerificationFailure))
        }
    }

    fn tls13(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn tls12(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // Only TLS 1.3 is enabled; this exists to satisfy the trait.
        verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.check(end_entity).map(|()| ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.tls12(m, c, d)
    }

    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.tls13(m, c, d)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.schemes()
    }
}

impl ClientCertVerifier for PinnedVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.check(end_entity).map(|()| ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.tls12(m, c, d)
    }

    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.tls13(m, c, d)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.schemes()
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn verifier(pins: PeerPins, presented: Presented) -> Arc<PinnedVerifier> {
    Arc::new(PinnedVerifier { pins, presented, provider: provider() })
}

/// A QUIC server configuration for one incoming connection.
pub(crate) fn server_config(
    identity: &Identity,
    pins: PeerPins,
    presented: Presented,
    net: &NetConfig,
    mode: Mode,
) -> Result<quinn::ServerConfig, NetError> {
    let mut tls = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(verifier(pins, presented))
        .with_single_cert(vec![identity.cert()], identity.key())?;
    tls.alpn_protocols = vec![mode.alpn().to_vec()];
    let quic = quinn::crypto::rustls::QuicServerConfig::try_from(tls).map_err(|e| NetError::TlsSetup(e.to_string()))?;
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(quic));
    config.transport_config(Arc::new(net.transport()?));
    Ok(config)
}

/// A QUIC client configuration for one outgoing connection.
pub(crate) fn client_config(
    identity: &Identity,
    pins: PeerPins,
    presented: Presented,
    net: &NetConfig,
) -> Result<quinn::ClientConfig, NetError> {
    let mut tls = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(verifier(pins, presented))
        .with_client_auth_cert(vec![identity.cert()], identity.key())?;
    // Both: the server advertises one, and that one is the mode.
    tls.alpn_protocols = vec![ALPN.to_vec(), ALPN_INDEX.to_vec()];
    let quic = quinn::crypto::rustls::QuicClientConfig::try_from(tls).map_err(|e| NetError::TlsSetup(e.to_string()))?;
    let mut config = quinn::ClientConfig::new(Arc::new(quic));
    config.transport_config(Arc::new(net.transport()?));
    Ok(config)
}
