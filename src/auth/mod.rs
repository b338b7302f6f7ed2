//! Authentication helpers: the `digest` scheme's id (`generate_digest`, feature
//! `digest-acl`) and, crate-private, the SASL DIGEST-MD5 mechanism (feature `sasl`) and the
//! `Secret` wrapper that keeps passwords out of `Debug` output.
//!
//! How the pieces fit together (digest auth and ACLs, SASL, TLS, the matching server
//! settings) is in `docs/security.md`. In short:
//!
//! * **digest**: `add_auth_info("digest", b"user:password")` (or the builders'
//!   `authorization`/`auth`) identifies a session as `digest:user:<hash>` (no feature needed:
//!   the server hashes); an ACL entry for that id is
//!   `Id::new("digest", generate_digest("user", "password"))` (feature `digest-acl`).
//! * **SASL DIGEST-MD5** (feature `sasl`): the builders' `sasl_digest_md5(user, password)`;
//!   the session is then `sasl:user` (ACL id `Id::new("sasl", "user")`). Kerberos (GSSAPI) is
//!   not supported.
//! * **x509** (with the `tls` feature and a client certificate): the session is
//!   `x509:<subject DN>` on servers that run the X509 auth provider.
//!
//! ```
//! use zk_curator::auth::generate_digest;
//! use zk_curator::{Acl, CreateMode, Error, Id, Perms, ZooKeeper};
//! # let server = zk_curator::testing::TestingServer::start().unwrap();
//! let alice = ZooKeeper::builder(&server.connect_string()).auth("digest", b"alice:wonder").connect()?;
//! let only_alice = vec![Acl::new(Perms::ALL, Id::new("digest", generate_digest("alice", "wonder")))];
//! alice.create("/private", b"mine", &only_alice, CreateMode::Persistent)?;
//!
//! let bob = ZooKeeper::builder(&server.connect_string()).connect()?;
//! assert!(matches!(bob.get_data("/private", false), Err(Error::NoAuth { .. })));
//! bob.add_auth_info("digest", b"alice:wonder")?;
//! assert_eq!(bob.get_data("/private", false)?.0, b"mine");
//! # Ok::<(), zk_curator::Error>(())
//! ```

#[cfg(feature = "digest-acl")]
pub(crate) mod digest;
#[cfg(feature = "sasl")]
pub(crate) mod sasl;

/// The `digest` scheme's id for `user` with `password`: `user:base64(sha1("user:password"))`,
/// exactly what ZooKeeper's `DigestAuthenticationProvider.generateDigest("user:password")`
/// returns. Use it in ACLs (`Id::new("digest", generate_digest(u, p))`) and for the server's
/// `zookeeper.DigestAuthenticationProvider.superDigest`.
///
/// ```
/// // The value ZooKeeper's admin guide quotes for super:test.
/// assert_eq!(
///     zk_curator::auth::generate_digest("super", "test"),
///     "super:D/InIHSb7yEEbrWz8b9l71RjZJU="
/// );
/// ```
///
/// As in Java, a `:` inside `user` ends the user part of the id (the hash still covers the
/// whole `user:password` text), so such a user can never match its own ACL; avoid it.
#[cfg(feature = "digest-acl")]
#[cfg_attr(docsrs, doc(cfg(feature = "digest-acl")))]
pub fn generate_digest(user: &str, password: &str) -> String {
    digest::digest_id(&format!("{user}:{password}"))
}

/// Bytes that must never be shown: passwords and private keys. `Debug` prints a fixed
/// placeholder; the bytes are overwritten when dropped (best effort: copies made by the
/// allocator before are beyond reach).
#[cfg(any(feature = "sasl", feature = "tls"))]
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(Vec<u8>);

#[cfg(any(feature = "sasl", feature = "tls"))]
impl Secret {
    pub(crate) fn new(bytes: Vec<u8>) -> Secret {
        Secret(bytes)
    }

    /// The bytes, for the one place that needs them (a hash, a packet).
    pub(crate) fn expose(&self) -> &[u8] {
        &self.0
    }
}

#[cfg(any(feature = "sasl", feature = "tls"))]
impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(any(feature = "sasl", feature = "tls"))]
impl Drop for Secret {
    fn drop(&mut self) {
        for b in self.0.iter_mut() {
            *b = 0;
        }
        std::hint::black_box(&mut self.0);
    }
}

/// SASL DIGEST-MD5 credentials (the JAAS `Client` section's `username` and `password`).
#[cfg(feature = "sasl")]
#[derive(Debug, Clone)]
pub(crate) struct SaslDigest {
    pub user: String,
    pub password: Secret,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "sasl")]
    #[test]
    fn secrets_do_not_show() {
        let s = Secret::new(b"hunter2".to_vec());
        assert_eq!(format!("{s:?}"), "<redacted>");
        let c = SaslDigest {
            user: "bob".into(),
            password: s,
        };
        let shown = format!("{c:?}");
        assert!(
            shown.contains("bob") && !shown.contains("hunter2"),
            "{shown}"
        );
    }

    #[cfg(feature = "digest-acl")]
    #[test]
    fn generate_digest_is_zookeepers() {
        assert_eq!(
            generate_digest("super", "test"),
            "super:D/InIHSb7yEEbrWz8b9l71RjZJU="
        );
        assert_eq!(
            generate_digest("bob", "pw"),
            digest::digest_id("bob:pw"),
            "the TestingServer's provider and the helper agree"
        );
    }
}
