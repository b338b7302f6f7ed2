//! Decoding is total: every decoder of `zk_curator::proto` (every record, `Request::decode`
//! and `Response::decode` for every op code, `FrameReader::read_frame`) answers any input
//! with `Ok` or `Err`, never a panic, and never allocates more than a small multiple of the
//! input, whatever its length fields claim.
//!
//! Per decoder: every strict prefix of a valid encoding (must be `Err` where every field is
//! mandatory), then [`ITERATIONS`] inputs from a seeded PRNG: random bytes, valid encodings
//! with bytes flipped, truncated or extended, and length-sized windows overwritten with
//! hostile values (-2, `i32::MIN`, 2 GiB, ...). Whatever decodes must re-encode to a fixed
//! point. Failures name the decoder and the input; the seed is derived from the decoder's
//! name, so every run is the same.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{self, Read};
use std::panic::{catch_unwind, AssertUnwindSafe};

use support::samples::{self, Case};
use zk_curator::proto::frame::DEFAULT_MAX_FRAME;
use zk_curator::proto::{FrameReader, OpCode};

/// Random inputs per decoder.
const ITERATIONS: usize = 100_000;

// ---------------------------------------------------------------- allocation tracking

/// Records the largest single allocation each thread makes, so a test can assert that a
/// hostile length field never sizes a buffer. (The one `unsafe` in the test suite: a global
/// allocator has no safe form; it only forwards to `System`.)
struct Tracking;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = LARGEST.try_with(|m| m.set(m.get().max(size)));
}

unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Tracking = Tracking;

/// Runs `f` and returns the largest allocation it made on this thread.
fn largest_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|m| m.set(0));
    let r = f();
    (r, LARGEST.with(Cell::get))
}

/// What decoding `n` input bytes may allocate at most in one piece: a vector of the
/// largest element type counted against its minimum encoded size, doubled by growth.
fn allocation_bound(n: usize) -> usize {
    64 * n + 4096
}

// ---------------------------------------------------------------- inputs

/// splitmix64: tiny, seedable, good enough to spread inputs.
struct Rng(u64);

impl Rng {
    fn seeded(name: &str) -> Rng {
        // FNV-1a of the name: each decoder has its own reproducible stream.
        let h = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
        Rng(h)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    /// Appends `n` random bytes, eight per draw.
    fn fill(&mut self, out: &mut Vec<u8>, n: usize) {
        let mut left = n;
        while left > 0 {
            let k = left.min(8);
            out.extend_from_slice(&self.next().to_le_bytes()[..k]);
            left -= k;
        }
    }
}

/// Values that break length fields and counts.
const HOSTILE: &[i32] = &[
    -1,
    -2,
    i32::MIN,
    i32::MAX,
    0x7fff_fff0,
    0x4000_0000,
    0x0010_0000,
    0xffff,
    68,
    1,
    0,
];

/// One fuzz input shaped after `sample`, written into `out`.
fn mutate(rng: &mut Rng, sample: &[u8], out: &mut Vec<u8>) {
    out.clear();
    match rng.below(8) {
        // Random bytes, mostly short.
        0 | 1 => {
            let n = if rng.below(8) == 0 {
                rng.below(400)
            } else {
                rng.below(40)
            };
            rng.fill(out, n);
        }
        // The sample with a few bytes flipped.
        2 | 3 => {
            out.extend_from_slice(sample);
            for _ in 0..=rng.below(4) {
                if !out.is_empty() {
                    let i = rng.below(out.len());
                    out[i] ^= 1 << rng.below(8);
                }
            }
        }
        // A hostile int written over any 4 bytes of the sample (length fields included).
        4 | 5 => {
            let x = HOSTILE[rng.below(HOSTILE.len())].to_be_bytes();
            out.extend_from_slice(sample);
            if out.len() >= 4 {
                let i = rng.below(out.len() - 3);
                out[i..i + 4].copy_from_slice(&x);
            } else {
                *out = x.to_vec();
            }
        }
        // Truncated, then maybe followed by noise.
        6 => {
            out.extend_from_slice(&sample[..rng.below(sample.len() + 1)]);
            let tail = rng.below(8);
            rng.fill(out, tail);
        }
        // A run of hostile ints: a record made only of length fields.
        _ => {
            for _ in 0..rng.below(12) {
                out.extend_from_slice(&HOSTILE[rng.below(HOSTILE.len())].to_be_bytes());
            }
        }
    }
}

// ---------------------------------------------------------------- properties

fn fuzz(case: &Case) {
    let name = &case.name;
    let decode_as = |input: &[u8], reencode: bool| {
        let r = catch_unwind(AssertUnwindSafe(|| {
            largest_allocation(|| (case.decode)(input, reencode))
        }));
        match r {
            Ok((res, largest)) => {
                assert!(
                    largest <= allocation_bound(input.len()),
                    "{name}: {largest} bytes allocated for a {}-byte input {input:02x?}",
                    input.len()
                );
                res
            }
            Err(_) => panic!("{name} panicked on {input:02x?}"),
        }
    };
    let decode = |input: &[u8]| decode_as(input, true);

    if !case.has_sample {
        // An op code a client never sends: nothing decodes.
        let mut rng = Rng::seeded(name);
        let mut input = Vec::new();
        for _ in 0..ITERATIONS {
            mutate(&mut rng, &[], &mut input);
            assert!(decode(&input).is_err(), "{name} decoded {input:02x?}");
        }
        return;
    }
    // The sample itself decodes whole, to the same bytes.
    match decode(&case.bytes) {
        Ok((re, used)) => {
            assert_eq!(used, case.bytes.len(), "{name}: sample not fully read");
            assert_eq!(
                re, case.bytes,
                "{name}: sample does not re-encode to itself"
            );
        }
        Err(e) => panic!("{name}: sample does not decode: {e}"),
    }
    // Every strict prefix fails (or, for optional tails and ignored bodies, at least
    // does not panic).
    for n in 0..case.bytes.len() {
        let r = decode(&case.bytes[..n]);
        if case.prefixes_fail {
            assert!(r.is_err(), "{name}: {n}-byte prefix decoded: {r:?}");
        }
    }
    // Random and mutated inputs.
    let mut rng = Rng::seeded(name);
    let mut input = Vec::new();
    let mut decoded = 0u32;
    for _ in 0..ITERATIONS {
        mutate(&mut rng, &case.bytes, &mut input);
        if let Ok((_, used)) = decode_as(&input, false) {
            assert!(used <= input.len(), "{name}: read past the input");
            decoded += 1;
            if decoded % 8 != 1 {
                continue;
            }
            // Whatever decodes re-encodes to a fixed point (checked on every 8th success
            // to keep the file fast in a debug build).
            let (re, _) = decode(&input).expect("decodes again");
            match decode(&re) {
                Ok((re2, used2)) => {
                    assert_eq!(
                        (re2.as_slice(), used2),
                        (re.as_slice(), re.len()),
                        "{name}: {input:02x?}"
                    )
                }
                Err(e) => panic!("{name}: re-encoding of {input:02x?} does not decode: {e}"),
            }
        }
    }
}

/// Fuzzes every `parts`-th case starting at `part` (the cases are spread over several tests
/// so that both cores of a small CI machine work).
fn fuzz_share(cases: Vec<Case>, part: usize, parts: usize) {
    for c in cases.iter().skip(part).step_by(parts) {
        fuzz(c);
    }
}

#[test]
fn every_record_decoder_is_total() {
    let cases = samples::records();
    assert!(cases.len() >= 48, "{} records", cases.len());
    fuzz_share(cases, 0, 3);
}

#[test]
fn every_record_decoder_is_total_2() {
    fuzz_share(samples::records(), 1, 3);
}

#[test]
fn every_record_decoder_is_total_3() {
    fuzz_share(samples::records(), 2, 3);
}

fn request_cases() -> Vec<Case> {
    OpCode::ALL
        .iter()
        .map(|&op| samples::request_case(op))
        .collect()
}

fn response_cases() -> Vec<Case> {
    OpCode::ALL
        .iter()
        .map(|&op| samples::response_case(op))
        .collect()
}

#[test]
fn request_decode_is_total_for_every_op_code() {
    fuzz_share(request_cases(), 0, 2);
}

#[test]
fn request_decode_is_total_for_every_op_code_2() {
    fuzz_share(request_cases(), 1, 2);
}

#[test]
fn response_decode_is_total_for_every_op_code() {
    fuzz_share(response_cases(), 0, 2);
}

#[test]
fn response_decode_is_total_for_every_op_code_2() {
    fuzz_share(response_cases(), 1, 2);
}

#[test]
fn hostile_lengths_fail_fast_without_allocating() {
    // A 4-byte input claiming a 2 GiB buffer, string or vector: Err, tiny allocations.
    let claim = 0x7fff_fff0i32.to_be_bytes();
    for case in samples::records() {
        let ((), largest) = largest_allocation(|| {
            for n in 0..=case.bytes.len().min(64) {
                let mut input = case.bytes[..n].to_vec();
                input.extend_from_slice(&claim);
                let _ = (case.decode)(&input, false);
            }
        });
        assert!(
            largest < 64 * 1024,
            "{}: {largest} bytes allocated",
            case.name
        );
    }
    let mut src: &[u8] = &claim;
    let (r, largest) = largest_allocation(|| {
        FrameReader::new(DEFAULT_MAX_FRAME)
            .read_frame(&mut src)
            .map(<[u8]>::len)
    });
    assert_eq!(r.unwrap_err().kind(), io::ErrorKind::InvalidData);
    assert!(largest <= 64 * 1024, "{largest}");
}

// ---------------------------------------------------------------- frames

/// Hands out a byte string in random chunks, with timeouts in between.
struct Chunky<'a> {
    data: &'a [u8],
    rng: &'a mut Rng,
}

impl Read for Chunky<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.rng.below(4) == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = (1 + self.rng.below(64)).min(out.len()).min(self.data.len());
        out[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// What a correct frame reader returns for `data`: its frames, then the kind of error.
fn reference_frames(data: &[u8], max: usize) -> (Vec<&[u8]>, io::ErrorKind) {
    let mut frames = Vec::new();
    let mut rest = data;
    loop {
        if rest.len() < 4 {
            return (frames, io::ErrorKind::UnexpectedEof);
        }
        let len = i32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
        if len < 0 || len as usize > max {
            return (frames, io::ErrorKind::InvalidData);
        }
        if rest.len() < 4 + len as usize {
            return (frames, io::ErrorKind::UnexpectedEof);
        }
        frames.push(&rest[4..4 + len as usize]);
        rest = &rest[4 + len as usize..];
    }
}

/// A stream of frames, some with hostile or random length fields, maybe cut short.
fn frame_stream(rng: &mut Rng, max: usize) -> Vec<u8> {
    let mut v = Vec::new();
    for _ in 0..rng.below(6) {
        let len = match rng.below(8) {
            0 => HOSTILE[rng.below(HOSTILE.len())],
            1 => rng.next() as i32,
            2 => max as i32 + rng.below(3) as i32 - 1,
            _ => rng.below(200) as i32,
        };
        v.extend_from_slice(&len.to_be_bytes());
        let body = usize::try_from(len).unwrap_or(0).min(300);
        rng.fill(&mut v, body);
    }
    let keep = v.len() - rng.below(6).min(v.len());
    v.truncate(keep);
    v
}

#[test]
fn frame_reader_is_total_and_matches_a_reference() {
    let mut rng = Rng::seeded("FrameReader::read_frame");
    let max = 256;
    let mut reader = FrameReader::new(max);
    for i in 0..ITERATIONS {
        let data = frame_stream(&mut rng, max);
        let (want, want_err) = reference_frames(&data, max);
        if i % 64 == 0 {
            reader = FrameReader::new(max);
        } else {
            reader.reset();
        }
        let mut seed = Rng(rng.next());
        let mut src = Chunky {
            data: &data,
            rng: &mut seed,
        };
        let mut got = Vec::new();
        let (err, largest) = largest_allocation(|| loop {
            match reader.read_frame(&mut src) {
                Ok(f) => got.push(f.to_vec()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => break e.kind(),
            }
        });
        assert_eq!(
            (got.iter().map(Vec::as_slice).collect::<Vec<_>>(), err),
            (want, want_err),
            "{data:02x?}"
        );
        assert!(
            largest <= 64 * 1024,
            "{largest} bytes allocated for {data:02x?}"
        );
    }
}
