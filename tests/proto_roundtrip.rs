//! By-value round trips of every wire record, every `Request` and every `Response` variant,
//! and golden byte layouts checked against `shared/docs/protocol.md` (section numbers in the
//! test names' comments).

mod support;

use std::collections::{BTreeSet, HashSet};

use support::samples::{self, EMPTY_REPLY_OPS, NOT_CLIENT_OPS};
use zk_curator::proto::raw::{encode_record_frame, encode_reply, encode_request};
use zk_curator::proto::*;

#[test]
fn every_record_round_trips_by_value() {
    for case in samples::records() {
        if let Err(e) = (case.round_trip)() {
            panic!("{}: {e}", case.name);
        }
    }
}

/// The record types declared in `src/proto`: every `record! { [secret(..)] Name (min) {`
/// block and every hand-written `impl Record for Name`.
fn declared_records() -> BTreeSet<String> {
    let sources = [
        include_str!("../src/proto/header.rs"),
        include_str!("../src/proto/data.rs"),
        include_str!("../src/proto/ops.rs"),
        include_str!("../src/proto/multi.rs"),
        include_str!("../src/proto/message.rs"),
    ];
    let mut names = BTreeSet::new();
    for src in sources {
        let mut in_record = false;
        for line in src.lines().map(str::trim) {
            if line.starts_with("record! {") {
                in_record = true;
            } else if in_record && !line.starts_with("///") && !line.starts_with("#[") {
                if let Some((name, _)) = line.split_once(" (") {
                    // `secret(field) Name (min) {` marks fields that Debug redacts.
                    let name = name.rsplit(' ').next().unwrap_or(name);
                    names.insert(name.to_string());
                }
                in_record = false;
            } else if let Some(rest) = line.strip_prefix("impl Record for ") {
                names.insert(rest.trim_end_matches(" {").to_string());
            }
        }
    }
    names
}

#[test]
fn every_declared_record_has_a_sample() {
    let declared = declared_records();
    assert!(declared.len() >= 48, "{declared:?}");
    let sampled: BTreeSet<String> = samples::records().into_iter().map(|c| c.name).collect();
    let missing: Vec<_> = declared.difference(&sampled).collect();
    assert!(missing.is_empty(), "records without a sample: {missing:?}");
}

#[test]
fn every_request_variant_round_trips_in_a_frame() {
    let mut ops = HashSet::new();
    for req in samples::requests() {
        let mut buf = Vec::new();
        let len = encode_request(&mut buf, 42, &req);
        assert_eq!(buf.len(), len + 4);
        assert_eq!(&buf[..4], &(len as i32).to_be_bytes());
        let mut r = Reader::new(&buf[4..]);
        let h = RequestHeader::decode(&mut r).unwrap();
        assert_eq!((h.xid, h.op), (42, req.op_code().code()));
        let back = Request::decode(h.op_code().unwrap(), &mut r).unwrap();
        assert_eq!(back, req);
        assert!(r.is_empty(), "{:?}: trailing bytes", req.op_code());
        assert!(
            ops.insert(req.op_code()),
            "{:?} sampled twice",
            req.op_code()
        );
    }
    // One sample per op code a client sends, and every Request variant has its own op code.
    for op in OpCode::ALL {
        assert!(
            ops.contains(op) != NOT_CLIENT_OPS.contains(op),
            "{op:?}: sampled = {}",
            ops.contains(op)
        );
    }
    for op in NOT_CLIENT_OPS {
        assert!(Request::decode(*op, &mut Reader::new(&[])).is_err());
        assert!(Response::decode(*op, &mut Reader::new(&[])).is_err());
    }
}

/// Names every `Response` variant; the exhaustive match breaks the build when one is added.
fn variant(r: &Response) -> &'static str {
    match r {
        Response::Empty => "Empty",
        Response::Create(_) => "Create",
        Response::Create2(_) => "Create2",
        Response::Exists(_) => "Exists",
        Response::GetData(_) => "GetData",
        Response::SetData(_) => "SetData",
        Response::GetAcl(_) => "GetAcl",
        Response::SetAcl(_) => "SetAcl",
        Response::GetChildren(_) => "GetChildren",
        Response::GetChildren2(_) => "GetChildren2",
        Response::Sync(_) => "Sync",
        Response::Multi(_) => "Multi",
        Response::Reconfig(_) => "Reconfig",
        Response::GetEphemerals(_) => "GetEphemerals",
        Response::GetAllChildrenNumber(_) => "GetAllChildrenNumber",
        Response::AddWatch(_) => "AddWatch",
        Response::WhoAmI(_) => "WhoAmI",
        Response::Sasl(_) => "Sasl",
    }
}

#[test]
fn every_response_variant_round_trips_in_a_frame() {
    let mut variants = BTreeSet::new();
    let mut ops = HashSet::new();
    for (op, resp) in samples::responses() {
        let header = ReplyHeader {
            xid: 9,
            zxid: 0x1_0000_0002,
            err: 0,
        };
        let mut buf = Vec::new();
        encode_reply(&mut buf, &header, Some(&resp));
        let mut r = Reader::new(&buf[4..]);
        assert_eq!(ReplyHeader::decode(&mut r).unwrap(), header);
        assert_eq!(Response::decode(op, &mut r).unwrap(), resp, "{op:?}");
        assert!(r.is_empty(), "{op:?}: trailing bytes");
        variants.insert(variant(&resp));
        ops.insert(op);
    }
    assert_eq!(variants.len(), 18, "{variants:?}");
    // Every op code with a reply is covered, the ones without a body decode as Empty.
    assert_eq!(ops.len() + NOT_CLIENT_OPS.len(), OpCode::ALL.len());
    for op in EMPTY_REPLY_OPS {
        let junk = [1, 2, 3];
        let mut r = Reader::new(&junk);
        assert_eq!(Response::decode(*op, &mut r).unwrap(), Response::Empty);
    }
}

fn be32(v: i32) -> [u8; 4] {
    v.to_be_bytes()
}

/// §2: a new session's ConnectRequest is 45 bytes plus the length prefix.
#[test]
fn golden_connect_request_frame() {
    let req = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0x0102,
        timeout: 30_000,
        session_id: 0,
        passwd: vec![0; 16],
        read_only: Some(true),
    };
    let mut buf = Vec::new();
    assert_eq!(encode_record_frame(&mut buf, &req), 45);
    let mut want = be32(45).to_vec();
    want.extend(be32(0));
    want.extend(0x0102i64.to_be_bytes());
    want.extend(be32(30_000));
    want.extend(0i64.to_be_bytes());
    want.extend(be32(16));
    want.extend([0; 16]);
    want.push(1);
    assert_eq!(buf, want);
    assert_eq!(buf.len(), 49);
}

/// §2: the ConnectResponse is 37 bytes with the read-only flag, 36 without.
#[test]
fn golden_connect_response() {
    let mut b = be32(0).to_vec();
    b.extend(be32(4000));
    b.extend(0x0100_0000_0000_0001i64.to_be_bytes());
    b.extend(be32(16));
    b.extend([7; 16]);
    assert_eq!(b.len(), 36);
    let short = ConnectResponse::decode_exact(&b).unwrap();
    assert_eq!(
        (short.timeout, short.session_id, short.read_only),
        (4000, 0x0100_0000_0000_0001, None)
    );
    b.push(1);
    let long = ConnectResponse::decode_exact(&b).unwrap();
    assert_eq!(long.read_only, Some(true));
    assert_eq!(long.to_bytes(), b);
}

/// §3: headers, the ping frame (xid -2, op 11) and the auth frame (xid -4, op 100).
#[test]
fn golden_headers_ping_and_auth() {
    let h = ReplyHeader {
        xid: -1,
        zxid: -1,
        err: 0,
    };
    assert_eq!(
        h.to_bytes(),
        [[0xff; 4].as_slice(), &[0xff; 8], &[0; 4]].concat()
    );
    let mut buf = Vec::new();
    encode_request(&mut buf, xid::PING, &Request::Ping);
    assert_eq!(buf, [0, 0, 0, 8, 0xff, 0xff, 0xff, 0xfe, 0, 0, 0, 11]);

    buf.clear();
    let auth = AuthPacket {
        auth_type: 0,
        scheme: "digest".into(),
        auth: b"u:p".to_vec(),
    };
    encode_request(&mut buf, xid::AUTH, &Request::Auth(auth));
    let mut want = be32(8 + 4 + 4 + 6 + 4 + 3).to_vec();
    want.extend(be32(-4));
    want.extend(be32(100));
    want.extend(be32(0));
    want.extend(be32(6));
    want.extend(b"digest");
    want.extend(be32(3));
    want.extend(b"u:p");
    assert_eq!(buf, want);
}

/// §4.2 and §1: a create with null data (length -1), one ACL and flags.
#[test]
fn golden_create_request_with_null_data() {
    let req = CreateRequest {
        path: "/a".into(),
        data: None,
        acl: Acl::open_unsafe(),
        flags: CreateMode::EphemeralSequential.code(),
    };
    let mut want = be32(2).to_vec();
    want.extend(b"/a");
    want.extend(be32(-1));
    want.extend(be32(1));
    want.extend(be32(31));
    want.extend(be32(5));
    want.extend(b"world");
    want.extend(be32(6));
    want.extend(b"anyone");
    want.extend(be32(3));
    assert_eq!(req.to_bytes(), want);
    let ttl = CreateTtlRequest {
        path: "/a".into(),
        data: None,
        acl: Acl::open_unsafe(),
        flags: 3,
        ttl: 0xFF_FFFF_FFFF,
    };
    assert_eq!(
        ttl.to_bytes(),
        [want.as_slice(), &0xFF_FFFF_FFFFi64.to_be_bytes()].concat()
    );
}

/// §5: Stat is 68 bytes in declaration order.
#[test]
fn golden_stat() {
    let b = samples::stat().to_bytes();
    assert_eq!(b.len(), 68);
    assert_eq!(&b[32..36], &be32(3), "version");
    assert_eq!(&b[40..44], &be32(5), "aversion");
    assert_eq!(
        &b[44..52],
        &0x0100_0000_0000_0006i64.to_be_bytes(),
        "ephemeralOwner"
    );
    assert_eq!(&b[56..60], &be32(8), "numChildren");
}

/// §7: multi ops carry `{type, false, -1}` headers and end with `{-1, true, -1}`; a failed
/// result is `{-1, false, err}` followed by the same err.
#[test]
fn golden_multi_layout() {
    let m = MultiRequest {
        ops: vec![MultiOp::Delete(DeleteRequest {
            path: "/x".into(),
            version: 2,
        })],
    };
    let mut want = be32(2).to_vec();
    want.push(0);
    want.extend(be32(-1));
    want.extend(be32(2));
    want.extend(b"/x");
    want.extend(be32(2));
    want.extend([0xff, 0xff, 0xff, 0xff, 1, 0xff, 0xff, 0xff, 0xff]);
    assert_eq!(m.to_bytes(), want);

    let r = MultiResponse {
        results: vec![MultiResult::Error(-101), MultiResult::Check],
    };
    let mut want = be32(-1).to_vec();
    want.push(0);
    want.extend(be32(-101));
    want.extend(be32(-101));
    want.extend(be32(13));
    want.push(0);
    want.extend(be32(0));
    want.extend([0xff, 0xff, 0xff, 0xff, 1, 0xff, 0xff, 0xff, 0xff]);
    assert_eq!(r.to_bytes(), want);
}

/// §8 and §9: a notification frame, the addWatch reply body, SetWatches2 field order.
#[test]
fn golden_watch_records() {
    let ev = WatcherEvent {
        event_type: 1,
        state: 3,
        path: "/w".into(),
    };
    let mut payload = ReplyHeader {
        xid: -1,
        zxid: -1,
        err: 0,
    }
    .to_bytes();
    ev.encode(&mut payload);
    assert_eq!(&payload[..4], &be32(-1));
    assert_eq!(
        &payload[16..],
        [0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0, 2, b'/', b'w']
    );
    let mut r = Reader::new(&payload);
    assert_eq!(ReplyHeader::decode(&mut r).unwrap().xid, xid::NOTIFICATION);
    assert_eq!(WatcherEvent::decode_exact(r.rest()).unwrap(), ev);

    assert_eq!(ErrorResponse { err: 0 }.to_bytes(), [0, 0, 0, 0]);

    let sw = SetWatches2 {
        relative_zxid: 7,
        data_watches: vec!["/d".into()],
        exist_watches: vec![],
        child_watches: vec![],
        persistent_watches: vec![],
        persistent_recursive_watches: vec!["/r".into()],
    };
    let mut want = 7i64.to_be_bytes().to_vec();
    want.extend(be32(1));
    want.extend(be32(2));
    want.extend(b"/d");
    for _ in 0..3 {
        want.extend(be32(0));
    }
    want.extend(be32(1));
    want.extend(be32(2));
    want.extend(b"/r");
    assert_eq!(sw.to_bytes(), want);
}

/// `docs/protocol-coverage.md` links only to tests that exist and lists every op code and
/// every record.
#[test]
fn coverage_doc_points_at_existing_tests() {
    let doc = include_str!("../docs/protocol-coverage.md");
    let sources = [
        ("proto_real", include_str!("proto_real.rs")),
        ("proto_real_session", include_str!("proto_real_session.rs")),
        ("proto_real_watches", include_str!("proto_real_watches.rs")),
        ("proto_roundtrip", include_str!("proto_roundtrip.rs")),
        ("proto_fuzz", include_str!("proto_fuzz.rs")),
    ];
    let mut links = 0;
    for part in doc.split('[').skip(1) {
        let Some((text, rest)) = part.split_once("](") else {
            continue;
        };
        let Some((file, test)) = text.split_once("::") else {
            continue;
        };
        let target = rest.split(')').next().unwrap_or_default();
        assert_eq!(
            target,
            format!("../tests/{file}.rs"),
            "link text and target differ"
        );
        let (_, src) = sources
            .iter()
            .find(|(name, _)| *name == file)
            .unwrap_or_else(|| panic!("unknown test file {file}"));
        let decl = format!("#[test]\nfn {test}()");
        assert!(src.contains(&decl), "{file}.rs has no test fn {test}");
        links += 1;
    }
    assert!(links > 100, "{links} links");
    for op in OpCode::ALL {
        let cell = format!("| {} |", op.code());
        assert!(doc.contains(&cell), "{op:?} ({}) not listed", op.code());
    }
    for case in samples::records() {
        let cell = format!("\n| {} ", case.name);
        assert!(doc.contains(&cell), "record {} not listed", case.name);
    }
}
