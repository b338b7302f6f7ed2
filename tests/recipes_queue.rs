//! The queue recipes' behaviour on both server kinds: order per queue kind, Curator's node
//! names and item envelope, put listeners and multi-item puts, lock-safe requeue and delete,
//! removal by id, the simple queue, bad input (invalid paths, oversized items, garbage
//! written by a third party) and close() leaving nothing behind.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use support::{unique_root, wait_until};
use zk_curator::framework::CuratorFramework;
use zk_curator::recipes::queue::*;
use zk_curator::{CreateMode, Error};

const T: Duration = Duration::from_secs(20);

/// `n` items from a buffer, in arrival order (fails on a missing one).
fn take_n(c: &BlockingQueueConsumer<String>, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            c.take_timeout(T)
                .unwrap_or_else(|| panic!("item {i} of {n} did not arrive"))
        })
        .collect()
}

fn strings(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i:04}")).collect()
}

/// Unhandled errors the client reported, as text.
fn unhandled(client: &CuratorFramework) -> Arc<Mutex<Vec<String>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    client
        .unhandled_error_listenable()
        .add_listener(move |msg: &str, e: &Error| s.lock().unwrap().push(format!("{msg}: {e}")));
    seen
}

server_test!(shared fifo_order_with_put_multi_and_listeners, |srv| {
    let root = unique_root("q-fifo");
    let client = srv.curator();
    let got = BlockingQueueConsumer::new();
    let queue = QueueBuilder::builder(&client, got.clone(), StringSerializer, &root)
        .build_queue()
        .unwrap();
    let puts = Arc::new(Mutex::new(Vec::new()));
    struct Heard(Arc<Mutex<Vec<String>>>);
    impl QueuePutListener<String> for Heard {
        fn put_completed(&self, item: &String) {
            self.0.lock().unwrap().push(item.clone());
        }
        fn put_multi_completed(&self, items: &[String]) {
            self.0.lock().unwrap().push(items.join("+"));
        }
    }
    queue.put_listenable().add_listener(Heard(puts.clone()));
    queue.start().unwrap();
    let items = strings("item-", 300);
    for i in &items[..150] {
        queue.put(i.clone()).unwrap();
    }
    queue.put_multi(vec!["m1".into(), "m2".into(), "m3".into()]).unwrap();
    for i in &items[150..] {
        queue.put(i.clone()).unwrap();
    }
    assert!(queue.flush_puts(T));
    let mut expected = items[..150].to_vec();
    expected.extend(["m1".to_string(), "m2".into(), "m3".into()]);
    expected.extend_from_slice(&items[150..]);
    assert_eq!(take_n(&got, expected.len()), expected);
    assert_eq!(puts.lock().unwrap().len(), 301);
    assert!(puts.lock().unwrap().contains(&"m1+m2+m3".to_string()));
    assert!(wait_until(T, || client.get_children().for_path(&root).unwrap().is_empty()));
    queue.close();
    client.close();
});

server_test!(shared node_names_and_data_are_curators, |srv| {
    let root = unique_root("q-names");
    let client = srv.curator();
    let plain = QueueBuilder::producer(&client, StringSerializer, &format!("{root}/plain"))
        .put_in_background(false)
        .build_queue()
        .unwrap();
    let prio = QueueBuilder::producer(&client, StringSerializer, &format!("{root}/prio"))
        .put_in_background(false)
        .build_priority_queue(0)
        .unwrap();
    let delay = QueueBuilder::producer(&client, StringSerializer, &format!("{root}/delay"))
        .put_in_background(false)
        .build_delay_queue()
        .unwrap();
    let ids = QueueBuilder::producer(&client, StringSerializer, &format!("{root}/ids"))
        .put_in_background(false)
        .build_id_queue()
        .unwrap();
    for s in [plain.start(), prio.start(), delay.start(), ids.start()] {
        s.unwrap();
    }
    plain.put("hello".into()).unwrap();
    prio.put("p5".into(), 5).unwrap();
    prio.put("p-1".into(), -1).unwrap();
    let when = SystemTime::UNIX_EPOCH + Duration::from_millis(0x18BCFE56800);
    delay.put("d".into(), when).unwrap();
    ids.put("i".into(), "my/id|x").unwrap();

    let kids = |p: &str| {
        let mut k = client.get_children().for_path(&format!("{root}/{p}")).unwrap();
        k.sort();
        k
    };
    assert_eq!(kids("plain"), ["queue-0000000000"]);
    assert_eq!(kids("prio"), ["queue-0FFFFFFFF0000000001", "queue-1000000050000000000"]);
    assert_eq!(kids("delay"), ["queue-|18BCFE56800|0000000000"]);
    assert_eq!(kids("ids"), ["queue-|my_id_x|0000000000"]);
    let data = client
        .get_data()
        .for_path(&format!("{root}/plain/queue-0000000000"))
        .unwrap();
    assert_eq!(data, [0, 1, 0, 1, 1, 0, 0, 0, 5, b'h', b'e', b'l', b'l', b'o', 2]);
    plain.close();
    prio.close();
    delay.close();
    ids.close();
    client.close();
});

server_test!(shared priority_order_lowest_first, |srv| {
    let root = unique_root("q-prio");
    let client = srv.curator();
    let producer = QueueBuilder::producer(&client, StringSerializer, &root)
        .put_in_background(false)
        .build_priority_queue(0)
        .unwrap();
    producer.start().unwrap();
    let prios = [7, -3, 0, 100, i32::MIN, 7, -3, i32::MAX, 1];
    for (i, p) in prios.iter().enumerate() {
        producer.put(format!("{p}/{i}"), *p).unwrap();
    }
    let got = BlockingQueueConsumer::new();
    let consumer = QueueBuilder::builder(&client, got.clone(), StringSerializer, &root)
        .build_priority_queue(0)
        .unwrap();
    consumer.start().unwrap();
    let mut expected: Vec<(i32, usize)> = prios.iter().copied().zip(0..).collect();
    expected.sort();
    let expected: Vec<String> = expected.iter().map(|(p, i)| format!("{p}/{i}")).collect();
    assert_eq!(take_n(&got, prios.len()), expected);
    consumer.close();
    producer.close();
    client.close();
});

server_test!(shared priority_arrival_jumps_the_line, |srv| {
    // With min_items_before_refresh 0 the consumer re-sorts before every item: an urgent
    // item put while a slow consumer works goes next.
    let root = unique_root("q-prio-live");
    let client = srv.curator();
    let producer = QueueBuilder::producer(&client, StringSerializer, &root)
        .put_in_background(false)
        .build_priority_queue(0)
        .unwrap();
    producer.start().unwrap();
    for i in 0..5 {
        producer.put(format!("normal-{i}"), 10).unwrap();
    }
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let tx = Mutex::new(tx);
    let consumer = QueueBuilder::builder(
        &client,
        consumer_fn(move |s: String| {
            tx.lock().unwrap().send(s).unwrap();
            std::thread::sleep(Duration::from_millis(200));
            Ok(())
        }),
        StringSerializer,
        &root,
    )
    .build_priority_queue(0)
    .unwrap();
    consumer.start().unwrap();
    assert_eq!(rx.recv_timeout(T).unwrap(), "normal-0");
    producer.put("urgent".into(), -1).unwrap();
    let rest: Vec<String> = (0..5).map(|_| rx.recv_timeout(T).unwrap()).collect();
    let urgent_at = rest.iter().position(|s| s == "urgent").unwrap();
    assert!(urgent_at <= 1, "urgent came {urgent_at}th of the rest: {rest:?}");
    consumer.close();
    producer.close();
    client.close();
});

server_test!(shared delay_queue_waits_and_orders_by_time, |srv| {
    let root = unique_root("q-delay");
    let client = srv.curator();
    let got = BlockingQueueConsumer::new();
    let queue = QueueBuilder::builder(&client, got.clone(), StringSerializer, &root)
        .build_delay_queue()
        .unwrap();
    queue.start().unwrap();
    let start = Instant::now();
    let now = SystemTime::now();
    queue.put("late".into(), now + Duration::from_millis(1200)).unwrap();
    queue.put("early".into(), now + Duration::from_millis(600)).unwrap();
    queue.put("past".into(), now - Duration::from_secs(60)).unwrap();
    assert_eq!(got.take_timeout(T).as_deref(), Some("past"));
    assert_eq!(got.take_timeout(T).as_deref(), Some("early"));
    assert!(start.elapsed() >= Duration::from_millis(550), "{:?}", start.elapsed());
    assert_eq!(got.take_timeout(T).as_deref(), Some("late"));
    assert!(start.elapsed() >= Duration::from_millis(1150), "{:?}", start.elapsed());
    assert!(matches!(
        queue.put("x".into(), SystemTime::UNIX_EPOCH),
        Err(Error::InvalidArgument(_))
    ));
    queue.close();
    client.close();
});

server_test!(shared id_queue_removes_by_id, |srv| {
    let root = unique_root("q-id");
    let client = srv.curator();
    let lock = format!("{root}-locks");
    let queue = QueueBuilder::producer(&client, StringSerializer, &root)
        .lock_path(&lock)
        .put_in_background(false)
        .build_id_queue()
        .unwrap();
    queue.start().unwrap();
    queue.put("a1".into(), "a").unwrap();
    queue.put("b1".into(), "b").unwrap();
    queue.put("a2".into(), "a").unwrap();
    assert!(queue.is_queued("a").unwrap());
    assert_eq!(queue.remove("a").unwrap(), 2);
    assert!(!queue.is_queued("a").unwrap());
    assert_eq!(queue.remove("a").unwrap(), 0);
    assert!(matches!(queue.put("x".into(), ""), Err(Error::InvalidArgument(_))));
    let got = BlockingQueueConsumer::new();
    let consumer = QueueBuilder::builder(&client, got.clone(), StringSerializer, &root)
        .lock_path(&lock)
        .build_id_queue()
        .unwrap();
    consumer.start().unwrap();
    assert_eq!(got.take_timeout(T).as_deref(), Some("b1"));
    consumer.close();
    queue.close();
    assert!(client.get_children().for_path(&lock).unwrap().is_empty());
    assert!(matches!(
        QueueBuilder::producer(&client, StringSerializer, "/bad|path").build_id_queue(),
        Err(Error::InvalidArgument(_))
    ));
    client.close();
});

server_test!(shared lock_safe_failures_requeue_or_drop, |srv| {
    let root = unique_root("q-requeue");
    let lock = format!("{root}-locks");
    let client = srv.curator();
    // Fails the first time it sees each item, then takes it.
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let s = seen.clone();
    let queue = QueueBuilder::builder(
        &client,
        consumer_fn(move |item: String| {
            let first = {
                let mut s = s.lock().unwrap();
                let first = !s.contains(&item);
                s.push(item.clone());
                first
            };
            if item == "panics" && first {
                panic!("consumer panic on {item}");
            }
            if first {
                return Err(format!("first sight of {item}").into());
            }
            Ok(())
        }),
        StringSerializer,
        &root,
    )
    .lock_path(&lock)
    .build_queue()
    .unwrap();
    queue.start().unwrap();
    queue.put("a".into()).unwrap();
    queue.put("panics".into()).unwrap();
    queue.put_multi(vec!["m1".into(), "m2".into()]).unwrap();
    assert!(wait_until(T, || seen.lock().unwrap().len() >= 8));
    assert!(wait_until(T, || client.get_children().for_path(&root).unwrap().is_empty()));
    let seen_now = seen.lock().unwrap().clone();
    for item in ["a", "panics", "m1", "m2"] {
        assert_eq!(seen_now.iter().filter(|s| *s == item).count(), 2, "{seen_now:?}");
    }
    assert!(client.get_children().for_path(&lock).unwrap().is_empty());

    // ErrorMode::Delete: a failure drops the item.
    queue.set_error_mode(ErrorMode::Delete).unwrap();
    queue.put("dropped".into()).unwrap();
    assert!(wait_until(T, || seen.lock().unwrap().contains(&"dropped".to_string())));
    assert!(wait_until(T, || client.get_children().for_path(&root).unwrap().is_empty()));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        seen.lock().unwrap().iter().filter(|s| *s == "dropped").count(),
        1
    );
    queue.close();
    assert!(client.get_children().for_path(&lock).unwrap().is_empty());
    client.close();
});

server_test!(shared simple_queue_offer_take_poll_peek, |srv| {
    let root = unique_root("q-simple");
    let client = srv.curator();
    let q = SimpleDistributedQueue::new(&client, &root);
    assert_eq!(q.poll().unwrap(), None);
    assert_eq!(q.peek().unwrap(), None);
    assert!(matches!(q.element(), Err(Error::NoNode { .. })));
    assert!(matches!(q.remove(), Err(Error::NoNode { .. })));
    assert_eq!(q.poll_timeout(Duration::from_millis(100)).unwrap(), None);
    for i in 0..5u8 {
        assert!(q.offer(&[i]).unwrap());
    }
    assert_eq!(
        client.get_children().for_path(&root).unwrap().iter().filter(|n| n.starts_with("qn-")).count(),
        5
    );
    assert_eq!(client.get_data().for_path(&format!("{root}/qn-0000000000")).unwrap(), [0]);
    assert_eq!(q.element().unwrap(), [0]);
    assert_eq!(q.take().unwrap(), [0]);
    assert_eq!(q.remove().unwrap(), [1]);
    assert_eq!(q.poll().unwrap().unwrap(), [2]);
    // A foreign node is skipped.
    client.create().for_path_with_data(&format!("{root}/zz-foreign"), b"x").unwrap();
    assert_eq!(q.poll().unwrap().unwrap(), [3]);
    assert_eq!(q.poll().unwrap().unwrap(), [4]);
    assert_eq!(q.poll().unwrap(), None);

    // A blocked taker wakes when an item arrives.
    let c2 = client.clone();
    let r2 = root.clone();
    let taker = std::thread::spawn(move || SimpleDistributedQueue::new(&c2, &r2).take());
    std::thread::sleep(Duration::from_millis(200));
    q.offer(b"late").unwrap();
    assert_eq!(taker.join().unwrap().unwrap(), b"late");
    client.close();
});

server_test!(shared bad_input_is_an_error, |srv| {
    let root = unique_root("q-bad");
    let client = srv.curator();
    // Invalid paths.
    assert!(matches!(
        QueueBuilder::producer(&client, StringSerializer, "no-slash").build_queue(),
        Err(Error::InvalidPath { .. })
    ));
    assert!(matches!(
        QueueBuilder::producer(&client, StringSerializer, &root)
            .lock_path("/trailing/")
            .build_queue(),
        Err(Error::InvalidPath { .. })
    ));
    assert!(matches!(
        QueueBuilder::producer(&client, StringSerializer, &root).max_items(0).build_queue(),
        Err(Error::InvalidArgument(_))
    ));
    // Not started, then closed.
    let q = QueueBuilder::producer(&client, BytesSerializer, &root).build_queue().unwrap();
    assert!(matches!(q.put(vec![1]), Err(Error::InvalidArgument(_))));
    q.start().unwrap();
    assert!(q.start().is_err());
    // Items over 1 MiB, in the background and in the foreground: refused before sending.
    let big = vec![7u8; 1024 * 1024 + 1];
    let e = q.put(big.clone()).unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(_)) && e.to_string().contains("jute.maxbuffer"), "{e}");
    let fg = QueueBuilder::producer(&client, BytesSerializer, &root)
        .put_in_background(false)
        .build_queue()
        .unwrap();
    fg.start().unwrap();
    assert!(matches!(fg.put(big), Err(Error::InvalidArgument(_))));
    // Just under the limit goes through.
    fg.put(vec![1u8; 1000 * 1000]).unwrap();
    // A serializer that fails.
    let failing = QueueBuilder::producer(
        &client,
        serializer_fn(|_: &u8| Err(Error::InvalidArgument("no".into())), |_| Ok(0u8)),
        &root,
    )
    .build_queue()
    .unwrap();
    failing.start().unwrap();
    assert!(matches!(failing.put(1), Err(Error::InvalidArgument(_))));
    q.close();
    fg.close();
    failing.close();
    assert!(matches!(q.put(vec![1]), Err(Error::Closed)));
    client.close();
});

server_test!(shared garbage_and_foreign_nodes_never_block_the_queue, |srv| {
    for locked in [false, true] {
        let root = unique_root("q-garbage");
        let client = srv.curator();
        let errors = unhandled(&client);
        // A third party writes garbage that looks like an item, and a foreign node.
        client
            .create()
            .creating_parents_if_needed()
            .for_path_with_data(&format!("{root}/queue-0000000000"), b"\x00\x01\x00\x01\x01\xff\xff")
            .unwrap();
        client.create().for_path_with_data(&format!("{root}/other"), b"x").unwrap();
        let got = BlockingQueueConsumer::new();
        let mut b = QueueBuilder::builder(&client, got.clone(), StringSerializer, &root);
        if locked {
            b = b.lock_path(&format!("{root}-locks"));
        }
        let queue = b.build_queue().unwrap();
        queue.start().unwrap();
        queue.put("after".into()).unwrap();
        // Not UTF-8: the serializer refuses it.
        let raw = QueueBuilder::producer(&client, BytesSerializer, &root).build_queue().unwrap();
        raw.start().unwrap();
        raw.put(vec![0xff, 0xfe]).unwrap();
        queue.put("last".into()).unwrap();
        assert_eq!(got.take_timeout(T).as_deref(), Some("after"));
        assert_eq!(got.take_timeout(T).as_deref(), Some("last"));
        // The corrupt node was reported and removed; the foreign one stays.
        assert!(wait_until(T, || client.get_children().for_path(&root).unwrap() == ["other"]));
        assert!(
            errors.lock().unwrap().iter().any(|e| e.contains("corrupt item queue-0000000000")),
            "{:?}",
            errors.lock().unwrap()
        );
        raw.close();
        queue.close();
        client.close();
    }
});

server_test!(shared close_leaves_nothing_behind, |srv| {
    let root = unique_root("q-close");
    let lock = format!("{root}-locks");
    let client = srv.curator();
    let zk = client.zookeeper_client().zookeeper().unwrap();
    let watches_before = zk.watch_count();
    let states_before = client.connection_state_listenable().len();
    let got = BlockingQueueConsumer::new();
    let name = format!("zkq-close-{}", std::process::id() % 1000);
    let queue = QueueBuilder::builder(&client, got.clone(), StringSerializer, &root)
        .lock_path(&lock)
        .thread_name(&name)
        .build_delay_queue()
        .unwrap();
    queue.start().unwrap();
    // One item now, one for later (so the consumer sleeps on a timer), one put as the queue
    // closes (flushed).
    queue.put("now".into(), SystemTime::now()).unwrap();
    assert_eq!(got.take_timeout(T).as_deref(), Some("now"));
    queue.put("later".into(), SystemTime::now() + Duration::from_secs(3600)).unwrap();
    assert!(wait_until(T, || zk.watch_count() > watches_before));
    assert!(thread_named(&name));
    queue.close();
    assert!(!thread_named(&name), "the consumer thread is gone");
    assert!(wait_until(T, || zk.watch_count() == watches_before), "{} watches", zk.watch_count());
    assert_eq!(client.connection_state_listenable().len(), states_before);
    assert!(client.get_children().for_path(&lock).unwrap().is_empty());
    assert_eq!(client.get_children().for_path(&root).unwrap().len(), 1, "the item stays");
    queue.close(); // idempotent
    drop(queue);
    client.close();
});

/// True if a thread of this process has that name.
fn thread_named(name: &str) -> bool {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return false;
    };
    dir.flatten().any(|t| {
        std::fs::read_to_string(t.path().join("comm"))
            .map(|c| c.trim_end() == name)
            .unwrap_or(false)
    })
}

server_test!(shared foreground_and_producer_only_queues, |srv| {
    let root = unique_root("q-fg");
    let client = srv.curator();
    let q = QueueBuilder::producer(&client, StringSerializer, &root)
        .put_in_background(false)
        .final_flush_time(Duration::ZERO)
        .build_queue()
        .unwrap();
    q.start().unwrap();
    q.put("x".into()).unwrap();
    // In the queue as soon as put returns.
    assert_eq!(client.get_children().for_path(&root).unwrap().len(), 1);
    assert!(q.flush_puts(Duration::ZERO));
    assert!(q.set_error_mode(ErrorMode::Delete).is_err(), "needs a lock path");
    // A raw node made by hand with PERSISTENT_SEQUENTIAL reads like one of ours.
    client
        .create()
        .with_mode(CreateMode::PersistentSequential)
        .for_path_with_data(&format!("{root}/queue-"), &[0, 1, 0, 1, 1, 0, 0, 0, 1, b'y', 2])
        .unwrap();
    let got = BlockingQueueConsumer::new();
    let c = QueueBuilder::builder(&client, got.clone(), StringSerializer, &root).build_queue().unwrap();
    c.start().unwrap();
    assert_eq!(take_n(&got, 2), ["x", "y"]);
    c.close();
    q.close();
    client.close();
});

server_test!(shared sharder_adds_a_shard_past_the_threshold, |srv| {
    let root = unique_root("q-shard");
    let client = srv.curator();
    let policies = QueueSharderPolicies::builder()
        .new_queue_threshold(5)
        .threshold_check(Duration::from_millis(200))
        .max_queues(2);
    let leads = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let l = leads.clone();
    let sharder = QueueSharder::builder(&client, &root, |c: &CuratorFramework, p: &str| {
        QueueBuilder::producer(c, StringSerializer, p)
            .put_in_background(false)
            .build_queue()
    })
    .policies(policies)
    .leader(move || l.load(std::sync::atomic::Ordering::SeqCst))
    .build()
    .unwrap();
    sharder.start().unwrap();
    assert_eq!(sharder.shard_qty(), 1);
    let first = sharder.queue_paths()[0].clone();
    assert!(first.starts_with(&format!("{root}/queue-")), "{first}");
    for i in 0..6 {
        sharder.get_queue().unwrap().put(format!("{i}")).unwrap();
    }
    // Full, but not the leader: no new shard.
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(sharder.shard_qty(), 1);
    leads.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(wait_until(T, || sharder.shard_qty() == 2));
    // The new shard is the preferred one now.
    let second = sharder.queue_paths().into_iter().find(|p| *p != first).unwrap();
    for i in 0..4 {
        sharder.get_queue().unwrap().put(format!("x{i}")).unwrap();
    }
    assert_eq!(client.get_children().for_path(&second).unwrap().len(), 4);
    // Another sharder on the same path finds both shards.
    let other = QueueSharder::builder(&client, &root, |c: &CuratorFramework, p: &str| {
        QueueBuilder::producer(c, StringSerializer, p).build_queue()
    })
    .build()
    .unwrap();
    other.start().unwrap();
    assert_eq!(other.shard_qty(), 2);
    // max_queues holds.
    for i in 0..6 {
        sharder.get_queue().unwrap().put(format!("y{i}")).unwrap();
    }
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(sharder.shard_qty(), 2);
    other.close();
    sharder.close();
    assert!(sharder.get_queue().is_err());
    client.close();
});

server_test!(shared queues_work_in_a_namespace, |srv| {
    let root = unique_root("q-ns");
    let base = srv.curator();
    let ns = base.using_namespace(Some(&root[1..])).unwrap();
    let got = BlockingQueueConsumer::new();
    let queue = QueueBuilder::builder(&ns, got.clone(), StringSerializer, "/q")
        .lock_path("/locks")
        .build_queue()
        .unwrap();
    queue.start().unwrap();
    let plain = BlockingQueueConsumer::new();
    let q2 = QueueBuilder::builder(&ns, plain.clone(), StringSerializer, "/p")
        .build_priority_queue(1)
        .unwrap();
    q2.start().unwrap();
    queue.put("a".into()).unwrap();
    q2.put("b".into(), 3).unwrap();
    assert_eq!(got.take_timeout(T).as_deref(), Some("a"));
    assert_eq!(plain.take_timeout(T).as_deref(), Some("b"));
    assert!(base.check_exists().for_path(&format!("{root}/q")).unwrap().is_some());
    assert!(base.check_exists().for_path(&format!("{root}/locks")).unwrap().is_some());
    queue.close();
    q2.close();
    base.close();
});

// What a crash of a plain (at-most-once) consumer can cost: the items deleted from the queue
// and not consumed yet. A consumer stuck in its first item stands for the process dying
// there. By default (Curator's one item at a time) that is the one item; with `prefetch(4)`,
// four: the one being consumed and three read and deleted ahead of it.
server_test!(shared plain_consumer_takes_one_item_at_a_time_unless_told, |srv| {
    let root = unique_root("q-prefetch");
    let client = srv.curator();
    for (prefetch, sub) in [(None, "default"), (Some(4), "four")] {
        let path = format!("{root}/{sub}");
        let q = QueueBuilder::producer(&client, StringSerializer, &path)
            .put_in_background(false)
            .build_queue()
            .unwrap();
        q.start().unwrap();
        for i in strings("item-", 10) {
            q.put(i).unwrap();
        }
        q.close();
        let (entered, release) = (
            std::sync::mpsc::channel::<String>(),
            std::sync::mpsc::channel::<()>(),
        );
        let (entered_tx, release_rx) = (Mutex::new(entered.0), Mutex::new(release.1));
        let mut b = QueueBuilder::builder(
            &client,
            consumer_fn(move |s: String| {
                let _ = entered_tx.lock().unwrap().send(s);
                // Stuck until the test lets go: the process "dies" here.
                let _ = release_rx.lock().unwrap().recv_timeout(T);
                Ok(())
            }),
            StringSerializer,
            &path,
        );
        if let Some(n) = prefetch {
            b = b.prefetch(n);
        }
        let consumer = b.build_queue().unwrap();
        consumer.start().unwrap();
        assert_eq!(entered.1.recv_timeout(T).unwrap(), "item-0000");
        let left = || client.get_children().for_path(&path).unwrap().len();
        match prefetch {
            // Deleted before the hand-over, and nothing else taken while it is consumed.
            None => assert_eq!(left(), 9, "one item at risk"),
            Some(n) => {
                assert!(wait_until(T, || left() == 10 - n), "{} left", left());
                // The window holds: nothing more is taken while the consumer is stuck.
                std::thread::sleep(Duration::from_millis(300));
                assert_eq!(left(), 10 - n);
            }
        }
        release.0.send(()).unwrap();
        // Unstuck, the consumer takes the rest, in order.
        for i in 1..10 {
            let _ = release.0.send(());
            assert_eq!(entered.1.recv_timeout(T).unwrap(), format!("item-{i:04}"));
        }
        assert!(wait_until(T, || left() == 0));
        consumer.close();
    }
    client.close();
});

/// The sessions owning the latch nodes at `leader_path`, in election order (Curator's
/// `_c_<uuid>-latch-<seq>`, sorted by sequence): the first one leads.
fn latch_owners(c: &CuratorFramework, leader_path: &str) -> Vec<i64> {
    let mut names = c.get_children().for_path(leader_path).unwrap_or_default();
    names.retain(|n| n.contains("-latch-"));
    names.sort_by_key(|n| n.rsplit("-latch-").next().unwrap_or_default().to_string());
    names
        .iter()
        .filter_map(|n| {
            c.check_exists()
                .for_path(&format!("{leader_path}/{n}"))
                .ok()
                .flatten()
        })
        .map(|s| s.ephemeral_owner)
        .collect()
}

fn session(c: &CuratorFramework) -> i64 {
    c.zookeeper_client().zookeeper().unwrap().session_id()
}

server_test!(shared sharders_on_one_leader_path_elect_one, |srv| {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
    let root = unique_root("q-shard-leader");
    let (queue_path, leader_path) = (format!("{root}/queue"), format!("{root}/leader"));
    let (ca, cb) = (srv.curator(), srv.curator());
    let policies = QueueSharderPolicies::builder()
        .new_queue_threshold(2)
        .threshold_check(Duration::from_millis(150))
        .max_queues(30);
    // Counts the shards a sharder makes itself: those it opens before their node exists.
    let sharder = |c: &CuratorFramework, made: Arc<AtomicUsize>| {
        QueueSharder::builder(c, &queue_path, move |c: &CuratorFramework, p: &str| {
            if c.check_exists().for_path(p)?.is_none() {
                made.fetch_add(1, SeqCst);
            }
            QueueBuilder::producer(c, StringSerializer, p).put_in_background(false).build_queue()
        })
        .policies(policies)
        .leader_path(&leader_path)
    };
    let (made_a, made_b) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    // A's own check as well (both must hold): it lets the test stop A adding shards while A
    // keeps the latch, and counts A's checks past the latch.
    let (gate_a, asked_a) = (Arc::new(AtomicBool::new(true)), Arc::new(AtomicUsize::new(0)));
    let (g, n) = (gate_a.clone(), asked_a.clone());
    let a = sharder(&ca, made_a.clone())
        .leader(move || {
            n.fetch_add(1, SeqCst);
            g.load(SeqCst)
        })
        .build()
        .unwrap();
    a.start().unwrap();
    assert_eq!(made_a.load(SeqCst), 1, "A made the first shard");
    assert!(wait_until(T, || latch_owners(&ca, &leader_path) == [session(&ca)]));
    let b = sharder(&cb, made_b.clone()).build().unwrap();
    b.start().unwrap();
    assert_eq!(b.shard_qty(), 1);
    assert!(wait_until(T, || latch_owners(&cb, &leader_path) == [session(&ca), session(&cb)]));
    for i in 0..3 {
        a.get_queue().unwrap().put(format!("{i}")).unwrap();
    }
    // The first shard is full: the leader adds shards, the other sharder none.
    assert!(wait_until(T, || made_a.load(SeqCst) >= 3), "A (the leader) adds shards");
    gate_a.store(false, SeqCst);
    let asked = asked_a.load(SeqCst);
    // Three more of A's checks pass; B checks as often and still adds nothing.
    assert!(wait_until(T, || asked_a.load(SeqCst) >= asked + 3));
    assert_eq!(made_b.load(SeqCst), 0, "B does not lead: it adds no shard");
    let by_a = made_a.load(SeqCst);
    assert!(wait_until(T, || b.shard_qty() == by_a), "B opens the shards A added");
    // A leaves: B takes the latch over and adds shards.
    a.close();
    assert!(wait_until(T, || latch_owners(&cb, &leader_path) == [session(&cb)]));
    assert!(wait_until(T, || made_b.load(SeqCst) >= 1), "B (the leader now) adds shards");
    assert_eq!(made_a.load(SeqCst), by_a);
    b.close();
    assert!(wait_until(T, || latch_owners(&cb, &leader_path).is_empty()));
    // The leader path may not lie in the queue path (its nodes would pass for shards).
    for bad in [queue_path.clone(), format!("{queue_path}/leader"), "leader".to_string()] {
        let r = QueueSharder::builder(&ca, &queue_path, |c: &CuratorFramework, p: &str| {
            QueueBuilder::producer(c, StringSerializer, p).build_queue()
        })
        .leader_path(&bad)
        .build();
        assert!(r.is_err(), "{bad}");
    }
    ca.close();
    cb.close();
});
