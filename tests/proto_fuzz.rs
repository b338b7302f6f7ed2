//! Decoding is total: every decoder of `zk_curator::proto` (every record, `Request::decode`
//! and `Response::decode` for every op code, `FrameReader::read_frame`) answers any input
//! with `Ok` or `Err`, never a panic, and never allocates more than a small multiple of the
//! input, whatever its length fields claim. And so is the TestingServer's request path:
//! header, body, the operation applied to its tree, watches and sessions.
//!
//! Per decoder: every strict prefix of a valid encoding (must be `Err` where every field is
//! mandatory), then [`iterations`] inputs from a seeded PRNG: random bytes, valid encodings
//! with bytes flipped, truncated or extended, and length-sized windows overwritten with
//! hostile values (-2, `i32::MIN`, 2 GiB, ...). Whatever decodes must re-encode to a fixed
//! point. Failures name the decoder and the input; the seed is derived from the decoder's
//! name, so every run is the same.
//!
//! The server's request path gets [`server_inputs`] frames from two sessions: requests
//! generated field by field (paths valid and not, every create flag, versions, ACLs of every
//! scheme, TTLs, multis mixing every op, watches of every mode, SetWatches, auth), the same
//! with bytes mutated, mutated samples and noise; every answer must carry a ZooKeeper error
//! code and no single allocation may exceed a bound.
//!
//! The counts are bounded and scale with the environment: `ZK_FUZZ_ITERATIONS` (per decoder;
//! 100,000 by default, which with about a hundred decoders is millions of inputs) and
//! `ZK_FUZZ_SERVER_INPUTS` (200,000 by default, for CI's time). The documented full run
//! (docs/reliability.md) is `ZK_FUZZ_SERVER_INPUTS=2000000 cargo test --release --test
//! proto_fuzz -- --nocapture`; each test prints the number of inputs it ran (`ZK-FIGURE fuzz`).

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{self, Read};
use std::panic::{catch_unwind, AssertUnwindSafe};

use support::samples::{self, Case};
use zk_curator::proto::raw::{FrameReader, DEFAULT_MAX_FRAME};
use zk_curator::proto::OpCode;

/// Random inputs per decoder (`ZK_FUZZ_ITERATIONS`, default 100,000).
fn iterations() -> usize {
    env_count("ZK_FUZZ_ITERATIONS", 100_000)
}

/// Frames fed to the TestingServer's request path (`ZK_FUZZ_SERVER_INPUTS`, default
/// 200,000).
fn server_inputs() -> usize {
    env_count("ZK_FUZZ_SERVER_INPUTS", 200_000)
}

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Prints how many inputs a test ran, for docs/reliability.md.
fn report(test: &str, inputs: usize) {
    eprintln!("ZK-FIGURE fuzz {test} inputs={inputs}");
}

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
        for _ in 0..iterations() {
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
    for _ in 0..iterations() {
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
    let mut n = 0;
    for c in cases.iter().skip(part).step_by(parts) {
        fuzz(c);
        n += 1;
    }
    report(
        &format!("{} decoders (part {part} of {parts})", n),
        n * (iterations() + 1),
    );
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
    for i in 0..iterations() {
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

// ---------------------------------------------------------------- the server's request path

mod server_path {
    use super::*;
    use zk_curator::proto::*;

    const PATHS: &[&str] = &[
        "/",
        "/a",
        "/a/b",
        "/a/b/c",
        "/b",
        "/b/x",
        "/c",
        "/zookeeper",
        "/zookeeper/config",
        "/zookeeper/quota",
        "/a/",
        "",
        "a",
        "/a//b",
        "/a/./b",
        "/a/../b",
        "/\u{1}",
        "/é",
    ];

    fn pick<T: Clone>(rng: &mut Rng, v: &[T]) -> T {
        v[rng.below(v.len())].clone()
    }

    fn path(rng: &mut Rng) -> String {
        if rng.below(16) == 0 {
            // A fresh name: some growth, and sequential parents.
            format!("{}/n{}", pick(rng, &["/a", "/b", "/c"]), rng.below(50))
        } else {
            pick(rng, PATHS).to_string()
        }
    }

    fn data(rng: &mut Rng) -> Option<Vec<u8>> {
        match rng.below(6) {
            0 => None,
            1 => Some(Vec::new()),
            _ => {
                let mut v = Vec::new();
                let n = rng.below(40);
                rng.fill(&mut v, n);
                Some(v)
            }
        }
    }

    fn acl(rng: &mut Rng) -> Vec<Acl> {
        let ids = [
            Id::new("world", "anyone"),
            Id::new("auth", ""),
            Id::new("digest", "u:ZzRYuC3uDf5eKgq4SSGUVuzSgUY="),
            Id::new("ip", "127.0.0.1"),
            Id::new("ip", "10.0.0.0/8"),
            Id::new("ip", "not an ip"),
            Id::new("super", "x"),
            Id::new("nosuch", "x"),
            Id::new("world", "someone"),
        ];
        (0..rng.below(3))
            .map(|_| Acl::new(Perms(rng.below(40) as i32 - 4), pick(rng, &ids)))
            .collect()
    }

    fn version(rng: &mut Rng) -> i32 {
        pick(rng, &[-2, -1, -1, 0, 0, 1, 2, 3, i32::MAX])
    }

    fn create(rng: &mut Rng) -> CreateRequest {
        CreateRequest {
            path: path(rng),
            data: data(rng),
            acl: acl(rng),
            flags: rng.below(10) as i32 - 1,
        }
    }

    fn create_ttl(rng: &mut Rng) -> CreateTtlRequest {
        let c = create(rng);
        CreateTtlRequest {
            path: c.path,
            data: c.data,
            acl: c.acl,
            flags: c.flags,
            ttl: pick(rng, &[-1, 0, 1, 1000, 1 << 40, (1 << 40) - 1, i64::MAX]),
        }
    }

    fn multi_op(rng: &mut Rng, reads: bool) -> MultiOp {
        match rng.below(if reads { 8 } else { 6 }) {
            0 => MultiOp::Create {
                op: pick(
                    rng,
                    &[OpCode::Create, OpCode::Create2, OpCode::CreateContainer],
                ),
                req: create(rng),
            },
            1 => MultiOp::CreateTtl(create_ttl(rng)),
            2 => MultiOp::Delete(DeleteRequest {
                path: path(rng),
                version: version(rng),
            }),
            3 => MultiOp::SetData(SetDataRequest {
                path: path(rng),
                data: data(rng),
                version: version(rng),
            }),
            4 | 5 => MultiOp::Check(CheckVersionRequest {
                path: path(rng),
                version: version(rng),
            }),
            6 => MultiOp::GetChildren(GetChildrenRequest {
                path: path(rng),
                watch: rng.below(2) == 0,
            }),
            _ => MultiOp::GetData(GetDataRequest {
                path: path(rng),
                watch: rng.below(2) == 0,
            }),
        }
    }

    fn paths(rng: &mut Rng) -> Vec<String> {
        (0..rng.below(4)).map(|_| path(rng)).collect()
    }

    /// One request, generated field by field.
    pub fn request(rng: &mut Rng) -> Request {
        let watch = rng.below(2) == 0;
        match rng.below(30) {
            0..=2 => Request::Create(create(rng)),
            3 => Request::Create2(create(rng)),
            4 => Request::CreateContainer(create(rng)),
            5 => Request::CreateTtl(create_ttl(rng)),
            6 | 7 => Request::Delete(DeleteRequest {
                path: path(rng),
                version: version(rng),
            }),
            8 => Request::Exists(ExistsRequest {
                path: path(rng),
                watch,
            }),
            9 => Request::GetData(GetDataRequest {
                path: path(rng),
                watch,
            }),
            10 | 11 => Request::SetData(SetDataRequest {
                path: path(rng),
                data: data(rng),
                version: version(rng),
            }),
            12 => Request::GetAcl(GetAclRequest { path: path(rng) }),
            13 => Request::SetAcl(SetAclRequest {
                path: path(rng),
                acl: acl(rng),
                version: version(rng),
            }),
            14 => Request::GetChildren(GetChildrenRequest {
                path: path(rng),
                watch,
            }),
            15 => Request::GetChildren2(GetChildrenRequest {
                path: path(rng),
                watch,
            }),
            16 => Request::Check(CheckVersionRequest {
                path: path(rng),
                version: version(rng),
            }),
            17 => Request::Sync(SyncRequest { path: path(rng) }),
            18 | 19 => Request::Multi(MultiRequest {
                ops: (0..rng.below(6)).map(|_| multi_op(rng, false)).collect(),
            }),
            20 => Request::MultiRead(MultiRequest {
                ops: (0..rng.below(5)).map(|_| multi_op(rng, true)).collect(),
            }),
            21 => Request::CheckWatches(CheckWatchesRequest {
                path: path(rng),
                watcher_type: rng.below(7) as i32 - 1,
            }),
            22 => Request::RemoveWatches(RemoveWatchesRequest {
                path: path(rng),
                watcher_type: rng.below(7) as i32 - 1,
            }),
            23 => Request::AddWatch(AddWatchRequest {
                path: path(rng),
                mode: rng.below(4) as i32 - 1,
            }),
            24 => Request::GetEphemerals(GetEphemeralsRequest {
                prefix_path: path(rng),
            }),
            25 => Request::GetAllChildrenNumber(GetAllChildrenNumberRequest { path: path(rng) }),
            26 => Request::Auth(AuthPacket {
                auth_type: 0,
                scheme: pick(rng, &["digest", "ip", "world", "sasl", "nosuch"]).to_string(),
                auth: pick(rng, &[&b"u:p"[..], b"", b"nocolon", b"a:b:c"]).to_vec(),
            }),
            27 => Request::SetWatches(SetWatches {
                relative_zxid: pick(rng, &[-1, 0, 1, 5, 1 << 40]),
                data_watches: paths(rng),
                exist_watches: paths(rng),
                child_watches: paths(rng),
            }),
            28 => Request::SetWatches2(SetWatches2 {
                relative_zxid: pick(rng, &[-1, 0, 1, 5, 1 << 40]),
                data_watches: paths(rng),
                exist_watches: paths(rng),
                child_watches: paths(rng),
                persistent_watches: paths(rng),
                persistent_recursive_watches: paths(rng),
            }),
            _ => pick(rng, &[Request::Ping, Request::WhoAmI]),
        }
    }

    /// `req` as a frame body (header included, no length prefix).
    pub fn frame(rng: &mut Rng, req: &Request) -> Vec<u8> {
        let mut f = Vec::new();
        RequestHeader {
            xid: rng.below(1000) as i32 + 1,
            op: req.op_code().code(),
        }
        .encode(&mut f);
        req.encode(&mut f);
        f
    }

    /// Every code a ZooKeeper server answers with (`KeeperException.Code`).
    pub fn known_code(err: i32) -> bool {
        err == 0 || (-14..=-1).contains(&err) || (-127..=-100).contains(&err)
    }
}

#[test]
fn testing_server_request_path_is_total() {
    use server_path::*;
    let samples: Vec<Vec<u8>> = {
        let mut rng = Rng::seeded("server samples");
        samples::requests()
            .iter()
            .map(|r| frame(&mut rng, r))
            .collect()
    };
    let n = server_inputs();
    let mut rng = Rng::seeded("TestingServer request path");
    let mut target = zk_curator::testing::fuzz::RequestPath::new();
    let mut input = Vec::new();
    let mut answered = std::collections::BTreeMap::<i32, usize>::new();
    let mut closed = 0usize;
    let mut largest_seen = 0usize;
    for i in 0..n {
        if i % 20_000 == 19_999 || target.znodes() > 2_000 {
            target = zk_curator::testing::fuzz::RequestPath::new();
        }
        if i % 997 == 0 {
            target.expire(rng.below(2));
        }
        input.clear();
        match rng.below(20) {
            // Generated field by field: reaches deep into every operation.
            0..=11 => {
                let req = request(&mut rng);
                input = frame(&mut rng, &req);
            }
            // Generated, then bytes mutated.
            12..=15 => {
                let req = request(&mut rng);
                let f = frame(&mut rng, &req);
                mutate(&mut rng, &f, &mut input);
            }
            // A sample of every op code, mutated.
            16..=18 => {
                let s = &samples[rng.below(samples.len())];
                mutate(&mut rng, s, &mut input);
            }
            // A valid header with noise, or noise.
            _ => {
                let op = OpCode::ALL[rng.below(OpCode::ALL.len())].code();
                if rng.below(2) == 0 {
                    input.extend_from_slice(&1i32.to_be_bytes());
                    input.extend_from_slice(&op.to_be_bytes());
                }
                let k = rng.below(64);
                rng.fill(&mut input, k);
            }
        }
        let who = rng.below(2);
        let r = catch_unwind(AssertUnwindSafe(|| {
            largest_allocation(|| target.feed(who, &input))
        }));
        let (answer, largest) = match r {
            Ok(x) => x,
            Err(_) => panic!("the request path panicked on input {i}: {input:02x?}"),
        };
        largest_seen = largest_seen.max(largest);
        assert!(
            largest <= allocation_bound(input.len()) + (1 << 20),
            "input {i}: {largest} bytes allocated for {input:02x?}"
        );
        match answer {
            Some(err) => {
                assert!(
                    known_code(err),
                    "input {i}: error code {err} for {input:02x?}"
                );
                *answered.entry(err).or_default() += 1;
            }
            None => closed += 1,
        }
    }
    report("testing_server_request_path", n);
    eprintln!(
        "ZK-FIGURE fuzz server_path_outcomes ok={} errors={} closed={} distinct_codes={} largest_alloc={}",
        answered.get(&0).copied().unwrap_or(0),
        answered.iter().filter(|(k, _)| **k != 0).map(|(_, v)| v).sum::<usize>(),
        closed,
        answered.len(),
        largest_seen
    );
    // The generator reaches past decoding: most requests get a real answer.
    assert!(
        answered.get(&0).copied().unwrap_or(0) > n / 10,
        "{answered:?}"
    );
    assert!(answered.len() >= 8, "codes seen: {answered:?}");
}
