//! LeaderLatch on both server kinds: one leader at a time under contention, hand-over in node
//! order, listeners (event thread, pool, close modes), waiters, cleanup on close and drop,
//! the znode layout, a predecessor whose watch is used up by a data change, a create whose
//! reply is lost, and bad input. Faults (disconnects, expiry, pauses, ensemble member loss)
//! are in recipes_leader_latch_faults.rs.

mod support;

use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use support::events::WAIT;
use support::latches::Election;
use support::proxy::{proxied_client, Proxy};
use support::{unique_root, wait_until};
use zk_curator::framework::protection;
use zk_curator::proto::OpCode;
use zk_curator::recipes::leader::{CloseMode, LeaderLatch, LeaderLatchState, Participant};
use zk_curator::{Error, WorkerPool};

const LONG: Duration = Duration::from_secs(30);

server_test!(shared contention_hands_over_in_node_order, |srv| {
    let root = unique_root("latch-order");
    let admin = srv.curator();
    let e = Election::new(&root, (0..5).map(|_| srv.curator()).collect());
    let monitor = e.monitor();
    // Joined in client order, so node order is client order and p0 leads.
    assert_eq!(e.sole_leader(LONG), 0);
    let want: Vec<Participant> = (0..5).map(|i| Participant::new(format!("p{i}"), i == 0)).collect();
    assert_eq!(e.latch(3).participants().unwrap(), want);
    assert_eq!(e.latch(3).leader().unwrap(), Some(Participant::new("p0", true)));
    assert_eq!(e.latch(0).last_path_is_leader(), e.latch(0).our_path());
    for i in 0..4 {
        assert_eq!(e.sole_leader(LONG), i);
        e.latch(i).close().unwrap();
        assert!(!e.latch(i).has_leadership());
        assert_eq!(e.sole_leader(LONG), i + 1, "leadership moves to the next node");
    }
    // A leader leaving and joining again goes to the back of the line.
    e.join(0);
    e.latch(4).close().unwrap();
    assert_eq!(e.sole_leader(LONG), 0);
    e.close_all();
    let seen = monitor.finish();
    assert!(seen.single > 0, "{seen:?}");
    assert!(wait_until(WAIT, || e.children(&admin).is_empty()), "{:?}", e.children(&admin));
});

server_test!(shared nodes_have_curators_layout, |srv| {
    let root = unique_root("latch-layout");
    let c = srv.curator().using_namespace(Some("ns")).unwrap();
    let latch = LeaderLatch::builder(&c, &format!("{root}/x")).id("ïd-1").build().unwrap();
    latch.start().unwrap();
    assert!(latch.await_leadership_timeout(LONG).unwrap());
    let ours = latch.our_path().unwrap();
    let name = zk_curator::path::node_name(&ours).to_string();
    assert!(ours.starts_with(&format!("{root}/x/")), "{ours}");
    assert!(protection::is_protected_znode(&name), "{name}");
    let plain = protection::normalize(&name);
    assert!(plain.starts_with("latch-") && plain.len() == "latch-".len() + 10, "{plain}");
    // The namespace is applied; the id is the data, as UTF-8.
    let root_client = srv.curator();
    let full = format!("/ns{ours}");
    assert_eq!(root_client.get_data().for_path(&full).unwrap(), "ïd-1".as_bytes());
    let mut stat = zk_curator::Stat::default();
    root_client.get_data().storing_stat_in(&mut stat).for_path(&full).unwrap();
    assert_eq!(stat.ephemeral_owner, c.zookeeper_client().zookeeper().unwrap().session_id());
    latch.close().unwrap();
    assert!(wait_until(WAIT, || root_client.check_exists().for_path(&full).unwrap().is_none()));
});

server_test!(shared listeners_event_thread_pool_and_close_modes, |srv| {
    let root = unique_root("latch-listen");
    let c = srv.curator();
    let pool = WorkerPool::new(2).unwrap();
    let (tx, rx) = mpsc::channel::<(&'static str, bool, String)>();
    let listen = |latch: &LeaderLatch, tag: &'static str, pooled: bool| {
        let tx = tx.clone();
        let l = move |leader: bool| {
            let thread = std::thread::current().name().unwrap_or("?").to_string();
            let _ = tx.send((tag, leader, thread));
        };
        if pooled {
            latch.listenable().add_listener_with_executor(l, &pool);
        } else {
            latch.listenable().add_listener(l);
        }
    };
    let a = LeaderLatch::builder(&c, &root).close_mode(CloseMode::NotifyLeader).build().unwrap();
    listen(&a, "a", false);
    listen(&a, "a-pool", true);
    a.start().unwrap();
    let mut got: Vec<_> = (0..2).map(|_| rx.recv_timeout(LONG).unwrap()).collect();
    got.sort();
    assert_eq!((got[0].0, got[0].1), ("a", true));
    assert_eq!(got[0].2, "zk-event", "plain listeners run on the event thread");
    assert_eq!((got[1].0, got[1].1), ("a-pool", true));
    assert!(got[1].2.starts_with("zk-worker"), "{}", got[1].2);

    let b = LeaderLatch::new(&c, &root).unwrap(); // Silent
    listen(&b, "b", false);
    b.start().unwrap();
    // NotifyLeader: a's listeners hear not_leader; then b leads.
    a.close().unwrap();
    let mut got: Vec<_> = (0..3).map(|_| rx.recv_timeout(LONG).unwrap()).collect();
    got.sort();
    let got: Vec<_> = got.iter().map(|(t, l, _)| (*t, *l)).collect();
    assert_eq!(got, vec![("a", false), ("a-pool", false), ("b", true)]);
    // Silent: b's listener hears nothing when b closes as leader.
    assert!(b.has_leadership());
    b.close().unwrap();
    assert!(rx.recv_timeout(Duration::from_millis(500)).is_err());
    // close_with_mode overrides: a silent latch closed with NotifyLeader tells.
    let d = LeaderLatch::new(&c, &root).unwrap();
    listen(&d, "d", false);
    d.start().unwrap();
    assert!(rx.recv_timeout(LONG).unwrap().1);
    d.close_with_mode(CloseMode::NotifyLeader).unwrap();
    assert!(!rx.recv_timeout(LONG).unwrap().1);
});

server_test!(shared waiters_wake, |srv| {
    let root = unique_root("latch-await");
    let c = srv.curator();
    let first = LeaderLatch::new(&c, &root).unwrap();
    first.start().unwrap();
    first.await_leadership().unwrap();
    let second = Arc::new(LeaderLatch::new(&srv.curator(), &root).unwrap());
    second.start().unwrap();
    assert!(!second.await_leadership_timeout(Duration::from_millis(300)).unwrap());
    // A waiter blocked forever wakes when the leader leaves...
    let s2 = second.clone();
    let waiter = std::thread::spawn(move || s2.await_leadership());
    std::thread::sleep(Duration::from_millis(100));
    first.close().unwrap();
    waiter.join().unwrap().unwrap();
    assert!(second.has_leadership());
    // ...and one whose latch is closed meanwhile gets an error instead of hanging.
    let third = Arc::new(LeaderLatch::new(&c, &root).unwrap());
    third.start().unwrap();
    let t3 = third.clone();
    let waiter = std::thread::spawn(move || t3.await_leadership_timeout(LONG));
    std::thread::sleep(Duration::from_millis(100));
    third.close().unwrap();
    assert!(matches!(waiter.join().unwrap(), Err(Error::InvalidArgument(_))));
    second.close().unwrap();
});

server_test!(shared close_and_drop_clean_up, |srv| {
    let root = unique_root("latch-cleanup");
    let admin = srv.curator();
    let c = srv.curator();
    {
        let latch = LeaderLatch::new(&c, &root).unwrap();
        latch.start().unwrap();
        assert!(latch.await_leadership_timeout(LONG).unwrap());
        let follower = LeaderLatch::new(&c, &root).unwrap();
        follower.start().unwrap();
        assert!(wait_until(WAIT, || admin.get_children().for_path(&root).unwrap().len() == 2));
        // Both dropped here: the follower first, then the leader.
    }
    // Drop deletes the nodes (the session is still open; a node whose create was still in
    // flight is deleted when the reply comes) and takes back the watches.
    assert!(wait_until(WAIT, || support::election::children_of(&admin, &root).is_empty()));
    let zk = c.zookeeper_client().zookeeper().unwrap();
    assert!(wait_until(WAIT, || zk.watch_count() == 0), "{} watches left", zk.watch_count());
    // A latch closed while its create is in flight does not leave the node behind.
    for _ in 0..20 {
        let l = LeaderLatch::new(&c, &root).unwrap();
        l.start().unwrap();
        l.close().unwrap();
    }
    assert!(wait_until(WAIT, || support::election::children_of(&admin, &root).is_empty()));
});

server_test!(shared a_predecessor_data_change_does_not_strand_its_follower, |srv| {
    // The follower's one-shot watch on its predecessor is used up by a data change: it must
    // watch again, or it would never hear the deletion (Curator ignores the event).
    let root = unique_root("latch-datachange");
    let admin = srv.curator();
    let e = Election::new(&root, vec![srv.curator(), srv.curator()]);
    assert_eq!(e.sole_leader(LONG), 0);
    let leader_node = e.latch(0).our_path().unwrap();
    admin.set_data().for_path(&leader_node, b"poke").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    // Delete the leader's node behind its back: the follower must take over, and the old
    // leader, finding its node gone, joins again behind it.
    admin.delete().for_path(&leader_node).unwrap();
    assert!(wait_until(LONG, || e.leaders() == [1]), "{:?}", e.leaders());
    assert!(wait_until(WAIT, || e.children(&admin).len() == 2));
    e.close_all();
});

server_test!(shared a_lost_create_reply_makes_one_node, |srv| {
    let root = unique_root("latch-lostreply");
    let admin = srv.curator();
    let proxy = Proxy::start(&srv.connect_string());
    let c = proxied_client(&proxy);
    admin.create().for_path(&root).unwrap();
    // The create reaches the server, its reply does not: the retry finds the node by its
    // protection id instead of making a second one.
    proxy.lose_next_reply_to(OpCode::Create2);
    let latch = LeaderLatch::new(&c, &root).unwrap();
    latch.start().unwrap();
    assert!(latch.await_leadership_timeout(LONG).unwrap());
    let kids = admin.get_children().for_path(&root).unwrap();
    assert_eq!(kids.len(), 1, "{kids:?}");
    assert_eq!(Some(format!("{root}/{}", kids[0])), latch.our_path());
    latch.close().unwrap();
});

server_test!(shared bad_input_and_misuse_are_errors, |srv| {
    let c = srv.curator();
    for bad in ["", "no-slash", "/trailing/", "/a//b"] {
        assert!(
            matches!(LeaderLatch::new(&c, bad), Err(Error::InvalidPath { .. })),
            "{bad:?}"
        );
    }
    let root = unique_root("latch-misuse");
    let latch = LeaderLatch::new(&c, &root).unwrap();
    assert_eq!(latch.state(), LeaderLatchState::Latent);
    assert!(!latch.has_leadership());
    assert!(matches!(latch.close(), Err(Error::InvalidArgument(_))));
    assert!(matches!(latch.await_leadership(), Err(Error::InvalidArgument(_))));
    assert!(latch.participants().unwrap().is_empty(), "no election node yet");
    assert_eq!(latch.leader().unwrap(), None);
    latch.start().unwrap();
    assert!(matches!(latch.start(), Err(Error::InvalidArgument(_))));
    assert_eq!(latch.state(), LeaderLatchState::Started);
    latch.close().unwrap();
    assert_eq!(latch.state(), LeaderLatchState::Closed);
    assert!(matches!(latch.close(), Err(Error::InvalidArgument(_))));
    assert!(matches!(latch.start(), Err(Error::InvalidArgument(_))));
    assert!(matches!(latch.await_leadership_timeout(WAIT), Err(Error::InvalidArgument(_))));
    // A latch on a closed client.
    let gone = srv.curator();
    let l = LeaderLatch::new(&gone, &root).unwrap();
    gone.close();
    assert!(matches!(l.start(), Err(Error::Closed)));
    // An error message says what and where.
    let msg = latch.close().unwrap_err().to_string();
    assert!(msg.contains(&root) && msg.contains("closed"), "{msg}");
});

server_test!(shared a_latch_started_before_its_client_joins_once_connected, |srv| {
    let root = unique_root("latch-early");
    let c = srv.curator_builder().build().unwrap();
    let latch = LeaderLatch::new(&c, &root).unwrap();
    latch.start().unwrap(); // Curator's AfterConnectionEstablished: waits for the client
    std::thread::sleep(Duration::from_millis(100));
    assert!(latch.our_path().is_none());
    c.start().unwrap();
    assert!(latch.await_leadership_timeout(LONG).unwrap());
    latch.close().unwrap();
});

server_test!(shared the_session_policy_keeps_leadership_through_a_suspension, |srv| {
    use zk_curator::framework::{CuratorFrameworkFactory, RetryNTimes, SessionConnectionStateErrorPolicy};
    let root = unique_root("latch-sessionpolicy");
    let proxy = Proxy::start(&srv.connect_string());
    let c = CuratorFrameworkFactory::builder()
        .connect_string(&proxy.connect_string())
        .session_timeout(Duration::from_secs(20))
        .connection_timeout(Duration::from_secs(5))
        .retry_policy(RetryNTimes::new(5, Duration::from_millis(100)))
        .connection_state_error_policy(SessionConnectionStateErrorPolicy)
        .build()
        .unwrap();
    c.start().unwrap();
    let (tx, rx) = mpsc::channel();
    let latch = LeaderLatch::new(&c, &root).unwrap();
    latch.listenable().add_listener(move |l: bool| tx.send(l).unwrap());
    latch.start().unwrap();
    assert!(rx.recv_timeout(LONG).unwrap());
    proxy.refuse(true);
    proxy.drop_connections();
    assert!(wait_until(WAIT, || c.connection_state() == Some(zk_curator::ConnectionState::Suspended)));
    // Only Lost is an error under this policy: still the leader, no not_leader call.
    assert!(latch.has_leadership());
    proxy.refuse(false);
    assert!(wait_until(WAIT, || c.connection_state() == Some(zk_curator::ConnectionState::Reconnected)));
    assert!(latch.has_leadership());
    assert!(rx.recv_timeout(Duration::from_millis(300)).is_err());
    latch.close().unwrap();
});

server_test!(shared latches_started_right_after_connecting_join, |srv| {
    // The Connected event can be handled before the handle itself says connected: a latch
    // started in between once waited for a Connected that had already passed, forever
    // (2 in 240 rounds of this loop before the fix).
    let root = unique_root("latch-fresh");
    let threads: Vec<_> = (0..3)
        .map(|t| {
            let (cs, root) = (srv.connect_string(), root.clone());
            std::thread::spawn(move || {
                for i in 0..40 {
                    let c = zk_curator::CuratorFrameworkFactory::builder()
                        .connect_string(&cs)
                        .session_timeout(Duration::from_secs(10))
                        .retry_policy(zk_curator::RetryNTimes::new(3, Duration::from_millis(50)))
                        .build()
                        .unwrap();
                    c.start().unwrap();
                    assert!(c.block_until_connected(WAIT));
                    let latch = LeaderLatch::new(&c, &format!("{root}/{t}-{i}")).unwrap();
                    latch.start().unwrap();
                    assert!(latch.await_leadership_timeout(LONG).unwrap(), "{t}-{i}: {latch:?}");
                    drop(latch);
                    c.close();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
});
