//! DEFLATE decoder (RFC 1951) for untrusted input.
//!
//! Every read of the input goes through `BitReader` (in `huffman`), which reports running off
//! the end as an error instead of panicking; every write goes through `reserve`, which
//! enforces the output cap before memory is allocated. Each loop consumes input or fails, so
//! a stream of `n` bytes ends after a bounded amount of work per bit and output byte.

use std::sync::OnceLock;

use super::huffman::{BitReader, CodeKind, Huffman};
use super::{
    CL_ORDER, DIST_BASE, DIST_EXTRA, FIXED_DIST_LENGTHS, FIXED_LITLEN_LENGTHS, LEN_BASE, LEN_EXTRA,
};

/// Smallest growth step of the output buffer, so tiny outputs don't reallocate byte by byte.
const MIN_GROW: usize = 4096;

/// Fixed-code decoders, built once per process.
fn fixed_codes() -> &'static Result<(Huffman, Huffman), String> {
    static FIXED: OnceLock<Result<(Huffman, Huffman), String>> = OnceLock::new();
    FIXED.get_or_init(|| {
        // The fixed literal code is complete, the fixed distance code uses all 32 five-bit
        // codes: both build without error. Symbols 286/287 and 30/31 are rejected on use.
        Ok((
            Huffman::new(&FIXED_LITLEN_LENGTHS, CodeKind::LitLen)?,
            Huffman::new(&FIXED_DIST_LENGTHS, CodeKind::Distance)?,
        ))
    })
}

/// Decodes one raw DEFLATE stream at the start of `data`, appending to `out`, which must not
/// grow past `limit`. Back-references may reach only into what this stream produced (the
/// part of `out` after its length on entry). Returns the number of input bytes the stream
/// occupied, its last partial byte included.
pub(super) fn inflate(data: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<usize, String> {
    let window_start = out.len();
    let mut br = BitReader::new(data);
    loop {
        let last = br.bits(1)? == 1;
        match br.bits(2)? {
            0 => stored_block(&mut br, out, limit)?,
            1 => {
                let (lit, dist) = fixed_codes().as_ref().map_err(Clone::clone)?;
                codes_block(&mut br, out, window_start, limit, lit, dist)?;
            }
            2 => {
                let (lit, dist) = dynamic_codes(&mut br)?;
                codes_block(&mut br, out, window_start, limit, &lit, &dist)?;
            }
            _ => return Err("invalid block type 3 (reserved)".to_string()),
        }
        if last {
            return Ok(br.align_to_byte());
        }
    }
}

/// Makes room for `extra` more output bytes, or fails if that would pass `limit`. Growth is
/// geometric like `Vec`'s own but capped at `limit`, so the buffer never exceeds the cap.
#[inline]
fn reserve(out: &mut Vec<u8>, extra: usize, limit: usize) -> Result<(), String> {
    let needed = out.len().checked_add(extra).filter(|&n| n <= limit);
    let Some(needed) = needed else {
        return Err(format!(
            "decompressed data exceeds the limit of {limit} bytes ({} MiB)",
            limit >> 20
        ));
    };
    if needed > out.capacity() {
        let target = needed
            .max(out.capacity().saturating_mul(2))
            .max(MIN_GROW)
            .min(limit);
        out.reserve_exact(target - out.len());
    }
    Ok(())
}

fn stored_block(br: &mut BitReader<'_>, out: &mut Vec<u8>, limit: usize) -> Result<(), String> {
    br.align_to_byte();
    let header = br.take_bytes(4)?;
    let len = u16::from_le_bytes([header[0], header[1]]);
    let nlen = u16::from_le_bytes([header[2], header[3]]);
    if len != !nlen {
        return Err(format!(
            "invalid stored block: LEN {len:#06x} and NLEN {nlen:#06x} are not complements"
        ));
    }
    // Take the bytes before reserving: the reservation is then bounded by real input.
    let bytes = br.take_bytes(usize::from(len))?;
    reserve(out, bytes.len(), limit)?;
    out.extend_from_slice(bytes);
    Ok(())
}

/// Reads a dynamic block's code definitions (RFC 1951 section 3.2.7).
fn dynamic_codes(br: &mut BitReader<'_>) -> Result<(Huffman, Huffman), String> {
    let hlit = br.bits(5)? as usize + 257;
    let hdist = br.bits(5)? as usize + 1;
    let hclen = br.bits(4)? as usize + 4;
    // The fields can say 288 and 32, but symbols 286, 287, 30 and 31 don't exist.
    if hlit > 286 || hdist > 30 {
        return Err(format!(
            "invalid dynamic block: {hlit} literal/length and {hdist} distance codes (max 286 and 30)"
        ));
    }

    let mut cl_lengths = [0u8; 19];
    for &symbol in CL_ORDER.iter().take(hclen) {
        cl_lengths[symbol] = br.bits(3)? as u8;
    }
    let cl = Huffman::new(&cl_lengths, CodeKind::CodeLengths)?;

    // Literal/length and distance lengths form one sequence; repeats may cross between them.
    let total = hlit + hdist;
    let mut lengths = [0u8; 286 + 30];
    let mut i = 0;
    while i < total {
        let symbol = cl.decode(br)?;
        let (value, repeat) = match symbol {
            0..=15 => (symbol as u8, 1),
            16 => {
                let previous = i
                    .checked_sub(1)
                    .and_then(|p| lengths.get(p))
                    .copied()
                    .ok_or("invalid dynamic block: repeat code 16 with no previous length")?;
                (previous, 3 + br.bits(2)? as usize)
            }
            17 => (0, 3 + br.bits(3)? as usize),
            18 => (0, 11 + br.bits(7)? as usize),
            _ => return Err(format!("invalid code-length symbol {symbol}")),
        };
        let run = lengths
            .get_mut(i..i + repeat)
            .filter(|_| i + repeat <= total)
            .ok_or("invalid dynamic block: code length repeat runs past the end")?;
        run.fill(value);
        i += repeat;
    }

    let (lit_lengths, dist_lengths) = lengths[..total].split_at(hlit);
    if lit_lengths[256] == 0 {
        return Err("invalid dynamic block: no code for end-of-block".to_string());
    }
    Ok((
        Huffman::new(lit_lengths, CodeKind::LitLen)?,
        Huffman::new(dist_lengths, CodeKind::Distance)?,
    ))
}

/// Decodes the symbols of a fixed or dynamic block up to and including end-of-block.
fn codes_block(
    br: &mut BitReader<'_>,
    out: &mut Vec<u8>,
    window_start: usize,
    limit: usize,
    lit: &Huffman,
    dist: &Huffman,
) -> Result<(), String> {
    loop {
        let symbol = lit.decode(br)?;
        if symbol < 256 {
            reserve(out, 1, limit)?;
            out.push(symbol as u8);
            continue;
        }
        if symbol == 256 {
            return Ok(());
        }
        // 257..=285 are lengths; 286 and 287 can only come from the fixed code and are invalid.
        let index = usize::from(symbol - 257);
        let (Some(&base), Some(&extra)) = (LEN_BASE.get(index), LEN_EXTRA.get(index)) else {
            return Err(format!("invalid literal/length symbol {symbol}"));
        };
        let length = usize::from(base) + br.bits(u32::from(extra))? as usize;

        let dsym = usize::from(dist.decode(br)?);
        let (Some(&dbase), Some(&dextra)) = (DIST_BASE.get(dsym), DIST_EXTRA.get(dsym)) else {
            return Err(format!("invalid distance symbol {dsym}"));
        };
        let distance = usize::from(dbase) + br.bits(u32::from(dextra))? as usize;
        let available = out.len() - window_start;
        // Distance 0 cannot be encoded (the smallest base is 1); the check keeps copy_match's
        // loop finite even if a table were wrong.
        if distance == 0 || distance > available {
            return Err(format!(
                "invalid distance {distance}: only {available} bytes decoded so far"
            ));
        }
        copy_match(out, distance, length, limit)?;
    }
}

/// Appends `length` bytes copied from `distance` back. `1 <= distance <= out.len()` is
/// checked by the caller.
#[inline]
fn copy_match(
    out: &mut Vec<u8>,
    distance: usize,
    length: usize,
    limit: usize,
) -> Result<(), String> {
    reserve(out, length, limit)?;
    let start = out.len() - distance;
    // With distance < length the copy overlaps its own output: the result repeats the last
    // `distance` bytes. Copying from `start` what already exists keeps that period while
    // doubling the copied span each pass, so a run of 258 from distance 1 takes 9 copies.
    let mut remaining = length;
    while remaining > 0 {
        let n = remaining.min(out.len() - start);
        out.extend_from_within(start..start + n);
        remaining -= n;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// LSB-first bit packing for hand-built streams.
    #[derive(Default)]
    struct Bits {
        bytes: Vec<u8>,
        used: u32,
    }

    impl Bits {
        /// Appends `n` bits of `value`, lowest first (how DEFLATE packs fields).
        fn put(&mut self, value: u32, n: u32) -> &mut Self {
            for i in 0..n {
                if self.used % 8 == 0 {
                    self.bytes.push(0);
                }
                if (value >> i) & 1 == 1 {
                    *self.bytes.last_mut().unwrap() |= 1 << (self.used % 8);
                }
                self.used += 1;
            }
            self
        }

        /// Appends a Huffman code of `len` bits, most significant bit first.
        fn code(&mut self, code: u32, len: u32) -> &mut Self {
            for i in (0..len).rev() {
                self.put((code >> i) & 1, 1);
            }
            self
        }

        /// Fixed-code literal/length symbol.
        fn fixed_lit(&mut self, sym: u32) -> &mut Self {
            match sym {
                0..=143 => self.code(0x30 + sym, 8),
                144..=255 => self.code(0x190 + sym - 144, 9),
                256..=279 => self.code(sym - 256, 7),
                _ => self.code(0xc0 + sym - 280, 8),
            }
        }

        fn bytes(&self) -> Vec<u8> {
            self.bytes.clone()
        }
    }

    fn inflate_all(data: &[u8]) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        let used = inflate(data, &mut out, 1 << 20)?;
        assert!(used <= data.len());
        Ok(out)
    }

    fn expect_err(data: &[u8], needle: &str) {
        match inflate_all(data) {
            Ok(out) => panic!(
                "expected error containing {needle:?}, got {} bytes",
                out.len()
            ),
            Err(e) => assert!(e.contains(needle), "error {e:?} lacks {needle:?}"),
        }
    }

    #[test]
    fn stored_blocks() {
        // Two stored blocks, the first empty, then "abc" in a final one.
        let data = [
            0x00, 0x00, 0x00, 0xff, 0xff, 0x01, 0x03, 0x00, 0xfc, 0xff, b'a', b'b', b'c',
        ];
        assert_eq!(inflate_all(&data).unwrap(), b"abc");
        assert_eq!(inflate(&data, &mut Vec::new(), 100).unwrap(), data.len());
    }

    #[test]
    fn stored_block_bad_nlen() {
        expect_err(&[0x01, 0x03, 0x00, 0xfc, 0xfe, b'a', b'b', b'c'], "NLEN");
    }

    #[test]
    fn stored_block_truncated() {
        expect_err(&[0x01, 0x03, 0x00, 0xfc, 0xff, b'a', b'b'], "truncated");
    }

    #[test]
    fn fixed_block_with_overlapping_match() {
        // "a", then length 10 at distance 1: eleven 'a's.
        let mut b = Bits::default();
        b.put(1, 1).put(1, 2).fixed_lit(u32::from(b'a'));
        b.fixed_lit(264).code(0, 5); // length 10, distance code 0 = 1
        b.fixed_lit(256);
        assert_eq!(inflate_all(&b.bytes()).unwrap(), vec![b'a'; 11]);
    }

    #[test]
    fn every_length_and_distance_code() {
        // Build 32 KiB of distinct-ish history, then one match for each length/distance code
        // with the largest extra value, and check against a naive copy.
        let mut b = Bits::default();
        b.put(1, 1).put(1, 2);
        let mut expected = Vec::new();
        for i in 0..32768u32 {
            let byte = (i.wrapping_mul(2_654_435_761) >> 13) as u8;
            b.fixed_lit(u32::from(byte));
            expected.push(byte);
        }
        for code in 0..29usize {
            for dcode in 0..30usize {
                let extra = (1u32 << LEN_EXTRA[code]) - 1;
                let dextra = (1u32 << DIST_EXTRA[dcode]) - 1;
                let length = usize::from(LEN_BASE[code]) + extra as usize;
                let distance = usize::from(DIST_BASE[dcode]) + dextra as usize;
                b.fixed_lit(257 + code as u32)
                    .put(extra, u32::from(LEN_EXTRA[code]));
                b.code(dcode as u32, 5)
                    .put(dextra, u32::from(DIST_EXTRA[dcode]));
                for _ in 0..length {
                    expected.push(expected[expected.len() - distance]);
                }
            }
        }
        b.fixed_lit(256);
        assert_eq!(inflate_all(&b.bytes()).unwrap(), expected);
    }

    #[test]
    fn distance_beyond_output_is_rejected() {
        let mut b = Bits::default();
        b.put(1, 1).put(1, 2).fixed_lit(u32::from(b'x'));
        b.fixed_lit(257).code(1, 5); // distance 2 with 1 byte of history
        b.fixed_lit(256);
        expect_err(&b.bytes(), "invalid distance 2");
    }

    #[test]
    fn distance_cannot_reach_previous_stream() {
        // The same stream is fine once there are two bytes, but history from before this
        // stream (an earlier gzip member) is not part of its window.
        let mut b = Bits::default();
        b.put(1, 1)
            .put(1, 2)
            .fixed_lit(257)
            .code(0, 5)
            .fixed_lit(256);
        let mut out = b"earlier member".to_vec();
        let err = inflate(&b.bytes(), &mut out, 1 << 20).unwrap_err();
        assert!(err.contains("invalid distance"), "{err}");
    }

    #[test]
    fn fixed_code_invalid_symbols() {
        for sym in [286, 287] {
            let mut b = Bits::default();
            b.put(1, 1)
                .put(1, 2)
                .fixed_lit(sym)
                .code(0, 5)
                .fixed_lit(256);
            expect_err(&b.bytes(), "invalid literal/length symbol");
        }
        for dsym in [30, 31] {
            let mut b = Bits::default();
            b.put(1, 1).put(1, 2).fixed_lit(0).fixed_lit(0);
            b.fixed_lit(257).code(dsym, 5).fixed_lit(256);
            expect_err(&b.bytes(), "invalid distance symbol");
        }
    }

    #[test]
    fn reserved_block_type() {
        expect_err(&[0x07], "block type 3");
    }

    #[test]
    fn empty_and_truncated_input() {
        expect_err(&[], "truncated");
        // Fixed block, no end-of-block.
        let mut b = Bits::default();
        b.put(1, 1).put(1, 2).fixed_lit(u32::from(b'a'));
        expect_err(&b.bytes(), "truncated");
        // Not the last block and nothing follows.
        expect_err(&[0x00, 0x00, 0x00, 0xff, 0xff], "truncated");
    }

    /// Writes a dynamic block header. `cl` are the code-length code lengths by symbol,
    /// `seq` the code-length symbols (with extra bits) to send, each encoded with the canonical
    /// code built from `cl`.
    fn dynamic_header(b: &mut Bits, hlit: u32, hdist: u32, cl: &[u8; 19], seq: &[(u32, u32)]) {
        b.put(1, 1)
            .put(2, 2)
            .put(hlit - 257, 5)
            .put(hdist - 1, 5)
            .put(19 - 4, 4);
        for &s in &CL_ORDER {
            b.put(u32::from(cl[s]), 3);
        }
        let codes = canonical(cl);
        for &(sym, extra) in seq {
            let len = u32::from(cl[sym as usize]);
            b.code(codes[sym as usize], len);
            match sym {
                16 => b.put(extra, 2),
                17 => b.put(extra, 3),
                18 => b.put(extra, 7),
                _ => b,
            };
        }
    }

    fn canonical(lengths: &[u8]) -> Vec<u32> {
        let mut count = [0u32; 16];
        for &l in lengths {
            count[usize::from(l)] += 1;
        }
        count[0] = 0;
        let mut next = [0u32; 16];
        let mut code = 0;
        for len in 1..16 {
            code = (code + count[len - 1]) << 1;
            next[len] = code;
        }
        lengths
            .iter()
            .map(|&l| {
                let c = next[usize::from(l)];
                next[usize::from(l)] += 1;
                c
            })
            .collect()
    }

    /// A complete code-length code giving every one of the 19 symbols a code: 13 of length 4
    /// (26/32 of the code space) and 6 of length 5 (the remaining 6/32).
    fn full_cl() -> [u8; 19] {
        let mut cl = [5u8; 19];
        for l in cl.iter_mut().take(13) {
            *l = 4;
        }
        cl
    }

    #[test]
    fn dynamic_block_valid() {
        // Literal/length: 'a' and 'b' length 2, 256 length 2, 257 length 2 (complete: 4 × 1/4).
        // Distance: one code of length 1 (zlib's allowed incomplete case).
        let cl = full_cl();
        // lengths[0..97] = 0, [97] = 2 ('a'), [98] = 2 ('b'), [99..256] = 0, [256] = 2,
        // [257] = 2, then one distance length 1.
        let seq = [
            (18, 97 - 11),
            (2, 0),
            (2, 0),
            (18, 138 - 11), // 99..237
            (18, 19 - 11),  // 237..256
            (2, 0),
            (2, 0),
            (1, 0), // distance code 0: length 1
        ];
        let mut b = Bits::default();
        dynamic_header(&mut b, 258, 1, &cl, &seq);
        // Codes: 'a'=00, 'b'=01, 256=10, 257=11; distance 0 = '0'.
        b.code(0b00, 2).code(0b01, 2).code(0b11, 2).code(0, 1); // "ab" + copy 3 from 1 back
        b.code(0b10, 2);
        assert_eq!(inflate_all(&b.bytes()).unwrap(), b"abbbb");
    }

    #[test]
    fn dynamic_block_invalid_tables() {
        let cl = full_cl();
        let header = |hlit, hdist, seq: &[(u32, u32)]| {
            let mut b = Bits::default();
            dynamic_header(&mut b, hlit, hdist, &cl, seq);
            b.bytes()
        };
        // Over-subscribed literal code: three codes of length 1.
        expect_err(
            &header(
                257,
                1,
                &[(1, 0), (1, 0), (18, 127), (17, 7), (18, 95), (1, 0), (1, 0)],
            ),
            "over-subscribed",
        );
        // Incomplete literal code: 'a' and end-of-block with length 2 only.
        expect_err(
            &header(257, 1, &[(2, 0), (18, 127), (18, 106), (2, 0), (1, 0)]),
            "incomplete",
        );
        // No end-of-block code.
        expect_err(
            &header(257, 1, &[(1, 0), (1, 0), (18, 127), (18, 106), (1, 0)]),
            "end-of-block",
        );
        // Repeat with nothing before it.
        expect_err(&header(257, 1, &[(16, 0)]), "no previous length");
        // A run past HLIT + HDIST.
        expect_err(&header(257, 1, &[(18, 127), (18, 127)]), "past the end");
        // Too many codes declared.
        let mut b = Bits::default();
        b.put(1, 1).put(2, 2).put(30, 5).put(0, 5).put(15, 4);
        expect_err(&b.bytes(), "max 286");
        let mut b = Bits::default();
        b.put(1, 1).put(2, 2).put(0, 5).put(30, 5).put(15, 4);
        expect_err(&b.bytes(), "max 286");
        // Over-subscribed and incomplete code-length codes.
        let mut b = Bits::default();
        b.put(1, 1).put(2, 2).put(0, 5).put(0, 5).put(0, 4);
        b.put(1, 3).put(1, 3).put(1, 3).put(0, 3);
        expect_err(&b.bytes(), "code-length code: over-subscribed");
        let mut b = Bits::default();
        b.put(1, 1).put(2, 2).put(0, 5).put(0, 5).put(0, 4);
        b.put(1, 3).put(0, 3).put(0, 3).put(0, 3);
        expect_err(&b.bytes(), "code-length code: incomplete");
    }

    #[test]
    fn output_limit_is_enforced_before_allocating() {
        // A fixed block: one zero literal, then 1000 × (length 258, distance 1).
        let mut b = Bits::default();
        b.put(1, 1).put(1, 2).fixed_lit(0);
        for _ in 0..1000 {
            b.fixed_lit(285).code(0, 5);
        }
        b.fixed_lit(256);
        let data = b.bytes();
        let full = 1 + 1000 * 258;
        let mut out = Vec::new();
        inflate(&data, &mut out, full).unwrap();
        assert_eq!(out.len(), full);
        assert!(
            out.capacity() <= full,
            "capacity {} > limit",
            out.capacity()
        );

        let mut out = Vec::new();
        let err = inflate(&data, &mut out, full - 1).unwrap_err();
        assert!(err.contains("exceeds the limit"), "{err}");
        assert!(out.capacity() < full, "capacity {} ≥ limit", out.capacity());
    }
}
