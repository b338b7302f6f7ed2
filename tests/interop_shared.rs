//! Java Curator and zk-curator sharing one SharedCount and one DistributedAtomicLong: 2 Java
//! and 2 Rust threads increment with compare-and-set, 500 times each; the total is exact,
//! every listener hears the final value, and every increment reported as succeeded (on
//! either side) happened exactly once. Java's and Rust's CachedAtomicLong drawing ids from
//! one counter never hand out the same id.

mod support;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::curator::CuratorJava;
use support::wait_until;
use zk_curator::framework::RetryNTimes;
use zk_curator::recipes::atomic::{CachedAtomicLong, DistributedAtomicLong};
use zk_curator::recipes::shared::SharedCount;

const T: Duration = Duration::from_secs(30);
const EACH: usize = 500;
/// The whole run of 2,000 increments on a loaded machine.
const RUN: Duration = Duration::from_secs(300);

server_test!(shared shared_count_from_both_languages, |srv| {
    let Some(java) = CuratorJava::get() else { return };
    let root = support::unique_root("ishared");
    let path = format!("{root}/count");
    let rust = srv.curator();
    let count = Arc::new(SharedCount::new(&rust, &path, 0).unwrap());
    let heard = Arc::new(Mutex::new(Vec::new()));
    let h = heard.clone();
    count
        .listenable()
        .add_listener(move |n: i32| h.lock().unwrap().push(n));
    count.start().unwrap();
    let mut agent = java.spawn("SharedAgent", &[&srv.connect_string()]);
    assert_eq!(agent.ok(&format!("count-start {path} 0"), T), "0");

    let started = Instant::now();
    agent.ok(&format!("count-inc 2 {EACH}"), T);
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let count = count.clone();
            std::thread::spawn(move || {
                for _ in 0..EACH {
                    loop {
                        let v = count.versioned_value().unwrap();
                        if count.try_set_count(&v, v.value() + 1).unwrap() {
                            break;
                        }
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let done = agent.wait_event(RUN, |e| e.starts_with("count-"));
    assert_eq!(done.as_deref(), Some("count-done"), "{:?}", agent.drain_events());
    eprintln!("2000 increments (2 Java + 2 Rust threads) in {:?}", started.elapsed());

    let total = (4 * EACH) as i32;
    assert_eq!(rust.get_data().for_path(&path).unwrap(), total.to_be_bytes(), "exact");
    assert!(wait_until(T, || count.count().ok() == Some(total)));
    assert!(
        wait_until(T, || heard.lock().unwrap().last() == Some(&total)),
        "the Rust listener heard up to {:?}",
        heard.lock().unwrap().last()
    );
    assert!(
        wait_until(T, || agent.ok("count-heard", T) == total.to_string()),
        "the Java listener heard up to {}",
        agent.ok("count-heard", T)
    );
    assert_eq!(agent.ok("count-get", T), total.to_string());
    assert!(agent.stop());
    count.close();
    rust.close();
});

server_test!(shared atomic_long_from_both_languages, |srv| {
    let Some(java) = CuratorJava::get() else { return };
    let root = support::unique_root("iatomic");
    let path = format!("{root}/n");
    let rust = srv.curator();
    let mut agent = java.spawn("SharedAgent", &[&srv.connect_string()]);

    let started = Instant::now();
    agent.ok(&format!("atomic-inc {path} 2 {EACH}"), T);
    let posts = Arc::new(Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (rust, path, posts) = (rust.clone(), path.clone(), posts.clone());
            std::thread::spawn(move || {
                let n = DistributedAtomicLong::new(&rust, &path, RetryNTimes::new(1000, Duration::ZERO))
                    .unwrap();
                let mut done = 0;
                while done < EACH {
                    let r = n.increment().unwrap();
                    if r.succeeded() {
                        assert_eq!(*r.post_value(), r.pre_value() + 1);
                        posts.lock().unwrap().push(*r.post_value());
                        done += 1;
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let done = agent.wait_event(RUN, |e| e.starts_with("atomic-"));
    assert_eq!(done.as_deref(), Some("atomic-done"), "{:?}", agent.drain_events());
    eprintln!("2000 atomic increments (2 Java + 2 Rust threads) in {:?}", started.elapsed());

    let total = (4 * EACH) as i64;
    assert_eq!(rust.get_data().for_path(&path).unwrap(), total.to_be_bytes(), "exact");
    assert_eq!(agent.ok(&format!("atomic-get {path}"), T), total.to_string());
    // Every success on either side is one distinct step of the counter: honest `succeeded`.
    let java_posts: Vec<i64> = agent
        .ok("atomic-posts", T)
        .split(',')
        .map(|p| p.parse().unwrap())
        .collect();
    let rust_posts = posts.lock().unwrap().clone();
    assert_eq!((java_posts.len(), rust_posts.len()), (2 * EACH, 2 * EACH));
    let all: BTreeSet<i64> = java_posts.iter().chain(rust_posts.iter()).copied().collect();
    assert_eq!(all, (1..=total).collect::<BTreeSet<i64>>());
    assert!(agent.stop());
    rust.close();
});

// 2 Java threads (a CachedAtomicLong each, factor 10: Curator's is not thread-safe) and 2 Rust
// threads (sharing one CachedAtomicLong, factor 25) take 500 ids each from one counter node:
// the 2,000 ids are distinct, and the counter holds exactly the ids handed out plus what the
// Rust cache still holds (Java's blocks are used up: 500 is a multiple of 10).
server_test!(shared cached_atomic_long_from_both_languages, |srv| {
    let Some(java) = CuratorJava::get() else { return };
    let root = support::unique_root("icached");
    let path = format!("{root}/ids");
    let rust = srv.curator();
    let mut agent = java.spawn("SharedAgent", &[&srv.connect_string()]);

    let started = Instant::now();
    agent.ok(&format!("cached-next {path} 10 2 {EACH}"), T);
    let ids = Arc::new(
        CachedAtomicLong::new(
            DistributedAtomicLong::new(&rust, &path, RetryNTimes::new(1000, Duration::ZERO)).unwrap(),
            25,
        )
        .unwrap(),
    );
    let rust_ids = Arc::new(Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (ids, rust_ids) = (ids.clone(), rust_ids.clone());
            std::thread::spawn(move || {
                let mut done = 0;
                while done < EACH {
                    let r = ids.next().unwrap();
                    if r.succeeded() {
                        assert_eq!(*r.post_value(), r.pre_value() + 1);
                        rust_ids.lock().unwrap().push(*r.pre_value());
                        done += 1;
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let done = agent.wait_event(RUN, |e| e.starts_with("cached-"));
    assert_eq!(done.as_deref(), Some("cached-done"), "{:?}", agent.drain_events());
    eprintln!("2000 cached ids (2 Java + 2 Rust threads) in {:?}", started.elapsed());

    let java_ids: Vec<i64> = agent
        .ok("cached-ids", T)
        .split(',')
        .map(|p| p.parse().unwrap())
        .collect();
    let rust_ids = rust_ids.lock().unwrap().clone();
    assert_eq!((java_ids.len(), rust_ids.len()), (2 * EACH, 2 * EACH));
    let all: BTreeSet<i64> = java_ids.iter().chain(rust_ids.iter()).copied().collect();
    assert_eq!(all.len(), 4 * EACH, "an id was handed out twice");
    let counter = i64::from_be_bytes(rust.get_data().for_path(&path).unwrap().try_into().unwrap());
    assert_eq!(counter, (4 * EACH) as i64 + ids.available() as i64);
    assert!(all.iter().all(|id| (0..counter).contains(id)));
    // Java reads the same counter.
    assert_eq!(agent.ok(&format!("atomic-get {path}"), T), counter.to_string());
    assert!(agent.stop());
    drop(ids);
    rust.close();
});
