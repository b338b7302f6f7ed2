//! Watches of every kind and their triggers, and SetWatches, over the raw protocol; each body
//! also runs against the real ZooKeeper when Java is available.

mod support;

use std::time::Duration;

use support::raw::RawConn;
use zk_curator::proto::*;
use zk_curator::testing::TestingServer;

const CREATED: i32 = 1;
const DELETED: i32 = 2;
const CHANGED: i32 = 3;
const CHILDREN: i32 = 4;

fn both(body: fn(&str)) {
    let ours = TestingServer::start().expect("server");
    body(&ours.connect_string());
    if let Some(real) = support::RealServer::start() {
        body(&real.connect_string());
    }
}

/// Reads everything the server has for `c` by issuing a round trip (notifications precede
/// the reply), then returns the stashed events sorted.
fn drain(c: &mut RawConn) -> Vec<(i32, String)> {
    c.call(Request::Exists(ExistsRequest {
        path: "/".into(),
        watch: false,
    }))
    .unwrap();
    let mut v: Vec<(i32, String)> = c
        .events
        .drain(..)
        .map(|(_, e)| (e.event_type, e.path))
        .collect();
    v.sort();
    v
}

fn ev(t: i32, p: &str) -> (i32, String) {
    (t, p.to_string())
}

fn set(c: &mut RawConn, path: &str) {
    let r = c
        .call(Request::SetData(SetDataRequest {
            path: path.into(),
            data: Some(b"x".to_vec()),
            version: -1,
        }))
        .unwrap();
    assert_eq!(r.err(), 0, "set {path}");
}

fn delete(c: &mut RawConn, path: &str) {
    let r = c
        .call(Request::Delete(DeleteRequest {
            path: path.into(),
            version: -1,
        }))
        .unwrap();
    assert_eq!(r.err(), 0, "delete {path}");
}

#[test]
fn one_shot_data_exist_and_child_watches() {
    both(|addr| {
        let mut w = RawConn::try_connect(addr, 10_000).unwrap();
        let mut m = RawConn::try_connect(addr, 10_000).unwrap();
        m.create("/w", b"", 0).unwrap();
        // exists on a missing node sets a watch.
        let r = w
            .call(Request::Exists(ExistsRequest {
                path: "/w/a".into(),
                watch: true,
            }))
            .unwrap();
        assert_eq!(r.err(), -101);
        w.call(Request::GetChildren(GetChildrenRequest {
            path: "/w".into(),
            watch: true,
        }))
        .unwrap();
        m.create("/w/a", b"", 0).unwrap();
        assert_eq!(drain(&mut w), vec![ev(CREATED, "/w/a"), ev(CHILDREN, "/w")]);
        // One-shot: a second change is silent.
        m.create("/w/b", b"", 0).unwrap();
        assert!(drain(&mut w).is_empty());
        // A data watch and a child watch on one node: a delete notifies once.
        w.get("/w/a", true).unwrap();
        w.call(Request::GetChildren(GetChildrenRequest {
            path: "/w/a".into(),
            watch: true,
        }))
        .unwrap();
        delete(&mut m, "/w/a");
        assert_eq!(drain(&mut w), vec![ev(DELETED, "/w/a")]);
        // getData on a missing node sets nothing.
        assert_eq!(w.get("/w/a", true).unwrap().err(), -101);
        m.create("/w/a", b"", 0).unwrap();
        assert!(drain(&mut w).is_empty());
        w.get("/w/a", true).unwrap();
        set(&mut m, "/w/a");
        assert_eq!(drain(&mut w), vec![ev(CHANGED, "/w/a")]);
        // The writer's own watch fires before its own reply.
        m.get("/w/b", true).unwrap();
        set(&mut m, "/w/b");
        assert_eq!(m.events.len(), 1, "notification precedes the reply");
    });
}

#[test]
fn persistent_and_recursive_watches() {
    both(|addr| {
        let mut w = RawConn::try_connect(addr, 10_000).unwrap();
        let mut m = RawConn::try_connect(addr, 10_000).unwrap();
        let add = |w: &mut RawConn, path: &str, mode: i32| {
            let r = w
                .call(Request::AddWatch(AddWatchRequest {
                    path: path.into(),
                    mode,
                }))
                .unwrap();
            assert_eq!(r.err(), 0);
        };
        add(&mut w, "/p", 0);
        add(&mut w, "/r", 1);
        m.create("/p", b"", 0).unwrap();
        m.create("/p/kid", b"", 0).unwrap();
        set(&mut m, "/p");
        set(&mut m, "/p/kid");
        assert_eq!(
            drain(&mut w),
            vec![ev(CREATED, "/p"), ev(CHANGED, "/p"), ev(CHILDREN, "/p")]
        );
        m.create("/r", b"", 0).unwrap();
        m.create("/r/a", b"", 0).unwrap();
        m.create("/r/a/b", b"", 0).unwrap();
        set(&mut m, "/r/a/b");
        delete(&mut m, "/r/a/b");
        // Recursive: every descendant, never NodeChildrenChanged.
        assert_eq!(
            drain(&mut w),
            vec![
                ev(CREATED, "/r"),
                ev(CREATED, "/r/a"),
                ev(CREATED, "/r/a/b"),
                ev(DELETED, "/r/a/b"),
                ev(CHANGED, "/r/a/b"),
            ]
        );
        // Still there after firing.
        set(&mut m, "/r");
        assert_eq!(drain(&mut w), vec![ev(CHANGED, "/r")]);
        // Removing all of them.
        for p in ["/p", "/r"] {
            let r = w
                .call(Request::RemoveWatches(RemoveWatchesRequest {
                    path: p.into(),
                    watcher_type: 3,
                }))
                .unwrap();
            assert_eq!(r.err(), 0);
        }
        set(&mut m, "/r");
        assert!(drain(&mut w).is_empty());
    });
}

#[test]
fn set_watches_fires_what_was_missed() {
    both(|addr| {
        let mut m = RawConn::try_connect(addr, 10_000).unwrap();
        m.create("/sw", b"", 0).unwrap();
        m.create("/sw/same", b"", 0).unwrap();
        m.create("/sw/changed", b"", 0).unwrap();
        m.create("/sw/gone", b"", 0).unwrap();
        let rel = m.last_zxid;
        set(&mut m, "/sw/changed");
        delete(&mut m, "/sw/gone");
        m.create("/sw/born", b"", 0).unwrap();
        let mut w = RawConn::try_connect(addr, 10_000).unwrap();
        let x = w
            .send(&Request::SetWatches(SetWatches {
                relative_zxid: rel,
                data_watches: vec!["/sw/same".into(), "/sw/changed".into(), "/sw/gone".into()],
                exist_watches: vec!["/sw/born".into(), "/sw/unborn".into()],
                child_watches: vec!["/sw".into()],
            }))
            .unwrap();
        let _ = x;
        let (h, _) = w.read_reply().unwrap();
        assert_eq!(h.err, 0);
        let mut got: Vec<(i32, String)> = w
            .events
            .drain(..)
            .map(|(_, e)| (e.event_type, e.path))
            .collect();
        got.sort();
        assert_eq!(
            got,
            vec![
                ev(CREATED, "/sw/born"),
                ev(DELETED, "/sw/gone"),
                ev(CHANGED, "/sw/changed"),
                ev(CHILDREN, "/sw"),
            ]
        );
        // The others were re-armed.
        set(&mut m, "/sw/same");
        m.create("/sw/unborn", b"", 0).unwrap();
        assert_eq!(
            drain(&mut w),
            vec![ev(CREATED, "/sw/unborn"), ev(CHANGED, "/sw/same")]
        );
    });
}

#[test]
fn events_need_read_permission() {
    both(|addr| {
        let mut w = RawConn::try_connect(addr, 10_000).unwrap();
        let mut m = RawConn::try_connect(addr, 10_000).unwrap();
        w.call(Request::Exists(ExistsRequest {
            path: "/secret".into(),
            watch: true,
        }))
        .unwrap();
        let acl = vec![Acl::new(Perms::ALL, Id::new("ip", "10.0.0.1"))];
        let r = m
            .call(Request::Create(CreateRequest {
                path: "/secret".into(),
                data: None,
                acl,
                flags: 0,
            }))
            .unwrap();
        assert_eq!(r.err(), 0);
        assert!(drain(&mut w).is_empty(), "no READ, no event");
        assert_eq!(
            w.call(Request::CheckWatches(CheckWatchesRequest {
                path: "/secret".into(),
                watcher_type: 2
            }))
            .unwrap()
            .err(),
            -121,
            "the watch was used up all the same"
        );
        let _ = w.next_event(Duration::from_millis(1));
    });
}

#[test]
fn set_watches2_rearms_persistent_watches() {
    both(|addr| {
        let mut m = RawConn::try_connect(addr, 10_000).unwrap();
        m.create("/sw2", b"", 0).unwrap();
        let mut w = RawConn::try_connect(addr, 10_000).unwrap();
        w.send(&Request::SetWatches2(SetWatches2 {
            relative_zxid: m.last_zxid,
            persistent_watches: vec!["/sw2".into()],
            persistent_recursive_watches: vec!["/sw2r".into()],
            ..Default::default()
        }))
        .unwrap();
        let (h, _) = w.read_reply().unwrap();
        assert_eq!(h.err, 0);
        assert!(w.events.is_empty(), "persistent watches replay nothing");
        m.create("/sw2/a", b"", 0).unwrap();
        set(&mut m, "/sw2");
        m.create("/sw2r", b"", 0).unwrap();
        m.create("/sw2r/x", b"", 0).unwrap();
        assert_eq!(
            drain(&mut w),
            vec![
                ev(CREATED, "/sw2r"),
                ev(CREATED, "/sw2r/x"),
                ev(CHANGED, "/sw2"),
                ev(CHILDREN, "/sw2"),
            ]
        );
        // Recursive watches restored by SetWatches2 sit in the child table too (3.8.0).
        let r = w
            .call(Request::CheckWatches(CheckWatchesRequest {
                path: "/sw2r".into(),
                watcher_type: 1,
            }))
            .unwrap();
        assert_eq!(r.err(), 0);
    });
}
