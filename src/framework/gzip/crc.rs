//! CRC-32 as gzip uses it (RFC 1952 section 8): the IEEE 802.3 polynomial in its reflected form
//! 0xEDB8_8320, initial value and final XOR all ones. Table-driven, one byte per step: for the
//! znode sizes ZooKeeper allows (1 MiB by default) this costs a few milliseconds at most, so
//! the wider slicing-by-N variants are not worth their extra tables.

/// Reflected CRC-32 polynomial (x^32 + x^26 + ... + 1 with the bit order reversed).
const POLY: u32 = 0xEDB8_8320;

/// `TABLE[b]` is the CRC register after shifting the byte `b` through a zero register, built at
/// compile time so there is no lazy initialisation to synchronise.
const TABLE: [u32; 256] = make_table();

const fn make_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut n = 0;
    while n < 256 {
        let mut c = n as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { POLY ^ (c >> 1) } else { c >> 1 };
            k += 1;
        }
        table[n] = c;
        n += 1;
    }
    table
}

/// Continues a CRC-32 over `data`: `update(update(0, a), b) == crc32(a ++ b)`.
pub(super) fn update(crc: u32, data: &[u8]) -> u32 {
    let mut c = !crc;
    for &b in data {
        // The index is masked to 8 bits, so it is always inside the 256-entry table.
        c = TABLE[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

/// CRC-32 of `data` from scratch.
pub(super) fn crc32(data: &[u8]) -> u32 {
    update(0, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_known_vectors() {
        assert_eq!(crc32(b""), 0);
        // The standard check value for CRC-32/ISO-HDLC.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b"a"), 0xE8B7_BE43);
        assert_eq!(
            crc32(b"The quick brown fox jumps over the lazy dog"),
            0x414F_A339
        );
        assert_eq!(crc32(&[0u8; 32]), 0x190A_55AD);
    }

    #[test]
    fn crc32_update_is_incremental() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 + i / 3) as u8).collect();
        let whole = crc32(&data);
        for split in [0, 1, 7, 500, 999, 1000] {
            let (a, b) = data.split_at(split);
            assert_eq!(update(update(0, a), b), whole, "split at {split}");
        }
    }
}
