//! gzip through `flate2`: one member out; one or more complete members in, under a cap.
//!
//! [`compress`] writes one member with `flate2`'s header (MTIME 0, OS 255 "unknown": honest
//! for bytes that never were a file; no reader looks at either) and zlib's default level 6,
//! which is what Java's `GZIPOutputStream` uses too. [`decompress`] reads concatenated members
//! one at a time, as `GZIPInputStream` does, so that an error names the member and where it
//! starts, and so that bytes after the last member must be another complete member.
//! `flate2` checks each member's header flags, header CRC, CRC-32 and ISIZE.

use std::io::{self, Read, Write};

use flate2::bufread::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;

/// Largest decompressed result [`decompress`] will produce: 256 MiB. ZooKeeper's own limit on
/// a znode is 1 MiB by default (`jute.maxbuffer`), so anything near this is hostile; well
/// below it, data compressed to under 1 MiB by another client still reads back.
pub(crate) const MAX_OUTPUT: usize = 256 << 20;

/// How much a read asks of the decoder at a time.
const CHUNK: usize = 32 << 10;

/// Compresses `data` into a single gzip member.
pub(crate) fn compress(data: &[u8]) -> Result<Vec<u8>, String> {
    // `data` is our own caller's, so sizing from it is safe; most znode payloads shrink.
    let mut encoder = GzEncoder::new(
        Vec::with_capacity(data.len() / 2 + 32),
        Compression::default(),
    );
    encoder
        .write_all(data)
        .and_then(|()| encoder.finish())
        .map_err(|e| format!("gzip: {e}"))
}

/// Decompresses one or more concatenated gzip members, refusing output over [`MAX_OUTPUT`].
pub(crate) fn decompress(data: &[u8]) -> Result<Vec<u8>, String> {
    decompress_with_limit(data, MAX_OUTPUT)
}

/// [`decompress`] with the output cap as a parameter, so tests can exercise the cap cheaply.
pub(super) fn decompress_with_limit(data: &[u8], limit: usize) -> Result<Vec<u8>, String> {
    if data.is_empty() {
        return Err("gzip: empty input (expected at least one gzip member)".to_string());
    }
    let mut out = Vec::new();
    let mut rest = data;
    let mut member = 0usize;
    while !rest.is_empty() {
        let offset = data.len() - rest.len();
        read_member(&mut rest, &mut out, limit).map_err(|e| {
            if member == 0 {
                format!("gzip: {e}")
            } else {
                format!("gzip: member {} (at byte {offset}): {e}", member + 1)
            }
        })?;
        member += 1;
    }
    Ok(out)
}

/// Decodes the gzip member at the start of `rest` onto `out` and advances `rest` past it
/// (the bufread decoder takes from its input exactly the bytes of the member).
fn read_member(rest: &mut &[u8], out: &mut Vec<u8>, limit: usize) -> Result<(), String> {
    // Judge the magic first, so that plain data says so rather than "invalid header".
    match *rest {
        [0x1f, 0x8b, ..] | [0x1f] => {}
        _ => {
            let byte = |i: usize| rest.get(i).map_or("--".to_string(), |b| format!("{b:02x}"));
            return Err(format!(
                "not gzip data: magic bytes are {} {}, expected 1f 8b",
                byte(0),
                byte(1)
            ));
        }
    }
    let mut decoder = GzDecoder::new(&mut *rest);
    let mut chunk = [0u8; CHUNK];
    loop {
        let n = match decoder.read(&mut chunk) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                return Err(format!("truncated member ({e})"))
            }
            Err(e) => return Err(e.to_string()),
        };
        let len = out.len() + n;
        if len > limit {
            return Err(format!(
                "decompressed size exceeds the limit of {limit} bytes ({} MiB)",
                limit >> 20
            ));
        }
        // Grow geometrically but never past the cap: nothing is sized from what the input
        // claims, and a stream that stops at the cap never held more than the cap.
        if len > out.capacity() {
            let target = len.max(out.capacity() * 2).min(limit);
            out.reserve_exact(target - out.len());
        }
        out.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
}
