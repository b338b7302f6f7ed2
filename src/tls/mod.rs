//! TLS for client connections and the TestingServer (cargo feature `tls`), with rustls: no
//! OpenSSL, no system library, ring as the crypto provider.
//!
//! * [`TlsConfig`] (built with [`TlsConfig::builder`]) is what a user configures: the CA
//!   certificates that sign the servers' certificates, optionally a client certificate and
//!   key (mutual TLS), and host name verification (on unless explicitly turned off). Pass it
//!   to `ZooKeeper::builder(..).tls(..)` or `CuratorFrameworkFactory::builder().tls(..)`.
//! * `stream` (crate-private) is one TLS connection that a reader thread and writer threads
//!   share, as the session's plain socket is shared (see `session::stream`).
//! * `verify` (crate-private): the verifier that skips only the host name check when asked
//!   to, and the mapping of rustls' errors to [`TlsFailure`](crate::TlsFailure).
//!
//! How to set up a server and client for TLS is in `docs/security.md`.

mod config;
pub(crate) mod stream;
mod verify;

#[cfg(feature = "testing")]
pub(crate) use config::server_config;
pub use config::{TlsConfig, TlsConfigBuilder};
