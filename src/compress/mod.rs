//! Compression of node data: the gzip format of Curator's `GzipCompressionProvider`, behind
//! the cargo feature `gzip` (on by default).
//!
//! Curator stores `compressed()` data as plain gzip (RFC 1952), as Java's `GZIPOutputStream`
//! writes it and `GZIPInputStream` reads it; Java and Rust clients share those znodes, so
//! both directions speak exactly that format. The DEFLATE itself is `flate2` over its
//! pure-Rust `miniz_oxide` backend: data read from the network goes through a decoder with
//! years of wide use, not one of our own. This module adds what a znode reader needs on top:
//! an output cap (a zip bomb is refused before it is allocated) and the refusal of anything
//! but complete gzip members (Java ignores trailing bytes; a znode holds exactly what a
//! compressor wrote, so here they are an error).
//!
//! Without the feature the crate builds on its five core crates alone, and [`gzip`] /
//! [`gunzip`] return an error naming the feature, so that a `compressed()` call with the
//! default provider says what is missing instead of writing uncompressed data.
//!
//! Neighbours: the framework's `GzipCompressionProvider` (framework/providers.rs) is the one
//! caller.

#[cfg(feature = "gzip")]
mod codec;

#[cfg(all(test, feature = "gzip"))]
mod tests;

use crate::error::{Error, Result};

/// Compresses `data`, about to be written to `path`, into one gzip member.
#[cfg(feature = "gzip")]
pub(crate) fn gzip(path: &str, data: &[u8]) -> Result<Vec<u8>> {
    codec::compress(data)
        .map_err(|why| Error::InvalidArgument(format!("cannot gzip the data of {path}: {why}")))
}

/// Decompresses the gzip data read from `path`. Data that is not gzip, is cut short, fails
/// its checksums or would inflate beyond [`codec::MAX_OUTPUT`] is an [`Error::BadData`] of
/// `path` saying which: the node holds something its reader cannot read (nobody passed a
/// bad argument, and the server reported nothing).
#[cfg(feature = "gzip")]
pub(crate) fn gunzip(path: &str, data: &[u8]) -> Result<Vec<u8>> {
    codec::decompress(data).map_err(|why| Error::BadData {
        path: path.to_string(),
        reason: format!("not valid gzip data: {why}"),
    })
}

/// Without the `gzip` feature: an error naming it.
#[cfg(not(feature = "gzip"))]
pub(crate) fn gzip(path: &str, _data: &[u8]) -> Result<Vec<u8>> {
    Err(feature_missing("compress", path))
}

/// Without the `gzip` feature: an error naming it.
#[cfg(not(feature = "gzip"))]
pub(crate) fn gunzip(path: &str, _data: &[u8]) -> Result<Vec<u8>> {
    Err(feature_missing("decompress", path))
}

#[cfg(not(feature = "gzip"))]
fn feature_missing(what: &str, path: &str) -> Error {
    Error::InvalidArgument(format!(
        "cannot {what} the data of {path}: gzip compression needs zk-curator's cargo feature \
         `gzip` (on by default; this build has it off), or set another \
         CompressionProvider on the CuratorFrameworkFactory builder"
    ))
}

#[cfg(all(test, feature = "gzip"))]
mod with_feature {
    use crate::Error;

    #[test]
    fn corrupt_data_is_bad_data_of_its_node() {
        let good = super::gzip("/a", b"hello").unwrap();
        assert_eq!(super::gunzip("/a", &good).unwrap(), b"hello");
        let mut flipped = good.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1; // ISIZE
        for bad in [&b"plain"[..], &good[..good.len() - 3], &flipped] {
            let e = super::gunzip("/a", bad).unwrap_err();
            assert!(
                matches!(e, Error::BadData { ref path, .. } if path == "/a"),
                "{e:?}"
            );
            assert_eq!(e.path(), Some("/a"));
            assert_eq!(e.code(), None, "not a server code");
            assert!(!e.is_retryable());
            assert!(
                e.to_string()
                    .starts_with("unreadable data in /a: not valid gzip data: gzip: "),
                "{e}"
            );
        }
    }
}

#[cfg(all(test, not(feature = "gzip")))]
mod without_feature {
    #[test]
    fn both_directions_name_the_feature() {
        for e in [super::gzip("/a", b"x"), super::gunzip("/a", b"x")] {
            let e = e.unwrap_err();
            assert!(matches!(e, crate::Error::InvalidArgument(_)), "{e:?}");
            let msg = e.to_string();
            assert!(
                msg.contains("feature `gzip`") && msg.contains("/a"),
                "{msg}"
            );
        }
    }
}
