//! InterProcessSemaphoreV2 (fixed and SharedCount maximum), InterProcessSemaphoreMutex and
//! InterProcessMultiLock on both server kinds: never more holders than leases under
//! contention, layout, timeouts, leases returned on drop and close, faults, bad input.

mod support;

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use support::events::WAIT;
use support::proxy::{outage, proxied_client, Proxy};
use support::{unique_root, wait_until};
use zk_curator::framework::protection;
use zk_curator::recipes::locks::*;
use zk_curator::{path, CuratorFramework, Error};

fn children(c: &CuratorFramework, p: &str) -> Vec<String> {
    match c.get_children().for_path(p) {
        Ok(k) => k,
        Err(Error::NoNode { .. }) => Vec::new(),
        Err(e) => panic!("listing {p}: {e}"),
    }
}

/// Nothing left under the semaphore's `locks` and `leases`.
fn assert_empty(c: &CuratorFramework, p: &str) {
    for sub in ["locks", "leases"] {
        let d = format!("{p}/{sub}");
        assert!(
            wait_until(WAIT, || children(c, &d).is_empty()),
            "left under {d}: {:?}",
            children(c, &d)
        );
    }
}

server_test!(shared never_more_holders_than_leases, |srv| {
    let p = format!("{}/sem", unique_root("sem-contended"));
    let clients: Vec<CuratorFramework> = (0..3).map(|_| srv.curator()).collect();
    let holders = Arc::new(AtomicI64::new(0));
    let max_seen = Arc::new(AtomicI64::new(0));
    let taken = Arc::new(AtomicU64::new(0));
    let go = Arc::new(Barrier::new(12));
    let mut hs = Vec::new();
    for c in &clients {
        let sem = InterProcessSemaphoreV2::new(c, &p, 3).unwrap();
        for _ in 0..4 {
            let (sem, holders, max_seen, taken, go) =
                (sem.clone(), holders.clone(), max_seen.clone(), taken.clone(), go.clone());
            hs.push(thread::spawn(move || {
                go.wait();
                for _ in 0..3 {
                    let lease = sem.acquire().unwrap();
                    let n = holders.fetch_add(1, Ordering::SeqCst) + 1;
                    max_seen.fetch_max(n, Ordering::SeqCst);
                    thread::sleep(Duration::from_millis(10));
                    holders.fetch_sub(1, Ordering::SeqCst);
                    taken.fetch_add(1, Ordering::SeqCst);
                    drop(lease);
                }
            }));
        }
    }
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(taken.load(Ordering::SeqCst), 36);
    let max = max_seen.load(Ordering::SeqCst);
    assert!(max <= 3, "{max} holders at once");
    assert!(max > 1, "leases never overlapped");
    assert_empty(&clients[0], &p);
    for c in clients {
        c.close();
    }
});

server_test!(shared layout_timeouts_data_and_returns, |srv| {
    let p = format!("{}/sem", unique_root("sem-layout"));
    let (a, b) = (srv.curator(), srv.curator());
    let sa = InterProcessSemaphoreV2::new(&a, &p, 2).unwrap();
    sa.set_node_data(Some(b"holder-a"));
    let two = sa.acquire_many(2).unwrap();
    assert_eq!(two.len(), 2);
    for l in &two {
        assert!(protection::is_protected_znode(l.node_name()), "{}", l.node_name());
        assert!(protection::normalize(l.node_name()).starts_with("lease-"));
        assert_eq!(l.data().unwrap(), b"holder-a");
        assert_eq!(path::parent(&l.path()), Some(format!("{p}/leases").as_str()));
    }
    assert_eq!(sa.participant_nodes().unwrap().len(), 2);
    // The inner mutex is free again between acquisitions.
    assert!(children(&a, &format!("{p}/locks")).is_empty());

    // Full: B waits its timeout, then leaves nothing.
    let sb = InterProcessSemaphoreV2::new(&b, &p, 2).unwrap();
    let start = Instant::now();
    assert!(sb.acquire_timeout(Duration::from_millis(300)).unwrap().is_none());
    assert!(start.elapsed() >= Duration::from_millis(290));
    assert!(sb.acquire_many_timeout(2, Duration::from_millis(100)).unwrap().is_none());
    assert!(wait_until(WAIT, || sa.participant_nodes().unwrap().len() == 2));
    // All or none: with one lease free, two are not taken.
    let mut two = two;
    sa.return_lease(two.pop().unwrap());
    assert!(sb.acquire_many_timeout(2, Duration::from_millis(200)).unwrap().is_none());
    assert!(wait_until(WAIT, || sa.participant_nodes().unwrap().len() == 1));
    // A waiter is admitted when a lease comes back (from another thread here).
    let sb2 = sb.clone();
    let t = thread::spawn(move || sb2.acquire_many(2).map(|v| v.len()));
    // One of B's leases is granted, the other waits: three lease nodes.
    assert!(wait_until(WAIT, || sa.participant_nodes().unwrap().len() == 3));
    sa.return_all(two);
    assert_eq!(t.join().unwrap().unwrap(), 2);
    assert_empty(&a, &p);
    a.close();
    b.close();
});

server_test!(shared shared_count_sets_the_maximum, |srv| {
    let root = unique_root("sem-count");
    let p = format!("{root}/sem");
    let count = format!("{root}/count");
    let c = srv.curator();
    c.create().creating_parents_if_needed().for_path_with_data(&count, &1i32.to_be_bytes()).unwrap();
    let sem = InterProcessSemaphoreV2::with_shared_count(&c, &p, &count).unwrap();
    let first = sem.acquire().unwrap();
    assert!(sem.acquire_timeout(Duration::from_millis(200)).unwrap().is_none());
    // Raising the count admits a waiter with no lease returned.
    let s2 = sem.clone();
    let t = thread::spawn(move || s2.acquire_timeout(WAIT).map(|l| l.is_some()));
    assert!(wait_until(WAIT, || children(&c, &format!("{p}/leases")).len() == 2));
    c.set_data().for_path(&count, &2i32.to_be_bytes()).unwrap();
    assert!(t.join().unwrap().unwrap());
    drop(first);
    // A count of 0 admits nobody; a malformed one is an error; so is a missing one.
    c.set_data().for_path(&count, &0i32.to_be_bytes()).unwrap();
    assert!(sem.acquire_timeout(Duration::from_millis(200)).unwrap().is_none());
    c.set_data().for_path(&count, b"abc").unwrap();
    let e = sem.acquire().unwrap_err();
    assert!(matches!(e, Error::BadData { ref path, .. } if *path == count), "{e:?}");
    let missing =
        InterProcessSemaphoreV2::with_shared_count(&c, &p, &format!("{root}/nope")).unwrap();
    assert!(matches!(missing.acquire(), Err(Error::NoNode { .. })));
    assert_empty(&c, &p);
    c.close();
});

server_test!(shared leases_go_with_their_session_and_waiters_wake, |srv| {
    let p = format!("{}/sem", unique_root("sem-fault"));
    let proxy = Proxy::start(&srv.connect_string());
    let cut = proxied_client(&proxy);
    let direct = srv.curator();
    // A holder's session expires: its lease goes, a waiter is admitted.
    let held = InterProcessSemaphoreV2::new(&cut, &p, 1).unwrap().acquire().unwrap();
    let sd = InterProcessSemaphoreV2::new(&direct, &p, 1).unwrap();
    let sd2 = sd.clone();
    let t = thread::spawn(move || sd2.acquire().map(|l| l.node_name().to_string()));
    assert!(wait_until(WAIT, || children(&direct, &format!("{p}/leases")).len() == 2));
    outage(srv, &proxy, &cut, true, || {
        assert!(t.join().unwrap().is_ok());
    });
    drop(held); // its node is gone already: nothing to do, nothing fails
    // A waiter cut off while the lease comes back wakes once reconnected.
    let lease = sd.acquire().unwrap();
    let sc = InterProcessSemaphoreV2::new(&cut, &p, 1).unwrap();
    let sc2 = sc.clone();
    let t = thread::spawn(move || sc2.acquire().map(|_| ()));
    assert!(wait_until(WAIT, || children(&direct, &format!("{p}/leases")).len() == 2));
    outage(srv, &proxy, &cut, false, || drop(lease));
    t.join().unwrap().unwrap();
    assert_empty(&direct, &p);
    cut.close();
    direct.close();
});

server_test!(shared semaphore_mutex_any_thread_releases, |srv| {
    let p = format!("{}/smutex", unique_root("smutex"));
    let (a, b) = (srv.curator(), srv.curator());
    let ma = InterProcessSemaphoreMutex::new(&a, &p).unwrap();
    let mb = InterProcessSemaphoreMutex::new(&b, &p).unwrap();
    ma.acquire().unwrap();
    assert!(ma.is_acquired_in_this_process());
    assert!(matches!(ma.acquire(), Err(Error::InvalidArgument(_))), "not re-entrant");
    assert!(!mb.acquire_timeout(Duration::from_millis(200)).unwrap());
    assert_eq!(children(&a, &format!("{p}/leases")).len(), 1);
    thread::scope(|s| s.spawn(|| ma.release()).join().unwrap()).unwrap();
    assert!(matches!(ma.release(), Err(Error::InvalidArgument(_))));
    {
        let _g = mb.lock().unwrap();
        assert!(!ma.acquire_timeout(Duration::from_millis(100)).unwrap());
    }
    assert!(ma.acquire_timeout(WAIT).unwrap());
    ma.close();
    assert_empty(&a, &p);
    assert!(matches!(ma.acquire(), Err(Error::Closed)));
    a.close();
    b.close();
});

server_test!(shared multi_lock_is_all_or_none, |srv| {
    let root = unique_root("multi");
    let (x, y) = (format!("{root}/x"), format!("{root}/y"));
    let (a, b) = (srv.curator(), srv.curator());
    let both = InterProcessMultiLock::new(&a, &[x.as_str(), y.as_str()]).unwrap();
    let y_b = InterProcessMutex::new(&b, &y).unwrap();
    y_b.acquire().unwrap();
    // Y is taken: nothing is kept, X included.
    let start = Instant::now();
    assert!(!both.acquire_timeout(Duration::from_millis(300)).unwrap());
    assert!(start.elapsed() < Duration::from_secs(3));
    assert!(!both.is_acquired_in_this_process());
    assert!(wait_until(WAIT, || children(&a, &x).is_empty()));
    y_b.release().unwrap();
    {
        let _g = both.lock().unwrap();
        assert!(both.is_acquired_in_this_process());
        assert_eq!((children(&a, &x).len(), children(&a, &y).len()), (1, 1));
    }
    assert!(!both.is_acquired_in_this_process());
    assert!(both.release().is_err(), "nothing held");
    // Mixed kinds through the trait.
    let mixed = InterProcessMultiLock::from_locks(vec![
        Arc::new(InterProcessSemaphoreMutex::new(&a, &format!("{root}/s")).unwrap()),
        Arc::new(InterProcessReadWriteLock::new(&a, &format!("{root}/rw")).unwrap().write_lock()),
    ])
    .unwrap();
    mixed.acquire().unwrap();
    mixed.release().unwrap();
    assert!(matches!(
        InterProcessMultiLock::from_locks(Vec::new()),
        Err(Error::InvalidArgument(_))
    ));
    assert!(wait_until(WAIT, || children(&a, &x).is_empty() && children(&a, &y).is_empty()));
    a.close();
    b.close();
});

server_test!(shared bad_input_close_and_drop, |srv| {
    let p = format!("{}/sem", unique_root("sem-bad"));
    let c = srv.curator();
    assert!(matches!(InterProcessSemaphoreV2::new(&c, &p, 0), Err(Error::InvalidArgument(_))));
    assert!(matches!(InterProcessSemaphoreV2::new(&c, "x", 1), Err(Error::InvalidPath { .. })));
    assert!(matches!(
        InterProcessSemaphoreV2::with_shared_count(&c, &p, "bad"),
        Err(Error::InvalidPath { .. })
    ));
    let sem = InterProcessSemaphoreV2::new(&c, &p, 1).unwrap();
    assert!(matches!(sem.acquire_many(0), Err(Error::InvalidArgument(_))));
    // close() returns what it handed out and ends waiters.
    let kept = sem.acquire().unwrap();
    let other = InterProcessSemaphoreV2::new(&c, &p, 1).unwrap();
    let o2 = other.clone();
    let waiter = thread::spawn(move || o2.acquire().map(|_| ()));
    assert!(wait_until(WAIT, || children(&c, &format!("{p}/leases")).len() == 2));
    other.close();
    assert!(matches!(waiter.join().unwrap(), Err(Error::Closed)));
    sem.close();
    assert_empty(&c, &p);
    drop(kept); // already returned by close(): nothing happens
    assert!(matches!(sem.acquire(), Err(Error::Closed)));
    // Dropping the last handle returns nothing it does not own, and leases outlive it.
    let s2 = InterProcessSemaphoreV2::new(&c, &p, 1).unwrap();
    let l = s2.acquire().unwrap();
    drop(s2);
    assert_eq!(children(&c, &format!("{p}/leases")).len(), 1);
    drop(l);
    assert_empty(&c, &p);
    c.close();
});
