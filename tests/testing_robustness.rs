//! Hostile input costs a client only its own connection; four-letter words.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use support::raw::{four_letter, RawConn};
use zk_curator::proto::*;
use zk_curator::testing::TestingServer;

fn is_closed(mut s: &TcpStream) -> bool {
    let _ = s.set_read_timeout(Some(Duration::from_secs(3)));
    let mut buf = [0u8; 256];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) => {
                return !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                )
            }
        }
    }
}

#[test]
fn garbage_truncated_oversized_and_unknown_frames() {
    let server = TestingServer::start().unwrap();
    let addr = server.connect_string();
    let mut healthy = RawConn::try_connect(&addr, 10_000).unwrap();
    // Oversized length as the first frame.
    let mut s = TcpStream::connect(&addr).unwrap();
    s.write_all(&(0x0010_0000i32).to_be_bytes()).unwrap();
    assert!(is_closed(&s));
    // Negative length.
    let mut s = TcpStream::connect(&addr).unwrap();
    s.write_all(&(-7i32).to_be_bytes()).unwrap();
    assert!(is_closed(&s));
    // A garbage ConnectRequest.
    let mut s = TcpStream::connect(&addr).unwrap();
    s.write_all(&[0, 0, 0, 3, 1, 2, 3]).unwrap();
    assert!(is_closed(&s));
    // Truncated frame then EOF.
    let mut s = TcpStream::connect(&addr).unwrap();
    s.write_all(&[0, 0, 0, 40, 1, 2]).unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    assert!(is_closed(&s));
    // After the handshake: an oversized request.
    let mut c = RawConn::try_connect(&addr, 10_000).unwrap();
    c.send_bytes(&(2_000_000i32).to_be_bytes()).unwrap();
    assert!(c.closed_within(Duration::from_secs(3)));
    // A header too short.
    let mut c = RawConn::try_connect(&addr, 10_000).unwrap();
    c.send_bytes(&[0, 0, 0, 2, 0, 1]).unwrap();
    assert!(c.closed_within(Duration::from_secs(3)));
    // An unknown op code: err -6 with zxid -1, then close; the session survives.
    let mut c = RawConn::try_connect(&addr, 10_000).unwrap();
    c.send_bytes(&[0, 0, 0, 8, 0, 0, 0, 7, 0, 0, 0, 99])
        .unwrap();
    let (h, _) = c.read_reply().unwrap();
    assert_eq!((h.xid, h.zxid, h.err), (7, -1, -6));
    assert!(c.closed_within(Duration::from_secs(3)));
    assert!(server.session_ids().contains(&c.session.session_id));
    // A malformed body of a known op: MarshallingError, connection kept.
    let mut c = RawConn::try_connect(&addr, 10_000).unwrap();
    c.send_bytes(&[0, 0, 0, 12, 0, 0, 0, 1, 0, 0, 0, 4, 0xff, 0xff, 0xff, 0xf0])
        .unwrap();
    let (h, _) = c.read_reply().unwrap();
    assert_eq!(h.err, -5);
    assert!(c.call(Request::Ping).is_ok());
    // Everybody else is fine.
    assert!(healthy.call(Request::Ping).is_ok());
}

#[test]
fn many_connections_come_and_go() {
    let server = TestingServer::start().unwrap();
    let addr = server.connect_string();
    for _ in 0..200 {
        let mut c = RawConn::try_connect(&addr, 10_000).unwrap();
        c.call(Request::CloseSession).unwrap();
    }
    assert!(server.session_ids().is_empty());
}

#[test]
fn four_letter_words() {
    let server = TestingServer::start().unwrap();
    let addr = server.connect_string();
    let mut c = RawConn::try_connect(&addr, 10_000).unwrap();
    c.create("/w", b"", 0).unwrap();
    c.get("/w", true).unwrap();
    assert_eq!(four_letter(&addr, "ruok").unwrap(), "imok");
    assert_eq!(four_letter(&addr, "isro").unwrap(), "rw");
    let srvr = four_letter(&addr, "srvr").unwrap();
    assert!(srvr.starts_with("Zookeeper version: 3.8.0"), "{srvr}");
    assert!(srvr.contains("Mode: standalone"));
    assert!(srvr.contains("Zxid: 0x2\n"), "{srvr}");
    assert!(srvr.contains("Node count: 6\n"));
    let stat = four_letter(&addr, "stat").unwrap();
    assert!(stat.contains("Clients:\n /127.0.0.1:"));
    let mntr = four_letter(&addr, "mntr").unwrap();
    assert!(mntr.contains("zk_server_state\tstandalone\n"));
    assert!(mntr.contains("zk_znode_count\t6\n"));
    assert!(mntr.contains("zk_watch_count\t1\n"));
    assert!(four_letter(&addr, "cons").unwrap().contains("sid=0x"));
    assert_eq!(
        four_letter(&addr, "wchs").unwrap(),
        "1 connections watching 1 paths\nTotal watches:1\n"
    );
    assert!(four_letter(&addr, "wchc").unwrap().contains("\t/w\n"));
    assert!(four_letter(&addr, "dump")
        .unwrap()
        .contains("Global Sessions(1)"));
}

#[test]
fn sasl_and_crashing_requests() {
    let server = TestingServer::start().unwrap();
    let addr = server.connect_string();
    let mut c = RawConn::try_connect(&addr, 10_000).unwrap();
    // SASL without a SASL server: OK with a null token.
    c.send(&Request::Sasl(GetSaslRequest { token: vec![1] }))
        .unwrap();
    let (h, body) = c.read_reply().unwrap();
    assert_eq!((h.zxid, h.err), (0, 0));
    assert_eq!(body, vec![0xff, 0xff, 0xff, 0xff]);
    // createTTL with a non-TTL mode and a negative TTL crashes a real 3.8.0 server; here the
    // connection drops and nothing changes.
    let zxid = server.zxid();
    c.send(&Request::CreateTtl(CreateTtlRequest {
        path: "/boom".into(),
        data: None,
        acl: Acl::open_unsafe(),
        flags: 0,
        ttl: -1,
    }))
    .unwrap();
    assert!(c.closed_within(Duration::from_secs(2)));
    assert_eq!(server.zxid(), zxid);
    assert!(!server.dump().contains("boom"));
}

/// Seeded random frames (every op code, mutated valid bodies, random bytes) never panic a
/// server thread, and a well-behaved client is unaffected.
#[test]
fn random_frames_never_panic_the_server() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static PANICS: AtomicUsize = AtomicUsize::new(0);
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current()
            .name()
            .is_some_and(|n| n.starts_with("zk-test"))
        {
            PANICS.fetch_add(1, Ordering::SeqCst);
        }
        prev(info)
    }));
    let mut seed: u64 = 0xF00D;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let server = TestingServer::start().unwrap();
    let addr = server.connect_string();
    let mut healthy = RawConn::try_connect(&addr, 10_000).unwrap();
    healthy.create("/f", b"", 0).unwrap();
    let samples: Vec<Request> = vec![
        Request::Create(CreateRequest {
            path: "/f/a".into(),
            data: Some(b"x".to_vec()),
            acl: Acl::open_unsafe(),
            flags: 0,
        }),
        Request::Multi(MultiRequest {
            ops: vec![MultiOp::Check(CheckVersionRequest {
                path: "/f".into(),
                version: 0,
            })],
        }),
        Request::SetWatches2(SetWatches2 {
            relative_zxid: 0,
            data_watches: vec!["/f".into()],
            ..Default::default()
        }),
        Request::SetAcl(SetAclRequest {
            path: "/f".into(),
            acl: Acl::open_unsafe(),
            version: -1,
        }),
    ];
    let ops: Vec<i32> = OpCode::ALL
        .iter()
        .map(|o| o.code())
        .chain([10, 23, 999, -99])
        .collect();
    for round in 0..300 {
        let mut c = match RawConn::try_connect(&addr, 10_000) {
            Ok(c) => c,
            Err(e) => panic!("round {round}: {e}"),
        };
        for _ in 0..4 {
            let op = ops[(rnd() % ops.len() as u64) as usize];
            let mut body = Vec::new();
            match rnd() % 3 {
                0 => {
                    let req = &samples[(rnd() % samples.len() as u64) as usize];
                    req.encode(&mut body);
                    for _ in 0..(1 + rnd() % 4) {
                        if !body.is_empty() {
                            let i = (rnd() % body.len() as u64) as usize;
                            body[i] = rnd() as u8;
                        }
                    }
                    body.truncate((rnd() % (body.len() as u64 + 1)) as usize);
                }
                1 => body.extend((0..rnd() % 64).map(|_| rnd() as u8)),
                _ => {}
            }
            let mut frame = Vec::new();
            frame.extend_from_slice(&((8 + body.len()) as i32).to_be_bytes());
            frame.extend_from_slice(&1i32.to_be_bytes());
            frame.extend_from_slice(&op.to_be_bytes());
            frame.extend_from_slice(&body);
            if c.send_bytes(&frame).is_err() {
                break;
            }
        }
        let _ = c.closed_within(Duration::from_millis(5));
    }
    assert!(healthy.call(Request::Ping).is_ok());
    assert_eq!(
        healthy.stat("/f").unwrap().map(|s| s.num_children >= 0),
        Some(true)
    );
    drop(server);
    assert_eq!(PANICS.load(Ordering::SeqCst), 0, "a server thread panicked");
}
