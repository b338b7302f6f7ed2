//! SharedValue and SharedCount on both server kinds: Curator's layout (a 4-byte big-endian
//! count), compare-and-set, listeners across clients, the re-read after a session loss, exact
//! counting through connection drops and lost replies, bad input, and nothing left behind.

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::events::WAIT;
use support::proxy::{outage, proxied_client, Proxy};
use support::wait_until;
use zk_curator::proto::OpCode;
use zk_curator::recipes::shared::{SharedCount, SharedValue, VersionedValue};
use zk_curator::{CuratorFramework, Error};

/// Records every count a listener hears.
fn recorder(count: &SharedCount) -> Arc<Mutex<Vec<i32>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    count
        .listenable()
        .add_listener(move |n: i32| s.lock().unwrap().push(n));
    seen
}

fn last(seen: &Arc<Mutex<Vec<i32>>>) -> Option<i32> {
    seen.lock().unwrap().last().copied()
}

/// Increments with a compare-and-set loop; counts the loop's failed attempts.
fn increment(count: &SharedCount) -> Result<(), Error> {
    loop {
        let v = count.versioned_value()?;
        if count.try_set_count(&v, v.value() + 1)? {
            return Ok(());
        }
    }
}

server_test!(shared count_layout_and_compare_and_set, |srv| {
    let root = support::unique_root("count");
    let c = srv.curator();
    let path = format!("{root}/a/counter");
    let count = SharedCount::new(&c, &path, 42).unwrap();
    count.start().unwrap();
    // Curator's layout: the parents are made, the count is 4 big-endian bytes.
    assert_eq!(c.get_data().for_path(&path).unwrap(), vec![0, 0, 0, 42]);
    assert_eq!(count.count().unwrap(), 42);

    let v = count.versioned_value().unwrap();
    assert_eq!((v.version(), *v.value()), (0, 42));
    assert!(count.try_set_count(&v, 43).unwrap());
    assert_eq!(count.count().unwrap(), 43);
    // The same stale version again: refused without a change.
    assert!(!count.try_set_count(&v, 99).unwrap());
    assert_eq!(c.get_data().for_path(&path).unwrap(), vec![0, 0, 0, 43]);

    // A change by someone else: the refused attempt refreshes the local copy.
    c.set_data().for_path(&path, &7i32.to_be_bytes()).unwrap();
    let stale = count.versioned_value().unwrap();
    if *stale.value() == 43 {
        assert!(!count.try_set_count(&stale, 44).unwrap());
    }
    assert_eq!(count.count().unwrap(), 7);

    count.set_count(-5).unwrap();
    assert_eq!(c.get_data().for_path(&path).unwrap(), (-5i32).to_be_bytes());

    // A second instance finds the node and does not reseed it.
    let other = SharedCount::new(&c, &path, 1000).unwrap();
    other.start().unwrap();
    assert_eq!(other.count().unwrap(), -5);
    other.close();
    count.close();
    c.close();
});

server_test!(shared value_listeners_follow_other_clients, |srv| {
    let root = support::unique_root("value");
    let (a, b) = (srv.curator(), srv.curator());
    let path = format!("{root}/v");
    let va = SharedValue::new(&a, &path, b"seed").unwrap();
    let seen = Arc::new(Mutex::new(Vec::<Vec<u8>>::new()));
    let s = seen.clone();
    va.listenable()
        .add_listener(move |v: &[u8]| s.lock().unwrap().push(v.to_vec()));
    va.start().unwrap();
    let vb = SharedValue::new(&b, &path, b"other seed").unwrap();
    vb.start().unwrap();
    assert_eq!(vb.value(), b"seed");

    for i in 0..5 {
        let cur = vb.versioned_value();
        assert!(vb.try_set_value(&cur, format!("v{i}").as_bytes()).unwrap());
    }
    assert!(wait_until(WAIT, || va.value() == b"v4"));
    assert!(wait_until(WAIT, || seen.lock().unwrap().last().map(Vec::as_slice)
        == Some(&b"v4"[..])));
    // Listeners hear states in order, never one twice.
    let heard = seen.lock().unwrap().clone();
    let mut idx: Vec<usize> = heard
        .iter()
        .map(|v| String::from_utf8_lossy(&v[1..]).parse::<usize>().unwrap())
        .collect();
    let sorted = {
        let mut s = idx.clone();
        s.sort();
        s.dedup();
        s
    };
    assert_eq!(idx, sorted, "in order, no repeats: {heard:?}");
    idx.clear();

    // A deleted and re-created node is followed too.
    // The value node has no children of ours: a plain delete works.
    b.delete().for_path(&path).unwrap();
    b.create().for_path_with_data(&path, b"reborn").unwrap();
    assert!(wait_until(WAIT, || va.value() == b"reborn"));
    va.close();
    vb.close();
    a.close();
    b.close();
});

server_test!(shared rereads_after_a_lost_session, |srv| {
    let root = support::unique_root("reread");
    let path = format!("{root}/count");
    let proxy = Proxy::start(&srv.connect_string());
    let a = proxied_client(&proxy);
    let b = srv.curator();
    let count = SharedCount::new(&a, &path, 0).unwrap();
    let seen = recorder(&count);
    count.start().unwrap();
    let other = SharedCount::new(&b, &path, 0).unwrap();
    other.start().unwrap();

    // While `a` is cut off its session expires: its watch dies with it, so only the re-read
    // after RECONNECTED can tell it about the change made meanwhile.
    outage(srv, &proxy, &a, true, || {
        other.set_count(17).unwrap();
    });
    assert!(
        wait_until(WAIT * 2, || last(&seen) == Some(17)),
        "the listener heard {:?}",
        seen.lock().unwrap()
    );
    assert_eq!(count.count().unwrap(), 17);
    // And it is watching again in the new session.
    other.set_count(18).unwrap();
    assert!(wait_until(WAIT, || last(&seen) == Some(18)));
    count.close();
    other.close();
    a.close();
    b.close();
});

server_test!(shared lost_reply_of_an_applied_write_is_resolved, |srv| {
    let root = support::unique_root("lost");
    let path = format!("{root}/count");
    let proxy = Proxy::start(&srv.connect_string());
    let a = proxied_client(&proxy);
    let count = SharedCount::new(&a, &path, 0).unwrap();
    count.start().unwrap();
    for i in 0..3 {
        // The write reaches the server, its reply is cut: Curator would retry, get BadVersion
        // from its own write, report failure and let the caller increment twice.
        proxy.lose_next_reply_to(OpCode::Multi);
        let v = count.versioned_value().unwrap();
        assert!(count.try_set_count(&v, v.value() + 1).unwrap(), "round {i}");
        assert_eq!(count.count().unwrap(), i + 1);
    }
    let check = srv.curator();
    assert_eq!(check.get_data().for_path(&path).unwrap(), 3i32.to_be_bytes());
    count.close();
    a.close();
    check.close();
});

// 3 clients behind proxies that drop their connections every ~300 ms, 8 threads each, all
// incrementing one count with compare-and-set: the count ends exactly at the number of
// increments reported done.
server_test!(shared exact_under_connection_drops, |srv| {
    const CLIENTS: usize = 3;
    const THREADS: usize = 8;
    const EACH: usize = 25;
    let root = support::unique_root("exact");
    let path = format!("{root}/count");
    let proxies: Vec<Proxy> = (0..CLIENTS)
        .map(|_| Proxy::start(&srv.connect_string()))
        .collect();
    let clients: Vec<CuratorFramework> = proxies.iter().map(robust_client).collect();
    let counts: Vec<Arc<SharedCount>> = clients
        .iter()
        .map(|c| {
            let s = SharedCount::new(c, &path, 0).unwrap();
            s.start().unwrap();
            Arc::new(s)
        })
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let drops = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    std::thread::scope(|s| {
        s.spawn(|| drop_in_turn(&proxies, &stop, &drops));
        let workers: Vec<_> = counts
            .iter()
            .flat_map(|count| (0..THREADS).map(move |_| count.clone()))
            .map(|count| {
                let (done, failures) = (done.clone(), failures.clone());
                s.spawn(move || {
                    for _ in 0..EACH {
                        match increment(&count) {
                            Ok(()) => done.fetch_add(1, Ordering::SeqCst),
                            Err(e) => {
                                failures.lock().unwrap().push(e.to_string());
                                return;
                            }
                        };
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
    let total = CLIENTS * THREADS * EACH;
    assert_eq!(done.load(Ordering::SeqCst), total);
    assert!(drops.load(Ordering::SeqCst) > 0, "no connection was dropped");
    let check = srv.curator();
    let raw = check.get_data().for_path(&path).unwrap();
    assert_eq!(raw, (total as i32).to_be_bytes(), "exact total");
    for c in &counts {
        assert!(wait_until(WAIT, || c.count().ok() == Some(total as i32)));
        c.close();
    }
    // close() removed every write marker: no client holds an ephemeral node any more, and the
    // count node has Curator's layout (no children).
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

/// Drops the connections of one proxy after another, every 300 ms, until `stop`.
fn drop_in_turn(proxies: &[Proxy], stop: &AtomicBool, drops: &AtomicUsize) {
    let mut i = 0;
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(300));
        proxies[i % proxies.len()].drop_connections();
        drops.fetch_add(1, Ordering::SeqCst);
        i += 1;
    }
}

/// A proxied client whose retry policy outlasts the drops (every attempt resolves).
fn robust_client(proxy: &Proxy) -> CuratorFramework {
    use zk_curator::framework::{CuratorFrameworkFactory, RetryNTimes};
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

server_test!(shared bad_input_gets_clear_errors, |srv| {
    let root = support::unique_root("bad");
    let c = srv.curator();
    for bad in ["no-slash", "/a//b", "/trailing/", ""] {
        assert!(
            matches!(SharedCount::new(&c, bad, 0), Err(Error::InvalidPath { .. })),
            "{bad:?}"
        );
        assert!(matches!(
            SharedValue::new(&c, bad, b""),
            Err(Error::InvalidPath { .. })
        ));
    }

    // Someone else's data where a count should be.
    let path = format!("{root}/not-a-count");
    c.create()
        .creating_parents_if_needed()
        .for_path_with_data(&path, b"127.0.0.1")
        .unwrap();
    let count = SharedCount::new(&c, &path, 0).unwrap();
    let e = count.start().unwrap_err();
    assert!(matches!(&e, Error::BadData { path: p, .. } if *p == path), "{e}");
    assert!(e.to_string().contains("4-byte"), "{e}");
    assert!(matches!(count.count(), Err(Error::BadData { .. })));
    assert!(matches!(count.versioned_value(), Err(Error::BadData { .. })));
    // The documented repair.
    count.set_count(3).unwrap();
    assert_eq!(count.count().unwrap(), 3);
    count.close();

    // More than ZooKeeper's 1 MiB packet limit: refused before it is sent.
    let big = vec![7u8; 2 << 20];
    let value = SharedValue::new(&c, &format!("{root}/big"), b"small").unwrap();
    value.start().unwrap();
    let v = value.versioned_value();
    let e = value.try_set_value(&v, &big).unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
    assert!(matches!(value.set_value(&big), Err(Error::InvalidArgument(_))));
    assert_eq!(value.value(), b"small");
    let seeded = SharedValue::new(&c, &format!("{root}/big-seed"), &big).unwrap();
    assert!(matches!(seeded.start(), Err(Error::InvalidArgument(_))));

    // Use before start, after close.
    let idle = SharedCount::new(&c, &format!("{root}/idle"), 0).unwrap();
    let v = VersionedValue::new(0, 0);
    assert!(matches!(idle.try_set_count(&v, 1), Err(Error::InvalidArgument(_))));
    idle.start().unwrap();
    assert!(matches!(idle.start(), Err(Error::InvalidArgument(_))));
    idle.close();
    assert!(matches!(idle.set_count(1), Err(Error::Closed)));
    value.close();
    c.close();
});
