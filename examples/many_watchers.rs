//! One thread registers 1,000 watchers whose closures share state. Do they need a mutex?
//! (docs/threading.md, question 1.)
//!
//! 1. **On the event thread: no.** Every watcher of a client runs on its one event thread
//!    (`zk-event`), one at a time, in the order the server sent the events. State touched
//!    only by those callbacks is never touched by two threads at once: a read-then-write is
//!    exact without a lock or a compare-and-swap, and a plain `RefCell<HashMap>` in a
//!    thread-local of the event thread works with no lock at all. (Rust still asks for
//!    `Send + Sync` closures, because the compiler cannot know where they run: hence
//!    atomics or a thread-local rather than a bare `Cell`.)
//! 2. **Offloaded to a `WorkerPool`: yes.** The same 1,000 watchers wrapped with
//!    `WorkerPool::offload` run on four threads at once (per path in order, paths in
//!    parallel), so what they share needs a `Mutex` (or an atomic read-modify-write). The
//!    same holds as soon as any other thread (your `main`, a request handler) reads or
//!    writes the state.
//!
//! ```sh
//! cargo run --example many_watchers                           # in-process test server
//! ZK_CONNECT=127.0.0.1:2181 cargo run --example many_watchers  # your ZooKeeper
//! ```

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use zk_curator::framework::CuratorFramework;
use zk_curator::{Error, WatchedEvent, WorkerPool};

mod common;

const WATCHERS: usize = 1000;
const WAIT: Duration = Duration::from_secs(30);

thread_local! {
    /// The paths whose watcher fired, in the order they fired. Only the event thread ever
    /// touches its copy: no lock, not even an atomic.
    static FIRED: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Counts callbacks in flight at once, and the most seen.
#[derive(Default)]
struct Overlap {
    now: AtomicUsize,
    max: AtomicUsize,
}

impl Overlap {
    fn enter(&self) {
        let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(n, Ordering::SeqCst);
    }
    fn leave(&self) {
        self.now.fetch_sub(1, Ordering::SeqCst);
    }
}

fn main() -> zk_curator::Result<()> {
    let (_server, connect) = common::server()?;
    let client = common::client(&connect, "many_watchers")?;
    let start = Instant::now();
    let paths: Vec<String> = (0..WATCHERS).map(|i| format!("/n-{i:04}")).collect();
    client.create().for_path("/part1")?;
    client.create().for_path("/part2")?;
    for p in &paths {
        client.create().for_path(&format!("/part1{p}"))?;
        client.create().for_path(&format!("/part2{p}"))?;
    }
    println!(
        "created {} nodes in {:.2} s",
        2 * WATCHERS,
        start.elapsed().as_secs_f64()
    );

    on_the_event_thread(&client, &paths)?;
    on_a_pool(&client, &paths)?;

    client
        .delete()
        .deleting_children_if_needed()
        .for_path("/")?;
    client.close();
    Ok(())
}

/// Part 1: 1,000 watchers, no lock anywhere.
fn on_the_event_thread(client: &CuratorFramework, paths: &[String]) -> zk_curator::Result<()> {
    println!("\n1. {WATCHERS} watchers on the event thread, sharing state without a lock");
    // Shared by every closure: a counter updated by a plain load then store (not an atomic
    // increment: exact only because no two callbacks ever overlap), the overlap gauge, and
    // the thread-local list above.
    let counter = Arc::new(AtomicUsize::new(0));
    let overlap = Arc::new(Overlap::default());
    let start = Instant::now();
    for p in paths {
        let (counter, overlap) = (counter.clone(), overlap.clone());
        client
            .get_data()
            .using_watcher(move |e: &WatchedEvent| {
                let Some(n) = e.as_node_event() else {
                    return; // a connection state change, not our node's event
                };
                overlap.enter();
                let seen = counter.load(Ordering::Relaxed);
                counter.store(seen + 1, Ordering::Relaxed);
                FIRED.with(|f| f.borrow_mut().push(n.path().to_string()));
                overlap.leave();
            })
            .for_path(&format!("/part1{p}"))?;
    }
    println!(
        "   registered {WATCHERS} watchers from thread {:?} in {:.2} s",
        thread_name(),
        start.elapsed().as_secs_f64()
    );

    let start = Instant::now();
    for p in paths {
        client
            .set_data()
            .for_path(&format!("/part1{p}"), b"changed")?;
    }
    // Each set_data returned after the events the server sent before its reply were queued
    // for the event thread, so a task posted now runs after every one of those watchers.
    // It reads the thread-local where it lives, on the event thread.
    let (tx, rx) = mpsc::channel();
    client.event_dispatcher().post(move || {
        let _ = tx.send((FIRED.with(|f| f.take()), thread_name()));
    });
    let (fired, on) = rx.recv_timeout(WAIT).map_err(|_| Error::Timeout)?;
    println!(
        "   changed every node; {} watchers fired within {:.2} s",
        fired.len(),
        start.elapsed().as_secs_f64()
    );
    // The list lives in the event thread's thread-local: all 1,000 ran on that thread.
    println!(
        "   they all ran on {on:?} (the list is that thread's thread-local), at most {} at a time",
        overlap.max.load(Ordering::SeqCst)
    );
    println!(
        "   load-then-store counter: {} (exact: nothing overlapped)",
        counter.load(Ordering::Relaxed)
    );
    let in_order = fired
        .iter()
        .map(|f| f.trim_start_matches("/part1"))
        .eq(paths.iter().map(String::as_str));
    println!(
        "   the list holds {} paths, in the order they were changed: {in_order}",
        fired.len()
    );
    assert_eq!(fired.len(), WATCHERS);
    assert!(in_order, "events run in server order");
    assert_eq!(overlap.max.load(Ordering::SeqCst), 1);
    assert_eq!(counter.load(Ordering::Relaxed), WATCHERS);
    Ok(())
}

/// Part 2: the same watchers offloaded to a pool: now they overlap, and the state they
/// share needs a lock.
fn on_a_pool(client: &CuratorFramework, paths: &[String]) -> zk_curator::Result<()> {
    println!("\n2. the same {WATCHERS} watchers offloaded to a WorkerPool of 4 threads");
    let pool = WorkerPool::new(4)?;
    let counter = Arc::new(AtomicUsize::new(0)); // the same load-then-store: now it races
    let overlap = Arc::new(Overlap::default());
    // What the closures share now needs a lock: a Mutex around the map.
    let by_thread: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let (done_tx, done_rx) = mpsc::channel();
    let start = Instant::now();
    for p in paths {
        let (counter, overlap, by_thread, done_tx) = (
            counter.clone(),
            overlap.clone(),
            by_thread.clone(),
            done_tx.clone(),
        );
        let watcher = pool.offload(move |e: &WatchedEvent| {
            if e.as_node_event().is_none() {
                return;
            }
            overlap.enter();
            let seen = counter.load(Ordering::Relaxed);
            thread::sleep(Duration::from_millis(2)); // some work between the read and the write
            counter.store(seen + 1, Ordering::Relaxed);
            if let Ok(mut m) = by_thread.lock() {
                *m.entry(thread_name()).or_default() += 1;
            }
            overlap.leave();
            let _ = done_tx.send(());
        });
        client
            .get_data()
            .using_shared_watcher(&watcher)
            .for_path(&format!("/part2{p}"))?;
    }
    for p in paths {
        client
            .set_data()
            .for_path(&format!("/part2{p}"), b"changed")?;
    }
    let deadline = Instant::now() + WAIT;
    let done = (0..WATCHERS)
        .take_while(|_| {
            done_rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .is_ok()
        })
        .count();
    println!(
        "   {done} watchers ran within {:.2} s, at most {} at a time",
        start.elapsed().as_secs_f64(),
        overlap.max.load(Ordering::SeqCst)
    );
    let mut per_thread: Vec<_> = by_thread
        .lock()
        .map(|m| m.clone().into_iter().collect())
        .unwrap_or_default();
    per_thread.sort();
    println!("   per thread (counted under the Mutex, exact): {per_thread:?}");
    println!(
        "   load-then-store counter: {} of {WATCHERS} (updates lost: callbacks overlapped; \
         use fetch_add or the Mutex)",
        counter.load(Ordering::Relaxed)
    );
    assert_eq!(done, WATCHERS);
    assert_eq!(per_thread.iter().map(|(_, n)| n).sum::<usize>(), WATCHERS);
    pool.shutdown();
    Ok(())
}

fn thread_name() -> String {
    thread::current().name().unwrap_or("unnamed").to_string()
}
