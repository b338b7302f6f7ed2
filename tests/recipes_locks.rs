//! The lock recipes on both server kinds: mutual exclusion under contention, re-entrancy,
//! timeouts, the znode layout, revocation, cleanup on close and drop, and bad input. Faults
//! (dropped connections, pauses, expiry, a lost ensemble member) are in
//! `recipes_locks_faults.rs`.

mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use support::events::WAIT;
use support::{unique_root, wait_until};
use zk_curator::framework::protection;
use zk_curator::recipes::locks::*;
use zk_curator::{CreateMode, CuratorFramework, Error};

/// Counts holders of a lock: entering while someone holds it is a violation.
#[derive(Default)]
struct Exclusion {
    held: AtomicBool,
    violations: AtomicU64,
    /// Incremented with an unguarded read-modify-write: only exclusion keeps it exact.
    counter: AtomicU64,
}

impl Exclusion {
    fn critical_section(&self) {
        if self.held.swap(true, Ordering::SeqCst) {
            self.violations.fetch_add(1, Ordering::SeqCst);
        }
        let v = self.counter.load(Ordering::SeqCst);
        thread::yield_now();
        self.counter.store(v + 1, Ordering::SeqCst);
        self.held.store(false, Ordering::SeqCst);
    }
}

/// The lock path's children (none if the path is gone).
fn children(c: &CuratorFramework, p: &str) -> Vec<String> {
    match c.get_children().for_path(p) {
        Ok(k) => k,
        Err(Error::NoNode { .. }) => Vec::new(),
        Err(e) => panic!("listing {p}: {e}"),
    }
}

/// Waits until nothing is left under `p`.
fn assert_no_nodes(c: &CuratorFramework, p: &str) {
    assert!(
        wait_until(WAIT, || children(c, p).is_empty()),
        "nodes left under {p}: {:?}",
        children(c, p)
    );
}

server_test!(shared mutex_excludes_24_threads_of_3_clients, |srv| {
    let root = unique_root("mutex-contended");
    let lock_path = format!("{root}/lock");
    const THREADS: usize = 8;
    const ROUNDS: u64 = 5;
    let clients: Vec<CuratorFramework> = (0..3).map(|_| srv.curator()).collect();
    let ex = Arc::new(Exclusion::default());
    let go = Arc::new(Barrier::new(3 * THREADS));
    let mut hs = Vec::new();
    for c in &clients {
        // One instance per client, shared by its threads: ownership is per thread.
        let lock = InterProcessMutex::new(c, &lock_path).unwrap();
        for _ in 0..THREADS {
            let (lock, ex, go) = (lock.clone(), ex.clone(), go.clone());
            hs.push(thread::spawn(move || {
                go.wait();
                for _ in 0..ROUNDS {
                    lock.acquire().unwrap();
                    assert!(lock.is_owned_by_current_thread());
                    ex.critical_section();
                    lock.release().unwrap();
                }
            }));
        }
    }
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(ex.violations.load(Ordering::SeqCst), 0);
    assert_eq!(ex.counter.load(Ordering::SeqCst), 3 * THREADS as u64 * ROUNDS);
    assert_no_nodes(&clients[0], &lock_path);
    for c in clients {
        c.close();
    }
});

server_test!(shared mutex_layout_reentrancy_and_ownership, |srv| {
    let root = unique_root("mutex-layout");
    let lock_path = format!("{root}/lock");
    let c = srv.curator();
    let lock = InterProcessMutex::new(&c, &lock_path).unwrap();
    assert!(!lock.is_acquired_in_this_process());
    lock.acquire().unwrap();
    let nodes = lock.participant_nodes().unwrap();
    assert_eq!(nodes.len(), 1);
    let name = zk_curator::path::node_name(&nodes[0]).to_string();
    assert!(protection::is_protected_znode(&name), "{name}");
    let plain = protection::normalize(&name);
    assert!(plain.starts_with("lock-") && plain.len() == 15, "{plain}");
    assert_eq!(lock.lock_node().as_deref(), Some(nodes[0].as_str()));
    // Ephemeral, with the client's default data (the local address, as Curator writes it).
    let mut stat = zk_curator::Stat::default();
    let data = c.get_data().storing_stat_in(&mut stat).for_path(&nodes[0]).unwrap();
    assert_eq!(data, c.default_data());
    assert_eq!(stat.ephemeral_owner, c.zookeeper_client().zookeeper().unwrap().session_id());

    // Re-entrant: no second node, released only by the last release.
    lock.acquire().unwrap();
    assert!(lock.acquire_timeout(Duration::ZERO).unwrap());
    assert_eq!(lock.participant_nodes().unwrap().len(), 1);
    lock.release().unwrap();
    lock.release().unwrap();
    assert!(lock.is_owned_by_current_thread());
    // Another thread of the process neither owns it nor can release it.
    let l2 = lock.clone();
    let other = thread::spawn(move || {
        (l2.is_owned_by_current_thread(), l2.is_acquired_in_this_process(), l2.release())
    })
    .join()
    .unwrap();
    assert!(!other.0 && other.1);
    assert!(matches!(other.2, Err(Error::InvalidArgument(_))), "{:?}", other.2);
    lock.release().unwrap();
    assert!(!lock.is_acquired_in_this_process());
    assert!(matches!(lock.release(), Err(Error::InvalidArgument(_))));
    // Node data of one's own.
    let with_data = InterProcessMutex::with_lock_data(&c, &lock_path, b"id-7").unwrap();
    with_data.acquire().unwrap();
    let n = with_data.lock_node().unwrap();
    assert_eq!(c.get_data().for_path(&n).unwrap(), b"id-7");
    with_data.release().unwrap();
    assert_no_nodes(&c, &lock_path);
    c.close();
});

server_test!(shared mutex_timeouts_and_guards, |srv| {
    let root = unique_root("mutex-timeout");
    let lock_path = format!("{root}/lock");
    let (a, b) = (srv.curator(), srv.curator());
    let la = InterProcessMutex::new(&a, &lock_path).unwrap();
    let lb = InterProcessMutex::new(&b, &lock_path).unwrap();
    let guard = la.lock().unwrap();
    // B waits the time it was given, not more, and leaves nothing behind.
    let start = Instant::now();
    assert!(!lb.acquire_timeout(Duration::from_millis(300)).unwrap());
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(290) && took < Duration::from_secs(5), "{took:?}");
    assert!(wait_until(WAIT, || la.participant_nodes().unwrap().len() == 1));
    assert!(lb.try_lock_for(Duration::from_millis(50)).unwrap().is_none());
    // A waiter wakes when the holder lets go.
    let lb2 = lb.clone();
    let waiter = thread::spawn(move || {
        let t = Instant::now();
        lb2.acquire().unwrap();
        let waited = t.elapsed();
        lb2.release().unwrap();
        waited
    });
    assert!(wait_until(WAIT, || la.participant_nodes().unwrap().len() == 2));
    thread::sleep(Duration::from_millis(100));
    drop(guard);
    let waited = waiter.join().unwrap();
    assert!(waited >= Duration::from_millis(90), "{waited:?}");
    let g = Locker::with_timeout(&la, Duration::from_secs(5)).unwrap();
    assert!(la.is_owned_by_current_thread());
    g.release().unwrap();
    let g = la.lock().unwrap();
    assert!(matches!(
        Locker::with_timeout(&lb, Duration::from_millis(50)),
        Err(Error::Timeout)
    ));
    drop(g);
    assert_no_nodes(&a, &lock_path);
    a.close();
    b.close();
});

server_test!(shared mutex_interoperates_with_foreign_nodes_and_namespaces, |srv| {
    // A node that sorts first (a "Java" holder made by hand with Curator's layout) blocks us;
    // deleting it hands the lock over.
    let root = unique_root("mutex-foreign");
    let lock_path = format!("{root}/lock");
    let c = srv.curator();
    let foreign = c
        .create()
        .creating_parent_containers_if_needed()
        .with_protection()
        .with_mode(CreateMode::EphemeralSequential)
        .for_path(&format!("{lock_path}/lock-"))
        .unwrap();
    let lock = InterProcessMutex::new(&c, &lock_path).unwrap();
    assert!(!lock.acquire_timeout(Duration::from_millis(200)).unwrap());
    let l2 = lock.clone();
    let t = thread::spawn(move || {
        l2.acquire().unwrap();
        l2.release().unwrap();
    });
    assert!(wait_until(WAIT, || lock.participant_nodes().unwrap().len() == 2));
    assert_eq!(lock.participant_nodes().unwrap()[0], foreign);
    c.delete().for_path(&foreign).unwrap();
    t.join().unwrap();

    // In a namespace, paths are the namespace's.
    let ns = c.using_namespace(Some(&root[1..])).unwrap();
    let nl = InterProcessMutex::new(&ns, "/nslock").unwrap();
    nl.acquire().unwrap();
    let nodes = nl.participant_nodes().unwrap();
    assert!(nodes[0].starts_with("/nslock/_c_"), "{nodes:?}");
    assert!(nl.lock_node().unwrap().starts_with("/nslock/"));
    assert_eq!(children(&c, &format!("{root}/nslock")).len(), 1);
    nl.release().unwrap();
    assert_no_nodes(&c, &format!("{root}/nslock"));
    c.close();
});

server_test!(shared revocation_reaches_holder_and_waiter, |srv| {
    let root = unique_root("mutex-revoke");
    let lock_path = format!("{root}/lock");
    let (a, b) = (srv.curator(), srv.curator());
    let la = InterProcessMutex::new(&a, &lock_path).unwrap();
    let (tx, rx) = mpsc::channel();
    la.make_revocable(move |l: &InterProcessMutex| {
        let _ = tx.send(l.path().to_string());
    });
    la.acquire().unwrap();
    let node = la.participant_nodes().unwrap().remove(0);
    assert!(a.get_data().for_path(&node).unwrap().is_empty(), "revocable: empty data");
    Revoker::attempt_revoke(&b, &node).unwrap();
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), lock_path);
    // Twice: the watch is set again after each request.
    b.set_data().for_path(&node, b"other").unwrap();
    Revoker::attempt_revoke(&b, &node).unwrap();
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), lock_path);
    la.release().unwrap();
    // A gone node is fine.
    Revoker::attempt_revoke(&b, &node).unwrap();
    assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
    assert_no_nodes(&a, &lock_path);
    a.close();
    b.close();
});

server_test!(shared close_and_drop_delete_every_node, |srv| {
    let root = unique_root("mutex-close");
    let lock_path = format!("{root}/lock");
    let (a, b) = (srv.curator(), srv.curator());
    let la = InterProcessMutex::new(&a, &lock_path).unwrap();
    la.acquire().unwrap();
    // B queues a waiter, then is closed under it: the waiter gives up with Closed.
    let lb = InterProcessMutex::new(&b, &lock_path).unwrap();
    let lb2 = lb.clone();
    let waiter = thread::spawn(move || lb2.acquire());
    assert!(wait_until(WAIT, || la.participant_nodes().unwrap().len() == 2));
    lb.close();
    assert!(matches!(waiter.join().unwrap(), Err(Error::Closed)));
    assert!(matches!(lb.acquire(), Err(Error::Closed)));
    assert!(matches!(lb.release(), Err(Error::Closed)));
    assert!(wait_until(WAIT, || la.participant_nodes().unwrap().len() == 1));
    // Dropping the holder's last handle deletes its node.
    drop(la);
    assert_no_nodes(&a, &lock_path);

    // Closing the client ends a waiter too.
    let la = InterProcessMutex::new(&a, &lock_path).unwrap();
    la.acquire().unwrap();
    let lb = InterProcessMutex::new(&b, &lock_path).unwrap();
    let waiter = thread::spawn(move || lb.acquire());
    assert!(wait_until(WAIT, || la.participant_nodes().unwrap().len() == 2));
    b.close();
    assert!(waiter.join().unwrap().is_err());
    assert!(wait_until(WAIT, || la.participant_nodes().unwrap().len() == 1));
    la.release().unwrap();
    assert_no_nodes(&a, &lock_path);
    a.close();
});

server_test!(shared bad_input_is_an_error, |srv| {
    let c = srv.curator();
    for bad in ["", "no-slash", "/trailing/", "/a//b", "/a/./b"] {
        assert!(
            matches!(InterProcessMutex::new(&c, bad), Err(Error::InvalidPath { .. })),
            "{bad:?}"
        );
    }
    let lock = InterProcessMutex::new(&c, &unique_root("mutex-bad")).unwrap();
    assert!(matches!(lock.release(), Err(Error::InvalidArgument(_))));
    // A client that is not started.
    let idle = srv.curator_builder().build().unwrap();
    let l = InterProcessMutex::new(&idle, "/x").unwrap();
    assert!(matches!(l.acquire(), Err(Error::InvalidArgument(_))), "not started");
    idle.close();
    assert!(matches!(l.acquire(), Err(Error::Closed)));
    c.close();
    assert!(matches!(lock.acquire(), Err(Error::Closed)));
    assert!(matches!(lock.participant_nodes(), Err(Error::Closed)));
});

#[test]
fn lock_types_cross_threads_as_documented() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<InterProcessMutex>();
    send_sync::<InterProcessReadWriteLock>();
    send_sync::<ReadLock>();
    send_sync::<WriteLock>();
    send_sync::<InterProcessSemaphoreV2>();
    send_sync::<InterProcessSemaphoreMutex>();
    send_sync::<InterProcessMultiLock>();
    send_sync::<Lease>();
    send_sync::<Revoker>();
}
