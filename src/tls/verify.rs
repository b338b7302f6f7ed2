//! Certificate verification details: the verifier behind
//! `danger_disable_hostname_verification` (everything checked but the name), and the
//! translation of rustls' errors into [`TlsFailure`], the cause a user can act on.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};

use crate::TlsFailure;

/// WebPKI verification minus the host name: the chain, validity period and signatures are
/// checked as usual (webpki checks the name last, so a name error means the rest passed).
#[derive(Debug)]
pub(super) struct SkipHostname(pub Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for SkipHostname {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// What went wrong, in the terms of [`TlsFailure`]; `host` is the name that was checked.
pub(crate) fn classify(e: &rustls::Error, host: &str) -> TlsFailure {
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer => TlsFailure::UnknownCa,
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                TlsFailure::NameMismatch {
                    host: host.to_string(),
                }
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                TlsFailure::Expired
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                TlsFailure::NotYetValid
            }
            CertificateError::Revoked => TlsFailure::Revoked,
            other => TlsFailure::BadCertificate(format!("{other:?}")),
        },
        rustls::Error::AlertReceived(alert) => TlsFailure::RejectedByServer(format!("{alert:?}")),
        other => TlsFailure::Handshake(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_are_named() {
        let cert = |c: CertificateError| rustls::Error::InvalidCertificate(c);
        assert_eq!(
            classify(&cert(CertificateError::UnknownIssuer), "h"),
            TlsFailure::UnknownCa
        );
        assert_eq!(
            classify(&cert(CertificateError::NotValidForName), "zk1"),
            TlsFailure::NameMismatch { host: "zk1".into() }
        );
        assert_eq!(
            classify(&cert(CertificateError::Expired), "h"),
            TlsFailure::Expired
        );
        assert!(matches!(
            classify(
                &rustls::Error::AlertReceived(rustls::AlertDescription::CertificateRequired),
                "h"
            ),
            TlsFailure::RejectedByServer(a) if a.contains("CertificateRequired")
        ));
        assert!(matches!(
            classify(&rustls::Error::HandshakeNotComplete, "h"),
            TlsFailure::Handshake(_)
        ));
    }
}
