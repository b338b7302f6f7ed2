//! [`TlsConfig`] and its builder: what a client trusts and how it proves who it is; and the
//! TestingServer's server-side configuration.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
#[cfg(feature = "testing")]
use rustls::ServerConfig;
use rustls::{ClientConfig, RootCertStore};

use super::stream::TlsStream;
use super::verify::SkipHostname;
use crate::auth::Secret;
use crate::error::{Error, Result};

/// TLS settings of a client (cargo feature `tls`): the CA certificates that sign the
/// servers' certificates, optionally a client certificate and its key (mutual TLS), and
/// whether the server's certificate must name the host the client connects to (it must,
/// unless [`danger_disable_hostname_verification`](TlsConfigBuilder::danger_disable_hostname_verification)
/// says otherwise).
///
/// The name checked is the host of each `host:port` in the connect string, so connect with
/// the names the certificates carry (`zk1.example.com:2281`), or with addresses the
/// certificates list as IP subject alternative names.
///
/// Cheap to clone (the parsed configuration is shared). Its `Debug` output shows counts and
/// switches, never key material.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = std::env::temp_dir().join(format!("zk-tls-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// # let key = rcgen::KeyPair::generate()?;
/// # let ca = rcgen::CertificateParams::new(Vec::<String>::new())?.self_signed(&key)?;
/// # std::fs::write(dir.join("ca.pem"), ca.pem())?;
/// use zk_curator::tls::TlsConfig;
/// use zk_curator::ZooKeeper;
///
/// let tls = TlsConfig::builder()
///     .ca_pem_file(dir.join("ca.pem"))
///     .build()?;
/// let builder = ZooKeeper::builder("zk1.example.com:2281,zk2.example.com:2281").tls(tls);
/// # drop(builder);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct TlsConfig {
    client: Arc<ClientConfig>,
    ca_certificates: usize,
    client_certificate: bool,
    verify_hostname: bool,
}

impl TlsConfig {
    /// A builder with nothing trusted yet and host name verification on.
    pub fn builder() -> TlsConfigBuilder {
        TlsConfigBuilder {
            ca: Vec::new(),
            client: None,
            verify_hostname: true,
        }
    }

    /// Whether the server's certificate must be valid for the host name connected to.
    pub fn verifies_hostname(&self) -> bool {
        self.verify_hostname
    }

    /// Whether the client presents a certificate (mutual TLS).
    pub fn has_client_certificate(&self) -> bool {
        self.client_certificate
    }

    /// Opens TLS over a connected socket to `host` (the connect string's host): the
    /// handshake runs now, bounded by the socket's timeouts.
    pub(crate) fn connect(&self, sock: TcpStream, host: &str) -> std::io::Result<TlsStream> {
        let name = ServerName::try_from(host.to_string()).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                crate::TlsFailure::Handshake(format!(
                    "{host:?} is neither a DNS name nor an IP address"
                )),
            )
        })?;
        TlsStream::client(sock, Arc::clone(&self.client), name, host)
    }
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig")
            .field("ca_certificates", &self.ca_certificates)
            .field("client_certificate", &self.client_certificate)
            .field("verify_hostname", &self.verify_hostname)
            .finish()
    }
}

/// PEM text given inline or as a file to read at `build()`.
#[derive(Clone)]
enum Pem {
    Inline(Secret),
    File(PathBuf),
}

impl Pem {
    fn load(&self, what: &str) -> Result<Secret> {
        match self {
            Pem::Inline(s) => Ok(s.clone()),
            Pem::File(p) => std::fs::read(p).map(Secret::new).map_err(|e| {
                Error::InvalidArgument(format!("tls: cannot read the {what} {}: {e}", p.display()))
            }),
        }
    }

    fn describe(&self) -> String {
        match self {
            Pem::Inline(_) => "inline PEM".into(),
            Pem::File(p) => p.display().to_string(),
        }
    }
}

/// Builds a [`TlsConfig`]; every input is checked by [`build`](Self::build), whose error
/// names the input at fault (never its contents when it is a key).
#[must_use = "a builder does nothing until build()"]
#[derive(Clone)]
pub struct TlsConfigBuilder {
    ca: Vec<Pem>,
    client: Option<(Pem, Pem)>,
    verify_hostname: bool,
}

impl std::fmt::Debug for TlsConfigBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfigBuilder")
            .field("ca", &self.ca.iter().map(Pem::describe).collect::<Vec<_>>())
            .field(
                "client_certificate",
                &self.client.as_ref().map(|(c, _)| c.describe()),
            )
            .field("verify_hostname", &self.verify_hostname)
            .finish()
    }
}

impl TlsConfigBuilder {
    /// Trusts the CA certificates in `pem` (one or more `CERTIFICATE` blocks): servers must
    /// present a certificate chain ending at one of them. ZooKeeper's
    /// `ssl.trustStore.location` of the client side.
    pub fn ca_pem(mut self, pem: impl AsRef<[u8]>) -> Self {
        self.ca
            .push(Pem::Inline(Secret::new(pem.as_ref().to_vec())));
        self
    }

    /// [`ca_pem`](Self::ca_pem) from a file, read by [`build`](Self::build).
    pub fn ca_pem_file(mut self, path: impl AsRef<Path>) -> Self {
        self.ca.push(Pem::File(path.as_ref().to_path_buf()));
        self
    }

    /// Presents this certificate chain (`CERTIFICATE` blocks, the client's own first) and
    /// proves it with `private_key` (a PKCS#8, PKCS#1 or SEC1 `PRIVATE KEY` block): mutual
    /// TLS, for servers running with `ssl.clientAuth=need` (or `want`). The key is kept out
    /// of every `Debug` output and error message.
    pub fn client_certificate_pem(
        mut self,
        cert_chain: impl AsRef<[u8]>,
        private_key: impl AsRef<[u8]>,
    ) -> Self {
        self.client = Some((
            Pem::Inline(Secret::new(cert_chain.as_ref().to_vec())),
            Pem::Inline(Secret::new(private_key.as_ref().to_vec())),
        ));
        self
    }

    /// [`client_certificate_pem`](Self::client_certificate_pem) from files, read by
    /// [`build`](Self::build).
    pub fn client_certificate_pem_files(
        mut self,
        cert_chain: impl AsRef<Path>,
        private_key: impl AsRef<Path>,
    ) -> Self {
        self.client = Some((
            Pem::File(cert_chain.as_ref().to_path_buf()),
            Pem::File(private_key.as_ref().to_path_buf()),
        ));
        self
    }

    /// **Dangerous: turns off host name verification.** The server's certificate must
    /// still chain to a trusted CA, be in its validity period and be signed correctly, but
    /// it may name any host: any server holding any certificate from your CA can then
    /// impersonate any other (a man in the middle with one stolen or ordinary certificate
    /// reads and changes everything). Use it only where the CA issues certificates to
    /// ZooKeeper servers and nothing else, and the names cannot be made to match (the Java
    /// client's `zookeeper.ssl.hostnameVerification=false`). Prefer fixing the certificates
    /// or the connect string.
    pub fn danger_disable_hostname_verification(mut self) -> Self {
        self.verify_hostname = false;
        self
    }

    /// Parses everything and builds the configuration. Errors are
    /// [`InvalidArgument`](Error::InvalidArgument)s starting with `tls:` and naming the
    /// input: no CA given, a file that cannot be read, PEM without the expected block, a
    /// key that does not fit the certificate.
    pub fn build(self) -> Result<TlsConfig> {
        let bad = |m: String| Error::InvalidArgument(format!("tls: {m}"));
        if self.ca.is_empty() {
            return Err(bad(
                "no CA certificate: add the CA that signs the servers' certificates with \
                 ca_pem or ca_pem_file"
                    .into(),
            ));
        }
        let mut roots = RootCertStore::empty();
        for pem in &self.ca {
            let what = format!("CA certificates ({})", pem.describe());
            let certs = certificates(&pem.load("CA file")?, &what)?;
            for c in certs {
                roots
                    .add(c)
                    .map_err(|e| bad(format!("{what}: not a usable CA certificate: {e}")))?;
            }
        }
        let ca_certificates = roots.len();
        let provider = provider();
        let verifier =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
                .build()
                .map_err(|e| bad(format!("the CA certificates cannot verify servers: {e}")))?;
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| bad(format!("no protocol version: {e}")))?;
        let builder = if self.verify_hostname {
            builder.with_webpki_verifier(verifier)
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(SkipHostname(verifier)))
        };
        let client = match &self.client {
            None => builder.with_no_client_auth(),
            Some((chain, key)) => {
                let what = format!("client certificate ({})", chain.describe());
                let chain = certificates(&chain.load("client certificate file")?, &what)?;
                let key = private_key(&key.load("client key file")?, &key.describe())?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| bad(format!("{what}: the key does not fit: {}", key_error(&e))))?
            }
        };
        Ok(TlsConfig {
            client: Arc::new(client),
            ca_certificates,
            client_certificate: self.client.is_some(),
            verify_hostname: self.verify_hostname,
        })
    }
}

/// The crypto provider of every configuration: ring (builds with a C compiler alone).
/// rustls 0.23.48 deprecates it for lacking post-quantum key exchange, which aws-lc-rs has
/// (and which needs cmake to build); ZooKeeper's JVM (Java 17's JSSE) offers none either, so
/// nothing is lost against the servers this crate talks to.
#[allow(deprecated)]
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The `CERTIFICATE` blocks of `pem`; an error naming `what` if there is none or one is
/// malformed.
fn certificates(pem: &Secret, what: &str) -> Result<Vec<CertificateDer<'static>>> {
    let certs: std::result::Result<Vec<_>, _> =
        CertificateDer::pem_slice_iter(pem.expose()).collect();
    match certs {
        Ok(c) if !c.is_empty() => Ok(c),
        Ok(_) => Err(Error::InvalidArgument(format!(
            "tls: {what}: no CERTIFICATE block found"
        ))),
        Err(e) => Err(Error::InvalidArgument(format!(
            "tls: {what}: malformed PEM ({e})"
        ))),
    }
}

/// The private key in `pem`. The error says what was wrong in general terms only: a PEM
/// parser's message may quote the offending line, which here is key material.
fn private_key(pem: &Secret, what: &str) -> Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_slice(pem.expose()).map_err(|e| {
        let why = match e {
            rustls::pki_types::pem::Error::NoItemsFound => {
                "no PRIVATE KEY block (PKCS#8, PKCS#1 or SEC1) found"
            }
            _ => "malformed PEM",
        };
        Error::InvalidArgument(format!("tls: private key ({what}): {why}"))
    })
}

/// A rustls error about a key, without details that could echo key bytes.
fn key_error(e: &rustls::Error) -> String {
    match e {
        rustls::Error::InconsistentKeys(_) => {
            "the private key does not match the certificate".into()
        }
        rustls::Error::General(m) => m.clone(),
        _ => "the private key is not usable (unsupported type or malformed)".into(),
    }
}

/// The TestingServer's configuration: its certificate chain and key, and the CA that
/// client certificates must chain to (`None`: no client certificate asked for). Only the
/// TestingServer serves TLS, so this exists only with the `testing` feature.
#[cfg(feature = "testing")]
pub(crate) fn server_config(
    cert_chain: &[u8],
    key: &Secret,
    client_ca: Option<&[u8]>,
) -> Result<Arc<ServerConfig>> {
    let bad = |m: String| Error::InvalidArgument(format!("tls: {m}"));
    let chain = certificates(&Secret::new(cert_chain.to_vec()), "server certificate")?;
    let key = private_key(key, "server key")?;
    let provider = provider();
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(format!("no protocol version: {e}")))?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for c in certificates(&Secret::new(ca.to_vec()), "client CA")? {
                roots
                    .add(c)
                    .map_err(|e| bad(format!("client CA: not a usable CA certificate: {e}")))?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .map_err(|e| bad(format!("client CA: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder
        .with_single_cert(chain, key)
        .map_err(|e| bad(format!("server certificate: {}", key_error(&e))))?;
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_names_the_input_at_fault_and_never_shows_a_key() {
        let key = rcgen::KeyPair::generate().unwrap();
        let ca = rcgen::CertificateParams::new(Vec::<String>::new())
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let key_pem = key.serialize_pem();
        let cases: Vec<(TlsConfigBuilder, &str)> = vec![
            (TlsConfig::builder(), "no CA certificate"),
            (TlsConfig::builder().ca_pem("junk"), "no CERTIFICATE block"),
            (
                TlsConfig::builder().ca_pem_file("/nonexistent/ca.pem"),
                "/nonexistent/ca.pem",
            ),
            (
                TlsConfig::builder()
                    .ca_pem(ca.pem())
                    .client_certificate_pem(ca.pem(), "not a key"),
                "no PRIVATE KEY block",
            ),
            (
                TlsConfig::builder()
                    .ca_pem(ca.pem())
                    .client_certificate_pem(
                        ca.pem(),
                        rcgen::KeyPair::generate().unwrap().serialize_pem(),
                    ),
                "does not match",
            ),
        ];
        for (b, want) in cases {
            let shown = format!("{b:?}");
            assert!(!shown.contains("PRIVATE KEY"), "{shown}");
            let e = b.build().unwrap_err().to_string();
            assert!(
                e.starts_with("invalid argument: tls: ") && e.contains(want),
                "{want}: {e}"
            );
            assert!(!e.contains(key_pem.lines().nth(1).unwrap()), "{e}");
        }
        let ok = TlsConfig::builder()
            .ca_pem(ca.pem())
            .client_certificate_pem(ca.pem(), &key_pem)
            .build()
            .unwrap();
        assert!(ok.has_client_certificate() && ok.verifies_hostname());
        let shown = format!("{ok:?}");
        assert_eq!(
            shown,
            "TlsConfig { ca_certificates: 1, client_certificate: true, verify_hostname: true }"
        );
        let off = TlsConfig::builder()
            .ca_pem(ca.pem())
            .danger_disable_hostname_verification()
            .build()
            .unwrap();
        assert!(!off.verifies_hostname() && !off.has_client_certificate());
    }
}
