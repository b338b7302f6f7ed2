//! gzip-level tests: round trips, header flags, members, corruption, zip bombs, and interop
//! with the real implementations on the machine (Python's zlib, Java's java.util.zip). They
//! pin down the format and the refusals this crate promises, whichever DEFLATE is beneath.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Instant;

use flate2::{Crc, Decompress, FlushDecompress, Status};

use super::codec::{decompress, decompress_with_limit};

/// FLG bits (RFC 1952 section 2.3.1), for building headers by hand.
const FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;

fn compress(data: &[u8]) -> Vec<u8> {
    super::codec::compress(data).expect("compressing into memory")
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = Crc::new();
    crc.update(data);
    crc.sum()
}

/// Inflates one raw DEFLATE stream (no gzip framing): its output and how many input bytes it
/// used, or an error for a corrupt or incomplete stream.
fn raw_inflate(data: &[u8]) -> Result<(Vec<u8>, usize), String> {
    let mut d = Decompress::new(false);
    let mut out = Vec::with_capacity(4096);
    loop {
        if out.len() == out.capacity() {
            out.reserve(out.capacity());
        }
        let (used, made) = (d.total_in(), d.total_out());
        let input = &data[d.total_in() as usize..];
        match d.decompress_vec(input, &mut out, FlushDecompress::None) {
            Ok(Status::StreamEnd) => return Ok((out, d.total_in() as usize)),
            Ok(_) if d.total_in() == used && d.total_out() == made => {
                return Err("incomplete stream".to_string())
            }
            Ok(_) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// Seeded xorshift64*: deterministic test data without a crate.
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub(super) fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform-enough value in `0..n` (n > 0).
    pub(super) fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    pub(super) fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

pub(super) fn random_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut v = vec![0u8; n];
    Rng::new(seed).fill(&mut v);
    v
}

/// Word salad with the statistics of English-ish text: compressible, but not trivially.
pub(super) fn text(n: usize, seed: u64) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "the",
        "zookeeper",
        "curator",
        "znode",
        "session",
        "watch",
        "leader",
        "latch",
        "lock",
        "ephemeral",
        "sequential",
        "path",
        "data",
        "version",
        "ensemble",
        "quorum",
        "client",
        "server",
        "connection",
        "retry",
        "policy",
        "barrier",
        "queue",
        "cache",
        "tree",
        "node",
        "of",
        "and",
        "to",
        "a",
        "in",
        "is",
        "that",
        "for",
        "it",
        "with",
        "as",
        "on",
        "be",
        "compression",
        "provider",
        "gzip",
        "deflate",
        "huffman",
        "window",
        "distance",
    ];
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(n + 16);
    while out.len() < n {
        out.extend_from_slice(WORDS[rng.below(WORDS.len())].as_bytes());
        out.push(match rng.below(20) {
            0 => b'\n',
            1 => b',',
            2 => b'.',
            _ => b' ',
        });
        if rng.below(50) == 0 {
            out.extend_from_slice(format!("{}", rng.next_u64() % 100_000).as_bytes());
        }
    }
    out.truncate(n);
    out
}

/// A mix of everything: text, runs, random bytes, repeats from far back.
fn mixed(n: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let len = 1 + rng.below(20_000);
        match rng.below(4) {
            0 => out.extend(text(len, rng.next_u64())),
            1 => out.extend(std::iter::repeat_n(rng.next_u64() as u8, len)),
            2 => out.extend(random_bytes(len, rng.next_u64())),
            _ if out.len() > 100 => {
                let from = rng.below(out.len());
                let take = len.min(out.len() - from);
                out.extend_from_within(from..from + take);
            }
            _ => {}
        }
    }
    out.truncate(n);
    out
}

fn round_trip(data: &[u8]) -> Vec<u8> {
    let packed = compress(data);
    match decompress(&packed) {
        Ok(back) => assert!(back == data, "round trip of {} bytes differs", data.len()),
        Err(e) => panic!("round trip of {} bytes failed: {e}", data.len()),
    }
    packed
}

fn expect_err(data: &[u8], needle: &str) {
    match decompress(data) {
        Ok(out) => panic!("expected error with {needle:?}, got {} bytes", out.len()),
        Err(e) => assert!(e.contains(needle), "error {e:?} lacks {needle:?}"),
    }
}

/// Our writer's header, for checking it and for building variants.
const PLAIN_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];

// ---------------------------------------------------------------------------------------
// Round trips

#[test]
fn round_trip_empty() {
    let packed = round_trip(b"");
    assert_eq!(&packed[..10], &PLAIN_HEADER);
    // Header, the 2-byte empty fixed block, CRC 0, ISIZE 0: what zlib writes too.
    assert_eq!(packed.len(), 20);
}

#[test]
fn round_trip_single_bytes() {
    for b in 0..=255u8 {
        round_trip(&[b]);
    }
}

#[test]
fn round_trip_repetitive() {
    let zeros = round_trip(&vec![0u8; 100_000]);
    assert!(zeros.len() < 200, "{} bytes", zeros.len());
    let abc: Vec<u8> = b"abc".iter().copied().cycle().take(100_000).collect();
    assert!(round_trip(&abc).len() < 300);
    // A period longer than a short match but well inside the window.
    let block = random_bytes(1000, 9);
    let periodic: Vec<u8> = block.iter().copied().cycle().take(300_000).collect();
    assert!(round_trip(&periodic).len() < 3000);
    // A period beyond the 32 KiB window can't be matched: stays about the input size.
    let far = random_bytes(40_000, 10);
    let far: Vec<u8> = far.iter().copied().cycle().take(120_000).collect();
    let packed = round_trip(&far);
    assert!(packed.len() > 110_000, "{}", packed.len());
}

#[test]
fn round_trip_random() {
    for (i, n) in [1usize, 2, 3, 10, 100, 1000, 10_000, 100_000]
        .into_iter()
        .enumerate()
    {
        let data = random_bytes(n, i as u64 + 100);
        let packed = round_trip(&data);
        // Incompressible data goes out stored: 18 bytes of gzip framing plus 5 per stored
        // block (one per 16 Ki literals) over the input, never more.
        assert!(
            packed.len() <= n + 18 + 5 * (n / 16384 + 1),
            "{n}: {}",
            packed.len()
        );
    }
}

#[test]
fn round_trip_text() {
    for (i, n) in [5usize, 50, 500, 5000, 50_000, 500_000]
        .into_iter()
        .enumerate()
    {
        let data = text(n, i as u64);
        let packed = round_trip(&data);
        if n >= 5000 {
            assert!(packed.len() * 3 < n, "{n}: {} bytes", packed.len());
        }
    }
}

#[test]
fn round_trip_sizes_around_boundaries() {
    // Window (32 KiB), stored block (65535), symbols per block (16 Ki) and match lengths.
    let sizes = [
        3, 4, 257, 258, 259, 16383, 16384, 16385, 32767, 32768, 32769, 65534, 65535, 65536, 65537,
        131_070, 131_071, 131_072, 131_073,
    ];
    for (i, &n) in sizes.iter().enumerate() {
        round_trip(&random_bytes(n, 1000 + i as u64));
        round_trip(&text(n, 2000 + i as u64));
        round_trip(&vec![b'z'; n]);
        round_trip(&mixed(n, 3000 + i as u64));
    }
}

#[test]
fn round_trip_one_mebibyte() {
    for data in [
        mixed(1 << 20, 42),
        text(1 << 20, 43),
        random_bytes(1 << 20, 44),
    ] {
        let start = Instant::now();
        let packed = compress(&data);
        let compressed = start.elapsed();
        let start = Instant::now();
        let back = decompress(&packed).unwrap();
        let decompressed = start.elapsed();
        assert!(back == data);
        println!(
            "1 MiB -> {} bytes: compress {compressed:?}, decompress {decompressed:?}",
            packed.len()
        );
    }
}

/// Speed report for release builds:
/// `cargo test --release --lib gzip_speed -- --ignored --nocapture`.
#[test]
#[ignore = "timing report; run in release with --ignored --nocapture"]
fn gzip_speed() {
    let inputs = [
        ("text", text(1 << 20, 1)),
        ("mixed", mixed(1 << 20, 2)),
        ("random", random_bytes(1 << 20, 3)),
        ("zeros", vec![0u8; 1 << 20]),
    ];
    for (name, data) in &inputs {
        // Best of 10: the machine running the tests may be busy with other work.
        let mut packed = Vec::new();
        let mut compress_time = std::time::Duration::MAX;
        let mut decompress_time = std::time::Duration::MAX;
        for _ in 0..10 {
            let start = Instant::now();
            packed = compress(data);
            compress_time = compress_time.min(start.elapsed());
            let start = Instant::now();
            let back = decompress(&packed).unwrap();
            decompress_time = decompress_time.min(start.elapsed());
            assert!(back == *data);
        }
        println!(
            "{name:>6}: 1 MiB -> {:>7} bytes, compress {compress_time:?}, decompress {decompress_time:?}",
            packed.len()
        );
        if !cfg!(debug_assertions) {
            assert!(compress_time.as_millis() < 100 && decompress_time.as_millis() < 100);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Header flags and members

/// Fast LSB-first bit packer for building streams by hand.
#[derive(Default)]
struct Packer {
    out: Vec<u8>,
    buf: u64,
    cnt: u32,
}

impl Packer {
    fn put(&mut self, bits: u32, n: u32) {
        self.buf |= u64::from(bits) << self.cnt;
        self.cnt += n;
        while self.cnt >= 8 {
            self.out.push(self.buf as u8);
            self.buf >>= 8;
            self.cnt -= 8;
        }
    }

    /// A Huffman code, most significant bit first.
    fn code(&mut self, code: u32, len: u32) {
        let reversed = code.reverse_bits() >> (32 - len);
        self.put(reversed, len);
    }

    fn finish(mut self) -> Vec<u8> {
        if self.cnt > 0 {
            self.out.push(self.buf as u8);
        }
        self.out
    }
}

/// A member around our deflate stream for `data`, with the given flags and optional fields.
fn member_with_header(
    data: &[u8],
    flags: u8,
    extra: &[u8],
    name: &[u8],
    comment: &[u8],
) -> Vec<u8> {
    let mut m = vec![0x1f, 0x8b, 8, flags, 1, 2, 3, 4, 2, 3];
    if flags & FEXTRA != 0 {
        m.extend_from_slice(&(extra.len() as u16).to_le_bytes());
        m.extend_from_slice(extra);
    }
    if flags & FNAME != 0 {
        m.extend_from_slice(name);
        m.push(0);
    }
    if flags & FCOMMENT != 0 {
        m.extend_from_slice(comment);
        m.push(0);
    }
    if flags & FHCRC != 0 {
        let crc = crc32(&m) as u16;
        m.extend_from_slice(&crc.to_le_bytes());
    }
    let body = compress(data);
    m.extend_from_slice(&body[10..]);
    m
}

#[test]
fn header_flags_all_combinations() {
    let data = text(3000, 5);
    for flags in 0..32u8 {
        let m = member_with_header(&data, flags, b"AB\x02\x00hi", b"file.txt", b"a comment");
        assert_eq!(decompress(&m).unwrap(), data, "flags {flags:#x}");
    }
    // Empty optional fields are fine too.
    let m = member_with_header(&data, 0x1f, b"", b"", b"");
    assert_eq!(decompress(&m).unwrap(), data);
}

#[test]
fn header_crc_mismatch() {
    let mut m = member_with_header(b"x", FHCRC | FNAME, b"", b"n", b"");
    m[12] ^= 1; // first FHCRC byte (10 fixed + "n\0")
    expect_err(&m, "checksum");
}

#[test]
fn bad_headers() {
    let good = compress(b"hello");
    expect_err(&[], "empty input");
    expect_err(b"hello world", "not gzip data");
    expect_err(&[0x1f], "truncated");
    expect_err(&[0x1f, 0x8c, 8, 0], "not gzip data");
    expect_err(&good[..5], "truncated");
    // Method 7 (only 8, DEFLATE, exists) and each reserved flag bit.
    let mut m = good.clone();
    m[2] = 7;
    expect_err(&m, "invalid gzip header");
    for bit in [0x20, 0x40, 0x80] {
        let mut m = good.clone();
        m[3] |= bit;
        expect_err(&m, "invalid gzip header");
    }
    // Optional fields running off the end.
    expect_err(&[0x1f, 0x8b, 8, FEXTRA, 0, 0, 0, 0, 0, 0, 5], "truncated");
    expect_err(
        &[0x1f, 0x8b, 8, FEXTRA, 0, 0, 0, 0, 0, 0, 5, 0, 1],
        "truncated",
    );
    expect_err(&[0x1f, 0x8b, 8, FNAME, 0, 0, 0, 0, 0, 0, b'a'], "truncated");
    expect_err(
        &[0x1f, 0x8b, 8, FCOMMENT, 0, 0, 0, 0, 0, 0, b'a'],
        "truncated",
    );
    expect_err(&[0x1f, 0x8b, 8, FHCRC, 0, 0, 0, 0, 0, 0, 1], "truncated");
}

#[test]
fn bad_crc_and_isize() {
    let data = text(10_000, 8);
    let good = compress(&data);
    let n = good.len();
    for i in n - 8..n - 4 {
        let mut m = good.clone();
        m[i] ^= 0x10;
        expect_err(&m, "checksum");
    }
    for i in n - 4..n {
        let mut m = good.clone();
        m[i] ^= 0x10;
        expect_err(&m, "checksum");
    }
}

#[test]
fn concatenated_members() {
    let a = text(5000, 1);
    let b = random_bytes(3000, 2);
    let mut stream = compress(&a);
    stream.extend(compress(b""));
    stream.extend(member_with_header(&b, FNAME | FHCRC, b"", b"b.bin", b""));
    stream.extend(compress(&a));
    let mut expected = a.clone();
    expected.extend(&b);
    expected.extend(&a);
    assert_eq!(decompress(&stream).unwrap(), expected);
}

#[test]
fn trailing_bytes_after_a_member_are_errors() {
    let mut stream = compress(b"data");
    stream.push(0);
    expect_err(&stream, "member 2");
    let mut stream = compress(b"data");
    stream.extend(b"garbage!");
    expect_err(&stream, "not gzip data");
    // A second member cut short.
    let mut stream = compress(b"data");
    let second = compress(b"more data");
    stream.extend(&second[..second.len() - 3]);
    expect_err(&stream, "member 2");
    expect_err(&stream, "truncated");
}

#[test]
fn errors_in_later_members_are_located() {
    let mut stream = compress(b"first");
    let start = stream.len();
    let mut second = compress(b"second");
    let n = second.len();
    second[n - 1] ^= 1;
    stream.extend(second);
    expect_err(
        &stream,
        &format!(
            "member 2 (at byte {start}): corrupt gzip stream does not have a matching checksum"
        ),
    );
}

#[test]
fn distance_cannot_reach_into_previous_member() {
    // Member 2 is a fixed block "copy 3 bytes from 1 back" with no literal before it.
    let mut p = Packer::default();
    p.put(1, 1);
    p.put(1, 2);
    p.code(1, 7); // length code 257 (length 3), fixed 7-bit code 0000001
    p.code(0, 5); // distance 1
    p.code(0, 7); // end of block
    let mut stream = compress(b"xyz");
    stream.extend_from_slice(&PLAIN_HEADER);
    stream.extend(p.finish());
    stream.extend(crc32(b"zzz").to_le_bytes());
    stream.extend(3u32.to_le_bytes());
    // Had the copy reached back into member 1 it would be "zzz" and pass its checksums;
    // a fresh window per member makes the member fail instead.
    expect_err(&stream, "member 2 (at byte 23): corrupt gzip stream");
}

// ---------------------------------------------------------------------------------------
// Corruption

/// Valid streams of each kind: dynamic, fixed, stored, empty, with optional fields, multi-block.
fn sample_streams() -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut v = Vec::new();
    for data in [
        text(4000, 11),
        b"hello, hello, hello".to_vec(),
        random_bytes(600, 12),
        Vec::new(),
        vec![7u8; 2000],
    ] {
        v.push((compress(&data), data));
    }
    let data = text(1500, 13);
    v.push((
        member_with_header(&data, 0x1f, b"xx\x01\x00!", b"name", b"comment"),
        data,
    ));
    v
}

#[test]
fn every_truncation_is_an_error() {
    for (stream, _) in sample_streams() {
        for len in 0..stream.len() {
            assert!(
                decompress(&stream[..len]).is_err(),
                "prefix of {len} accepted"
            );
        }
    }
    // Multi-block streams: truncate at a spread of points.
    let data = mixed(300_000, 14);
    let stream = compress(&data);
    for len in (0..stream.len()).step_by(997) {
        assert!(
            decompress(&stream[..len]).is_err(),
            "prefix of {len} accepted"
        );
    }
}

#[test]
fn byte_flips_never_pass_silently() {
    let mut rng = Rng::new(77);
    let mut errors = 0;
    let mut total = 0;
    for (stream, data) in sample_streams() {
        for pos in 0..stream.len() {
            for mask in [0x01, 0x80, 0xff, 1 + rng.below(255) as u8] {
                let mut m = stream.clone();
                m[pos] ^= mask;
                total += 1;
                match decompress(&m) {
                    // Some bytes carry no information (MTIME, XFL, OS, FTEXT, padding bits
                    // after the last block): the data must come back unchanged.
                    Ok(out) => assert!(out == data, "flip {mask:#x} at {pos} changed the data"),
                    Err(_) => errors += 1,
                }
            }
        }
    }
    assert!(
        errors * 10 > total * 8,
        "{errors} of {total} flips detected"
    );
}

#[test]
fn random_input_never_panics() {
    let mut rng = Rng::new(2024);
    let valid_data = text(2000, 99);
    let valid = compress(&valid_data);
    for i in 0..4000 {
        let len = rng.below(300);
        let mut input = vec![0u8; len];
        rng.fill(&mut input);
        match i % 4 {
            // Pure noise.
            0 => {}
            // Noise behind a valid header, so the inflater sees it.
            1 => {
                let mut m = PLAIN_HEADER.to_vec();
                m.extend(&input);
                input = m;
            }
            // The same, with the first block's type forced to dynamic (the richest header).
            2 => {
                let mut m = PLAIN_HEADER.to_vec();
                m.extend(&input);
                if let Some(b) = m.get_mut(10) {
                    *b = (*b & !0x06) | 0x04;
                }
                input = m;
            }
            // A valid stream with a few random bytes overwritten.
            _ => {
                input = valid.clone();
                for _ in 0..1 + rng.below(4) {
                    let pos = 10 + rng.below(input.len() - 10);
                    input[pos] = rng.next_u64() as u8;
                }
            }
        }
        if let Ok(out) = decompress(&input) {
            // Noise practically never has a matching CRC-32; a mutated stream may pass only if
            // the mutation hit bytes without meaning, and then the data is unchanged.
            assert!(i % 4 == 3, "noise #{i} decoded to {} bytes", out.len());
            assert!(out == valid_data, "mutation #{i} changed the data");
        }
    }
}

// ---------------------------------------------------------------------------------------
// Zip bombs and the output cap

/// One member whose single fixed block expands to at least `size` zero bytes: a literal 0,
/// then length-258 copies at distance 1 (13 bits each, so 300 MiB takes about 2 MB).
fn zero_bomb(size: usize) -> Vec<u8> {
    let mut p = Packer::default();
    p.put(1, 1);
    p.put(1, 2);
    p.code(0x30, 8); // literal 0
    for _ in 0..(size - 1).div_ceil(258) {
        p.code(0xc5, 8); // length code 285: 258
        p.code(0, 5); // distance code 0: 1
    }
    p.code(0, 7); // end of block
    let mut m = PLAIN_HEADER.to_vec();
    m.extend(p.finish());
    m.extend([0; 8]); // never reached: the cap trips first
    m
}

#[test]
fn zip_bomb_is_rejected_by_the_cap() {
    let bomb = zero_bomb(300 << 20);
    assert!(bomb.len() < 3 << 20, "{} bytes", bomb.len());
    let start = Instant::now();
    let err = decompress(&bomb).unwrap_err();
    assert!(
        err.contains("exceeds the limit of 268435456 bytes (256 MiB)"),
        "{err}"
    );
    println!("300 MiB bomb rejected in {:?}", start.elapsed());
}

#[test]
fn output_cap_counts_all_members() {
    // 20 members of 1 MiB each against a 16 MiB cap.
    let member = compress(&vec![0u8; 1 << 20]);
    let stream: Vec<u8> = member
        .iter()
        .copied()
        .cycle()
        .take(member.len() * 20)
        .collect();
    let err = decompress_with_limit(&stream, 16 << 20).unwrap_err();
    assert!(
        err.contains("member 17") && err.contains("exceeds the limit"),
        "{err}"
    );
    assert_eq!(
        decompress_with_limit(&stream, 20 << 20).unwrap().len(),
        20 << 20
    );
}

#[test]
fn output_exactly_at_the_cap_is_fine() {
    let data = mixed(100_000, 5);
    let packed = compress(&data);
    let out = decompress_with_limit(&packed, data.len()).unwrap();
    assert!(out == data);
    assert!(out.capacity() <= data.len(), "capacity beyond the cap");
    assert!(decompress_with_limit(&packed, data.len() - 1).is_err());
    // A stored block may not slip past the cap either.
    let random = random_bytes(100_000, 6);
    let packed = compress(&random);
    assert!(decompress_with_limit(&packed, random.len() - 1).is_err());
}

#[test]
fn length_fields_are_checked_against_real_input() {
    // ISIZE says 4 GiB - 1 and the stored LEN 65535, but the input has 3 bytes: nothing may be
    // sized from those fields, so this fails fast on truncation.
    let mut m = PLAIN_HEADER.to_vec();
    m.extend([0x01, 0xff, 0xff, 0x00, 0x00, 1, 2, 3]);
    expect_err(&m, "truncated");
    let mut m = compress(b"abc");
    let n = m.len();
    m[n - 4..].copy_from_slice(&u32::MAX.to_le_bytes());
    expect_err(&m, "checksum");
}

// ---------------------------------------------------------------------------------------
// Interop with real implementations

/// Runs `program args` with `input` on stdin. `None` if it can't be started (not installed);
/// a non-zero exit is a test failure.
fn run(program: &str, args: &[&str], input: &[u8]) -> Option<Vec<u8>> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    let mut stdin = child.stdin.take()?;
    let input = input.to_vec();
    // Feed stdin from another thread so a full stdout pipe can't deadlock us.
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().expect("wait for child");
    writer.join().expect("stdin writer").expect("write stdin");
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(output.stdout)
}

fn available(program: &str, version_arg: &str) -> bool {
    let ok = Command::new(program)
        .arg(version_arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        println!("SKIP: {program} not available");
    }
    ok
}

/// Frames for passing several payloads through one process: u32 big-endian length, bytes.
fn frame(payloads: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in payloads {
        out.extend((p.len() as u32).to_be_bytes());
        out.extend(p);
    }
    out
}

fn unframe(mut data: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while !data.is_empty() {
        let (len, rest) = data.split_at(4);
        let len = u32::from_be_bytes(len.try_into().unwrap()) as usize;
        out.push(rest[..len].to_vec());
        data = &rest[len..];
    }
    out
}

fn interop_payloads() -> Vec<Vec<u8>> {
    vec![
        Vec::new(),
        b"x".to_vec(),
        b"hello hello hello hello".to_vec(),
        text(100_000, 21),
        random_bytes(70_000, 22),
        vec![0u8; 200_000],
        mixed(1 << 20, 23),
    ]
}

/// For each framed payload, writes framed gzip streams made by several zlib settings:
/// levels 0, 1, 6, 9, the fixed-code, Huffman-only and RLE strategies, a stream with sync and
/// full flushes (empty stored blocks mid-stream), a GzipFile with a file name, and two
/// members concatenated.
const PYTHON_COMPRESS: &str = r#"
import gzip, io, struct, sys, zlib
inp = sys.stdin.buffer.read()
out = []
i = 0
def z(data, level=6, strategy=zlib.Z_DEFAULT_STRATEGY, chunks=1):
    c = zlib.compressobj(level, zlib.DEFLATED, 31, 9, strategy)
    step = max(1, len(data) // chunks)
    parts = []
    for k in range(0, len(data), step):
        parts.append(c.compress(data[k:k + step]))
        if chunks > 1:
            parts.append(c.flush(zlib.Z_SYNC_FLUSH if k % 2 else zlib.Z_FULL_FLUSH))
    parts.append(c.flush())
    return b"".join(parts)
while i < len(inp):
    (n,) = struct.unpack(">I", inp[i:i + 4]); data = inp[i + 4:i + 4 + n]; i += 4 + n
    named = io.BytesIO()
    with gzip.GzipFile(filename="payload.bin", mode="wb", fileobj=named, mtime=1234567) as g:
        g.write(data)
    for s in [gzip.compress(data, 0), gzip.compress(data, 1), gzip.compress(data, 9),
              z(data, 6), z(data, 9, zlib.Z_FIXED), z(data, 6, zlib.Z_HUFFMAN_ONLY),
              z(data, 6, zlib.Z_RLE), z(data, 6, chunks=5), named.getvalue(),
              gzip.compress(data, 6) + gzip.compress(data, 1)]:
        out.append(struct.pack(">I", len(s)) + s)
sys.stdout.buffer.write(b"".join(out))
"#;

const PYTHON_DECOMPRESS: &str = r#"
import gzip, struct, sys
inp = sys.stdin.buffer.read()
out = []
i = 0
while i < len(inp):
    (n,) = struct.unpack(">I", inp[i:i + 4]); s = gzip.decompress(inp[i + 4:i + 4 + n]); i += 4 + n
    out.append(struct.pack(">I", len(s)) + s)
sys.stdout.buffer.write(b"".join(out))
"#;

#[test]
fn interop_python_compresses_we_decompress() {
    if !available("python3", "--version") {
        return;
    }
    let payloads = interop_payloads();
    let Some(out) = run("python3", &["-c", PYTHON_COMPRESS], &frame(&payloads)) else {
        println!("SKIP: python3 could not be started");
        return;
    };
    let streams = unframe(&out);
    let variants = streams.len() / payloads.len();
    assert_eq!(variants, 10);
    for (k, stream) in streams.iter().enumerate() {
        let data = &payloads[k / variants];
        let expected = if k % variants == variants - 1 {
            [data.as_slice(), data.as_slice()].concat()
        } else {
            data.clone()
        };
        let out = decompress(stream)
            .unwrap_or_else(|e| panic!("payload {} variant {}: {e}", k / variants, k % variants));
        assert!(
            out == expected,
            "payload {} variant {}",
            k / variants,
            k % variants
        );
    }
}

#[test]
fn interop_we_compress_python_decompresses() {
    if !available("python3", "--version") {
        return;
    }
    let payloads = interop_payloads();
    let mut streams: Vec<Vec<u8>> = payloads.iter().map(|p| compress(p)).collect();
    // Two of our members back to back.
    streams.push([compress(b"first "), compress(b"second")].concat());
    let Some(out) = run("python3", &["-c", PYTHON_DECOMPRESS], &frame(&streams)) else {
        println!("SKIP: python3 could not be started");
        return;
    };
    let back = unframe(&out);
    assert_eq!(back.len(), streams.len());
    for (i, data) in payloads.iter().enumerate() {
        assert!(back[i] == *data, "payload {i}");
    }
    assert_eq!(back[payloads.len()], b"first second");
}

/// For each framed raw DEFLATE stream, zlib's verdict: status byte (1 = complete stream,
/// 0 = error or truncated, 2 = a distance reaching before the start of the output), u32
/// bytes consumed, then the framed output.
const PYTHON_RAW_INFLATE: &str = r#"
import struct, sys, zlib
inp = sys.stdin.buffer.read()
out = []
i = 0
while i < len(inp):
    (n,) = struct.unpack(">I", inp[i:i + 4]); s = inp[i + 4:i + 4 + n]; i += 4 + n
    d = zlib.decompressobj(-15)
    status = 0
    try:
        r = d.decompress(s)
        ok = d.eof
    except zlib.error as e:
        r, ok = b"", False
        status = 2 if "too far back" in str(e) else 0
    if not ok:
        r = b""
    used = len(s) - len(d.unused_data) if ok else 0
    out.append(struct.pack(">BII", 1 if ok else status, used, len(r)) + r)
sys.stdout.buffer.write(b"".join(out))
"#;

#[test]
fn differential_raw_inflate_against_zlib() {
    if !available("python3", "--version") {
        return;
    }
    let mut rng = Rng::new(31337);
    let mut cases: Vec<Vec<u8>> = Vec::new();
    // Valid streams of every block type, with 1 to 3 bits flipped: corruption deep inside
    // Huffman tables and data, where the two decoders must agree on every verdict.
    let originals = [
        text(3000, 1),
        text(300, 2),
        random_bytes(500, 3),
        mixed(5000, 4),
        vec![1u8; 1000],
    ];
    let sources: Vec<Vec<u8>> = originals
        .iter()
        .map(|d| compress(d)[10..].to_vec())
        .collect();
    for i in 0..2000 {
        let src = &sources[i % sources.len()];
        let mut m = src[..src.len() - 8].to_vec();
        for _ in 0..1 + rng.below(3) {
            let bit = rng.below(m.len() * 8);
            m[bit / 8] ^= 1 << (bit % 8);
        }
        cases.push(m);
    }
    // Noise, and noise starting with a fixed or dynamic block header.
    for i in 0..1500 {
        let mut m = vec![0u8; 1 + rng.below(400)];
        rng.fill(&mut m);
        match i % 3 {
            0 => m[0] = (m[0] & !0x06) | 0x02,
            1 => m[0] = (m[0] & !0x06) | 0x04,
            _ => {}
        }
        cases.push(m);
    }
    let Some(out) = run("python3", &["-c", PYTHON_RAW_INFLATE], &frame(&cases)) else {
        println!("SKIP: python3 could not be started");
        return;
    };
    let mut rest = out.as_slice();
    let mut agreed_ok = 0;
    let mut too_far = 0;
    for (i, case) in cases.iter().enumerate() {
        let (head, tail) = rest.split_at(9);
        let zlib_ok = head[0] == 1;
        // The one known difference: miniz_oxide's streaming inflater reads a distance that
        // reaches before the start of the output from its zeroed window, where zlib refuses
        // it. Such data cannot be what the writer meant, and in a gzip member the CRC-32
        // refuses it (distance_cannot_reach_into_previous_member).
        let zlib_too_far = head[0] == 2;
        let zlib_used = u32::from_be_bytes(head[1..5].try_into().unwrap()) as usize;
        let len = u32::from_be_bytes(head[5..9].try_into().unwrap()) as usize;
        let (zlib_out, tail) = tail.split_at(len);
        rest = tail;
        match raw_inflate(case) {
            Ok(_) if zlib_too_far => {
                too_far += 1;
                // As the member it was cut from, with the original trailer: refused, or
                // (if the flip hit nothing that mattered) the original data.
                if let Some(data) = originals.get(i % originals.len()).filter(|_| i < 2000) {
                    let mut member = PLAIN_HEADER.to_vec();
                    member.extend(case);
                    member.extend(crc32(data).to_le_bytes());
                    member.extend((data.len() as u32).to_le_bytes());
                    if let Ok(out) = decompress(&member) {
                        assert!(
                            out == *data,
                            "case {i}: a too-far distance changed the data"
                        );
                    }
                }
            }
            Ok((ours, used)) => {
                assert!(zlib_ok, "case {i}: we accept, zlib rejects");
                assert_eq!(used, zlib_used, "case {i}: consumed bytes");
                assert!(ours == zlib_out, "case {i}: outputs differ");
                agreed_ok += 1;
            }
            Err(e) => assert!(!zlib_ok, "case {i}: zlib accepts, we reject: {e}"),
        }
    }
    println!(
        "{} cases agree, {agreed_ok} decoded by both; {too_far} too-far distances accepted",
        cases.len() - too_far
    );
}

/// java.util.zip filter: `compress` or `decompress` each framed payload.
const JAVA_FILTER: &str = r#"
import java.io.*;
import java.util.zip.*;

public class GzipFilter {
    public static void main(String[] args) throws IOException {
        boolean compress = args[0].equals("compress");
        DataInputStream in = new DataInputStream(new BufferedInputStream(System.in));
        DataOutputStream out = new DataOutputStream(new BufferedOutputStream(System.out));
        while (true) {
            int n;
            try { n = in.readInt(); } catch (EOFException e) { break; }
            byte[] data = new byte[n];
            in.readFully(data);
            byte[] result;
            if (compress) {
                ByteArrayOutputStream bytes = new ByteArrayOutputStream();
                try (GZIPOutputStream gz = new GZIPOutputStream(bytes)) { gz.write(data); }
                result = bytes.toByteArray();
            } else {
                try (GZIPInputStream gz = new GZIPInputStream(new ByteArrayInputStream(data))) {
                    result = gz.readAllBytes();
                }
            }
            out.writeInt(result.length);
            out.write(result);
        }
        out.flush();
    }
}
"#;

/// Writes the Java filter into a fresh temporary directory; returns the directory.
fn java_filter_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("zk-curator-gzip-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    std::fs::write(dir.join("GzipFilter.java"), JAVA_FILTER).expect("write java source");
    dir
}

#[test]
fn interop_java_both_directions() {
    if !available("java", "-version") {
        return;
    }
    let dir = java_filter_dir();
    let source = dir.join("GzipFilter.java");
    let source = source.to_str().expect("utf-8 temp path");
    let payloads = interop_payloads();

    // Java compresses, we decompress.
    let Some(out) = run("java", &[source, "compress"], &frame(&payloads)) else {
        println!("SKIP: java could not be started");
        return;
    };
    let java_streams = unframe(&out);
    assert_eq!(java_streams.len(), payloads.len());
    for (i, stream) in java_streams.iter().enumerate() {
        let back = decompress(stream).unwrap_or_else(|e| panic!("payload {i}: {e}"));
        assert!(back == payloads[i], "payload {i}");
    }
    // Java's members back to back, as GZIPInputStream would read them.
    let both = [java_streams[2].clone(), java_streams[3].clone()].concat();
    assert_eq!(
        decompress(&both).unwrap(),
        [payloads[2].clone(), payloads[3].clone()].concat()
    );

    // We compress, Java decompresses (including two of our members back to back).
    let mut ours: Vec<Vec<u8>> = payloads.iter().map(|p| compress(p)).collect();
    ours.push([compress(b"first "), compress(b"second")].concat());
    let out = run("java", &[source, "decompress"], &frame(&ours)).expect("java ran before");
    let back = unframe(&out);
    assert_eq!(back.len(), ours.len());
    for (i, data) in payloads.iter().enumerate() {
        assert!(back[i] == *data, "payload {i}");
    }
    assert_eq!(back[payloads.len()], b"first second");
    let _ = std::fs::remove_dir_all(
        std::path::Path::new(source)
            .parent()
            .unwrap_or(".".as_ref()),
    );
}
