//! DistributedBarrier and DistributedDoubleBarrier on both server kinds: Curator's layouts,
//! nobody through early, everyone through a connection drop and a session loss, timeouts and
//! bad input.

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use support::events::WAIT;
use support::proxy::{outage, proxied_client, Proxy};
use support::wait_until;
use zk_curator::recipes::barriers::{DistributedBarrier, DistributedDoubleBarrier};
use zk_curator::{CuratorFramework, Error};

server_test!(shared barrier_holds_then_releases_everyone, |srv| {
    let root = support::unique_root("barrier");
    let path = format!("{root}/gate");
    let (a, b) = (srv.curator(), srv.curator());
    let holder = DistributedBarrier::new(&a, &path).unwrap();
    // Not up: no wait.
    assert!(holder.wait_on_barrier_timeout(Duration::ZERO).unwrap());
    holder.set_barrier().unwrap();
    holder.set_barrier().unwrap();
    // Curator's layout: a persistent node with the client's default data.
    assert_eq!(a.get_data().for_path(&path).unwrap(), a.default_data());
    let st = a.check_exists().for_path(&path).unwrap().unwrap();
    assert_eq!(st.ephemeral_owner, 0);

    let passed = Arc::new(AtomicUsize::new(0));
    let waiters: Vec<_> = [&a, &b, &a, &b]
        .iter()
        .map(|c| {
            let barrier = DistributedBarrier::new(c, &path).unwrap();
            let passed = passed.clone();
            std::thread::spawn(move || {
                barrier.wait_on_barrier().unwrap();
                passed.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    assert!(!holder
        .wait_on_barrier_timeout(Duration::from_millis(300))
        .unwrap());
    assert_eq!(passed.load(Ordering::SeqCst), 0, "nobody through while it is up");
    holder.remove_barrier().unwrap();
    holder.remove_barrier().unwrap();
    for w in waiters {
        w.join().unwrap();
    }
    assert_eq!(passed.load(Ordering::SeqCst), 4);
    a.close();
    b.close();
});

server_test!(shared barrier_wait_survives_drop_and_session_loss, |srv| {
    let root = support::unique_root("barrier-outage");
    let path = format!("{root}/gate");
    let proxy = Proxy::start(&srv.connect_string());
    let a = proxied_client(&proxy);
    let b = srv.curator();
    let holder = DistributedBarrier::new(&b, &path).unwrap();
    holder.set_barrier().unwrap();
    let waiter = {
        let barrier = DistributedBarrier::new(&a, &path).unwrap();
        std::thread::spawn(move || barrier.wait_on_barrier_timeout(WAIT * 3))
    };
    // A plain drop first: the wait goes on.
    std::thread::sleep(Duration::from_millis(200));
    proxy.drop_connections();
    std::thread::sleep(Duration::from_millis(300));
    assert!(!waiter.is_finished(), "a drop is not a removal");
    // Then the session is lost while the barrier comes down: the watch went with the
    // session, so only the re-check after reconnecting can release the waiter.
    outage(srv, &proxy, &a, true, || holder.remove_barrier().unwrap());
    assert!(waiter.join().unwrap().unwrap(), "released after the session loss");
    a.close();
    b.close();
});

/// Runs `members` threads, one member each on the given clients, through `rounds` rounds of
/// enter/leave at `path`, checking that nobody passes `enter` before all have arrived and
/// nobody passes `leave` before all have started leaving.
fn double_rounds(clients: &[CuratorFramework], path: &str, rounds: usize) {
    let n = clients.len();
    for round in 0..rounds {
        let arrived = Arc::new(AtomicUsize::new(0));
        let leaving = Arc::new(AtomicUsize::new(0));
        let start = Arc::new(Barrier::new(n));
        let workers: Vec<_> = clients
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let barrier = DistributedDoubleBarrier::new(c, path, n).unwrap();
                let (arrived, leaving, start) = (arrived.clone(), leaving.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    // Stagger the arrivals so that early ones really wait.
                    std::thread::sleep(Duration::from_millis(40 * i as u64));
                    arrived.fetch_add(1, Ordering::SeqCst);
                    barrier.enter().unwrap();
                    assert_eq!(
                        arrived.load(Ordering::SeqCst),
                        n,
                        "round {round}: entered early"
                    );
                    std::thread::sleep(Duration::from_millis(40 * (n - i) as u64));
                    leaving.fetch_add(1, Ordering::SeqCst);
                    barrier.leave().unwrap();
                    assert_eq!(
                        leaving.load(Ordering::SeqCst),
                        n,
                        "round {round}: left early"
                    );
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
    }
}

server_test!(shared double_barrier_enter_and_leave_together, |srv| {
    let root = support::unique_root("double");
    let path = format!("{root}/batch");
    let clients: Vec<CuratorFramework> = (0..4).map(|_| srv.curator()).collect();
    let c = &clients[0];
    // Watch the layout while members wait.
    let first = DistributedDoubleBarrier::new(c, &path, 2).unwrap();
    let t = {
        let second = DistributedDoubleBarrier::new(&clients[1], &path, 2).unwrap();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            second.enter().unwrap();
            second
        })
    };
    first.enter().unwrap();
    let second = t.join().unwrap();
    let mut kids = c.get_children().for_path(&path).unwrap();
    kids.sort();
    assert!(kids.contains(&"ready".to_string()), "{kids:?}");
    let members: Vec<&String> = kids.iter().filter(|k| *k != "ready").collect();
    assert_eq!(members.len(), 2, "{kids:?}");
    for m in &members {
        assert_eq!(m.len(), 36, "a UUID: {m}");
        let st = c
            .check_exists()
            .for_path(&format!("{path}/{m}"))
            .unwrap()
            .unwrap();
        assert_ne!(st.ephemeral_owner, 0, "members are ephemeral");
    }
    assert_eq!(
        c.check_exists().for_path(first.member_path()).unwrap().map(|_| ()),
        Some(())
    );
    let l = std::thread::spawn(move || second.leave_timeout(WAIT));
    first.leave().unwrap();
    assert!(l.join().unwrap().unwrap());
    // The barrier's parent is a container: a server may delete it once it is empty (the
    // in-process server sweeps containers every 100 ms), which is "no member left" too.
    match c.get_children().for_path(&path) {
        Ok(kids) => assert!(kids.is_empty(), "ready is gone too: {kids:?}"),
        Err(Error::NoNode { .. }) => {}
        Err(e) => panic!("listing {path}: {e}"),
    }

    // Four members, several rounds on the same path.
    double_rounds(&clients, &path, 3);
    for c in clients {
        c.close();
    }
});

server_test!(shared double_barrier_through_connection_drops, |srv| {
    let root = support::unique_root("double-drops");
    let path = format!("{root}/batch");
    let proxies: Vec<Proxy> = (0..2).map(|_| Proxy::start(&srv.connect_string())).collect();
    let clients: Vec<CuratorFramework> = vec![
        proxied_client(&proxies[0]),
        proxied_client(&proxies[0]),
        proxied_client(&proxies[1]),
        proxied_client(&proxies[1]),
    ];
    let stop = AtomicBool::new(false);
    let drops = AtomicUsize::new(0);
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(150));
                proxies[i % 2].drop_connections();
                drops.fetch_add(1, Ordering::SeqCst);
                i += 1;
            }
        });
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            double_rounds(&clients, &path, 3)
        }));
        stop.store(true, Ordering::SeqCst);
        if let Err(p) = r {
            std::panic::resume_unwind(p);
        }
    });
    assert!(drops.load(Ordering::SeqCst) > 0);
    let check = srv.curator();
    assert!(wait_until(WAIT, || check
        .get_children()
        .for_path(&path)
        .map(|k| k.is_empty())
        .unwrap_or(true)));
    for c in clients {
        c.close();
    }
    check.close();
});

server_test!(shared double_barrier_timeouts_and_bad_input, |srv| {
    let root = support::unique_root("double-bad");
    let path = format!("{root}/batch");
    let c = srv.curator();
    assert!(matches!(
        DistributedDoubleBarrier::new(&c, &path, 0),
        Err(Error::InvalidArgument(_))
    ));
    for bad in ["x", "/a/", "/a//b"] {
        assert!(matches!(
            DistributedDoubleBarrier::new(&c, bad, 2),
            Err(Error::InvalidPath { .. })
        ));
        assert!(matches!(
            DistributedBarrier::new(&c, bad),
            Err(Error::InvalidPath { .. })
        ));
    }
    let lone = DistributedDoubleBarrier::new(&c, &path, 3).unwrap();
    assert!(matches!(lone.leave(), Err(Error::InvalidArgument(_))), "not entered");
    assert!(!lone.enter_timeout(Duration::from_millis(300)).unwrap());
    // The member that gave up has withdrawn.
    assert!(c.check_exists().for_path(lone.member_path()).unwrap().is_none());

    // One member of 1: straight through, and leave finds nobody else.
    let solo = DistributedDoubleBarrier::new(&c, &format!("{root}/solo"), 1).unwrap();
    assert!(solo.enter_timeout(WAIT).unwrap());
    assert!(matches!(solo.enter(), Err(Error::InvalidArgument(_))), "entered twice");
    assert!(solo.leave_timeout(WAIT).unwrap());

    // Leave times out while another member stays in.
    let p2 = format!("{root}/pair");
    let a = DistributedDoubleBarrier::new(&c, &p2, 2).unwrap();
    let b = DistributedDoubleBarrier::new(&c, &p2, 2).unwrap();
    let t = std::thread::spawn(move || {
        b.enter().unwrap();
        b
    });
    a.enter().unwrap();
    let b = t.join().unwrap();
    assert!(!a.leave_timeout(Duration::from_millis(300)).unwrap());
    assert!(b.leave_timeout(WAIT).unwrap());
    c.close();
});
