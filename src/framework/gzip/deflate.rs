//! DEFLATE encoder (RFC 1951).
//!
//! LZ77 first: hash chains over 4-byte prefixes find earlier occurrences within the 32 KiB
//! window, trying at most 32 candidates per position (stopping early at a 128-byte match),
//! with one step of lazy matching (a match is deferred if the next position has a longer one).
//! That lands between zlib's levels 5 and 6 in size at roughly zlib-5 speed. The chain bound
//! is the speed/size dial: on a 1 MiB worst case (text from a tiny vocabulary, where every
//! chain is full) 128 candidates, zlib-6's effort, give output 9% smaller for twice the time.
//!
//! The resulting literals and (length, distance) pairs are cut into blocks of up to 16 Ki
//! symbols, which `block` encodes. The whole input is in memory, so positions index it
//! directly and no window sliding is needed.

use super::block::{write_block, BitWriter, Symbol};

/// DEFLATE's window: distances go up to 32768.
const WINDOW: usize = 32 * 1024;
const MIN_MATCH: usize = 3;
const MAX_MATCH: usize = 258;
/// Candidates examined per search; bounds the cost on data with many equal prefixes.
const MAX_CHAIN: usize = 32;
/// A match this long is good enough: stop searching.
const NICE_MATCH: usize = 128;
/// Don't look for a better match one byte later once the current one is this long.
const LAZY_MATCH: usize = 16;
/// With a match this long already, the lazy search only tries a quarter of the chain.
const GOOD_MATCH: usize = 8;
/// A 3-byte match this far back usually costs more bits than three literals.
const TOO_FAR: usize = 4096;
/// Symbols per block: big enough to amortise a dynamic header, small enough to adapt the
/// codes to changing data.
const BLOCK_SYMBOLS: usize = 16 * 1024;

/// Compresses `data` as one complete raw DEFLATE stream appended to `out`.
pub(super) fn deflate(data: &[u8], out: &mut Vec<u8>) {
    let mut w = BitWriter::new(out);
    let mut matcher = Matcher::new(data.len());
    let mut symbols: Vec<Symbol> = Vec::with_capacity(BLOCK_SYMBOLS.min(data.len() + 1));
    let mut block_start = 0;
    // Invariant at the top of the loop: positions below `i` are in the hash chains. Each
    // position is inserted exactly once, in order, because chain links assume increasing
    // positions.
    let mut i = 0;
    while i < data.len() {
        if symbols.len() >= BLOCK_SYMBOLS {
            write_block(&mut w, &symbols, &data[block_start..i], false);
            symbols.clear();
            block_start = i;
        }
        let (mut len, mut dist) = matcher.insert_and_find(data, i, MIN_MATCH - 1, MAX_CHAIN);
        let mut inserted = i + 1;
        if len == MIN_MATCH && dist > TOO_FAR {
            len = 0;
        }
        if len < MIN_MATCH {
            symbols.push(literal(data[i]));
            i += 1;
            continue;
        }
        // Lazy matching: while the next position offers a longer match, emit a literal and
        // move on to it.
        let mut at = i;
        while len < LAZY_MATCH && at + 1 < data.len() {
            let chain = if len >= GOOD_MATCH {
                MAX_CHAIN / 4
            } else {
                MAX_CHAIN
            };
            let (next_len, next_dist) = matcher.insert_and_find(data, at + 1, len, chain);
            inserted = at + 2;
            if next_len <= len {
                break;
            }
            symbols.push(literal(data[at]));
            at += 1;
            len = next_len;
            dist = next_dist;
        }
        symbols.push(Symbol {
            len: len as u16,
            dist: dist as u16,
        });
        let end = at + len;
        while inserted < end {
            matcher.insert(data, inserted);
            inserted += 1;
        }
        i = end;
    }
    // Always at least one block: empty input still needs a final (empty) block.
    write_block(&mut w, &symbols, &data[block_start..], true);
    w.finish();
}

fn literal(byte: u8) -> Symbol {
    Symbol {
        len: u16::from(byte),
        dist: 0,
    }
}

/// Hash chains: `head[h]` is the latest position whose next 4 bytes hash to `h`, and
/// `prev[p % size]` the position before `p` with the same hash.
///
/// Positions are kept as `u32`, which halves the tables. They are compared only as distances
/// back from the current position in wrapping arithmetic, so inputs over 4 GiB stay correct:
/// a stale entry can at worst name some position within the window, and every candidate is
/// verified byte by byte.
struct Matcher {
    head: Vec<u32>,
    prev: Vec<u32>,
    hash_shift: u32,
    prev_mask: usize,
}

/// Initial table value: seen from any position below 4 GiB - 32 KiB it lies beyond the window.
const EMPTY: u32 = (WINDOW as u32 + 1).wrapping_neg();

impl Matcher {
    /// Tables sized to the input (up to 32 Ki entries each), so small payloads stay cheap.
    fn new(input_len: usize) -> Matcher {
        let size = input_len.clamp(256, WINDOW).next_power_of_two();
        Matcher {
            head: vec![EMPTY; size],
            prev: vec![EMPTY; size],
            hash_shift: 32 - size.trailing_zeros(),
            prev_mask: size - 1,
        }
    }

    /// Hash of the 4 bytes at `i`, or `None` near the end of the input. Hashing 4 bytes
    /// rather than DEFLATE's minimum of 3 keeps chains free of the many short, useless
    /// 3-byte candidates that text is full of, at the price of never finding 3-byte matches.
    #[inline]
    fn hash(&self, data: &[u8], i: usize) -> Option<usize> {
        match data.get(i..i + 4)? {
            &[a, b, c, d] => {
                let v = u32::from_le_bytes([a, b, c, d]);
                // Multiplicative hashing spreads similar prefixes across the table.
                Some((v.wrapping_mul(0x9E37_79B1) >> self.hash_shift) as usize)
            }
            _ => None,
        }
    }

    #[inline]
    fn insert(&mut self, data: &[u8], i: usize) {
        if let Some(h) = self.hash(data, i) {
            self.prev[i & self.prev_mask] = self.head[h];
            self.head[h] = i as u32;
        }
    }

    /// Finds the longest match for position `i` that is longer than `better_than`, then
    /// inserts `i`. Returns `(length, distance)`, or `(0, 0)` if there is none.
    fn insert_and_find(
        &mut self,
        data: &[u8],
        i: usize,
        better_than: usize,
        max_chain: usize,
    ) -> (usize, usize) {
        let Some(h) = self.hash(data, i) else {
            return (0, 0);
        };
        let max_len = MAX_MATCH.min(data.len() - i);
        let (mut best_len, mut best_dist) = (better_than, 0);
        let here = i as u32; // wrapping on purpose, see the type's docs
        let mut entry = self.head[h];
        let mut last_dist = 0;
        // Walk before inserting `i`: inserting overwrites the prev slot of `i - WINDOW`.
        for _ in 0..max_chain {
            let dist = here.wrapping_sub(entry) as usize;
            // Chains only go backwards in time: a distance that doesn't grow is a slot reused
            // by a newer position, one past the window or the start is the end of the chain.
            if dist <= last_dist || dist > WINDOW || dist > i || best_len >= max_len {
                break;
            }
            let candidate = i - dist;
            // Cheap rejection: a longer match must also agree at offset `best_len`.
            if data[candidate + best_len] == data[i + best_len] {
                let len = match_len(&data[candidate..], &data[i..], max_len);
                if len > best_len {
                    best_len = len;
                    best_dist = dist;
                    if len >= NICE_MATCH {
                        break;
                    }
                }
            }
            last_dist = dist;
            entry = self.prev[candidate & self.prev_mask];
        }
        self.prev[i & self.prev_mask] = self.head[h];
        self.head[h] = here;
        if best_dist == 0 {
            (0, 0)
        } else {
            (best_len, best_dist)
        }
    }
}

/// Length of the common prefix of `a` and `b`, at most `max` (both are at least `max` long).
#[inline]
fn match_len(a: &[u8], b: &[u8], max: usize) -> usize {
    let (a, b) = (&a[..max], &b[..max]);
    let mut n = 0;
    // Eight bytes at a time: the first differing byte is the lowest set byte of the XOR.
    for (ca, cb) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        let mut wa = [0u8; 8];
        let mut wb = [0u8; 8];
        wa.copy_from_slice(ca);
        wb.copy_from_slice(cb);
        let diff = u64::from_le_bytes(wa) ^ u64::from_le_bytes(wb);
        if diff != 0 {
            return n + (diff.trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
    n + a[n..]
        .iter()
        .zip(&b[n..])
        .take_while(|(x, y)| x == y)
        .count()
}

#[cfg(test)]
mod tests {
    use super::super::inflate::inflate;
    use super::super::tests::{random_bytes, text};
    use super::*;

    fn raw_round_trip(data: &[u8]) -> Vec<u8> {
        let mut packed = Vec::new();
        deflate(data, &mut packed);
        let mut out = Vec::new();
        let used = inflate(&packed, &mut out, data.len()).unwrap();
        assert_eq!(used, packed.len(), "stream length");
        assert!(out == data, "round trip of {} bytes differs", data.len());
        packed
    }

    #[test]
    fn empty_input_is_a_fixed_empty_block() {
        // The same two bytes zlib produces: final fixed block, end-of-block only.
        assert_eq!(raw_round_trip(b""), [0x03, 0x00]);
    }

    #[test]
    fn random_data_falls_back_to_stored() {
        let data = random_bytes(200_000, 7);
        let packed = raw_round_trip(&data);
        // Stored overhead: 5 bytes per stored block; random data cuts a block every
        // BLOCK_SYMBOLS literals.
        let blocks = data.len() / BLOCK_SYMBOLS + 1;
        assert!(
            packed.len() <= data.len() + 5 * blocks,
            "{} bytes",
            packed.len()
        );
        assert_eq!(packed[0] & 0x06, 0, "first block should be stored");
    }

    #[test]
    fn text_uses_dynamic_codes_and_compresses() {
        let data = text(100_000, 3);
        let packed = raw_round_trip(&data);
        assert_eq!(packed[0] & 0x06, 0x04, "first block should be dynamic");
        assert!(packed.len() * 3 < data.len(), "{} bytes", packed.len());
    }

    #[test]
    fn short_input_uses_fixed_codes() {
        let packed = raw_round_trip(b"hello hello hello");
        assert_eq!(packed[0] & 0x06, 0x02, "block should be fixed");
    }

    #[test]
    fn runs_compress_to_almost_nothing() {
        let packed = raw_round_trip(&vec![0u8; 1 << 20]);
        assert!(packed.len() < 1200, "{} bytes", packed.len());
    }

    #[test]
    fn match_len_counts_common_prefix() {
        let a = b"abcdefghijklmnopqrstuvwxyz";
        let mut b = *a;
        for i in 0..a.len() {
            b[i] ^= 1;
            assert_eq!(match_len(a, &b, a.len()), i);
            assert_eq!(match_len(a, &b, i / 2), i / 2);
            b[i] ^= 1;
        }
        assert_eq!(match_len(a, a, a.len()), a.len());
    }
}
