//! The framework pieces recipes build on: the watcher-removal view, the safe thread
//! (`run_safe`, `post_safe_notify`), `EnsureContainers`, `RetryLoop` and
//! `SessionFailRetryLoop`, on both server kinds.

mod support;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use support::events::{Events, WAIT};
use support::proxy::{proxied_client, Proxy};
use support::{unique_root, wait_until};
use zk_curator::framework::*;
use zk_curator::{AddWatchMode, CreateMode, Error, EventType};

server_test!(shared the_watcher_removal_view_removes_its_watches_only, |srv| {
    let root = unique_root("wrv");
    let c = srv.curator();
    let zk = c.zookeeper_client().zookeeper().unwrap();
    c.create().creating_parents_if_needed().for_path(&format!("{root}/a")).unwrap();
    let base = zk.watch_count();

    // Someone else's watch on the same node stays.
    let other = Events::new();
    c.get_data().using_watcher(other.watcher()).for_path(&format!("{root}/a")).unwrap();
    let view = c.new_watcher_remove_curator_framework();
    let mine = Events::new();
    let w = mine.shared();
    view.get_data().using_shared_watcher(&w).for_path(&format!("{root}/a")).unwrap();
    view.check_exists().using_shared_watcher(&w).for_path(&format!("{root}/missing")).unwrap();
    view.get_children().using_shared_watcher(&w).for_path(&root).unwrap();
    view.watchers()
        .add()
        .with_mode(AddWatchMode::Persistent)
        .using_shared_watcher(&w)
        .for_path(&format!("{root}/p"))
        .unwrap();
    assert_eq!(zk.watch_count(), base + 4);

    view.remove_watchers();
    assert!(
        wait_until(WAIT, || zk.watch_count() == base + 1),
        "{} watches left, want {}",
        zk.watch_count(),
        base + 1
    );
    // The view's watcher hears nothing more; the other one still does.
    while mine.next_within(Duration::from_millis(50)).is_some() {}
    c.set_data().for_path(&format!("{root}/a"), b"x").unwrap();
    c.create().for_path(&format!("{root}/missing")).unwrap();
    assert_eq!(other.next_node().event_type(), EventType::NodeDataChanged);
    let late: Vec<_> = std::iter::from_fn(|| mine.next_within(Duration::from_millis(200)))
        .filter(|e| e.event_type() != EventType::None)
        .filter(|e| !format!("{:?}", e.event_type()).contains("Removed"))
        .collect();
    assert!(late.is_empty(), "{late:?}");
    // A second removal, and one over a view whose watches all fired, send nothing and fail
    // nothing.
    view.remove_watchers();
    c.close();
});

server_test!(shared the_view_forgets_fired_watches_as_it_grows, |srv| {
    let root = unique_root("wrv-prune");
    let c = srv.curator();
    let view = c.new_watcher_remove_curator_framework();
    let ev = Events::new();
    let w = ev.shared();
    // 600 one-shot watches that all fire: the view must not keep 600 entries.
    for i in 0..600 {
        let p = format!("{root}/n{i}");
        view.check_exists().using_shared_watcher(&w).for_path(&p).unwrap();
        c.create().creating_parents_if_needed().for_path(&p).unwrap();
    }
    let zk = c.zookeeper_client().zookeeper().unwrap();
    assert!(wait_until(WAIT, || zk.watch_count() == 0), "{}", zk.watch_count());
    let dbg = format!("{view:?}");
    let n: usize = dbg
        .split("entries: ")
        .nth(1)
        .and_then(|s| s.split(|ch: char| !ch.is_ascii_digit()).next())
        .and_then(|s| s.parse().ok())
        .expect("the view's debug output shows its entry count");
    assert!(n <= 300, "{n} entries kept");
    c.close();
});

server_test!(shared run_safe_runs_in_order_off_the_event_thread, |srv| {
    let c = srv.curator();
    let (tx, rx) = mpsc::channel();
    for i in 0..20 {
        let tx = tx.clone();
        let d = c.event_dispatcher().clone();
        c.run_safe(move || {
            tx.send((i, d.is_event_thread(), thread::current().name().map(str::to_string)))
                .unwrap();
        })
        .unwrap();
    }
    let got: Vec<_> = (0..20).map(|_| rx.recv_timeout(WAIT).unwrap()).collect();
    assert_eq!(got.iter().map(|g| g.0).collect::<Vec<_>>(), (0..20).collect::<Vec<_>>());
    assert!(got.iter().all(|g| !g.1), "ran on the event thread");
    // A panic is caught; the thread goes on; the completion completes.
    let p = c.run_safe(|| panic!("a safe job panics")).unwrap();
    assert!(p.wait_timeout(WAIT));
    let ok = c.run_safe(|| {}).unwrap();
    assert!(ok.wait_timeout(WAIT) && ok.is_done());

    // post_safe_notify wakes a monitor's waiter, from a watcher on the event thread.
    let m = Arc::new(Monitor::new());
    let seen = m.generation();
    let (c2, m2) = (c.clone(), m.clone());
    c.event_dispatcher().post(move || {
        c2.post_safe_notify(&m2).unwrap();
    });
    assert_ne!(m.wait_past(seen, Some(Instant::now() + WAIT)), seen);
    c.close();
    assert!(matches!(c.run_safe(|| {}), Err(Error::Closed)));
});

server_test!(shared ensure_containers_creates_once_until_reset, |srv| {
    let root = unique_root("ensure");
    let c = srv.curator();
    let p = format!("{root}/x/y");
    let e = Arc::new(EnsureContainers::new(&c, &p).unwrap());
    let go = Arc::new(Barrier::new(4));
    let hs: Vec<_> = (0..4)
        .map(|_| {
            let (e, go) = (e.clone(), go.clone());
            thread::spawn(move || {
                go.wait();
                e.ensure()
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap().unwrap();
    }
    assert!(c.check_exists().for_path(&p).unwrap().is_some());
    // Once only: a deleted node is not re-created until reset().
    c.delete().for_path(&p).unwrap();
    e.ensure().unwrap();
    assert!(c.check_exists().for_path(&p).unwrap().is_none());
    e.reset();
    e.ensure().unwrap();
    assert!(c.check_exists().for_path(&p).unwrap().is_some());
    assert!(matches!(
        EnsureContainers::new(&c, "no-slash"),
        Err(Error::InvalidPath { .. })
    ));
    c.delete().deleting_children_if_needed().for_path(&root).unwrap();
    c.close();
});

server_test!(shared retry_loop_retries_a_sequence, |srv| {
    let root = unique_root("retryloop");
    let c = srv.curator();
    // The object form: a retryable error is retried, a final one passed on.
    let mut l = c.zookeeper_client().new_retry_loop();
    let mut tries = 0;
    while l.should_continue() {
        tries += 1;
        let r = if tries < 3 {
            Err(Error::from_code(-4, ""))
        } else {
            c.create().creating_parents_if_needed().for_path(&format!("{root}/a")).map(|_| ())
        };
        match r {
            Ok(()) => l.mark_complete(),
            Err(e) => l.take_exception(e).unwrap(),
        }
    }
    assert_eq!((tries, l.retry_count()), (3, 2));
    let mut l = c.zookeeper_client().new_retry_loop();
    assert!(matches!(
        l.take_exception(Error::from_code(-110, "/x")),
        Err(Error::NodeExists { .. })
    ));
    // A deadline ends the loop however generous the policy.
    let forever: Arc<dyn RetryPolicy> = Arc::new(RetryForever::new(Duration::from_millis(20)));
    let mut d = RetryLoop::new(forever).with_deadline(Instant::now() + Duration::from_millis(200));
    let start = Instant::now();
    while d.take_exception(Error::from_code(-4, "")).is_ok() {}
    assert!(start.elapsed() < Duration::from_secs(2));

    // The static form runs framework calls without multiplying their retries.
    let n = AtomicU32::new(0);
    let r = RetryLoop::call_with_retry(&c, || {
        if n.fetch_add(1, Ordering::SeqCst) < 2 {
            return Err(Error::from_code(-4, ""));
        }
        c.get_data().for_path(&format!("{root}/a"))
    });
    assert!(r.is_ok());
    assert_eq!(n.load(Ordering::SeqCst), 3);
    c.delete().deleting_children_if_needed().for_path(&root).unwrap();
    c.close();
});

/// Expires `c`'s session (cut off behind `proxy` meanwhile, so that it cannot take the
/// session back first) and waits until it has a new one.
fn expire_and_reconnect(srv: &support::TestServer, proxy: &Proxy, c: &CuratorFramework) {
    let before = c.zookeeper_client().instance_index();
    support::proxy::outage(srv, proxy, c, true, || {});
    assert!(
        wait_until(Duration::from_secs(30), || {
            c.zookeeper_client().instance_index() > before && c.zookeeper_client().is_connected()
        }),
        "no new session"
    );
}

server_test!(shared session_fail_loop_fails_or_retries_after_expiry, |srv| {
    let root = unique_root("sfrl");
    let proxy = Proxy::start(&srv.connect_string());
    let c = proxied_client(&proxy);
    c.create().creating_parents_if_needed().for_path(&root).unwrap();

    // Fail: once the session is gone, operations on this thread fail with SessionFailed.
    let mut l = c.zookeeper_client().new_session_fail_retry_loop(SessionFailMode::Fail);
    l.start();
    let mut outcome = None;
    while l.should_continue() {
        let step = c
            .create()
            .with_mode(CreateMode::Ephemeral)
            .for_path(&format!("{root}/marker"))
            .and_then(|_| {
                expire_and_reconnect(srv, &proxy, &c);
                c.create().for_path(&format!("{root}/after"))
            });
        if let Err(e) = step {
            outcome = Some(l.take_exception(e));
        }
    }
    assert!(matches!(outcome, Some(Err(Error::SessionFailed))), "{outcome:?}");
    assert!(l.session_has_failed());
    l.close();
    // Outside the loop the client works again; nothing after the failure was written.
    assert!(c.check_exists().for_path(&format!("{root}/after")).unwrap().is_none());

    // Retry: the whole unit runs again on the new session.
    let runs = AtomicU32::new(0);
    let r = SessionFailRetryLoop::call_with_retry(&c, SessionFailMode::Retry, || {
        let n = runs.fetch_add(1, Ordering::SeqCst);
        c.create().with_mode(CreateMode::Ephemeral).for_path(&format!("{root}/m{n}"))?;
        if n == 0 {
            expire_and_reconnect(srv, &proxy, &c);
        }
        c.create().for_path(&format!("{root}/done{n}"))
    });
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    let kids = c.get_children().for_path(&root).unwrap();
    assert!(kids.contains(&"m1".to_string()) && kids.contains(&"done1".to_string()), "{kids:?}");
    assert!(!kids.contains(&"done0".to_string()), "{kids:?}");
    c.delete().deleting_children_if_needed().for_path(&root).unwrap();
    c.close();
});
