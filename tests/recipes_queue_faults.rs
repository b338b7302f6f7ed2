//! The queue recipes under faults, on both server kinds: exactly-once delivery (lock-safe)
//! and at-most-once delivery (plain) through dropped connections and session expiry, puts
//! whose reply is lost, a consumer that dies holding an item, wake-up after a new session,
//! and the `max_items` bound against the server's real child count.

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use support::proxy::{proxied_client, Proxy};
use support::{unique_root, wait_until, TestServer};
use zk_curator::framework::{ConnectionState, CuratorFramework};
use zk_curator::proto::OpCode;
use zk_curator::recipes::queue::*;

const T: Duration = Duration::from_secs(30);

type Counts = Arc<Mutex<HashMap<String, u32>>>;

/// A consumer that counts deliveries per item, taking `work` for each.
fn counting(counts: &Counts, work: Duration) -> impl QueueConsumer<String> {
    let c = counts.clone();
    consumer_fn(move |s: String| {
        std::thread::sleep(work);
        *c.lock().unwrap().entry(s).or_insert(0) += 1;
        Ok(())
    })
}

fn item(i: usize) -> String {
    format!("item-{i:05}")
}

/// Produces `n` items through `queue` (foreground puts) on a thread.
fn produce(queue: Arc<DistributedQueue<String>>, n: usize) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for i in 0..n {
            queue
                .put(item(i))
                .unwrap_or_else(|e| panic!("put {i}: {e}"));
        }
    })
}

/// Drops the consumer's connections every `every` until `stop`, expiring its session once
/// along the way (cut off meanwhile, so that it cannot take the session back while the
/// server closes it).
fn faults(
    srv: &TestServer,
    proxy: &Proxy,
    consumer: &CuratorFramework,
    stop: &AtomicBool,
    every: Duration,
) -> (usize, bool) {
    let mut drops = 0;
    let mut expired = false;
    let deadline = Instant::now() + T;
    while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
        std::thread::sleep(every);
        drops += 1;
        if drops == 3 {
            if let Ok(zk) = consumer.zookeeper_client().zookeeper() {
                proxy.refuse(true);
                proxy.drop_connections();
                srv.expire(&zk);
                proxy.refuse(false);
                expired = true;
                continue;
            }
        }
        proxy.drop_connections();
    }
    (drops, expired)
}

fn delivery_through_faults(srv: &mut TestServer, lock_safe: bool) {
    let root = unique_root(if lock_safe { "qf-once" } else { "qf-most" });
    let lock = format!("{root}-locks");
    let n = 300;
    // Only the consumer is cut off: a put whose reply is lost can be put twice if a consumer
    // took the first copy before the retry looked for it (see put.rs), which would show here
    // as a double delivery that is not the consumer's doing.
    let pc = Proxy::start(&srv.connect_string());
    let producer_client = srv.curator();
    let consumer_client = proxied_client(&pc);
    let counts: Counts = Default::default();
    let mut b = QueueBuilder::builder(
        &consumer_client,
        counting(&counts, Duration::from_millis(2)),
        StringSerializer,
        &root,
    );
    if lock_safe {
        b = b.lock_path(&lock);
    }
    let consumer = b.build_queue().unwrap();
    consumer.start().unwrap();
    let producer = Arc::new(
        QueueBuilder::producer(&producer_client, StringSerializer, &root)
            .put_in_background(false)
            .build_queue()
            .unwrap(),
    );
    producer.start().unwrap();

    let stop = AtomicBool::new(false);
    let (drops, expired) = std::thread::scope(|s| {
        let f = s.spawn(|| {
            faults(
                srv,
                &pc,
                &consumer_client,
                &stop,
                Duration::from_millis(250),
            )
        });
        produce(producer.clone(), n).join().unwrap();
        // Faults go on a little while the consumer drains.
        std::thread::sleep(Duration::from_millis(600));
        stop.store(true, Ordering::SeqCst);
        f.join().unwrap()
    });
    assert!(drops >= 3 && expired, "drops {drops}, expired {expired}");

    let checker = srv.curator();
    let drained = wait_until(T, || {
        checker
            .get_children()
            .for_path(&root)
            .map(|c| c.is_empty())
            .unwrap_or(false)
            && (!lock_safe || counts.lock().unwrap().len() == n)
    });
    assert!(
        drained,
        "{} left",
        checker.get_children().for_path(&root).unwrap().len()
    );
    // Late duplicates would show up here.
    std::thread::sleep(Duration::from_millis(300));
    let counts = counts.lock().unwrap().clone();
    let twice: Vec<_> = counts.iter().filter(|(_, c)| **c > 1).collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
    assert!(counts.keys().all(|k| (0..n).any(|i| item(i) == *k)));
    if lock_safe {
        assert_eq!(counts.len(), n, "every item exactly once");
        assert!(checker.get_children().for_path(&lock).unwrap().is_empty());
    } else {
        // At most once: an item whose delete reply was lost is gone without a delivery.
        eprintln!(
            "plain queue: {} of {n} delivered through {drops} drops",
            counts.len()
        );
        // One item at a time (the default prefetch, as Curator): each fault can cost at
        // most the one item whose delete was on the wire.
        let lost = n - counts.len();
        assert!(lost <= drops, "{lost} of {n} lost through {drops} faults");
    }
    consumer.close();
    producer.close();
    consumer_client.close();
    producer_client.close();
    checker.close();
}

server_test!(shared lock_safe_delivers_exactly_once_through_drops_and_expiry, |srv| {
    delivery_through_faults(srv, true);
});

server_test!(shared plain_delivers_at_most_once_through_drops_and_expiry, |srv| {
    delivery_through_faults(srv, false);
});

server_test!(shared a_put_whose_reply_is_lost_is_not_duplicated, |srv| {
    let root = unique_root("qf-lostput");
    let proxy = Proxy::start(&srv.connect_string());
    let client = proxied_client(&proxy);
    let checker = srv.curator();
    for background in [false, true] {
        let q = QueueBuilder::producer(&client, StringSerializer, &root)
            .put_in_background(background)
            .build_queue()
            .unwrap();
        q.start().unwrap();
        let before = checker.get_children().for_path(&root).unwrap().len();
        let accepted = proxy.accepted();
        proxy.lose_next_reply_to(OpCode::Create);
        q.put(format!("once-{background}")).unwrap();
        assert!(q.flush_puts(T));
        assert!(proxy.accepted() > accepted, "the connection was cut");
        let kids = checker.get_children().for_path(&root).unwrap();
        assert_eq!(kids.len(), before + 1, "{kids:?}");
        q.close();
    }
    client.close();
    checker.close();
});

server_test!(shared a_dead_consumers_item_goes_to_another, |srv| {
    let root = unique_root("qf-crash");
    let lock = format!("{root}-locks");
    // Consumer A takes the item and hangs; its process then "dies" (its session ends).
    let a_client = srv.curator();
    let (holding_tx, holding) = mpsc::channel::<String>();
    let (release, release_rx) = mpsc::channel::<()>();
    let (holding_tx, release_rx) = (Mutex::new(holding_tx), Mutex::new(release_rx));
    let a = QueueBuilder::builder(
        &a_client,
        consumer_fn(move |s: String| {
            holding_tx.lock().unwrap().send(s).unwrap();
            let _ = release_rx.lock().unwrap().recv_timeout(T);
            Ok(())
        }),
        StringSerializer,
        &root,
    )
    .lock_path(&lock)
    .build_queue()
    .unwrap();
    a.start().unwrap();
    a.put("job".into()).unwrap();
    assert_eq!(holding.recv_timeout(T).unwrap(), "job");

    let b_client = srv.curator();
    let got = BlockingQueueConsumer::new();
    let b = QueueBuilder::builder(&b_client, got.clone(), StringSerializer, &root)
        .lock_path(&lock)
        .build_queue()
        .unwrap();
    b.start().unwrap();
    // Locked by A: B must not take it.
    assert_eq!(got.take_timeout(Duration::from_millis(500)), None);
    // A dies; its lock goes with its session. Nothing else changes in the queue: B must
    // notice the lock go by itself.
    a_client.close();
    assert_eq!(got.take_timeout(T).as_deref(), Some("job"));
    release.send(()).unwrap();
    a.close();
    assert!(wait_until(T, || b_client.get_children().for_path(&root).unwrap().is_empty()));
    assert!(wait_until(T, || b_client.get_children().for_path(&lock).unwrap().is_empty()));
    assert_eq!(got.take_timeout(Duration::from_millis(300)), None, "delivered once");
    b.close();
    b_client.close();
});

server_test!(shared consumer_wakes_after_a_new_session, |srv| {
    let root = unique_root("qf-wake");
    let proxy = Proxy::start(&srv.connect_string());
    let client = proxied_client(&proxy);
    let (tx, states) = mpsc::channel();
    let tx = Mutex::new(tx);
    client
        .connection_state_listenable()
        .add_listener(move |_c: &CuratorFramework, s: ConnectionState| {
            let _ = tx.lock().unwrap().send(s);
        });
    let got = BlockingQueueConsumer::new();
    let q = QueueBuilder::builder(&client, got.clone(), StringSerializer, &root)
        .build_queue()
        .unwrap();
    q.start().unwrap();
    q.put("before".into()).unwrap();
    assert_eq!(got.take_timeout(T).as_deref(), Some("before"));
    // The session expires while the consumer idles: its children watch dies with it.
    let zk = client.zookeeper_client().zookeeper().unwrap();
    proxy.refuse(true);
    proxy.drop_connections();
    srv.expire(&zk);
    proxy.refuse(false);
    let deadline = Instant::now() + T;
    while states.recv_timeout(T).ok() != Some(ConnectionState::Reconnected) {
        assert!(Instant::now() < deadline, "no Reconnected");
    }
    let other = srv.curator();
    let p = QueueBuilder::producer(&other, StringSerializer, &root).build_queue().unwrap();
    p.start().unwrap();
    p.put("after".into()).unwrap();
    assert_eq!(got.take_timeout(T).as_deref(), Some("after"));
    p.close();
    q.close();
    other.close();
    client.close();
});

server_test!(shared max_items_holds_against_the_real_count, |srv| {
    let root = unique_root("qf-bound");
    let max = 10;
    let per_thread = 60;
    let producer_client = srv.curator();
    let consumer_client = srv.curator();
    let checker = srv.curator();
    let counts: Counts = Default::default();
    let over = Arc::new(Mutex::new(Vec::new()));
    let (c2, o2, r2) = (checker.clone(), over.clone(), root.clone());
    let consumer = QueueBuilder::builder(
        &consumer_client,
        {
            let counts = counts.clone();
            consumer_fn(move |s: String| {
                let n = c2.check_exists().for_path(&r2).unwrap().unwrap().num_children;
                if n > max {
                    o2.lock().unwrap().push(n);
                }
                std::thread::sleep(Duration::from_millis(3));
                *counts.lock().unwrap().entry(s).or_insert(0) += 1;
                Ok(())
            })
        },
        StringSerializer,
        &root,
    )
    .build_queue()
    .unwrap();
    let producer = Arc::new(
        QueueBuilder::producer(&producer_client, StringSerializer, &root)
            .max_items(max as usize)
            .build_queue()
            .unwrap(),
    );
    producer.start().unwrap();
    // Fill up to the bound before anyone consumes, then start consuming.
    for i in 0..max as usize {
        producer.put(format!("pre-{i}")).unwrap();
    }
    assert!(!producer.put_timeout("blocked".into(), Duration::from_millis(300)).unwrap());
    consumer.start().unwrap();
    // Two threads put through the same queue object; every put is followed by a look at the
    // real count (peaks come right after puts).
    std::thread::scope(|s| {
        for t in 0..2 {
            let (producer, checker, root, over) = (&producer, &checker, &root, &over);
            s.spawn(move || {
                for i in 0..per_thread {
                    producer.put(format!("t{t}-{i}")).unwrap();
                    let n = checker.check_exists().for_path(root).unwrap().unwrap().num_children;
                    if n > max {
                        over.lock().unwrap().push(n);
                    }
                }
            });
        }
    });
    let total = max as usize + 2 * per_thread;
    assert!(wait_until(T, || counts.lock().unwrap().len() == total));
    assert!(over.lock().unwrap().is_empty(), "counts over {max}: {:?}", over.lock().unwrap());
    producer.close();
    consumer.close();
    for c in [producer_client, consumer_client, checker] {
        c.close();
    }
});

server_test!(shared bounded_put_waits_for_room_made_by_anyone, |srv| {
    let root = unique_root("qf-room");
    let client = srv.curator();
    let q = QueueBuilder::producer(&client, StringSerializer, &root)
        .max_items(3)
        .build_queue()
        .unwrap();
    q.start().unwrap();
    for i in 0..3 {
        assert!(q.put_timeout(format!("{i}"), Duration::from_secs(5)).unwrap());
    }
    let start = Instant::now();
    assert!(!q.put_timeout("full".into(), Duration::from_millis(300)).unwrap());
    assert!(start.elapsed() >= Duration::from_millis(250));
    // Another client takes one: a waiting put goes through.
    let other = srv.curator();
    let waiting = std::thread::scope(|s| {
        let h = s.spawn(|| q.put_timeout("room".into(), T).unwrap());
        std::thread::sleep(Duration::from_millis(200));
        let first = {
            let mut k = other.get_children().for_path(&root).unwrap();
            k.sort();
            k[0].clone()
        };
        other.delete().for_path(&format!("{root}/{first}")).unwrap();
        h.join().unwrap()
    });
    assert!(waiting);
    assert_eq!(other.get_children().for_path(&root).unwrap().len(), 3);
    q.close();
    other.close();
    client.close();
});
