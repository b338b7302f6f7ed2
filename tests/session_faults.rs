//! A server that misbehaves on purpose: garbage, truncated frames, unknown xids, absurd
//! lengths, silence. The client must drop the connection, fail what was in flight with
//! `ConnectionLoss`, reconnect to the same session and carry on; nothing may panic.
//!
//! The misbehaving peer is scripted here with `zk_curator::proto` (no real server can be
//! made to send garbage), so these tests need neither Java nor the test server.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use zk_curator::proto::raw::{encode_record_frame, encode_reply, FrameReader};
use zk_curator::proto::*;
use zk_curator::{Error, KeeperState, States, WatchedEvent, ZooKeeper};

/// What the scripted server does with the first request of a given connection.
#[derive(Clone, Copy, Debug)]
enum Misbehave {
    Garbage,
    Truncate,
    WrongXid,
    HugeLength,
    NegativeLength,
    Silence,
    CloseMidFrame,
    /// A reply body that does not decode for the op.
    BadBody,
}

/// Serves every connection normally, except that connection number `bad_conn` (0-based)
/// misbehaves on its first non-ping request.
struct Fake {
    port: u16,
    conns: Arc<AtomicUsize>,
}

const SESSION: i64 = 0x5e55;

impl Fake {
    fn start(bad_conn: usize, how: Misbehave) -> Fake {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let conns = Arc::new(AtomicUsize::new(0));
        let c = conns.clone();
        thread::spawn(move || {
            for s in l.incoming() {
                let Ok(s) = s else { return };
                let n = c.fetch_add(1, Ordering::SeqCst);
                let bad = (n == bad_conn).then_some(how);
                thread::spawn(move || serve(s, bad));
            }
        });
        Fake { port, conns }
    }

    fn connect_string(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

fn serve(mut s: TcpStream, mut bad: Option<Misbehave>) {
    let mut r = FrameReader::new(1 << 20);
    let Ok(f) = r.read_frame(&mut s) else { return };
    let Ok(req) = ConnectRequest::decode(&mut Reader::new(f)) else {
        return;
    };
    let mut out = Vec::new();
    encode_record_frame(
        &mut out,
        &ConnectResponse {
            protocol_version: 0,
            timeout: req.timeout.min(3000),
            session_id: SESSION,
            passwd: vec![1; 16],
            read_only: req.read_only.map(|_| false),
        },
    );
    if s.write_all(&out).is_err() {
        return;
    }
    let mut zxid = 10;
    loop {
        let Ok(f) = r.read_frame(&mut s) else { return };
        let mut rd = Reader::new(f);
        let Ok(h) = RequestHeader::decode(&mut rd) else {
            return;
        };
        let Ok(op) = h.op_code() else { return };
        if std::env::var("FAKE_DEBUG").is_ok() {
            eprintln!("fake got {op:?} xid {}", h.xid);
        }
        if op == OpCode::Ping {
            out.clear();
            encode_reply(
                &mut out,
                &ReplyHeader {
                    xid: -2,
                    zxid,
                    err: 0,
                },
                None,
            );
            if bad.is_some_and(|b| matches!(b, Misbehave::Silence)) {
                continue;
            }
            if s.write_all(&out).is_err() {
                return;
            }
            continue;
        }
        if let Some(how) = bad.take() {
            let junk: Vec<u8> = match how {
                Misbehave::Garbage => vec![0, 0, 0, 12, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3],
                Misbehave::Truncate => {
                    let mut v = 100i32.to_be_bytes().to_vec();
                    v.extend_from_slice(&[0; 10]);
                    let _ = s.write_all(&v);
                    let _ = s.shutdown(std::net::Shutdown::Both);
                    return;
                }
                Misbehave::WrongXid => {
                    out.clear();
                    encode_reply(
                        &mut out,
                        &ReplyHeader {
                            xid: h.xid + 1000,
                            zxid,
                            err: 0,
                        },
                        Some(&Response::Exists(ExistsResponse {
                            stat: Stat::default(),
                        })),
                    );
                    out.clone()
                }
                Misbehave::HugeLength => 0x7fff_fff0i32.to_be_bytes().to_vec(),
                Misbehave::NegativeLength => (-7i32).to_be_bytes().to_vec(),
                Misbehave::Silence => {
                    bad = Some(Misbehave::Silence);
                    continue;
                }
                Misbehave::CloseMidFrame => {
                    let _ = s.write_all(&[0, 0, 0, 20, 0, 0]);
                    return;
                }
                Misbehave::BadBody => {
                    out.clear();
                    encode_reply(
                        &mut out,
                        &ReplyHeader {
                            xid: h.xid,
                            zxid,
                            err: 0,
                        },
                        None,
                    );
                    out.extend_from_slice(&[0, 0]); // a 2-byte "Stat"
                    let len = (out.len() - 4) as i32;
                    out[..4].copy_from_slice(&len.to_be_bytes());
                    out.clone()
                }
            };
            let _ = s.write_all(&junk);
            // Keep the socket open: the client must be the one that gives up.
            thread::sleep(Duration::from_millis(200));
            continue;
        }
        zxid += 1;
        let body = match op {
            OpCode::Exists => Some(Response::Exists(ExistsResponse {
                stat: Stat {
                    czxid: 5,
                    ..Stat::default()
                },
            })),
            OpCode::GetData => Some(Response::GetData(GetDataResponse {
                data: Some(b"ok".to_vec()),
                stat: Stat::default(),
            })),
            OpCode::CloseSession => None,
            _ => None,
        };
        out.clear();
        encode_reply(
            &mut out,
            &ReplyHeader {
                xid: h.xid,
                zxid,
                err: 0,
            },
            body.as_ref(),
        );
        if s.write_all(&out).is_err() {
            return;
        }
        if op == OpCode::CloseSession {
            return;
        }
    }
}

fn client(fake: &Fake) -> (ZooKeeper, mpsc::Receiver<KeeperState>) {
    let (tx, rx) = mpsc::channel();
    let zk = ZooKeeper::builder(&fake.connect_string())
        .session_timeout(Duration::from_secs(3))
        .default_watcher(move |e: &WatchedEvent| {
            let _ = tx.send(e.state());
        })
        .connect()
        .expect("connect to the scripted server");
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(5)),
        Ok(KeeperState::SyncConnected)
    );
    (zk, rx)
}

/// The bad connection answers the first request with junk; the client must report
/// ConnectionLoss, reconnect with the same session and answer the next call.
fn survives(how: Misbehave) {
    let fake = Fake::start(0, how);
    let (zk, states) = client(&fake);
    let r = zk.exists("/a", false);
    assert!(
        matches!(r, Err(Error::ConnectionLoss { .. })),
        "{how:?}: first call gave {r:?}"
    );
    assert_eq!(
        states.recv_timeout(Duration::from_secs(5)),
        Ok(KeeperState::Disconnected),
        "{how:?}"
    );
    assert_eq!(
        states.recv_timeout(Duration::from_secs(5)),
        Ok(KeeperState::SyncConnected),
        "{how:?}"
    );
    assert_eq!(zk.session_id(), SESSION);
    let st = zk.exists("/a", false).expect("works after reconnect");
    assert_eq!(st.map(|s| s.czxid), Some(5));
    assert!(fake.conns.load(Ordering::SeqCst) >= 2);
    zk.close().unwrap();
}

#[test]
fn garbage_frame_drops_and_reconnects() {
    survives(Misbehave::Garbage);
}

#[test]
fn truncated_frame_drops_and_reconnects() {
    survives(Misbehave::Truncate);
}

#[test]
fn unknown_xid_drops_and_reconnects() {
    survives(Misbehave::WrongXid);
}

#[test]
fn oversized_length_drops_without_allocating() {
    survives(Misbehave::HugeLength);
}

#[test]
fn negative_length_drops_and_reconnects() {
    survives(Misbehave::NegativeLength);
}

#[test]
fn close_mid_frame_drops_and_reconnects() {
    survives(Misbehave::CloseMidFrame);
}

#[test]
fn malformed_body_drops_and_reconnects() {
    survives(Misbehave::BadBody);
}

#[test]
fn silent_server_is_noticed_within_the_read_timeout() {
    let fake = Fake::start(0, Misbehave::Silence);
    let (zk, states) = client(&fake);
    // Negotiated 3 s: read timeout 2 s. The call goes unanswered, and so do the pings.
    let start = Instant::now();
    let r = zk.exists("/a", false);
    assert!(matches!(r, Err(Error::ConnectionLoss { .. })), "{r:?}");
    assert_eq!(
        states.recv_timeout(Duration::from_secs(5)),
        Ok(KeeperState::Disconnected)
    );
    let took = start.elapsed();
    assert!(
        took < Duration::from_millis(2000 + 400),
        "noticed after {took:?}"
    );
    assert!(took >= Duration::from_millis(1900), "too early: {took:?}");
    assert_eq!(
        states.recv_timeout(Duration::from_secs(5)),
        Ok(KeeperState::SyncConnected)
    );
    assert!(zk.exists("/a", false).unwrap().is_some());
}

#[test]
fn oversized_request_is_refused_and_the_connection_kept() {
    let fake = Fake::start(usize::MAX, Misbehave::Garbage);
    let (zk, _states) = client(&fake);
    let big = vec![7u8; 1 << 20];
    let r = zk.set_data("/a", &big, -1);
    assert!(matches!(r, Err(Error::InvalidArgument(_))), "{r:?}");
    assert!(r.unwrap_err().to_string().contains("exceeds"));
    assert_eq!(zk.state(), States::Connected);
    assert!(zk.exists("/a", false).unwrap().is_some());
    assert_eq!(fake.conns.load(Ordering::SeqCst), 1);
}

#[test]
fn every_server_down_times_out_clearly_and_close_does_not_hang() {
    // A port with nothing listening: connects are refused at once.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let zk = ZooKeeper::builder(&format!("127.0.0.1:{port}"))
        .session_timeout(Duration::from_secs(2))
        .connection_timeout(Duration::from_millis(300))
        .request_timeout(Duration::from_millis(500))
        .start()
        .unwrap();
    let start = Instant::now();
    let r = zk.get_data("/a", false);
    assert!(matches!(r, Err(Error::ConnectionLoss { .. })), "{r:?}");
    assert!(start.elapsed() < Duration::from_secs(2));
    assert_eq!(zk.state(), States::Connecting);
    let start = Instant::now();
    zk.close().unwrap();
    assert!(start.elapsed() < Duration::from_secs(2));
    assert!(matches!(zk.get_data("/a", false), Err(Error::Closed)));
    // connect() gives up with Timeout.
    let r = ZooKeeper::builder(&format!("127.0.0.1:{port}"))
        .connection_timeout(Duration::from_millis(300))
        .connect();
    assert!(matches!(r, Err(Error::Timeout)), "{r:?}");
}

#[test]
fn invalid_paths_are_refused_before_sending() {
    let fake = Fake::start(usize::MAX, Misbehave::Garbage);
    let (zk, _s) = client(&fake);
    for p in ["", "a", "/a/", "/a//b", "/a/./b", "/\u{0}"] {
        let r = zk.get_data(p, false);
        assert!(matches!(r, Err(Error::InvalidPath { .. })), "{p:?}: {r:?}");
        let r = zk.get_data_async(p, false, |_| panic!("never called"));
        assert!(matches!(r, Err(Error::InvalidPath { .. })), "{p:?}: {r:?}");
    }
    let r = ZooKeeper::builder("127.0.0.1:1/bad/").start();
    assert!(matches!(r, Err(Error::InvalidArgument(_))), "{r:?}");
    assert_eq!(zk.state(), States::Connected);
}
