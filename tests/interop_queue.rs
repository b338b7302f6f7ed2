//! Java Curator and zk-curator share queues on one server (both kinds): 1,000 items produced
//! on one side are consumed in order on the other, both ways; priority and delay items made
//! on one side are ordered and delayed on the other; multi-item nodes, id queues, the simple
//! queue, lock-safe consumers of both languages on one queue (each item once), and Java and
//! Rust `QueueSharder`s on one leader path (one election: only the latch holder adds shards).

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use support::curator::{CuratorJava, JavaAgent};
use support::{unique_root, wait_until};
use zk_curator::framework::CuratorFramework;
use zk_curator::recipes::queue::*;

const T: Duration = Duration::from_secs(60);

/// Java's consumer reports: (queue path, item, epoch ms at delivery), `n` of them.
fn java_items(agent: &mut JavaAgent, path: &str, n: usize) -> Vec<(String, i64)> {
    (0..n)
        .map(|i| {
            let e = agent
                .wait_event(T, |e| e.starts_with(&format!("item {path} ")))
                .unwrap_or_else(|| panic!("Java consumed only {i} of {n} from {path}"));
            let mut w = e.split(' ').skip(2);
            let item = w.next().unwrap_or_default().to_string();
            let at = w.next().and_then(|t| t.parse().ok()).unwrap_or(0);
            (item, at)
        })
        .collect()
}

fn take_n(c: &BlockingQueueConsumer<String>, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            c.take_timeout(T)
                .unwrap_or_else(|| panic!("Rust consumed only {i} of {n}"))
        })
        .collect()
}

fn epoch_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

server_test!(shared thousand_items_each_way_in_order, |srv| {
    let Some(java) = CuratorJava::get() else { return };
    let root = unique_root("iq-fifo");
    let client = srv.curator();
    let mut agent = java.spawn("QueueAgent", &[&srv.connect_string()]);
    let n = 1000;
    let expected = |p: &str| (0..n).map(|i| format!("{p}-{i:04}")).collect::<Vec<_>>();

    // Java produces, Rust consumes.
    let j2r = format!("{root}/j2r");
    agent.ok(&format!("produce {j2r} {n} java"), T);
    let got = BlockingQueueConsumer::new();
    let consumer = QueueBuilder::builder(&client, got.clone(), StringSerializer, &j2r)
        .build_queue()
        .unwrap();
    consumer.start().unwrap();
    assert_eq!(take_n(&got, n), expected("java"));

    // Rust produces (background puts), Java consumes.
    let r2j = format!("{root}/r2j");
    let producer = QueueBuilder::producer(&client, StringSerializer, &r2j).build_queue().unwrap();
    producer.start().unwrap();
    for i in expected("rust") {
        producer.put(i).unwrap();
    }
    assert!(producer.flush_puts(T));
    agent.ok(&format!("consume plain {r2j} -"), T);
    let items: Vec<String> = java_items(&mut agent, &r2j, n).into_iter().map(|(s, _)| s).collect();
    assert_eq!(items, expected("rust"));

    // Several items in one node, both ways.
    agent.ok(&format!("put-multi {j2r} m1,m2,m3"), T);
    assert_eq!(take_n(&got, 3), ["m1", "m2", "m3"]);
    producer.put_multi(vec!["r1".into(), "r2".into()]).unwrap();
    let items: Vec<String> = java_items(&mut agent, &r2j, 2).into_iter().map(|(s, _)| s).collect();
    assert_eq!(items, ["r1", "r2"]);

    agent.ok(&format!("stop plain {r2j}"), T);
    consumer.close();
    producer.close();
    assert!(agent.stop());
    client.close();
});

server_test!(shared priority_items_order_across_languages, |srv| {
    let Some(java) = CuratorJava::get() else { return };
    let root = unique_root("iq-prio");
    let client = srv.curator();
    let mut agent = java.spawn("QueueAgent", &[&srv.connect_string()]);
    let prios = [5, -2, 100, 0, -2000, 7];
    let mut expected: Vec<(i32, usize)> = prios.iter().copied().zip(0..).collect();
    expected.sort();
    let expected: Vec<String> = expected.iter().map(|(p, i)| format!("p{p}_{i}")).collect();

    // Java puts, Rust orders.
    let j2r = format!("{root}/j2r");
    for (i, p) in prios.iter().enumerate() {
        agent.ok(&format!("put-priority {j2r} {p} p{p}_{i}"), T);
    }
    let got = BlockingQueueConsumer::new();
    let consumer = QueueBuilder::builder(&client, got.clone(), StringSerializer, &j2r)
        .build_priority_queue(0)
        .unwrap();
    consumer.start().unwrap();
    assert_eq!(take_n(&got, prios.len()), expected);

    // Rust puts, Java orders.
    let r2j = format!("{root}/r2j");
    let producer = QueueBuilder::producer(&client, StringSerializer, &r2j)
        .put_in_background(false)
        .build_priority_queue(0)
        .unwrap();
    producer.start().unwrap();
    for (i, p) in prios.iter().enumerate() {
        producer.put(format!("p{p}_{i}"), *p).unwrap();
    }
    agent.ok(&format!("consume priority {r2j} -"), T);
    let items: Vec<String> =
        java_items(&mut agent, &r2j, prios.len()).into_iter().map(|(s, _)| s).collect();
    assert_eq!(items, expected);

    agent.ok(&format!("stop priority {r2j}"), T);
    consumer.close();
    producer.close();
    assert!(agent.stop());
    client.close();
});

server_test!(shared delay_items_wait_across_languages, |srv| {
    let Some(java) = CuratorJava::get() else { return };
    let root = unique_root("iq-delay");
    let client = srv.curator();
    let mut agent = java.spawn("QueueAgent", &[&srv.connect_string()]);
    let delay = Duration::from_millis(1500);

    // Java puts two items (the later one first), Rust waits for each and orders them.
    let j2r = format!("{root}/j2r");
    let got = BlockingQueueConsumer::new();
    let consumer = QueueBuilder::builder(&client, got.clone(), StringSerializer, &j2r)
        .build_delay_queue()
        .unwrap();
    consumer.start().unwrap();
    let now = SystemTime::now();
    let (due1, due2) = (now + delay, now + delay * 2);
    agent.ok(&format!("put-delay {j2r} {} second", epoch_ms(due2)), T);
    agent.ok(&format!("put-delay {j2r} {} first", epoch_ms(due1)), T);
    assert_eq!(got.take_timeout(T).as_deref(), Some("first"));
    assert!(SystemTime::now() >= due1, "delivered before it was due");
    assert_eq!(got.take_timeout(T).as_deref(), Some("second"));
    assert!(SystemTime::now() >= due2, "delivered before it was due");

    // Rust puts, Java waits.
    let r2j = format!("{root}/r2j");
    let producer = QueueBuilder::producer(&client, StringSerializer, &r2j)
        .put_in_background(false)
        .build_delay_queue()
        .unwrap();
    producer.start().unwrap();
    agent.ok(&format!("consume delay {r2j} -"), T);
    let now = SystemTime::now();
    let (due1, due2) = (now + delay, now + delay * 2);
    producer.put("late".into(), due2).unwrap();
    producer.put("soon".into(), due1).unwrap();
    let got = java_items(&mut agent, &r2j, 2);
    assert_eq!(got[0].0, "soon");
    assert_eq!(got[1].0, "late");
    // Java's clock is this machine's clock: its delivery times must not precede the dues.
    assert!(got[0].1 >= epoch_ms(due1), "{} < {}", got[0].1, epoch_ms(due1));
    assert!(got[1].1 >= epoch_ms(due2), "{} < {}", got[1].1, epoch_ms(due2));

    agent.ok(&format!("stop delay {r2j}"), T);
    consumer.close();
    producer.close();
    assert!(agent.stop());
    client.close();
});

server_test!(shared id_and_simple_queues_across_languages, |srv| {
    let Some(java) = CuratorJava::get() else { return };
    let root = unique_root("iq-id");
    let client = srv.curator();
    let mut agent = java.spawn("QueueAgent", &[&srv.connect_string()]);

    let ids = format!("{root}/ids");
    let q = QueueBuilder::producer(&client, StringSerializer, &ids)
        .put_in_background(false)
        .build_id_queue()
        .unwrap();
    q.start().unwrap();
    agent.ok(&format!("put-id {ids} job-1 java1"), T);
    q.put("rust1".into(), "job-2").unwrap();
    agent.ok(&format!("put-id {ids} job-2 java2"), T);
    assert!(q.is_queued("job-1").unwrap());
    // Each side removes what the other put.
    assert_eq!(q.remove("job-1").unwrap(), 1);
    assert_eq!(agent.ok(&format!("remove-id {ids} job-2"), T), "2");
    assert!(client.get_children().for_path(&ids).unwrap().is_empty());
    q.close();

    let simple = format!("{root}/simple");
    let s = SimpleDistributedQueue::new(&client, &simple);
    agent.ok(&format!("simple-offer {simple} from-java"), T);
    s.offer(b"from-rust").unwrap();
    assert_eq!(s.take().unwrap(), b"from-java");
    assert_eq!(agent.ok(&format!("simple-poll {simple}"), T), "from-rust");
    assert!(agent.stop());
    client.close();
});

server_test!(shared lock_safe_consumers_of_both_languages_share_one_queue, |srv| {
    let Some(java) = CuratorJava::get() else { return };
    let root = unique_root("iq-locked");
    let (queue, lock) = (format!("{root}/q"), format!("{root}/locks"));
    let client = srv.curator();
    let mut agent = java.spawn("QueueAgent", &[&srv.connect_string()]);
    let got = BlockingQueueConsumer::new();
    let consumer = QueueBuilder::builder(&client, got.clone(), StringSerializer, &queue)
        .lock_path(&lock)
        .build_queue()
        .unwrap();
    consumer.start().unwrap();
    agent.ok(&format!("consume plain {queue} {lock}"), T);
    let n = 300;
    agent.ok(&format!("produce {queue} {n} mixed"), T);
    // Every item once, by one side or the other.
    let mut seen: HashMap<String, u32> = HashMap::new();
    let deadline = Instant::now() + T;
    while seen.values().sum::<u32>() < n && Instant::now() < deadline {
        for s in got.drain() {
            *seen.entry(s).or_insert(0) += 1;
        }
        for e in agent.drain_events() {
            if let Some(rest) = e.strip_prefix(&format!("item {queue} ")) {
                let item = rest.split(' ').next().unwrap_or_default().to_string();
                *seen.entry(item).or_insert(0) += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(seen.len(), n as usize, "every item");
    assert!(seen.values().all(|c| *c == 1), "each once");
    assert!(wait_until(T, || client.get_children().for_path(&lock).unwrap().is_empty()));
    agent.ok(&format!("stop plain {queue}"), T);
    consumer.close();
    assert!(agent.stop());
    client.close();
});

/// The latch nodes at `leader_path` in election order (by sequence; Curator's layout
/// `_c_<uuid>-latch-<seq>`, checked) with the sessions owning them: the first one leads.
fn latch_owners(c: &CuratorFramework, leader_path: &str) -> Vec<i64> {
    let mut names = c.get_children().for_path(leader_path).unwrap_or_default();
    for n in &names {
        let (protected, seq) = n.split_once("-latch-").unwrap_or_else(|| panic!("{n}"));
        let uuid = protected
            .strip_prefix("_c_")
            .unwrap_or_else(|| panic!("{n}"));
        assert_eq!(uuid.len(), 36, "{n}");
        assert!(
            seq.len() == 10 && seq.bytes().all(|b| b.is_ascii_digit()),
            "{n}"
        );
    }
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

server_test!(shared java_and_rust_sharders_share_one_leader_latch, |srv| {
    let Some(java) = CuratorJava::get() else { return };
    let root = unique_root("iq-sharder");
    let (queue, leader) = (format!("{root}/queue"), format!("{root}/leader"));
    let client = srv.curator();
    let rust = client.zookeeper_client().zookeeper().unwrap().session_id();
    let mut agent = java.spawn("SharderAgent", &[&srv.connect_string()]);
    let java_made = |agent: &mut support::curator::JavaAgent| -> usize {
        agent.ok("made", T).parse().unwrap()
    };
    // Threshold 2, checked every 200 ms, at most 60 shards, on both sides.
    let start_java = format!("start {queue} {leader} 2 200 60");
    agent.ok(&start_java, T);
    assert_eq!(java_made(&mut agent), 1, "Java made the first shard");
    assert!(wait_until(T, || latch_owners(&client, &leader).len() == 1));
    let java_session = latch_owners(&client, &leader)[0];
    assert_ne!(java_session, rust);

    // Counts the shards Rust makes itself (opened before their node exists), and the checks
    // at which its latch led (its own check is asked only then).
    let (made, led) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (m, l) = (made.clone(), led.clone());
    let sharder = QueueSharder::builder(&client, &queue, move |c: &CuratorFramework, p: &str| {
        if c.check_exists().for_path(p)?.is_none() {
            m.fetch_add(1, SeqCst);
        }
        QueueBuilder::producer(c, StringSerializer, p).put_in_background(false).build_queue()
    })
    .policies(
        QueueSharderPolicies::builder()
            .new_queue_threshold(2)
            .threshold_check(Duration::from_millis(200))
            .max_queues(60),
    )
    .leader_path(&leader)
    .leader(move || {
        l.fetch_add(1, SeqCst);
        true
    })
    .build()
    .unwrap();
    sharder.start().unwrap();
    assert_eq!(sharder.shard_qty(), 1, "Rust opened Java's shard");
    assert!(wait_until(T, || latch_owners(&client, &leader) == [java_session, rust]));

    // The first shard is full: Java (the latch holder) adds shards, Rust none.
    for i in 0..3 {
        sharder.get_queue().unwrap().put(format!("r{i}")).unwrap();
    }
    assert!(wait_until(T, || java_made(&mut agent) >= 4), "Java adds shards");
    assert_eq!(made.load(SeqCst), 0, "Rust does not hold the latch: it adds no shard");
    assert_eq!(led.load(SeqCst), 0, "Rust's latch never led");

    // Java closes: Rust takes the latch over and adds shards.
    agent.ok("close", T);
    assert!(wait_until(T, || latch_owners(&client, &leader) == [rust]));
    assert!(wait_until(T, || made.load(SeqCst) >= 1), "Rust (the latch holder now) adds shards");

    // A new Java sharder queues behind Rust and adds nothing while Rust adds on.
    let by_java = java_made(&mut agent);
    agent.ok(&start_java, T);
    assert!(wait_until(T, || {
        let owners = latch_owners(&client, &leader);
        owners.len() == 2 && owners[0] == rust
    }));
    let by_rust = made.load(SeqCst);
    assert!(wait_until(T, || made.load(SeqCst) >= by_rust + 3), "Rust adds on");
    assert_eq!(java_made(&mut agent), by_java, "Java does not hold the latch: it adds no shard");
    agent.ok("close", T);
    sharder.close();
    assert!(wait_until(T, || latch_owners(&client, &leader).is_empty()));
    assert!(agent.stop());
    client.close();
});
