//! InterProcessReadWriteLock on both server kinds: readers share and writers exclude under
//! contention, the node layout, FIFO between readers and writers, re-entrancy, the
//! downgrade (with the Curator 5.5 layout that a queued writer cannot overtake), the refused
//! upgrade, faults, and cleanup.

mod support;

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

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

fn assert_no_nodes(c: &CuratorFramework, p: &str) {
    assert!(
        wait_until(WAIT, || children(c, p).is_empty()),
        "nodes left under {p}: {:?}",
        children(c, p)
    );
}

#[derive(Default)]
struct Guard {
    readers: AtomicI64,
    writer: AtomicBool,
    violations: AtomicU64,
    max_readers: AtomicI64,
    writes: AtomicU64,
}

server_test!(shared readers_share_writers_exclude_under_contention, |srv| {
    let lock_path = format!("{}/rw", unique_root("rw-contended"));
    let clients: Vec<CuratorFramework> = (0..3).map(|_| srv.curator()).collect();
    let g = Arc::new(Guard::default());
    let go = Arc::new(Barrier::new(3 * 6));
    let mut hs = Vec::new();
    for c in &clients {
        let rw = InterProcessReadWriteLock::new(c, &lock_path).unwrap();
        for t in 0..6 {
            let (rw, g, go) = (rw.clone(), g.clone(), go.clone());
            hs.push(thread::spawn(move || {
                go.wait();
                for _ in 0..4 {
                    if t < 4 {
                        let r = rw.read_lock();
                        r.acquire().unwrap();
                        if g.writer.load(Ordering::SeqCst) {
                            g.violations.fetch_add(1, Ordering::SeqCst);
                        }
                        let n = g.readers.fetch_add(1, Ordering::SeqCst) + 1;
                        g.max_readers.fetch_max(n, Ordering::SeqCst);
                        thread::sleep(Duration::from_millis(5));
                        g.readers.fetch_sub(1, Ordering::SeqCst);
                        r.release().unwrap();
                    } else {
                        let w = rw.write_lock();
                        w.acquire().unwrap();
                        if g.writer.swap(true, Ordering::SeqCst)
                            || g.readers.load(Ordering::SeqCst) != 0
                        {
                            g.violations.fetch_add(1, Ordering::SeqCst);
                        }
                        thread::sleep(Duration::from_millis(2));
                        g.writes.fetch_add(1, Ordering::SeqCst);
                        g.writer.store(false, Ordering::SeqCst);
                        w.release().unwrap();
                    }
                }
            }));
        }
    }
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(g.violations.load(Ordering::SeqCst), 0);
    assert_eq!(g.writes.load(Ordering::SeqCst), 3 * 2 * 4);
    assert!(g.max_readers.load(Ordering::SeqCst) > 1, "readers never shared");
    assert_no_nodes(&clients[0], &lock_path);
    for c in clients {
        c.close();
    }
});

server_test!(shared layout_fifo_and_reentrancy, |srv| {
    let lock_path = format!("{}/rw", unique_root("rw-layout"));
    let (a, b) = (srv.curator(), srv.curator());
    let ra = InterProcessReadWriteLock::with_lock_data(&a, &lock_path, b"a-data").unwrap();
    let rb = InterProcessReadWriteLock::new(&b, &lock_path).unwrap();

    // A reads (twice: re-entrant, one node).
    ra.read_lock().acquire().unwrap();
    ra.read_lock().acquire().unwrap();
    let reads = ra.read_lock().participant_nodes().unwrap();
    assert_eq!(reads.len(), 1);
    let name = path::node_name(&reads[0]);
    assert!(protection::is_protected_znode(name), "{name}");
    assert!(protection::normalize(name).starts_with("__READ__"), "{name}");
    assert_eq!(a.get_data().for_path(&reads[0]).unwrap(), b"a-data");
    assert!(ra.write_lock().participant_nodes().unwrap().is_empty());

    // B's writer queues behind the reader; B's reader, after the writer, waits too (FIFO).
    let w = rb.write_lock();
    let wt = thread::spawn(move || {
        w.acquire().unwrap();
        let n = w.lock_node().unwrap();
        thread::sleep(Duration::from_millis(200));
        w.release().unwrap();
        n
    });
    assert!(wait_until(WAIT, || rb.write_lock().participant_nodes().unwrap().len() == 1));
    let wnode = rb.write_lock().participant_nodes().unwrap().remove(0);
    assert!(protection::normalize(path::node_name(&wnode)).starts_with("__WRIT__"));
    let r2 = InterProcessReadWriteLock::new(&b, &lock_path).unwrap().read_lock();
    assert!(!r2.acquire_timeout(Duration::from_millis(200)).unwrap(), "a reader overtook a writer");
    ra.read_lock().release().unwrap();
    assert!(ra.read_lock().is_owned_by_current_thread());
    ra.read_lock().release().unwrap();
    assert!(matches!(ra.read_lock().release(), Err(Error::InvalidArgument(_))));
    // The writer gets it; the reader after it gets it once the writer is done.
    assert!(r2.acquire_timeout(WAIT).unwrap());
    assert_eq!(wt.join().unwrap(), wnode);
    r2.release().unwrap();
    assert_no_nodes(&a, &lock_path);
    a.close();
    b.close();
});

server_test!(shared downgrade_keeps_queued_writers_out_and_upgrade_is_refused, |srv| {
    let lock_path = format!("{}/rw", unique_root("rw-downgrade"));
    let (a, b) = (srv.curator(), srv.curator());
    let rw = InterProcessReadWriteLock::new(&a, &lock_path).unwrap();
    let (read, write) = (rw.read_lock(), rw.write_lock());
    write.acquire().unwrap();
    let wnode = write.lock_node().unwrap();
    // A writer of B queues behind A's write lock.
    let other = InterProcessReadWriteLock::new(&b, &lock_path).unwrap();
    let bw = other.write_lock();
    let (bw2, done) = (bw.clone(), Arc::new(AtomicBool::new(false)));
    let d2 = done.clone();
    let waiter = thread::spawn(move || {
        bw2.acquire().unwrap();
        d2.store(true, Ordering::SeqCst);
        bw2.release().unwrap();
    });
    assert!(wait_until(WAIT, || bw.participant_nodes().unwrap().len() == 2));

    // Downgrade: A's read node is a plain ephemeral node with the write node's sequence.
    read.acquire().unwrap();
    let rnode = read.lock_node().unwrap();
    let seq = path::fix_for_sorting(&wnode, "__WRIT__");
    assert!(rnode.ends_with(&format!("__READ__{seq}")), "{rnode} vs {wnode}");
    assert!(protection::is_protected_znode(path::node_name(&rnode)));
    let mut stat = zk_curator::Stat::default();
    a.get_data().storing_stat_in(&mut stat).for_path(&rnode).unwrap();
    assert_ne!(stat.ephemeral_owner, 0);
    assert_eq!(stat.cversion, 0);
    write.release().unwrap();
    assert!(read.is_owned_by_current_thread() && !write.is_owned_by_current_thread());
    // The queued writer must not get in while A still reads.
    thread::sleep(Duration::from_millis(300));
    assert!(!done.load(Ordering::SeqCst), "a writer overtook the downgraded reader");
    // An upgrade is refused (it would wait for itself).
    assert!(matches!(write.acquire(), Err(Error::InvalidArgument(_))));
    read.release().unwrap();
    waiter.join().unwrap();
    assert!(done.load(Ordering::SeqCst));
    assert_no_nodes(&a, &lock_path);
    a.close();
    b.close();
});

server_test!(shared a_reader_cut_off_wakes_when_the_writer_leaves, |srv| {
    let lock_path = format!("{}/rw", unique_root("rw-fault"));
    let proxy = Proxy::start(&srv.connect_string());
    let cut = proxied_client(&proxy);
    let direct = srv.curator();
    let w = InterProcessReadWriteLock::new(&direct, &lock_path).unwrap().write_lock();
    w.acquire().unwrap();
    let r = InterProcessReadWriteLock::new(&cut, &lock_path).unwrap().read_lock();
    let r2 = r.clone();
    let reader = thread::spawn(move || {
        r2.acquire().unwrap();
        r2.release().unwrap();
    });
    assert!(wait_until(WAIT, || children(&direct, &lock_path).len() == 2));
    outage(srv, &proxy, &cut, false, || {
        w.release().unwrap();
    });
    reader.join().unwrap();
    assert_no_nodes(&direct, &lock_path);
    cut.close();
    direct.close();
});

server_test!(shared close_drop_and_bad_input, |srv| {
    let lock_path = format!("{}/rw", unique_root("rw-close"));
    let c = srv.curator();
    assert!(matches!(
        InterProcessReadWriteLock::new(&c, "bad"),
        Err(Error::InvalidPath { .. })
    ));
    let rw = InterProcessReadWriteLock::new(&c, &lock_path).unwrap();
    rw.write_lock().acquire().unwrap();
    let other = InterProcessReadWriteLock::new(&c, &lock_path).unwrap();
    let r = other.read_lock();
    let waiter = thread::spawn(move || r.acquire());
    assert!(wait_until(WAIT, || children(&c, &lock_path).len() == 2));
    other.close();
    assert!(matches!(waiter.join().unwrap(), Err(Error::Closed)));
    assert!(matches!(other.write_lock().acquire(), Err(Error::Closed)));
    drop(rw);
    assert_no_nodes(&c, &lock_path);
    c.close();
});
