//! Requests caught by a fault (catalogue rows 7 and 17, and the request timeout): a
//! connection dropped in the middle of a `multi` and of a 10,000-request pipelined burst
//! (every call exactly one outcome, the multi all or nothing), an unprotected sequential
//! create whose reply is lost, and a request timeout shorter than a one-way partition (the
//! write was applied although the caller got an error: the ambiguity every ZooKeeper client
//! has, documented in docs/reliability.md).

mod support;

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use support::events::{Events, WAIT};
use support::figures::{figure, ms};
use support::proxy::{proxied_client, Proxy};
use support::{unique_root, wait_until, TestServer};
use zk_curator::proto::OpCode;
use zk_curator::{Acl, CreateMode, Error, KeeperState, Op, WatchedEvent, ZooKeeper};

fn via(proxy: &Proxy, session: Duration, request: Option<Duration>) -> (ZooKeeper, Events) {
    let ev = Events::new();
    let w = ev.watcher();
    let mut b = ZooKeeper::builder(&proxy.connect_string())
        .session_timeout(session)
        .default_watcher(move |e: &WatchedEvent| w(e));
    if let Some(r) = request {
        b = b.request_timeout(r);
    }
    let zk = b.connect().expect("connect through the proxy");
    ev.expect_state(KeeperState::SyncConnected);
    (zk, ev)
}

fn create_op(path: &str) -> Op {
    Op::Create {
        path: path.to_string(),
        data: Vec::new(),
        acl: Acl::open_unsafe(),
        mode: CreateMode::Persistent,
        ttl: None,
    }
}

/// Row 7: the reply to a multi is lost with its connection. Low level: ConnectionLoss, and
/// the multi is all there (it had reached the server). Framework: the retry loop retries
/// it as Curator does; the retry fails (its first create finds its own node), so the caller
/// gets an error for a transaction that was applied; all-or-nothing holds either way.
fn multi_across_a_drop(srv: &TestServer) {
    let direct = srv.connect();
    let root = unique_root("multi-drop");
    direct
        .create(&root, b"", &Acl::open_unsafe(), CreateMode::Persistent)
        .unwrap();
    let proxy = Proxy::start(&srv.connect_string());
    let (zk, ev) = via(&proxy, Duration::from_secs(10), None);
    let paths: Vec<String> = (0..5).map(|i| format!("{root}/low-{i}")).collect();
    proxy.lose_next_reply_to(OpCode::Multi);
    let start = Instant::now();
    let r = zk.multi(&paths.iter().map(|p| create_op(p)).collect::<Vec<_>>());
    let took = start.elapsed();
    ev.expect_state(KeeperState::SyncConnected);
    let present = paths
        .iter()
        .filter(|p| direct.exists(p, false).unwrap().is_some())
        .count();
    // Before it reaches the server: dropped with the connection, none of it applied.
    proxy.refuse(true);
    proxy.drop_connections();
    ev.expect_state(KeeperState::Disconnected);
    let later: Vec<String> = (0..5).map(|i| format!("{root}/queued-{i}")).collect();
    let ops: Vec<Op> = later.iter().map(|p| create_op(p)).collect();
    let (tx, rx) = mpsc::channel();
    zk.multi_async(&ops, move |r| tx.send(r.is_ok()).unwrap())
        .unwrap();
    proxy.refuse(false);
    let queued_ok = rx.recv_timeout(WAIT).unwrap();
    let later_present = later
        .iter()
        .filter(|p| direct.exists(p, false).unwrap().is_some())
        .count();

    // The framework.
    let c = proxied_client(&proxy);
    let fw: Vec<String> = (0..5).map(|i| format!("{root}/fw-{i}")).collect();
    let ops = fw
        .iter()
        .map(|p| c.transaction_op().create().for_path(p).unwrap())
        .collect();
    proxy.lose_next_reply_to(OpCode::Multi);
    let fr = c.transaction().for_operations(ops);
    let fw_present = fw
        .iter()
        .filter(|p| direct.exists(p, false).unwrap().is_some())
        .count();
    figure(
        "7",
        "multi_across_a_drop",
        srv.kind(),
        &[
            (
                "low_level_outcome",
                format!("{:?}", r.as_ref().map(|_| "ok")),
            ),
            ("low_level_ms", ms(took)),
            ("low_level_ops_applied", format!("{present}/5")),
            ("queued_while_disconnected_outcome", queued_ok.to_string()),
            ("queued_ops_applied", format!("{later_present}/5")),
            (
                "framework_outcome",
                format!("{:?}", fr.as_ref().map(|_| "ok").map_err(|e| e.code())),
            ),
            ("framework_ops_applied", format!("{fw_present}/5")),
        ],
    );
    assert!(matches!(r, Err(Error::ConnectionLoss { .. })), "{r:?}");
    assert_eq!(present, 5, "all of it (it reached the server)");
    assert!(queued_ok && later_present == 5);
    assert!(fw_present == 0 || fw_present == 5, "all or nothing");
    match &fr {
        Ok(_) => assert_eq!(fw_present, 5),
        Err(e) => assert!(
            matches!(e, Error::NodeExists { .. } | Error::ConnectionLoss { .. }),
            "{e:?}"
        ),
    }
    c.close();
}

server_test!(shared multi_across_a_drop, |srv| {
    multi_across_a_drop(srv);
});

/// Row 7: 10,000 creates pipelined, the connection dropped after 2,000 replies: each
/// callback exactly once, with the node (Ok) or ConnectionLoss; every Ok is on the server;
/// a ConnectionLoss may or may not have been applied (counted: the ambiguity).
fn burst_across_a_drop(srv: &TestServer) {
    const N: usize = 10_000;
    let direct = srv.connect();
    let root = unique_root("burst-drop");
    direct
        .create(&root, b"", &Acl::open_unsafe(), CreateMode::Persistent)
        .unwrap();
    let proxy = Arc::new(Proxy::start(&srv.connect_string()));
    let (zk, ev) = via(&proxy, Duration::from_secs(10), None);
    let calls: Arc<Vec<AtomicU8>> = Arc::new((0..N).map(|_| AtomicU8::new(0)).collect());
    let outcome: Arc<Vec<AtomicU8>> = Arc::new((0..N).map(|_| AtomicU8::new(0)).collect());
    let done = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    for i in 0..N {
        let (calls, outcome, done, proxy) =
            (calls.clone(), outcome.clone(), done.clone(), proxy.clone());
        zk.create_async(
            &format!("{root}/n-{i:05}"),
            b"",
            &Acl::open_unsafe(),
            CreateMode::Persistent,
            move |r| {
                calls[i].fetch_add(1, Ordering::SeqCst);
                outcome[i].store(
                    match r {
                        Ok(_) => 1,
                        Err(Error::ConnectionLoss { .. }) => 2,
                        Err(_) => 3,
                    },
                    Ordering::SeqCst,
                );
                if done.fetch_add(1, Ordering::SeqCst) + 1 == 2_000 {
                    proxy.drop_connections();
                }
            },
        )
        .unwrap();
    }
    assert!(
        wait_until(Duration::from_secs(60), || done.load(Ordering::SeqCst) >= N),
        "only {} of {N} callbacks",
        done.load(Ordering::SeqCst)
    );
    let took = start.elapsed();
    ev.expect_state(KeeperState::Disconnected);
    ev.expect_state(KeeperState::SyncConnected);
    // No late second call.
    std::thread::sleep(Duration::from_millis(200));
    let twice = calls
        .iter()
        .filter(|c| c.load(Ordering::SeqCst) != 1)
        .count();
    let on_server: std::collections::HashSet<String> = direct
        .get_children(&root, false)
        .unwrap()
        .into_iter()
        .collect();
    let (mut ok, mut loss, mut other, mut ok_missing, mut loss_applied) = (0, 0, 0, 0, 0);
    for (i, o) in outcome.iter().enumerate() {
        let there = on_server.contains(&format!("n-{i:05}"));
        match o.load(Ordering::SeqCst) {
            1 => {
                ok += 1;
                ok_missing += usize::from(!there);
            }
            2 => {
                loss += 1;
                loss_applied += usize::from(there);
            }
            _ => other += 1,
        }
    }
    figure(
        "7",
        "burst_across_a_drop",
        srv.kind(),
        &[
            ("requests", N.to_string()),
            ("callbacks_not_exactly_once", twice.to_string()),
            ("ok", ok.to_string()),
            ("connection_loss", loss.to_string()),
            ("other_errors", other.to_string()),
            ("acked_missing", ok_missing.to_string()),
            ("connection_loss_but_applied", loss_applied.to_string()),
            ("ms", ms(took)),
        ],
    );
    assert_eq!(twice, 0, "every callback exactly once");
    assert_eq!(other, 0);
    assert_eq!(ok_missing, 0);
    assert!(loss > 0, "the drop hit requests in flight");
    assert!(zk.exists(&root, false).unwrap().is_some(), "usable after");
}

server_test!(shared burst_across_a_drop, |srv| {
    burst_across_a_drop(srv);
});

/// Row 17: an unprotected sequential create whose reply is lost, through the framework,
/// which retries it as Curator does: a second node (the hazard protection exists for),
/// next to the protected create of row 15, which finds its node again.
fn unprotected_sequential_create(srv: &TestServer) {
    let direct = srv.connect();
    let root = unique_root("seq-dup");
    direct
        .create(&root, b"", &Acl::open_unsafe(), CreateMode::Persistent)
        .unwrap();
    let proxy = Proxy::start(&srv.connect_string());
    let c = proxied_client(&proxy);
    proxy.lose_next_reply_to(OpCode::Create);
    let r = c
        .create()
        .with_mode(CreateMode::PersistentSequential)
        .for_path(&format!("{root}/plain-"));
    let plain = direct.get_children(&root, false).unwrap().len();
    let proot = format!("{root}/p");
    direct
        .create(&proot, b"", &Acl::open_unsafe(), CreateMode::Persistent)
        .unwrap();
    proxy.lose_next_reply_to(OpCode::Create);
    let p = c
        .create()
        .with_protection()
        .with_mode(CreateMode::PersistentSequential)
        .for_path(&format!("{proot}/prot-"));
    let protected = direct.get_children(&proot, false).unwrap().len();
    figure(
        "17",
        "unprotected_sequential_create",
        srv.kind(),
        &[
            (
                "unprotected_outcome",
                format!("{:?}", r.as_ref().map(|_| "ok")),
            ),
            ("unprotected_nodes", plain.to_string()),
            (
                "protected_outcome",
                format!("{:?}", p.as_ref().map(|_| "ok")),
            ),
            ("protected_nodes", protected.to_string()),
        ],
    );
    assert!(r.is_ok() && p.is_ok());
    assert_eq!(plain, 2, "the retried unprotected create made a duplicate");
    assert_eq!(protected, 1, "the protected one did not");
    c.close();
}

server_test!(shared unprotected_sequential_create, |srv| {
    unprotected_sequential_create(srv);
});

/// The request timeout shorter than a partition: the server applies the write, its reply
/// cannot come back, the caller gets `RequestTimeout` after 1 s although the write is there.
fn request_timeout_shorter_than_a_partition(srv: &TestServer) {
    let direct = srv.connect();
    let root = unique_root("req-timeout");
    direct
        .create(
            &root,
            b"before",
            &Acl::open_unsafe(),
            CreateMode::Persistent,
        )
        .unwrap();
    let proxy = Proxy::start(&srv.connect_string());
    let (zk, ev) = via(
        &proxy,
        Duration::from_secs(10),
        Some(Duration::from_secs(1)),
    );
    proxy.blackhole_replies(true);
    let start = Instant::now();
    let r = zk.set_data(&root, b"after", -1);
    let took = start.elapsed();
    let applied = direct.get_data(&root, false).unwrap().0 == b"after";
    proxy.blackhole_replies(false);
    proxy.drop_connections();
    ev.expect_state(KeeperState::SyncConnected);
    figure(
        "req-timeout",
        "request_timeout_shorter_than_a_partition",
        srv.kind(),
        &[
            ("outcome", format!("{:?}", r.as_ref().map(|_| "ok"))),
            ("ms", ms(took)),
            ("write_applied", applied.to_string()),
        ],
    );
    assert!(matches!(r, Err(Error::RequestTimeout)), "{r:?}");
    assert!(
        took >= Duration::from_millis(950) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert!(
        applied,
        "the server applied it: the error does not mean it did not happen"
    );
    zk.set_data(&root, b"again", -1).expect("usable after");
}

server_test!(shared request_timeout_shorter_than_a_partition, |srv| {
    request_timeout_shorter_than_a_partition(srv);
});
