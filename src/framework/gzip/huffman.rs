//! Bit reading and Huffman decoding for the inflater.
//!
//! Huffman codes are decoded with a 10-bit lookup table that resolves most symbols in one step,
//! falling back to a bit-by-bit canonical walk (as zlib's `puff` does) for the rare longer
//! codes. The validation rules on code sets mirror zlib's, so we accept and reject the same
//! streams that Java (which uses zlib) and Python do.

/// Longest Huffman code DEFLATE allows.
const MAX_BITS: usize = 15;
/// Bits resolved by one table lookup. 10 covers nearly every literal/length code a real
/// encoder emits while keeping the table (rebuilt for every dynamic block) at 2 KiB.
const FAST_BITS: u32 = 10;
const FAST_SIZE: usize = 1 << FAST_BITS;
/// A fast-table entry packs `length << 12 | symbol`; symbols are below 4096 and a zero entry
/// (length 0) means "code longer than FAST_BITS or not assigned: take the slow path".
const FAST_SYMBOL_MASK: u16 = 0x0fff;
const FAST_LEN_SHIFT: u16 = 12;

/// Reads the bit stream LSB first, as DEFLATE packs it.
pub(super) struct BitReader<'a> {
    data: &'a [u8],
    /// Next byte of `data` not yet loaded into `buf`.
    pos: usize,
    /// Loaded, unconsumed bits, the next bit in bit 0; bits above `cnt` are zero.
    buf: u64,
    cnt: u32,
}

impl<'a> BitReader<'a> {
    pub(super) fn new(data: &'a [u8]) -> Self {
        BitReader {
            data,
            pos: 0,
            buf: 0,
            cnt: 0,
        }
    }

    /// Loads whole bytes until at least 57 bits are buffered or the input is exhausted.
    #[inline]
    fn refill(&mut self) {
        while self.cnt <= 56 {
            match self.data.get(self.pos) {
                Some(&b) => {
                    self.buf |= u64::from(b) << self.cnt;
                    self.pos += 1;
                    self.cnt += 8;
                }
                None => break,
            }
        }
    }

    /// Takes the next `n` (at most 32) bits as a number, first bit lowest.
    #[inline]
    pub(super) fn bits(&mut self, n: u32) -> Result<u32, String> {
        if self.cnt < n {
            self.refill();
            if self.cnt < n {
                return Err(truncated());
            }
        }
        let value = (self.buf & ((1u64 << n) - 1)) as u32;
        self.consume(n);
        Ok(value)
    }

    #[inline]
    fn consume(&mut self, n: u32) {
        self.buf >>= n;
        self.cnt -= n;
    }

    /// Skips to the next byte boundary and gives back the whole bytes still buffered, so the
    /// caller can continue reading bytes at [`Self::pos`]. Returns that position.
    pub(super) fn align_to_byte(&mut self) -> usize {
        self.consume(self.cnt % 8);
        // Every buffered byte was taken from `data[..pos]`, so this cannot underflow.
        self.pos -= (self.cnt / 8) as usize;
        self.buf = 0;
        self.cnt = 0;
        self.pos
    }

    /// Takes `n` whole bytes; only valid right after [`Self::align_to_byte`].
    pub(super) fn take_bytes(&mut self, n: usize) -> Result<&'a [u8], String> {
        let bytes = self
            .pos
            .checked_add(n)
            .and_then(|end| self.data.get(self.pos..end))
            .ok_or_else(|| {
                format!(
                    "truncated deflate data: stored block of {n} bytes, {} left",
                    self.data.len().saturating_sub(self.pos)
                )
            })?;
        self.pos += n;
        Ok(bytes)
    }
}

pub(super) fn truncated() -> String {
    "truncated deflate data (input ended inside a block)".to_string()
}

/// A canonical Huffman code prepared for decoding.
pub(super) struct Huffman {
    /// Number of codes of each length; `counts[0]` is unused.
    counts: [u16; MAX_BITS + 1],
    /// Symbols ordered by (code length, symbol), i.e. in canonical code order.
    symbols: [u16; 288],
    /// Direct lookup on the next FAST_BITS bits; see FAST_SYMBOL_MASK.
    fast: [u16; FAST_SIZE],
}

/// What a code set is for: zlib accepts an incomplete code only for literal/length and
/// distance codes, and only when it is a single one-bit code. We follow it exactly.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum CodeKind {
    CodeLengths,
    LitLen,
    Distance,
}

impl CodeKind {
    fn name(self) -> &'static str {
        match self {
            CodeKind::CodeLengths => "code-length code",
            CodeKind::LitLen => "literal/length code",
            CodeKind::Distance => "distance code",
        }
    }
}

impl Huffman {
    /// Builds the decoder for the code with the given lengths (0 = symbol unused). At most
    /// 288 lengths of at most 15 each; callers guarantee both (3-bit, 4-bit fields or tables).
    pub(super) fn new(lengths: &[u8], kind: CodeKind) -> Result<Huffman, String> {
        let mut counts = [0u16; MAX_BITS + 1];
        for &len in lengths {
            let slot = counts
                .get_mut(usize::from(len))
                .ok_or("internal error: code length above 15")?;
            *slot += 1;
        }
        counts[0] = 0;

        // Kraft: `left` is the number of unused codes of the current length.
        let mut left: i32 = 1;
        for &count in &counts[1..] {
            left = (left << 1) - i32::from(count);
            if left < 0 {
                return Err(format!("invalid {}: over-subscribed", kind.name()));
            }
        }
        let used: u16 = counts.iter().sum();
        // An incomplete code leaves bit patterns that decode to nothing. zlib tolerates that
        // only for a lone one-bit literal/length or distance code, and for an empty distance
        // code (a block with no matches); anything else is an encoder bug or corruption.
        let lone_one_bit_code = used == 1 && counts[1] == 1 && kind != CodeKind::CodeLengths;
        let empty_allowed = used == 0 && kind == CodeKind::Distance;
        if left > 0 && !lone_one_bit_code && !empty_allowed {
            return Err(format!("invalid {}: incomplete code set", kind.name()));
        }

        // Sort symbols into canonical order: `offsets[len]` is where codes of `len` begin.
        let mut offsets = [0u16; MAX_BITS + 2];
        for len in 1..=MAX_BITS {
            offsets[len + 1] = offsets[len] + counts[len];
        }
        let mut symbols = [0u16; 288];
        // The first code of each length, for filling the fast table.
        let mut next_code = [0u32; MAX_BITS + 1];
        let mut code = 0u32;
        for len in 1..=MAX_BITS {
            code = (code + u32::from(counts[len - 1])) << 1;
            next_code[len] = code;
        }
        let mut fast = [0u16; FAST_SIZE];
        for (symbol, &len) in lengths.iter().enumerate() {
            if len == 0 {
                continue;
            }
            let len_idx = usize::from(len);
            let slot = symbols
                .get_mut(usize::from(offsets[len_idx]))
                .ok_or("internal error: symbol table overflow")?;
            *slot = symbol as u16;
            offsets[len_idx] += 1;

            let code = next_code[len_idx];
            next_code[len_idx] += 1;
            if u32::from(len) <= FAST_BITS {
                // The stream sends codes MSB first into an LSB-first bit buffer, so the table
                // is indexed by the reversed code; every entry whose low `len` bits match it
                // decodes to this symbol, whatever the bits above are.
                let reversed = (code.reverse_bits() >> (32 - u32::from(len))) as usize;
                let entry = (u16::from(len) << FAST_LEN_SHIFT) | symbol as u16;
                for e in fast.iter_mut().skip(reversed).step_by(1 << len) {
                    *e = entry;
                }
            }
        }
        Ok(Huffman {
            counts,
            symbols,
            fast,
        })
    }

    /// Decodes one symbol.
    #[inline]
    pub(super) fn decode(&self, br: &mut BitReader<'_>) -> Result<u16, String> {
        if br.cnt < MAX_BITS as u32 {
            br.refill();
        }
        // Near the end of input the bits above `cnt` are zero; an entry is still right if its
        // own length fits in what is really there.
        let entry = self.fast[(br.buf as usize) & (FAST_SIZE - 1)];
        let len = u32::from(entry >> FAST_LEN_SHIFT);
        if len != 0 {
            if len > br.cnt {
                return Err(truncated());
            }
            br.consume(len);
            return Ok(entry & FAST_SYMBOL_MASK);
        }
        self.decode_slow(br)
    }

    /// Canonical decoding one bit at a time: `first` is the first code of the current length
    /// and `index` the position of its symbol in `symbols`.
    #[cold]
    fn decode_slow(&self, br: &mut BitReader<'_>) -> Result<u16, String> {
        let (mut code, mut first, mut index) = (0u32, 0u32, 0u32);
        for len in 1..=MAX_BITS {
            if len as u32 > br.cnt {
                return Err(truncated());
            }
            code |= ((br.buf >> (len - 1)) & 1) as u32;
            let count = u32::from(self.counts[len]);
            // Codes of this length are first..first+count; a smaller code would have been a
            // prefix decoded at a shorter length, so `code >= first` here.
            if code < first + count {
                br.consume(len as u32);
                return self
                    .symbols
                    .get((index + code - first) as usize)
                    .copied()
                    .ok_or_else(|| "internal error: Huffman symbol index".to_string());
            }
            index += count;
            first = (first + count) << 1;
            code <<= 1;
        }
        Err("invalid Huffman code (bit pattern not assigned to any symbol)".to_string())
    }
}
