//! gzip (RFC 1952) over DEFLATE (RFC 1951), written here because the crate takes no
//! compression dependency.
//!
//! Curator's `GzipCompressionProvider` stores znode data as plain gzip, as Java's
//! `GZIPOutputStream` writes it and `GZIPInputStream` reads it. Java and Rust clients share
//! those znodes, so both directions must speak exactly that format:
//!
//! * [`compress`] writes one gzip member: a 10-byte header with no optional fields, a real
//!   DEFLATE stream (LZ77 over a 32 KiB window, each block sent with dynamic Huffman codes,
//!   fixed codes or stored, whichever is smallest), then CRC-32 and ISIZE. The header says
//!   MTIME 0, XFL 0 and OS 255 ("unknown"); Java writes OS 0, but no reader looks at the byte,
//!   and 255 is the honest value for bytes that never were a file.
//! * [`decompress`] reads one or more concatenated members (as `GZIPInputStream` does), honours
//!   every header flag (FTEXT, FHCRC, FEXTRA, FNAME, FCOMMENT), decodes every kind of DEFLATE
//!   block and checks CRC-32 and ISIZE of each member. Input is untrusted: every failure is an
//!   `Err` naming the problem, output beyond [`MAX_OUTPUT`] (a zip bomb) is refused before it is
//!   allocated, and nothing is preallocated from sizes the input claims. Unlike Java, bytes
//!   after the last member that are not another complete member are an error rather than
//!   silently ignored: a znode holds exactly what a compressor wrote.
//!
//! Layout: `inflate` decodes blocks with `huffman`'s bit reader and code tables; `deflate`
//! finds LZ77 matches and `block` encodes them; `crc` is the checksum; this file holds the
//! gzip framing and the tables both directions share.

mod block;
mod crc;
mod deflate;
mod huffman;
mod inflate;

#[cfg(test)]
mod tests;

/// Largest decompressed result [`decompress`] will produce: 256 MiB. ZooKeeper's own limit on
/// a znode is 1 MiB by default (`jute.maxbuffer`), so anything near this is hostile.
pub(crate) const MAX_OUTPUT: usize = 256 << 20;

/// The fixed part of every gzip header.
const ID1: u8 = 0x1f;
const ID2: u8 = 0x8b;
/// CM: 8 is DEFLATE, the only method RFC 1952 defines.
const CM_DEFLATE: u8 = 8;
/// OS byte we write: 255 = unknown (see the module docs).
const OS_UNKNOWN: u8 = 255;

/// FLG bits (RFC 1952 section 2.3.1). FTEXT is only a hint and needs no handling.
const FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;
/// Bits 5 to 7 are reserved and must be zero; a reader must reject them.
const FRESERVED: u8 = 0xe0;

/// Base match length of length codes 257..=285 (RFC 1951 section 3.2.5).
const LEN_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
/// Extra bits after each length code.
const LEN_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
/// Base distance of distance codes 0..=29.
const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
/// Extra bits after each distance code.
const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];
/// Order in which a dynamic block header sends the code-length code lengths.
const CL_ORDER: [usize; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

/// Code lengths of the fixed literal/length code (RFC 1951 section 3.2.6). It covers 288
/// symbols although 286 and 287 never occur in valid data.
const fn fixed_litlen_lengths() -> [u8; 288] {
    let mut lens = [0u8; 288];
    let mut i = 0;
    while i < 288 {
        lens[i] = match i {
            0..=143 => 8,
            144..=255 => 9,
            256..=279 => 7,
            _ => 8,
        };
        i += 1;
    }
    lens
}
const FIXED_LITLEN_LENGTHS: [u8; 288] = fixed_litlen_lengths();
/// The fixed distance code: 32 five-bit codes, 30 and 31 invalid in data.
const FIXED_DIST_LENGTHS: [u8; 32] = [5; 32];

/// Compresses `data` into a single gzip member (see the module docs for the header we write).
pub(crate) fn compress(data: &[u8]) -> Vec<u8> {
    // `data` is our own caller's, so sizing from it is safe; most znode payloads shrink.
    let mut out = Vec::with_capacity(data.len() / 2 + 32);
    out.extend_from_slice(&[ID1, ID2, CM_DEFLATE, 0, 0, 0, 0, 0, 0, OS_UNKNOWN]);
    deflate::deflate(data, &mut out);
    out.extend_from_slice(&crc::crc32(data).to_le_bytes());
    // ISIZE is the length modulo 2^32 by definition, so the truncation is the format.
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

/// Decompresses one or more concatenated gzip members, refusing output over [`MAX_OUTPUT`].
pub(crate) fn decompress(data: &[u8]) -> Result<Vec<u8>, String> {
    decompress_with_limit(data, MAX_OUTPUT)
}

/// [`decompress`] with the output cap as a parameter, so tests can exercise the cap cheaply.
fn decompress_with_limit(data: &[u8], limit: usize) -> Result<Vec<u8>, String> {
    if data.is_empty() {
        return Err("gzip: empty input (expected at least one gzip member)".to_string());
    }
    // Grown on demand by the inflater, never beyond `limit`; see `inflate::reserve`.
    let mut out = Vec::new();
    let mut rest = data;
    let mut member = 0usize;
    while !rest.is_empty() {
        let used = read_member(rest, &mut out, limit).map_err(|e| {
            let offset = data.len() - rest.len();
            if member == 0 {
                format!("gzip: {e}")
            } else {
                format!("gzip: member {} (at byte {offset}): {e}", member + 1)
            }
        })?;
        rest = rest.get(used..).unwrap_or_default();
        member += 1;
    }
    Ok(out)
}

/// Decodes the gzip member at the start of `data`, appending its content to `out`; returns
/// how many bytes of `data` it occupied.
fn read_member(data: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<usize, String> {
    let header_len = parse_header(data)?;
    let body = data.get(header_len..).unwrap_or_default();
    let start = out.len();
    let body_len = inflate::inflate(body, out, limit)?;
    let trailer = body
        .get(body_len..)
        .and_then(|t| t.get(..8))
        .ok_or("truncated trailer (CRC-32 and ISIZE missing after the deflate data)")?;
    let (crc_bytes, size_bytes) = trailer.split_at(4);
    let expected_crc = u32::from_le_bytes([crc_bytes[0], crc_bytes[1], crc_bytes[2], crc_bytes[3]]);
    let expected_size =
        u32::from_le_bytes([size_bytes[0], size_bytes[1], size_bytes[2], size_bytes[3]]);
    let content = out.get(start..).unwrap_or_default();
    let actual_crc = crc::crc32(content);
    if actual_crc != expected_crc {
        return Err(format!(
            "CRC-32 mismatch: trailer says {expected_crc:08x}, data has {actual_crc:08x}"
        ));
    }
    let actual_size = content.len() as u32; // ISIZE is modulo 2^32
    if actual_size != expected_size {
        return Err(format!(
            "ISIZE mismatch: trailer says {expected_size} bytes, data has {actual_size}"
        ));
    }
    Ok(header_len + body_len + 8)
}

/// Validates a member header and returns its length, optional fields included.
fn parse_header(data: &[u8]) -> Result<usize, String> {
    // Judge the magic on whatever is there first, so non-gzip input says so even when short.
    match (data.first(), data.get(1)) {
        (Some(&ID1), Some(&ID2)) | (Some(&ID1), None) => {}
        (a, b) => {
            return Err(format!(
                "not gzip data: magic bytes are {} {}, expected 1f 8b",
                a.map_or("--".to_string(), |b| format!("{b:02x}")),
                b.map_or("--".to_string(), |b| format!("{b:02x}")),
            ))
        }
    }
    let fixed = data
        .get(..10)
        .ok_or_else(|| format!("truncated header ({} of 10 bytes)", data.len()))?;
    if fixed[2] != CM_DEFLATE {
        return Err(format!(
            "unsupported compression method {} (only 8, deflate, exists)",
            fixed[2]
        ));
    }
    let flags = fixed[3];
    if flags & FRESERVED != 0 {
        return Err(format!("reserved header flag bits set (FLG {flags:#04x})"));
    }
    // MTIME, XFL and OS are informational; Java and Python ignore them too.
    let mut pos = 10;
    if flags & FEXTRA != 0 {
        let xlen = read_u16_le(data, pos).ok_or("truncated header: FEXTRA length missing")?;
        pos += 2;
        pos = pos
            .checked_add(usize::from(xlen))
            .filter(|&end| end <= data.len())
            .ok_or_else(|| format!("truncated header: FEXTRA field of {xlen} bytes"))?;
    }
    if flags & FNAME != 0 {
        pos = skip_zero_terminated(data, pos, "file name (FNAME)")?;
    }
    if flags & FCOMMENT != 0 {
        pos = skip_zero_terminated(data, pos, "comment (FCOMMENT)")?;
    }
    if flags & FHCRC != 0 {
        let expected = read_u16_le(data, pos).ok_or("truncated header: FHCRC missing")?;
        // The header CRC is the low 16 bits of the CRC-32 of every header byte before it.
        let actual = (crc::crc32(data.get(..pos).unwrap_or_default()) & 0xffff) as u16;
        if actual != expected {
            return Err(format!(
                "header CRC mismatch: FHCRC says {expected:04x}, header has {actual:04x}"
            ));
        }
        pos += 2;
    }
    Ok(pos)
}

fn read_u16_le(data: &[u8], pos: usize) -> Option<u16> {
    match data.get(pos..)? {
        [a, b, ..] => Some(u16::from_le_bytes([*a, *b])),
        _ => None,
    }
}

/// Skips a zero-terminated ISO 8859-1 string starting at `pos`; returns the position after
/// its terminator.
fn skip_zero_terminated(data: &[u8], pos: usize, what: &str) -> Result<usize, String> {
    data.get(pos..)
        .and_then(|s| s.iter().position(|&b| b == 0))
        .map(|len| pos + len + 1)
        .ok_or_else(|| format!("truncated header: {what} has no terminating zero byte"))
}
