//! Pluggable policies of the factory: which ACL a new node gets ([`AclProvider`]) and how
//! `compressed()` data is transformed ([`CompressionProvider`]).

use crate::error::Result;
use crate::proto::Acl;

/// Chooses the ACL for nodes created without an explicit one (Curator's `ACLProvider`).
pub trait AclProvider: Send + Sync + 'static {
    /// The ACL when nothing more specific applies.
    fn default_acl(&self) -> Vec<Acl>;

    /// The ACL for a node at `path` (namespace included). Default: [`default_acl`](Self::default_acl).
    fn acl_for_path(&self, _path: &str) -> Vec<Acl> {
        self.default_acl()
    }
}

/// `OPEN_ACL_UNSAFE` for every node (Curator's `DefaultACLProvider`).
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultAclProvider;

impl AclProvider for DefaultAclProvider {
    fn default_acl(&self) -> Vec<Acl> {
        Acl::open_unsafe()
    }
}

/// Transforms data for `compressed()` / `decompressed()` (Curator's `CompressionProvider`).
pub trait CompressionProvider: Send + Sync + 'static {
    /// Compresses `data` about to be written to `path`.
    fn compress(&self, path: &str, data: &[u8]) -> Result<Vec<u8>>;
    /// Decompresses `data` read from `path`.
    fn decompress(&self, path: &str, data: &[u8]) -> Result<Vec<u8>>;
}

/// RFC 1952 gzip, the format of Curator's `GzipCompressionProvider` (Java's
/// `GZIPOutputStream`): Java and Rust clients read each other's compressed nodes. The
/// compressed bytes themselves may differ from Java's (another deflate encoder), so compare
/// decompressed data, never compressed bytes.
///
/// Needs the cargo feature `gzip` (on by default); without it both directions fail with an
/// [`InvalidArgument`](crate::Error::InvalidArgument) naming the feature. Data that does
/// not decompress (not gzip, cut short, a checksum mismatch, output over 256 MiB: a zip
/// bomb, or bytes after the last complete gzip member) is a
/// [`BadData`](crate::Error::BadData) naming the node and what is wrong.
#[derive(Debug, Clone, Copy, Default)]
pub struct GzipCompressionProvider;

impl CompressionProvider for GzipCompressionProvider {
    fn compress(&self, path: &str, data: &[u8]) -> Result<Vec<u8>> {
        crate::compress::gzip(path, data)
    }

    fn decompress(&self, path: &str, data: &[u8]) -> Result<Vec<u8>> {
        crate::compress::gunzip(path, data)
    }
}

/// The data Curator writes for `for_path(path)` calls without data: the local host's
/// address as text (`InetAddress.getLocalHost().getHostAddress()`), `127.0.0.1` if it cannot
/// be found.
pub(crate) fn local_address() -> Vec<u8> {
    use std::net::ToSocketAddrs;
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .unwrap_or_default();
    let host = host.trim();
    if !host.is_empty() {
        if let Ok(addrs) = (host, 0).to_socket_addrs() {
            let addrs: Vec<_> = addrs.collect();
            if let Some(a) = addrs.iter().find(|a| a.is_ipv4()).or(addrs.first()) {
                return a.ip().to_string().into_bytes();
            }
        }
    }
    b"127.0.0.1".to_vec()
}
