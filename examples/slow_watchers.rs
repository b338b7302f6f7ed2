//! Slow watchers: why each watcher should not get its own thread, and what to do instead
//! (docs/threading.md, question 2).
//!
//! Eight nodes change six times each (created, changed, deleted, twice) under one persistent
//! recursive watch whose watcher takes 50 ms per event. Run twice:
//!
//! * **offloaded**: `WorkerPool::offload` wraps the watcher, so events run on a pool of four
//!   threads: the events of one path one at a time and in order, different paths in
//!   parallel. The event thread stays free: a watcher on another node hears its change
//!   within milliseconds while the pool is still busy.
//! * **on the event thread**: the same watcher unwrapped. Every event waits for the one
//!   before it, and so does everything else the client delivers, the other node's event and
//!   connection-state changes included.
//!
//! A thread per watcher would lose the order (two events of one path on two threads can run
//! in either order) and cost a thread each; the pool keeps the order per path and costs four.
//!
//! ```sh
//! cargo run --example slow_watchers                           # in-process test server
//! ZK_CONNECT=127.0.0.1:2181 cargo run --example slow_watchers  # your ZooKeeper
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use zk_curator::framework::CuratorFramework;
use zk_curator::{AddWatchMode, Error, EventType, SharedWatcher, WatchedEvent, WorkerPool};

mod common;

const PATHS: usize = 8;
const ROUNDS: usize = 2;
const EVENTS: usize = PATHS * ROUNDS * 3;
const WORK: Duration = Duration::from_millis(50);
const WAIT: Duration = Duration::from_secs(30);

/// What the watcher saw of one path: its events in the order it ran them, the threads that
/// ran them, when, and whether two ever overlapped.
#[derive(Default)]
struct PathLog {
    events: Vec<EventType>,
    threads: BTreeSet<String>,
    first: Option<Duration>,
    last: Duration,
    running: usize,
    overlapped: bool,
}

fn main() -> zk_curator::Result<()> {
    let (_server, connect) = common::server()?;
    let client = common::client(&connect, "slow_watchers")?;
    let pool = WorkerPool::new(4)?;
    let pooled = run(&client, "/offloaded", Some(&pool))?;
    let serial = run(&client, "/on-event-thread", None)?;
    println!(
        "\n{EVENTS} events of {} ms: {:.2} s on a pool of 4 threads, {:.2} s on the event thread",
        WORK.as_millis(),
        pooled.as_secs_f64(),
        serial.as_secs_f64()
    );
    pool.shutdown();
    client
        .delete()
        .deleting_children_if_needed()
        .for_path("/")?;
    client.close();
    Ok(())
}

/// Watches `parent` recursively with a 50 ms watcher (on `pool` if given), makes the
/// changes, and reports; returns how long the watcher took to get through all events.
fn run(
    client: &CuratorFramework,
    parent: &str,
    pool: Option<&WorkerPool>,
) -> zk_curator::Result<Duration> {
    match pool {
        Some(_) => println!("\n{parent}: the watcher offloaded to a WorkerPool of 4 threads"),
        None => println!("\n{parent}: the same watcher on the event thread"),
    }
    client.create().for_path(parent)?;
    client.create().for_path(&format!("{parent}-fast"))?;
    let start = Instant::now();
    let logs: Arc<Mutex<BTreeMap<String, PathLog>>> = Arc::default();
    let overall = Arc::new((AtomicUsize::new(0), AtomicUsize::new(0))); // (now, max)
    let (done_tx, done_rx) = mpsc::channel();

    // The slow watcher. Its state is shared by several threads once offloaded: a Mutex.
    let slow = {
        let logs = logs.clone();
        let overall = overall.clone();
        move |e: &WatchedEvent| {
            let Some(n) = e.as_node_event() else {
                return; // a connection state change
            };
            let path = n.path().to_string();
            let began = start.elapsed();
            let now = overall.0.fetch_add(1, Ordering::SeqCst) + 1;
            overall.1.fetch_max(now, Ordering::SeqCst);
            if let Ok(mut logs) = logs.lock() {
                let log = logs.entry(path.clone()).or_default();
                log.running += 1;
                log.overlapped |= log.running > 1;
                log.events.push(n.event_type());
                log.threads.insert(thread_name());
                log.first.get_or_insert(began);
            }
            thread::sleep(WORK); // the slow part: a call to another service, say
            if let Ok(mut logs) = logs.lock() {
                if let Some(log) = logs.get_mut(&path) {
                    log.running -= 1;
                    log.last = start.elapsed();
                }
            }
            overall.0.fetch_sub(1, Ordering::SeqCst);
            let _ = done_tx.send(());
        }
    };
    let watcher: SharedWatcher = match pool {
        Some(pool) => pool.offload(slow),
        None => SharedWatcher::new(slow),
    };
    client
        .watchers()
        .add()
        .with_mode(AddWatchMode::PersistentRecursive)
        .using_shared_watcher(&watcher)
        .for_path(parent)?;

    // A quick watcher on another node, on the event thread: how long does its event wait?
    let (fast_tx, fast_rx) = mpsc::channel();
    client
        .get_data()
        .using_watcher(move |e: &WatchedEvent| {
            if e.as_node_event().is_some() {
                let _ = fast_tx.send(Instant::now());
            }
        })
        .for_path(&format!("{parent}-fast"))?;

    for _ in 0..ROUNDS {
        for i in 0..PATHS {
            let p = format!("{parent}/p{i}");
            client.create().for_path_with_data(&p, b"new")?;
            client.set_data().for_path(&p, b"changed")?;
            client.delete().for_path(&p)?;
        }
    }
    println!(
        "   made {EVENTS} changes in {:.2} s",
        start.elapsed().as_secs_f64()
    );
    let sent = Instant::now();
    client
        .set_data()
        .for_path(&format!("{parent}-fast"), b"x")?;
    let heard = fast_rx.recv_timeout(WAIT).map_err(|_| Error::Timeout)?;
    println!(
        "   a watcher of another node heard its change {:.1} ms after the write",
        heard.duration_since(sent).as_secs_f64() * 1e3
    );
    let deadline = Instant::now() + WAIT;
    let done = (0..EVENTS)
        .take_while(|_| {
            done_rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .is_ok()
        })
        .count();
    let took = start.elapsed();
    println!(
        "   the slow watcher ran {done} events in {:.2} s, at most {} at a time",
        took.as_secs_f64(),
        overall.1.load(Ordering::SeqCst)
    );
    let expected: Vec<EventType> = (0..ROUNDS)
        .flat_map(|_| {
            [
                EventType::NodeCreated,
                EventType::NodeDataChanged,
                EventType::NodeDeleted,
            ]
        })
        .collect();
    let logs = logs.lock().map_err(|_| Error::Timeout)?;
    for (path, log) in logs.iter() {
        let in_order = log.events == expected;
        println!(
            "   {path}: {} events in order: {in_order}, overlapping: {}, {:.2}-{:.2} s on {:?}",
            log.events.len(),
            log.overlapped,
            log.first.unwrap_or_default().as_secs_f64(),
            log.last.as_secs_f64(),
            log.threads
        );
        assert!(
            in_order && !log.overlapped,
            "per-path order is the contract"
        );
    }
    assert_eq!(done, EVENTS);
    client.watchers().remove(&watcher).for_path(parent)?;
    Ok(took)
}

fn thread_name() -> String {
    thread::current().name().unwrap_or("unnamed").to_string()
}
