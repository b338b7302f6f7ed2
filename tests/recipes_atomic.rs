//! DistributedAtomicLong / Integer / Value on both server kinds: Curator's encodings, every
//! operation, honest `succeeded()` and exact totals through connection drops and lost replies,
//! unreadable data, bad input, nothing left behind; CachedAtomicLong / Integer: blocks, and
//! no id handed out twice through connection drops.

mod support;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::events::WAIT;
use support::proxy::{proxied_client, Proxy};
use support::wait_until;
use zk_curator::framework::{CuratorFrameworkFactory, RetryNTimes};
use zk_curator::proto::OpCode;
use zk_curator::recipes::atomic::{
    CachedAtomicInteger, CachedAtomicLong, DistributedAtomicInteger, DistributedAtomicLong,
    DistributedAtomicValue,
};
use zk_curator::{CuratorFramework, Error};

fn policy() -> RetryNTimes {
    RetryNTimes::new(1000, Duration::ZERO)
}

server_test!(shared long_layout_and_operations, |srv| {
    let root = support::unique_root("long");
    let c = srv.curator();
    let path = format!("{root}/deep/counter");
    let n = DistributedAtomicLong::new(&c, &path, policy()).unwrap();
    // Never set: reads as 0, and no node is made by reading.
    let g = n.get().unwrap();
    assert!(g.succeeded());
    assert_eq!((*g.pre_value(), *g.post_value()), (0, 0));
    assert!(c.check_exists().for_path(&path).unwrap().is_none());

    let r = n.increment().unwrap();
    assert!(r.succeeded());
    assert_eq!((*r.pre_value(), *r.post_value()), (0, 1));
    assert_eq!(r.stats().optimistic_tries(), 1);
    // Curator's encoding: 8 bytes, big-endian; the parents were made.
    assert_eq!(c.get_data().for_path(&path).unwrap(), 1i64.to_be_bytes());

    assert_eq!(*n.add(41).unwrap().post_value(), 42);
    assert_eq!(*n.subtract(2).unwrap().post_value(), 40);
    assert_eq!(*n.decrement().unwrap().post_value(), 39);
    let cas = n.compare_and_set(39, 100).unwrap();
    assert!(cas.succeeded());
    assert_eq!((*cas.pre_value(), *cas.post_value()), (39, 100));
    let miss = n.compare_and_set(39, 200).unwrap();
    assert!(!miss.succeeded());
    assert_eq!((*miss.pre_value(), *miss.post_value()), (100, 100));
    assert_eq!(*n.try_set(-7).unwrap().post_value(), -7);
    assert!(!n.initialize(5).unwrap(), "exists already");
    n.force_set(i64::MAX).unwrap();
    assert_eq!(*n.increment().unwrap().post_value(), i64::MIN, "wraps as Java does");
    assert_eq!(c.get_data().for_path(&path).unwrap(), i64::MIN.to_be_bytes());

    // An empty node is 0 (Curator's rule), and a missing one can be initialized.
    let empty = format!("{root}/empty");
    c.create().for_path_with_data(&empty, b"").unwrap();
    let e = DistributedAtomicLong::new(&c, &empty, policy()).unwrap();
    assert_eq!(*e.get().unwrap().post_value(), 0);
    assert!(e.compare_and_set(0, 9).unwrap().succeeded());
    let fresh = DistributedAtomicLong::new(&c, &format!("{root}/fresh"), policy()).unwrap();
    assert!(fresh.compare_and_set(0, 3).unwrap().succeeded(), "missing counts as 0");
    let init = DistributedAtomicLong::new(&c, &format!("{root}/init"), policy()).unwrap();
    assert!(init.initialize(11).unwrap());
    assert!(!init.initialize(12).unwrap());
    assert_eq!(*init.get().unwrap().post_value(), 11);
    c.close();
});

server_test!(shared integer_and_value_layouts, |srv| {
    let root = support::unique_root("int");
    let c = srv.curator();
    let ipath = format!("{root}/i");
    let i = DistributedAtomicInteger::new(&c, &ipath, policy()).unwrap();
    assert_eq!(*i.add(42).unwrap().post_value(), 42);
    assert_eq!(c.get_data().for_path(&ipath).unwrap(), vec![0, 0, 0, 42]);
    i.force_set(i32::MIN).unwrap();
    assert_eq!(*i.decrement().unwrap().post_value(), i32::MAX);

    let vpath = format!("{root}/v");
    let v = DistributedAtomicValue::new(&c, &vpath, policy()).unwrap();
    assert_eq!(*v.get().unwrap().post_value(), None);
    assert!(!v.compare_and_set(b"x", b"y").unwrap().succeeded(), "no node matches nothing");
    let t = v.try_set(b"one").unwrap();
    assert!(t.succeeded());
    assert_eq!((t.pre_value().clone(), t.post_value().clone()), (None, Some(b"one".to_vec())));
    assert!(v.compare_and_set(b"one", b"two").unwrap().succeeded());
    assert_eq!(c.get_data().for_path(&vpath).unwrap(), b"two");
    v.force_set(b"three").unwrap();
    assert_eq!(v.get().unwrap().post_value().as_deref(), Some(&b"three"[..]));
    c.close();
});

server_test!(shared lost_reply_of_an_increment_is_resolved, |srv| {
    let root = support::unique_root("lost");
    let path = format!("{root}/n");
    let proxy = Proxy::start(&srv.connect_string());
    let a = proxied_client(&proxy);
    let n = DistributedAtomicLong::new(&a, &path, policy()).unwrap();
    assert!(n.initialize(0).unwrap());
    for i in 1..=3 {
        proxy.lose_next_reply_to(OpCode::Multi);
        let r = n.increment().unwrap();
        assert!(r.succeeded(), "round {i}");
        assert_eq!(*r.post_value(), i);
        assert_eq!(*n.get().unwrap().post_value(), i, "applied exactly once");
    }
    // The same for the first write, which creates the node.
    let created = DistributedAtomicLong::new(&a, &format!("{root}/c"), policy()).unwrap();
    proxy.lose_next_reply_to(OpCode::Multi);
    assert!(created.initialize(5).unwrap(), "our create, whose reply was lost");
    assert_eq!(*created.get().unwrap().post_value(), 5);
    a.close();
});

// 3 clients behind proxies that drop their connections in turn every 300 ms, 8 threads each,
// all incrementing one counter: every increment reported as succeeded happened once (the
// post values are exactly 1..=total) and the node ends at the total.
server_test!(shared exact_under_connection_drops, |srv| {
    const CLIENTS: usize = 3;
    const THREADS: usize = 8;
    const EACH: usize = 25;
    let root = support::unique_root("exact");
    let path = format!("{root}/n");
    let proxies: Vec<Proxy> = (0..CLIENTS)
        .map(|_| Proxy::start(&srv.connect_string()))
        .collect();
    let clients: Vec<CuratorFramework> = proxies.iter().map(robust_client).collect();
    let counters: Vec<Arc<DistributedAtomicLong>> = clients
        .iter()
        .map(|c| Arc::new(DistributedAtomicLong::new(c, &path, policy()).unwrap()))
        .collect();
    let stop = AtomicBool::new(false);
    let drops = AtomicUsize::new(0);
    let posts = Mutex::new(Vec::new());
    let failures = Mutex::new(Vec::<String>::new());
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(300));
                proxies[i % CLIENTS].drop_connections();
                drops.fetch_add(1, Ordering::SeqCst);
                i += 1;
            }
        });
        let workers: Vec<_> = counters
            .iter()
            .flat_map(|n| (0..THREADS).map(move |_| n.clone()))
            .map(|n| {
                let (posts, failures) = (&posts, &failures);
                s.spawn(move || {
                    let mut done = 0;
                    while done < EACH {
                        match n.increment() {
                            Ok(r) if r.succeeded() => {
                                assert_eq!(*r.post_value(), r.pre_value() + 1);
                                posts.lock().unwrap().push(*r.post_value());
                                done += 1;
                            }
                            // The policy gave up under contention: nothing was written.
                            Ok(_) => {}
                            Err(e) => {
                                failures.lock().unwrap().push(e.to_string());
                                return;
                            }
                        }
                    }
                })
            })
            .collect();
        for w in workers {
            let _ = w.join();
        }
        stop.store(true, Ordering::SeqCst);
    });
    assert!(failures.lock().unwrap().is_empty(), "{:?}", failures.lock().unwrap());
    assert!(drops.load(Ordering::SeqCst) > 0);
    let total = (CLIENTS * THREADS * EACH) as i64;
    let posts: BTreeSet<i64> = posts.into_inner().unwrap().into_iter().collect();
    assert_eq!(posts, (1..=total).collect::<BTreeSet<i64>>(), "each success once");
    let check = srv.curator();
    assert_eq!(check.get_data().for_path(&path).unwrap(), total.to_be_bytes());
    for n in &counters {
        n.close();
    }
    for c in &clients {
        let zk = c.zookeeper_client().zookeeper().unwrap();
        assert!(wait_until(WAIT, || zk.get_ephemerals("/").unwrap().is_empty()));
    }
    assert!(check.get_children().for_path(&path).unwrap().is_empty());
    for c in clients {
        c.close();
    }
    check.close();
});

/// A proxied client whose retry policy outlasts the drops.
fn robust_client(proxy: &Proxy) -> CuratorFramework {
    let c = CuratorFrameworkFactory::builder()
        .connect_string(&proxy.connect_string())
        .session_timeout(Duration::from_secs(20))
        .connection_timeout(Duration::from_secs(5))
        .retry_policy(RetryNTimes::new(100, Duration::from_millis(50)))
        .build()
        .unwrap();
    c.start().unwrap();
    assert!(c.block_until_connected(WAIT));
    c
}

server_test!(shared unreadable_data_and_bad_input, |srv| {
    let root = support::unique_root("bad");
    let c = srv.curator();
    for bad in ["relative", "/a//b", "/t/", "/x/\u{0}"] {
        assert!(
            matches!(
                DistributedAtomicLong::new(&c, bad, policy()),
                Err(Error::InvalidPath { .. })
            ),
            "{bad:?}"
        );
    }
    let path = format!("{root}/three-bytes");
    c.create()
        .creating_parents_if_needed()
        .for_path_with_data(&path, &[1, 2, 3])
        .unwrap();
    let n = DistributedAtomicLong::new(&c, &path, policy()).unwrap();
    for r in [n.get(), n.increment(), n.compare_and_set(0, 1), n.try_set(4)] {
        let e = r.unwrap_err();
        assert!(matches!(&e, Error::BadData { path: p, .. } if *p == path), "{e}");
        assert!(e.to_string().contains("8-byte"), "{e}");
    }
    assert_eq!(c.get_data().for_path(&path).unwrap(), vec![1, 2, 3], "untouched");
    // An integer reads a long's 8 bytes as unreadable too, rather than half of it.
    let as_int = DistributedAtomicInteger::new(&c, &path, policy()).unwrap();
    n.force_set(7).unwrap();
    assert!(matches!(as_int.get(), Err(Error::BadData { .. })));
    assert_eq!(*n.increment().unwrap().post_value(), 8, "force_set repaired it");

    let big = vec![0u8; 2 << 20];
    let v = DistributedAtomicValue::new(&c, &format!("{root}/big"), policy()).unwrap();
    assert!(matches!(v.try_set(&big), Err(Error::InvalidArgument(_))));
    assert!(matches!(v.force_set(&big), Err(Error::InvalidArgument(_))));
    assert!(matches!(v.initialize(&big), Err(Error::InvalidArgument(_))));
    assert_eq!(*v.get().unwrap().post_value(), None, "nothing was written");
    c.close();
});

// PromotedToLock: optimistic attempts that give up (no retries here, 8 threads contending)
// take the mutex and try again under it; every increment ends up applied exactly once, and
// the lock leaves no node behind. While someone else holds the lock, a promoted attempt
// gives up at the lock's timeout and reports that it did not succeed.
/// The lock left no node behind. Its parent is a container: a server may reap it once empty
/// (the in-process one does within 100 ms, ZooKeeper within its check interval), so a missing
/// parent is as empty as one without children.
fn no_lock_nodes(c: &zk_curator::CuratorFramework, lock_path: &str) -> bool {
    match c.get_children().for_path(lock_path) {
        Ok(children) => children.is_empty(),
        Err(Error::NoNode { .. }) => true,
        Err(e) => panic!("get_children {lock_path}: {e}"),
    }
}

server_test!(shared promoted_to_lock, |srv| {
    use zk_curator::recipes::atomic::PromotedToLock;
    use zk_curator::recipes::locks::InterProcessMutex;
    let root = support::unique_root("promoted");
    let path = format!("{root}/n");
    let lock_path = format!("{root}/lock");
    let (a, b) = (srv.curator(), srv.curator());
    let promoted = PromotedToLock::builder()
        .lock_path(&lock_path)
        .retry_policy(RetryNTimes::new(50, Duration::ZERO))
        .build()
        .unwrap();
    let n = Arc::new(
        DistributedAtomicLong::new_with_promoted_to_lock(&a, &path, RetryNTimes::new(0, Duration::ZERO), promoted)
            .unwrap(),
    );
    assert!(n.initialize(0).unwrap());

    let run = |n: &Arc<DistributedAtomicLong>| {
        let results: Vec<_> = (0..8)
            .map(|_| {
                let n = n.clone();
                std::thread::spawn(move || (0..15).map(|_| n.increment().unwrap()).collect::<Vec<_>>())
            })
            .collect();
        results
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect::<Vec<_>>()
    };
    let results = run(&n);
    let ok = results.iter().filter(|r| r.succeeded()).count() as i64;
    let promoted_tries: u32 = results.iter().map(|r| r.stats().promoted_lock_tries()).sum();
    assert!(promoted_tries > 0, "no attempt was promoted");
    // Under the lock an attempt still races the others' optimistic ones, so a few may give
    // up; what succeeded was applied once, what did not was not applied.
    assert!(ok >= 8 * 15 * 9 / 10, "only {ok} of 120 went through");
    assert_eq!(*n.get().unwrap().post_value(), ok, "exactly once each");
    assert!(no_lock_nodes(&a, &lock_path));

    // Someone else holds the lock: promoted attempts give up at the timeout, unapplied.
    n.close();
    let timed = PromotedToLock::builder()
        .lock_path(&lock_path)
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let n = Arc::new(
        DistributedAtomicLong::new_with_promoted_to_lock(&a, &path, RetryNTimes::new(0, Duration::ZERO), timed)
            .unwrap(),
    );
    let holder = InterProcessMutex::new(&b, &lock_path).unwrap();
    holder.acquire().unwrap();
    let before = *n.get().unwrap().post_value();
    let results = run(&n);
    let ok = results.iter().filter(|r| r.succeeded()).count() as i64;
    let gave_up: Vec<_> = results.iter().filter(|r| !r.succeeded()).collect();
    for r in &gave_up {
        assert_eq!(r.stats().promoted_lock_tries(), 0);
        assert!(r.stats().promoted_lock_time() >= Duration::from_millis(200));
        assert_eq!(r.pre_value(), r.post_value());
    }
    assert!(!gave_up.is_empty(), "8 threads without retries never collided");
    assert_eq!(*n.get().unwrap().post_value(), before + ok, "only successes were applied");
    holder.release().unwrap();
    n.close();
    assert!(no_lock_nodes(&b, &lock_path));
    assert!(matches!(
        PromotedToLock::builder().build(),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        PromotedToLock::builder().lock_path("bad").build(),
        Err(Error::InvalidPath { .. })
    ));
    a.close();
    b.close();
});

server_test!(shared cached_blocks_and_values, |srv| {
    let root = support::unique_root("cached");
    let c = srv.curator();
    let path = format!("{root}/ids");
    let ids = CachedAtomicLong::new(DistributedAtomicLong::new(&c, &path, policy()).unwrap(), 10).unwrap();
    assert_eq!((ids.cache_factor(), ids.available()), (10, 0));
    // The first call reserves 0..10 with one add(10): the node says 10 at once.
    let first = ids.next().unwrap();
    assert!(first.succeeded());
    assert_eq!((*first.pre_value(), *first.post_value()), (0, 1));
    assert_eq!(first.stats().optimistic_tries(), 1, "the add's statistics");
    assert_eq!(c.get_data().for_path(&path).unwrap(), 10i64.to_be_bytes());
    assert_eq!(ids.available(), 9);
    // The rest of the block is served locally: no write, empty statistics.
    for v in 1..10 {
        let r = ids.next().unwrap();
        assert_eq!((*r.pre_value(), *r.post_value()), (v, v + 1));
        assert_eq!(r.stats().optimistic_tries(), 0);
    }
    assert_eq!(c.get_data().for_path(&path).unwrap(), 10i64.to_be_bytes());
    assert_eq!(ids.available(), 0);
    // Another instance (as another process would) gets the next block, and so on.
    let other = CachedAtomicLong::new(DistributedAtomicLong::new(&c, &path, policy()).unwrap(), 3).unwrap();
    assert_eq!(*other.next().unwrap().pre_value(), 10);
    assert_eq!(*ids.next().unwrap().pre_value(), 13);
    assert_eq!(*other.next().unwrap().pre_value(), 11);
    assert_eq!(*ids.number().get().unwrap().post_value(), 23);
    // A factor of 1 is a plain increment per id.
    let one = CachedAtomicLong::new(DistributedAtomicLong::new(&c, &path, policy()).unwrap(), 1).unwrap();
    assert_eq!(*one.next().unwrap().pre_value(), 23);
    assert_eq!((one.available(), *one.number().get().unwrap().post_value()), (0, 24));

    // The integer: 4 bytes, the same blocks, wrapping as Java's int does.
    let ipath = format!("{root}/int");
    let n = DistributedAtomicInteger::new(&c, &ipath, policy()).unwrap();
    n.force_set(i32::MAX - 1).unwrap();
    let ints = CachedAtomicInteger::new(n, 4).unwrap();
    let got: Vec<i32> = (0..4).map(|_| *ints.next().unwrap().pre_value()).collect();
    assert_eq!(got, [i32::MAX - 1, i32::MAX, i32::MIN, i32::MIN + 1]);
    assert_eq!(c.get_data().for_path(&ipath).unwrap(), (i32::MIN + 2).to_be_bytes());

    // Bad factors are refused up front.
    let fresh = || DistributedAtomicLong::new(&c, &format!("{root}/bad"), policy()).unwrap();
    let e = CachedAtomicLong::new(fresh(), 0).unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
    let fresh_int = || DistributedAtomicInteger::new(&c, &format!("{root}/bad"), policy()).unwrap();
    assert!(matches!(CachedAtomicInteger::new(fresh_int(), 0), Err(Error::InvalidArgument(_))));
    assert!(matches!(
        CachedAtomicInteger::new(fresh_int(), i32::MAX as u32 + 1),
        Err(Error::InvalidArgument(_))
    ));
    assert!(CachedAtomicInteger::new(fresh_int(), i32::MAX as u32).is_ok());
    // Unreadable data: an error, nothing reserved, nothing written.
    let garbage = format!("{root}/garbage");
    c.create().for_path_with_data(&garbage, &[1, 2, 3]).unwrap();
    let g = CachedAtomicLong::new(DistributedAtomicLong::new(&c, &garbage, policy()).unwrap(), 5).unwrap();
    assert!(matches!(g.next(), Err(Error::BadData { .. })));
    assert_eq!((g.available(), c.get_data().for_path(&garbage).unwrap()), (0, vec![1, 2, 3]));
    c.close();
});

// 3 clients behind proxies that drop their connections in turn every 300 ms; each client has
// one CachedAtomicLong (factor 7) shared by 8 threads, all drawing ids from one counter. No
// id is handed out twice, every id is below the counter, and the counter is exactly the ids
// handed out plus those still cached (no block reserved without being known). A retry policy
// that gives up early makes some `next()` calls unsuccessful: those reserve nothing.
server_test!(shared cached_ids_unique_under_connection_drops, |srv| {
    const CLIENTS: usize = 3;
    const THREADS: usize = 8;
    const EACH: usize = 60;
    const FACTOR: u32 = 7;
    let root = support::unique_root("cached-drops");
    let path = format!("{root}/ids");
    let proxies: Vec<Proxy> = (0..CLIENTS)
        .map(|_| Proxy::start(&srv.connect_string()))
        .collect();
    let clients: Vec<CuratorFramework> = proxies.iter().map(robust_client).collect();
    let caches: Vec<Arc<CachedAtomicLong>> = clients
        .iter()
        .map(|c| {
            let n = DistributedAtomicLong::new(c, &path, RetryNTimes::new(2, Duration::ZERO)).unwrap();
            Arc::new(CachedAtomicLong::new(n, FACTOR).unwrap())
        })
        .collect();
    let stop = AtomicBool::new(false);
    let drops = AtomicUsize::new(0);
    let unsuccessful = AtomicUsize::new(0);
    let ids = Mutex::new(Vec::new());
    let failures = Mutex::new(Vec::<String>::new());
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(300));
                proxies[i % CLIENTS].drop_connections();
                drops.fetch_add(1, Ordering::SeqCst);
                i += 1;
            }
        });
        let workers: Vec<_> = caches
            .iter()
            .flat_map(|n| (0..THREADS).map(move |_| n.clone()))
            .map(|n| {
                let (ids, failures, drops, unsuccessful) = (&ids, &failures, &drops, &unsuccessful);
                s.spawn(move || {
                    let mut mine = Vec::new();
                    // At least EACH ids, and on through 3 drops so that every run sees faults.
                    while (mine.len() < EACH || drops.load(Ordering::SeqCst) < 3)
                        && std::time::Instant::now() < deadline
                    {
                        match n.next() {
                            Ok(r) if r.succeeded() => {
                                assert_eq!(*r.post_value(), r.pre_value() + 1);
                                mine.push(*r.pre_value());
                            }
                            Ok(r) => {
                                assert_eq!(r.pre_value(), r.post_value(), "nothing reserved");
                                unsuccessful.fetch_add(1, Ordering::SeqCst);
                            }
                            Err(e) => {
                                failures.lock().unwrap().push(e.to_string());
                                break;
                            }
                        }
                    }
                    ids.lock().unwrap().extend(mine);
                })
            })
            .collect();
        for w in workers {
            let _ = w.join();
        }
        stop.store(true, Ordering::SeqCst);
    });
    assert!(failures.lock().unwrap().is_empty(), "{:?}", failures.lock().unwrap());
    assert!(drops.load(Ordering::SeqCst) >= 3);
    let ids = ids.into_inner().unwrap();
    assert!(ids.len() >= CLIENTS * THREADS * EACH, "only {} ids before the deadline", ids.len());
    let distinct: BTreeSet<i64> = ids.iter().copied().collect();
    assert_eq!(distinct.len(), ids.len(), "an id was handed out twice");
    let check = srv.curator();
    let counter = i64::from_be_bytes(
        check.get_data().for_path(&path).unwrap().try_into().expect("8 bytes"),
    );
    let cached: u64 = caches.iter().map(|c| c.available()).sum();
    assert_eq!(counter % i64::from(FACTOR), 0, "whole blocks only");
    assert_eq!(counter as u64, ids.len() as u64 + cached, "every reserved block is accounted for");
    assert!(distinct.iter().all(|v| (0..counter).contains(v)));
    eprintln!(
        "{} ids, {} cached, {} unsuccessful calls, {} drops",
        ids.len(),
        cached,
        unsuccessful.load(Ordering::SeqCst),
        drops.load(Ordering::SeqCst)
    );
    drop(caches);
    for c in &clients {
        let zk = c.zookeeper_client().zookeeper().unwrap();
        assert!(wait_until(WAIT, || zk.get_ephemerals("/").unwrap().is_empty()));
    }
    for c in clients {
        c.close();
    }
    check.close();
});
