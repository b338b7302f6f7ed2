//! Encoding one DEFLATE block (RFC 1951 section 3.2): Huffman code construction, the dynamic
//! block header, and the choice between dynamic codes, fixed codes and a stored copy, made by
//! costing each exactly in bits.

use super::{
    CL_ORDER, DIST_BASE, DIST_EXTRA, FIXED_DIST_LENGTHS, FIXED_LITLEN_LENGTHS, LEN_BASE, LEN_EXTRA,
};

/// Largest payload of one stored block (LEN is 16 bits).
const MAX_STORED: usize = 65535;
const END_OF_BLOCK: usize = 256;

/// One LZ77 output symbol: a literal byte (`dist == 0`, `len` is the byte) or a match of
/// `len` bytes (3..=258) from `dist` back (1..=32768).
#[derive(Clone, Copy)]
pub(super) struct Symbol {
    pub(super) len: u16,
    pub(super) dist: u16,
}

/// Index into LEN_BASE/LEN_EXTRA for a match length 3..=258 (258 has its own code 285).
#[inline]
fn length_code(len: usize) -> usize {
    LEN_BASE
        .partition_point(|&base| usize::from(base) <= len)
        .saturating_sub(1)
}

/// Index into DIST_BASE/DIST_EXTRA for a distance 1..=32768.
#[inline]
fn distance_code(dist: usize) -> usize {
    DIST_BASE
        .partition_point(|&base| usize::from(base) <= dist)
        .saturating_sub(1)
}

/// A Huffman code ready for writing: bit lengths and bit-reversed codes (the writer is LSB
/// first, Huffman codes go MSB first).
struct Code {
    lengths: Vec<u8>,
    codes: Vec<u16>,
}

impl Code {
    fn from_lengths(lengths: &[u8]) -> Code {
        let mut count = [0u16; 16];
        for &l in lengths {
            count[usize::from(l)] += 1;
        }
        count[0] = 0;
        let mut next = [0u16; 16];
        let mut code = 0u16;
        for len in 1..16 {
            code = (code + count[len - 1]) << 1;
            next[len] = code;
        }
        let codes = lengths
            .iter()
            .map(|&l| {
                if l == 0 {
                    return 0;
                }
                let c = next[usize::from(l)];
                next[usize::from(l)] += 1;
                c.reverse_bits() >> (16 - u32::from(l))
            })
            .collect();
        Code {
            lengths: lengths.to_vec(),
            codes,
        }
    }

    #[inline]
    fn put(&self, w: &mut BitWriter<'_>, symbol: usize) {
        w.put(
            u32::from(self.codes[symbol]),
            u32::from(self.lengths[symbol]),
        );
    }
}

/// Optimal code lengths for `freq`, no longer than `limit` bits.
///
/// Every code we send is complete (Kraft sum exactly 1): zlib rejects incomplete code-length
/// codes, and a lone code would be incomplete, so at least two symbols always get a code,
/// unused ones if need be (as zlib's own encoder does).
fn code_lengths(freq: &[u32], limit: usize) -> Vec<u8> {
    let mut used: Vec<usize> = (0..freq.len()).filter(|&s| freq[s] > 0).collect();
    for filler in 0..freq.len() {
        if used.len() >= 2 {
            break;
        }
        if !used.contains(&filler) {
            used.push(filler);
        }
    }
    let weight = |s: usize| u64::from(freq[s].max(1));
    used.sort_by_key(|&s| (weight(s), s));
    let n = used.len();

    // Huffman's algorithm with two queues: the sorted leaves, and internal nodes, which are
    // created in non-decreasing weight order. Nodes 0..n are leaves, n.. internal.
    let mut w: Vec<u64> = used.iter().map(|&s| weight(s)).collect();
    w.resize(2 * n - 1, 0);
    let mut parent = vec![0usize; 2 * n - 1];
    let (mut next_leaf, mut next_node) = (0, n);
    for new in n..2 * n - 1 {
        let mut pick = || {
            let take_leaf = next_leaf < n && (next_node >= new || w[next_leaf] <= w[next_node]);
            if take_leaf {
                next_leaf += 1;
                next_leaf - 1
            } else {
                next_node += 1;
                next_node - 1
            }
        };
        let (a, b) = (pick(), pick());
        w[new] = w[a] + w[b];
        parent[a] = new;
        parent[b] = new;
    }
    // Parents are created after their children, so one backward pass gives every depth.
    let mut depth = vec![0usize; 2 * n - 1];
    for node in (0..2 * n - 2).rev() {
        depth[node] = depth[parent[node]] + 1;
    }

    // Count codes per length, clamping at the limit, then repair the Kraft sum (miniz's
    // method): each round removes one code of the maximum length and splits a shorter leaf
    // into two one bit longer, until the code space is exactly full again.
    let mut per_length = vec![0u32; limit + 1];
    for &d in &depth[..n] {
        per_length[d.min(limit)] += 1;
    }
    let kraft = |pl: &[u32]| -> u64 {
        (1..=limit)
            .map(|len| u64::from(pl[len]) << (limit - len))
            .sum()
    };
    let mut total = kraft(&per_length);
    while total > 1 << limit {
        per_length[limit] -= 1;
        if let Some(len) = (1..limit).rev().find(|&len| per_length[len] > 0) {
            per_length[len] -= 1;
            per_length[len + 1] += 2;
        }
        total -= 1;
    }

    // Hand the lengths out again, shortest to the most frequent symbols. For an unclamped
    // tree this reproduces the Huffman lengths; for a clamped one it is the best assignment
    // of the repaired length multiset.
    let mut lengths = vec![0u8; freq.len()];
    let mut by_frequency = used.iter().rev();
    for (len, &count) in per_length.iter().enumerate().skip(1) {
        for _ in 0..count {
            if let Some(&s) = by_frequency.next() {
                lengths[s] = len as u8;
            }
        }
    }
    lengths
}

/// The code-length sequence of a dynamic block header, run-length coded with symbols 16
/// (repeat previous 3..6), 17 (3..10 zeros) and 18 (11..138 zeros): `(symbol, extra value)`.
fn run_length_encode(lengths: &[u8], out: &mut Vec<(u8, u8)>) {
    let mut i = 0;
    while i < lengths.len() {
        let value = lengths[i];
        let run = lengths[i..].iter().take_while(|&&l| l == value).count();
        i += run;
        let mut left = run;
        if value == 0 {
            while left >= 11 {
                let n = left.min(138);
                out.push((18, (n - 11) as u8));
                left -= n;
            }
            if left >= 3 {
                out.push((17, (left - 3) as u8));
                left = 0;
            }
        } else {
            out.push((value, 0));
            left -= 1;
            while left >= 3 {
                let n = left.min(6);
                out.push((16, (n - 3) as u8));
                left -= n;
            }
        }
        for _ in 0..left {
            out.push((value, 0));
        }
    }
}

/// Everything a dynamic block needs besides the data symbols.
struct DynamicHeader {
    lit: Code,
    dist: Code,
    hlit: usize,
    hdist: usize,
    hclen: usize,
    cl: Code,
    cl_symbols: Vec<(u8, u8)>,
}

impl DynamicHeader {
    fn new(lit_freq: &[u32], dist_freq: &[u32]) -> DynamicHeader {
        let lit_lengths = code_lengths(lit_freq, 15);
        let dist_lengths = code_lengths(dist_freq, 15);
        // Trailing unused codes need not be sent, down to the minimum counts of 257 and 1.
        let hlit = lit_lengths
            .iter()
            .rposition(|&l| l != 0)
            .map_or(0, |p| p + 1);
        let hlit = hlit.max(257);
        let hdist = dist_lengths
            .iter()
            .rposition(|&l| l != 0)
            .map_or(0, |p| p + 1);
        let hdist = hdist.max(1);
        // Run-length code the two sequences separately, as zlib does, so no run spans both.
        let mut cl_symbols = Vec::new();
        run_length_encode(&lit_lengths[..hlit], &mut cl_symbols);
        run_length_encode(&dist_lengths[..hdist], &mut cl_symbols);
        let mut cl_freq = [0u32; 19];
        for &(s, _) in &cl_symbols {
            cl_freq[usize::from(s)] += 1;
        }
        let cl_lengths = code_lengths(&cl_freq, 7);
        let hclen = CL_ORDER
            .iter()
            .rposition(|&s| cl_lengths[s] != 0)
            .map_or(0, |p| p + 1)
            .max(4);
        DynamicHeader {
            lit: Code::from_lengths(&lit_lengths),
            dist: Code::from_lengths(&dist_lengths),
            hlit,
            hdist,
            hclen,
            cl: Code::from_lengths(&cl_lengths),
            cl_symbols,
        }
    }

    /// Size of the header in bits, after the 3 block-header bits.
    fn bits(&self) -> u64 {
        let sequence: u64 = self
            .cl_symbols
            .iter()
            .map(|&(s, _)| u64::from(self.cl.lengths[usize::from(s)]) + cl_extra_bits(s))
            .sum();
        5 + 5 + 4 + 3 * self.hclen as u64 + sequence
    }

    fn write(&self, w: &mut BitWriter<'_>) {
        w.put((self.hlit - 257) as u32, 5);
        w.put((self.hdist - 1) as u32, 5);
        w.put((self.hclen - 4) as u32, 4);
        for &s in CL_ORDER.iter().take(self.hclen) {
            w.put(u32::from(self.cl.lengths[s]), 3);
        }
        for &(s, extra) in &self.cl_symbols {
            self.cl.put(w, usize::from(s));
            w.put(u32::from(extra), cl_extra_bits(s) as u32);
        }
    }
}

fn cl_extra_bits(symbol: u8) -> u64 {
    match symbol {
        16 => 2,
        17 => 3,
        18 => 7,
        _ => 0,
    }
}

/// Bits the data symbols (and end-of-block) take with the given code lengths.
fn data_bits(symbols: &[Symbol], lit: &[u8], dist: &[u8]) -> u64 {
    let mut bits = u64::from(lit[END_OF_BLOCK]);
    for s in symbols {
        if s.dist == 0 {
            bits += u64::from(lit[usize::from(s.len)]);
        } else {
            let lc = length_code(usize::from(s.len));
            let dc = distance_code(usize::from(s.dist));
            bits += u64::from(lit[257 + lc]) + u64::from(LEN_EXTRA[lc]);
            bits += u64::from(dist[dc]) + u64::from(DIST_EXTRA[dc]);
        }
    }
    bits
}

fn write_symbols(w: &mut BitWriter<'_>, symbols: &[Symbol], lit: &Code, dist: &Code) {
    for s in symbols {
        if s.dist == 0 {
            lit.put(w, usize::from(s.len));
        } else {
            let len = usize::from(s.len);
            let distance = usize::from(s.dist);
            let lc = length_code(len);
            lit.put(w, 257 + lc);
            w.put(
                (len - usize::from(LEN_BASE[lc])) as u32,
                u32::from(LEN_EXTRA[lc]),
            );
            let dc = distance_code(distance);
            dist.put(w, dc);
            w.put(
                (distance - usize::from(DIST_BASE[dc])) as u32,
                u32::from(DIST_EXTRA[dc]),
            );
        }
    }
    lit.put(w, END_OF_BLOCK);
}

/// Writes one block in whichever form is smallest. `raw` is the input the symbols cover, for
/// the stored form.
pub(super) fn write_block(w: &mut BitWriter<'_>, symbols: &[Symbol], raw: &[u8], last: bool) {
    let mut lit_freq = [0u32; 286];
    let mut dist_freq = [0u32; 30];
    for s in symbols {
        if s.dist == 0 {
            lit_freq[usize::from(s.len)] += 1;
        } else {
            lit_freq[257 + length_code(usize::from(s.len))] += 1;
            dist_freq[distance_code(usize::from(s.dist))] += 1;
        }
    }
    lit_freq[END_OF_BLOCK] = 1;

    let dynamic = DynamicHeader::new(&lit_freq, &dist_freq);
    let dynamic_bits =
        dynamic.bits() + data_bits(symbols, &dynamic.lit.lengths, &dynamic.dist.lengths);
    let fixed_bits = data_bits(symbols, &FIXED_LITLEN_LENGTHS, &FIXED_DIST_LENGTHS);
    // Stored: per block of up to 65535 bytes, 3 header bits, padding to a byte (at most 7,
    // counted in full) and LEN/NLEN; empty input still needs one block.
    let stored_blocks = raw.len().div_ceil(MAX_STORED).max(1) as u64;
    let stored_bits = stored_blocks * (7 + 32) + 8 * raw.len() as u64;

    if stored_bits <= dynamic_bits.min(fixed_bits) {
        let mut chunks = raw.chunks(MAX_STORED).peekable();
        if chunks.peek().is_none() {
            w.stored_block(&[], last);
        }
        while let Some(chunk) = chunks.next() {
            w.stored_block(chunk, last && chunks.peek().is_none());
        }
    } else if fixed_bits <= dynamic_bits {
        w.put(u32::from(last), 1);
        w.put(1, 2);
        let lit = Code::from_lengths(&FIXED_LITLEN_LENGTHS);
        let dist = Code::from_lengths(&FIXED_DIST_LENGTHS);
        write_symbols(w, symbols, &lit, &dist);
    } else {
        w.put(u32::from(last), 1);
        w.put(2, 2);
        dynamic.write(w);
        write_symbols(w, symbols, &dynamic.lit, &dynamic.dist);
    }
}

/// Packs bits LSB first into the output.
pub(super) struct BitWriter<'a> {
    out: &'a mut Vec<u8>,
    buf: u64,
    cnt: u32,
}

impl<'a> BitWriter<'a> {
    pub(super) fn new(out: &'a mut Vec<u8>) -> BitWriter<'a> {
        BitWriter {
            out,
            buf: 0,
            cnt: 0,
        }
    }

    /// Appends the low `n` (at most 32) bits of `bits`.
    #[inline]
    fn put(&mut self, bits: u32, n: u32) {
        // `cnt` is below 32 between calls, so 32 more bits always fit in the 64-bit buffer.
        self.buf |= u64::from(bits) << self.cnt;
        self.cnt += n;
        if self.cnt >= 32 {
            self.out.extend_from_slice(&(self.buf as u32).to_le_bytes());
            self.buf >>= 32;
            self.cnt -= 32;
        }
    }

    /// Pads with zero bits to a byte boundary and flushes the buffer.
    fn align(&mut self) {
        while self.cnt > 0 {
            self.out.push(self.buf as u8);
            self.buf >>= 8;
            self.cnt = self.cnt.saturating_sub(8);
        }
        self.buf = 0;
    }

    fn stored_block(&mut self, bytes: &[u8], last: bool) {
        self.put(u32::from(last), 1);
        self.put(0, 2);
        self.align();
        let len = bytes.len() as u16; // callers pass at most MAX_STORED bytes
        self.out.extend_from_slice(&len.to_le_bytes());
        self.out.extend_from_slice(&(!len).to_le_bytes());
        self.out.extend_from_slice(bytes);
    }

    pub(super) fn finish(mut self) {
        self.align();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_and_distance_codes_match_the_tables() {
        for len in 3..=258 {
            let c = length_code(len);
            let base = usize::from(LEN_BASE[c]);
            assert!(
                base <= len && len < base + (1 << LEN_EXTRA[c]),
                "length {len}"
            );
            assert!(len != 258 || c == 28, "258 must use code 285");
        }
        for dist in 1..=32768 {
            let c = distance_code(dist);
            let base = usize::from(DIST_BASE[c]);
            assert!(
                base <= dist && dist < base + (1 << DIST_EXTRA[c]),
                "dist {dist}"
            );
        }
    }

    fn kraft_complete(lengths: &[u8]) -> bool {
        let sum: u64 = lengths
            .iter()
            .filter(|&&l| l > 0)
            .map(|&l| 1u64 << (15 - l))
            .sum();
        sum == 1 << 15
    }

    #[test]
    fn code_lengths_are_complete_and_limited() {
        // Fibonacci frequencies force a maximally skewed tree (depth n - 1) without a limit.
        let mut fib = vec![1u32, 1];
        while fib.len() < 30 {
            let n = fib.len();
            fib.push(fib[n - 1] + fib[n - 2]);
        }
        for limit in [7, 15] {
            let lengths = code_lengths(&fib, limit);
            assert!(lengths.iter().all(|&l| (1..=limit as u8).contains(&l)));
            assert!(kraft_complete(&lengths), "{lengths:?}");
            // More frequent symbols never get longer codes.
            for s in 1..fib.len() {
                assert!(lengths[s] <= lengths[s - 1]);
            }
        }
        // Degenerate inputs still give complete two-symbol codes.
        for freq in [vec![0u32; 30], vec![0, 0, 5, 0], vec![7, 0, 0]] {
            let lengths = code_lengths(&freq, 15);
            assert_eq!(lengths.iter().filter(|&&l| l == 1).count(), 2, "{freq:?}");
            assert!(kraft_complete(&lengths));
        }
        // A uniform distribution over 256 symbols is 8 bits each.
        assert!(code_lengths(&[3u32; 256], 15).iter().all(|&l| l == 8));
    }

    #[test]
    fn run_length_encoding_decodes_back() {
        let mut lengths = vec![0u8; 200];
        lengths.extend([8; 20]);
        lengths.extend([0, 0, 5, 5, 5, 5, 9, 0, 0, 0, 0]);
        lengths.extend([7; 4]);
        let mut rle = Vec::new();
        run_length_encode(&lengths, &mut rle);
        let mut back: Vec<u8> = Vec::new();
        for (s, extra) in rle {
            match s {
                16 => {
                    let prev = *back.last().unwrap();
                    back.extend(std::iter::repeat_n(prev, 3 + usize::from(extra)));
                }
                17 => back.extend(std::iter::repeat_n(0, 3 + usize::from(extra))),
                18 => back.extend(std::iter::repeat_n(0, 11 + usize::from(extra))),
                _ => back.push(s),
            }
        }
        assert_eq!(back, lengths);
    }
}
