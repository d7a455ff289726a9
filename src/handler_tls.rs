//! TLS to the handler, for `https://` targets: the system's trust roots plus `--forward-ca`
//! (e.g. mkcert's root), or no verification at all with `--forward-insecure`; and a resolver that
//! tries `localhost` on `::1` and then `127.0.0.1`, since Node binds `::1` first on many systems.

use std::future::Future;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use anyhow::Context as _;
use hyper_util::client::legacy::connect::dns::{GaiResolver, Name};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// How webhook-dev trusts an `https://` handler.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HandlerTls {
    /// Also trust the CA certificate(s) in this PEM file.
    pub ca_file: Option<PathBuf>,
    /// Accept any certificate (a development server's self-signed one).
    pub insecure: bool,
}

impl HandlerTls {
    /// The rustls client configuration for these settings.
    pub fn client_config(&self) -> anyhow::Result<Arc<ClientConfig>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?;
        // No ALPN here: the connector offers http/1.1 itself.
        let config = if self.insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
                .with_no_client_auth()
        } else {
            builder
                .with_root_certificates(self.roots()?)
                .with_no_client_auth()
        };
        Ok(Arc::new(config))
    }

    fn roots(&self) -> anyhow::Result<RootCertStore> {
        let mut roots = RootCertStore::empty();
        // Unreadable system certificates are skipped: the rest, and --forward-ca, still apply.
        let native = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(native.certs);
        if let Some(file) = &self.ca_file {
            for cert in crate::relay::tls::load_certs(file)? {
                roots.add(cert).with_context(|| {
                    format!(
                        "a certificate in --forward-ca {} cannot be used as a trust root",
                        file.display()
                    )
                })?;
            }
        }
        Ok(roots)
    }
}

/// `--forward-insecure`: every certificate is accepted; signatures are still checked so the
/// handshake itself is sound.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Resolves `localhost` to `::1` then `127.0.0.1` (the connector tries them in order), and
/// every other name through the system resolver.
#[derive(Clone, Debug)]
pub struct LocalhostBothFamilies(GaiResolver);

impl Default for LocalhostBothFamilies {
    fn default() -> Self {
        LocalhostBothFamilies(GaiResolver::new())
    }
}

type Addresses = std::vec::IntoIter<SocketAddr>;

impl tower_service::Service<Name> for LocalhostBothFamilies {
    type Response = Addresses;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Addresses, std::io::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, name: Name) -> Self::Future {
        if name.as_str().eq_ignore_ascii_case("localhost") {
            let both = vec![
                SocketAddr::from((Ipv6Addr::LOCALHOST, 0)),
                SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            ];
            return Box::pin(std::future::ready(Ok(both.into_iter())));
        }
        let resolving = self.0.call(name);
        Box::pin(async move { Ok(resolving.await?.collect::<Vec<_>>().into_iter()) })
    }
}
