//! The `digest` ACL scheme's id, `user:base64(sha1("user:password"))`, over RustCrypto's
//! `sha1` (feature `digest-acl`). SHA-1 is what ZooKeeper's default digest provider uses, not
//! a choice of ours. The client's [`generate_digest`](super::generate_digest) and the
//! TestingServer's `digest` provider share [`digest_id`], so the two cannot disagree.

use sha1::{Digest, Sha1};

/// Standard base64 with `=` padding (what `java.util.Base64.getEncoder()` produces).
pub(crate) fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The digest-scheme id for `user:password` credentials, as
/// `DigestAuthenticationProvider.generateDigest` computes it: the user part is everything
/// before the first `:`, the hash covers the whole string.
pub(crate) fn digest_id(credentials: &str) -> String {
    let user = credentials.split(':').next().unwrap_or("");
    let hash = Sha1::digest(credentials.as_bytes());
    format!("{user}:{}", base64(&hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_padding() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn digest_ids_match_zookeeper() {
        // `DigestAuthenticationProvider.generateDigest("super:test")`, a value quoted in the
        // ZooKeeper admin guide.
        assert_eq!(
            digest_id("super:test"),
            "super:D/InIHSb7yEEbrWz8b9l71RjZJU="
        );
        // SHA-1 of the empty string (FIPS 180 / RFC 3174), base64: the hash is the crate's,
        // the encoding and the framing ours.
        assert_eq!(digest_id(""), ":2jmj7l5rSw0yVb/vlWAYkK/YBwk=");
        // The user part ends at the first `:`; the hash covers the whole text.
        let id = digest_id("user:pass:word");
        assert!(
            id.starts_with("user:") && id.len() == "user:".len() + 28,
            "{id}"
        );
        assert_ne!(id, digest_id("user:pass"));
    }
}
