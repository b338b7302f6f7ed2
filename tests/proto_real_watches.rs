//! Watch ops against real ZooKeeper 3.8 over a raw connection: addWatch (persistent and
//! persistent-recursive) and the notifications (xid -1) they cause, checkWatches and
//! removeWatches, setWatches / setWatches2 (xid -8) firing missed events before their reply.

mod support;

use support::raw::REPLY_TIMEOUT;
use support::{unique_root, RawConn, RealServer};
use zk_curator::proto::*;
use zk_curator::Error;

fn create(conn: &mut RawConn, path: &str) -> ReplyHeader {
    let (h, _) = conn
        .call(Request::Create(CreateRequest {
            path: path.into(),
            data: Some(b"x".to_vec()),
            acl: Acl::open_unsafe(),
            flags: 0,
        }))
        .expect("a reply")
        .into_parts();
    assert_eq!(h.err, 0, "create {path}");
    h
}

fn set_data(conn: &mut RawConn, path: &str) {
    conn.ok(Request::SetData(SetDataRequest {
        path: path.into(),
        data: Some(b"y".to_vec()),
        version: -1,
    }));
}

fn add_watch(conn: &mut RawConn, path: &str, mode: AddWatchMode) {
    let r = conn.ok(Request::AddWatch(AddWatchRequest {
        path: path.into(),
        mode: mode.code(),
    }));
    assert_eq!(r, Response::AddWatch(ErrorResponse { err: 0 }));
}

/// Takes the next notification and checks it.
fn expect_event(conn: &mut RawConn, ty: EventType, path: &str) {
    let (h, e) = conn.next_event(REPLY_TIMEOUT).expect("a notification");
    // 3.8 sends zxid -1 in notification headers; 3.9+ the event's zxid.
    assert!(h.zxid == -1 || h.zxid > 0, "{h:?}");
    assert_eq!(h.err, 0);
    assert_eq!(
        (EventType::try_from(e.event_type).ok(), e.path.as_str()),
        (Some(ty), path),
        "{e:?}"
    );
    assert_eq!(e.state, KeeperState::SyncConnected.code());
}

#[test]
fn persistent_and_recursive_watches_notify() {
    let Some(zk) = RealServer::shared() else {
        return;
    };
    let mut c = RawConn::connect(zk.port());
    let mut writer = RawConn::connect(zk.port());
    let root = unique_root("addwatch");
    create(&mut writer, &root);
    let (p, rec) = (format!("{root}/p"), format!("{root}/rec"));

    add_watch(&mut c, &p, AddWatchMode::Persistent);
    add_watch(&mut c, &rec, AddWatchMode::PersistentRecursive);

    create(&mut writer, &p);
    create(&mut writer, &format!("{p}/child"));
    set_data(&mut writer, &p);
    create(&mut writer, &rec);
    create(&mut writer, &format!("{rec}/a"));
    create(&mut writer, &format!("{rec}/a/b"));
    set_data(&mut writer, &format!("{rec}/a/b"));

    expect_event(&mut c, EventType::NodeCreated, &p);
    expect_event(&mut c, EventType::NodeChildrenChanged, &p);
    // Persistent watches are not removed by firing.
    expect_event(&mut c, EventType::NodeDataChanged, &p);
    // Recursive: the node and every descendant, no child events.
    expect_event(&mut c, EventType::NodeCreated, &rec);
    expect_event(&mut c, EventType::NodeCreated, &format!("{rec}/a"));
    expect_event(&mut c, EventType::NodeCreated, &format!("{rec}/a/b"));
    expect_event(&mut c, EventType::NodeDataChanged, &format!("{rec}/a/b"));
    assert!(c.events.is_empty());
}

#[test]
fn own_write_notification_can_precede_its_reply() {
    let Some(zk) = RealServer::shared() else {
        return;
    };
    let mut c = RawConn::connect(zk.port());
    let root = unique_root("own");
    add_watch(&mut c, &root, AddWatchMode::Persistent);
    // The reader sets the notification aside whichever comes first.
    create(&mut c, &root);
    expect_event(&mut c, EventType::NodeCreated, &root);
}

#[test]
fn check_and_remove_watches() {
    let Some(zk) = RealServer::shared() else {
        return;
    };
    let mut c = RawConn::connect(zk.port());
    let root = unique_root("rmwatch");
    create(&mut c, &root);
    let check = |ty: WatcherType| {
        Request::CheckWatches(CheckWatchesRequest {
            path: root.clone(),
            watcher_type: ty.code(),
        })
    };
    let remove = |ty: WatcherType| {
        Request::RemoveWatches(RemoveWatchesRequest {
            path: root.clone(),
            watcher_type: ty.code(),
        })
    };

    let (h, body) = c
        .call(check(WatcherType::Data))
        .expect("a reply")
        .into_parts();
    assert_eq!((h.err, body), (-121, None));
    assert!(
        matches!(Error::from_code(h.err, &root), Error::NoWatcher { path, .. } if path == root)
    );
    assert_eq!(
        c.call(remove(WatcherType::Any))
            .expect("a reply")
            .into_parts()
            .0
            .err,
        -121
    );

    c.ok(Request::GetData(GetDataRequest {
        path: root.clone(),
        watch: true,
    }));
    assert_eq!(c.ok(check(WatcherType::Data)), Response::Empty);
    assert_eq!(
        c.call(check(WatcherType::Children))
            .expect("a reply")
            .into_parts()
            .0
            .err,
        -121
    );
    assert_eq!(c.ok(remove(WatcherType::Any)), Response::Empty);
    assert_eq!(
        c.call(check(WatcherType::Data))
            .expect("a reply")
            .into_parts()
            .0
            .err,
        -121
    );
}

#[test]
fn set_watches_fires_what_was_missed_before_its_reply() {
    let Some(zk) = RealServer::shared() else {
        return;
    };
    let mut c = RawConn::connect(zk.port());
    let root = unique_root("setwatches");
    create(&mut c, &root);
    let (exists, gone) = (format!("{root}/exists"), format!("{root}/gone"));
    let h = create(&mut c, &exists);

    // As after a reconnect: an exist watch on a node that now exists, a data watch on a node
    // that is now missing, a child watch that is still current.
    let sw = Request::SetWatches(SetWatches {
        relative_zxid: h.zxid,
        data_watches: vec![gone.clone()],
        exist_watches: vec![exists.clone()],
        child_watches: vec![root.clone()],
    });
    c.send_with_xid(xid::SET_WATCHES, &sw)
        .expect("send setWatches");
    let (reply, body) = c.read_reply().expect("a reply");
    assert_eq!((reply.xid, reply.err), (xid::SET_WATCHES, 0));
    assert!(body.is_empty());
    // Both events arrived before the reply.
    let mut fired: Vec<(i32, String)> = c
        .events
        .drain(..)
        .map(|(_, e)| (e.event_type, e.path))
        .collect();
    fired.sort();
    assert_eq!(
        fired,
        [
            (EventType::NodeCreated.code(), exists.clone()),
            (EventType::NodeDeleted.code(), gone),
        ]
    );

    // The child watch was re-armed: a new child fires it.
    create(&mut c, &format!("{root}/new"));
    expect_event(&mut c, EventType::NodeChildrenChanged, &root);

    // setWatches2 adds persistent and recursive watches, re-armed without firing.
    let sw2 = Request::SetWatches2(SetWatches2 {
        relative_zxid: h.zxid,
        persistent_watches: vec![exists.clone()],
        persistent_recursive_watches: vec![root.clone()],
        ..SetWatches2::default()
    });
    let (reply, body) = c
        .call_with_xid(xid::SET_WATCHES, &sw2)
        .expect("a reply")
        .into_parts();
    assert_eq!((reply.xid, reply.err, body), (-8, 0, Some(Response::Empty)));
    assert!(c.events.is_empty());
    set_data(&mut c, &exists);
    expect_event(&mut c, EventType::NodeDataChanged, &exists);
    // The server sends one notification per trigger even though two watches match.
    create(&mut c, &format!("{root}/deep"));
    expect_event(&mut c, EventType::NodeCreated, &format!("{root}/deep"));
    assert!(c.events.is_empty());
}

#[test]
fn one_watch_per_session_and_path_whatever_was_added() {
    // The fact the client's removal rules rest on: a session's watch on a path is one, so a
    // removeWatches that follows a second addWatch (another local watcher's) on the wire
    // ends the watch the second one relied on; one that precedes it does not.
    let Some(zk) = RealServer::shared() else {
        return;
    };
    let mut c = RawConn::connect(zk.port());
    let mut writer = RawConn::connect(zk.port());
    let root = unique_root("one-watch");
    create(&mut writer, &root);
    let remove = || {
        Request::RemoveWatches(RemoveWatchesRequest {
            path: root.clone(),
            watcher_type: WatcherType::Any.code(),
        })
    };
    // add, add, remove: nothing left.
    add_watch(&mut c, &root, AddWatchMode::Persistent);
    add_watch(&mut c, &root, AddWatchMode::Persistent);
    c.ok(remove());
    set_data(&mut writer, &root);
    assert!(
        c.events_within(std::time::Duration::from_millis(300))
            .is_empty(),
        "the second add kept a watch"
    );
    // add, remove, add: watched.
    add_watch(&mut c, &root, AddWatchMode::Persistent);
    c.ok(remove());
    add_watch(&mut c, &root, AddWatchMode::Persistent);
    set_data(&mut writer, &root);
    expect_event(&mut c, EventType::NodeDataChanged, &root);
}
