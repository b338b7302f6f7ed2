//! Certificates made at test time (with rcgen) for the TLS tests: a CA, server certificates
//! that are right, for the wrong name, expired, or from another CA, and a client
//! certificate, as PEM text and as files a real ZooKeeper reads (`ssl.keyStore.type=PEM`:
//! key and certificate in one file).

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair, SanType,
};

/// A certificate and its key, as PEM.
pub struct Cert {
    pub cert: String,
    pub key: String,
}

impl Cert {
    /// Key and certificate in one PEM file (ZooKeeper's PEM keystore), written to `path`.
    pub fn write_keystore(&self, path: &Path) -> PathBuf {
        std::fs::write(path, format!("{}{}", self.key, self.cert)).expect("write a keystore");
        path.to_path_buf()
    }
}

/// One test PKI.
pub struct Pki {
    /// The CA the servers' and the client's certificates chain to.
    pub ca: String,
    /// Another CA, which signed nothing the tests trust.
    pub other_ca: String,
    /// The server: `127.0.0.1` and `zk.test` (not `localhost`: connecting by that name is
    /// the wrong-host-name case, and it resolves to the same server).
    pub server: Cert,
    /// Signed by the CA, but for `wrong.example` only.
    pub wrong_name: Cert,
    /// Signed by the CA for `127.0.0.1`, expired in 2001.
    pub expired: Cert,
    /// For `127.0.0.1`, signed by the other CA.
    pub untrusted: Cert,
    /// The client certificate (CN zk-test-client), signed by the CA.
    pub client: Cert,
}

fn new_ca(name: &str) -> (String, Issuer<'static, KeyPair>) {
    let key = KeyPair::generate().expect("a CA key");
    let mut p = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name);
    p.distinguished_name = dn;
    let cert = p.self_signed(&key).expect("self-sign the CA");
    (cert.pem(), Issuer::new(p, key))
}

fn leaf(cn: &str, names: &[&str], issuer: &Issuer<'static, KeyPair>, expired: bool) -> Cert {
    let key = KeyPair::generate().expect("a key");
    let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
    for n in names {
        let san = match n.parse::<std::net::IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName((*n).try_into().expect("a DNS name")),
        };
        p.subject_alt_names.push(san);
    }
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    p.distinguished_name = dn;
    if expired {
        p.not_before = rcgen::date_time_ymd(2000, 1, 1);
        p.not_after = rcgen::date_time_ymd(2001, 1, 1);
    }
    let cert = p.signed_by(&key, issuer).expect("sign");
    Cert {
        cert: cert.pem(),
        key: key.serialize_pem(),
    }
}

impl Pki {
    /// A fresh PKI (a few milliseconds).
    pub fn new() -> Pki {
        let (ca_pem, ca) = new_ca("zk-curator test CA");
        let (other_pem, other) = new_ca("another CA");
        let here = ["127.0.0.1", "zk.test"];
        Pki {
            ca: ca_pem,
            other_ca: other_pem,
            server: leaf("zk-test-server", &here, &ca, false),
            wrong_name: leaf("wrong", &["wrong.example"], &ca, false),
            expired: leaf("zk-test-server", &here, &ca, true),
            untrusted: leaf("zk-test-server", &here, &other, false),
            // The server checks a client certificate's names against the client's address.
            client: leaf("zk-test-client", &["127.0.0.1", "localhost"], &ca, false),
        }
    }

    /// Writes the CA as a file (a PEM truststore) into `dir`.
    pub fn write_ca(&self, dir: &Path) -> PathBuf {
        let p = dir.join("ca.pem");
        std::fs::write(&p, &self.ca).expect("write ca.pem");
        p
    }
}
