//! Many operations in flight at once with `in_background`, bounded by a window.
//!
//! A synchronous call waits a round trip per operation. `in_background` returns at once and
//! the result comes to a callback on the event thread, so one thread can keep many requests
//! on the wire. Unbounded, a fast producer would queue requests (and their replies) without
//! limit; a **window** of K permits bounds them: take a permit before each call, give it back
//! in the callback. Here the window is a channel holding K tokens.
//!
//! The example writes 2,000 nodes through a window of 64, reads them back the same way and
//! checks every byte, compares with one synchronous call at a time, and shows that a failed
//! operation reaches its callback as an error (and still returns its permit).
//!
//! ```sh
//! cargo run --example background_pipeline                           # in-process test server
//! ZK_CONNECT=127.0.0.1:2181 cargo run --example background_pipeline  # your ZooKeeper
//! ```

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

use zk_curator::framework::{CuratorEvent, CuratorFramework};
use zk_curator::Error;

mod common;

const NODES: usize = 2000;
const WINDOW: usize = 64;
const SYNC_NODES: usize = 500;
const WAIT: Duration = Duration::from_secs(30);

/// At most `k` operations in flight: `take` before each call, `give` in its callback.
struct Window {
    give: Sender<()>,
    take: Receiver<()>,
    k: usize,
}

impl Window {
    fn new(k: usize) -> Window {
        let (give, take) = mpsc::channel();
        for _ in 0..k {
            let _ = give.send(());
        }
        Window { give, take, k }
    }

    /// Waits for a permit (bounded: an operation that never completes is a bug to report).
    fn acquire(&self) -> zk_curator::Result<()> {
        self.take.recv_timeout(WAIT).map_err(|_| Error::Timeout)
    }

    /// A handle for a callback to give its permit back.
    fn permit(&self) -> Sender<()> {
        self.give.clone()
    }

    /// Waits until every permit is back: nothing is in flight.
    fn drain(&self) -> zk_curator::Result<()> {
        for _ in 0..self.k {
            self.acquire()?;
        }
        for _ in 0..self.k {
            let _ = self.give.send(());
        }
        Ok(())
    }
}

fn main() -> zk_curator::Result<()> {
    let (_server, connect) = common::server()?;
    let client = common::client(&connect, "background_pipeline")?;
    client.create().for_path("/items")?;
    client.create().for_path("/sync")?;

    // One synchronous call at a time, for comparison.
    let start = Instant::now();
    for i in 0..SYNC_NODES {
        client
            .create()
            .for_path_with_data(&format!("/sync/item-{i:05}"), &payload(i))?;
    }
    let sync_rate = SYNC_NODES as f64 / start.elapsed().as_secs_f64();
    println!("synchronous: {SYNC_NODES} creates at {sync_rate:.0}/s, one round trip each");

    // The same through a window of 64.
    let window = Window::new(WINDOW);
    let failed = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    for i in 0..NODES {
        window.acquire()?;
        let (permit, failed) = (window.permit(), failed.clone());
        client
            .create()
            .in_background(move |_c: &CuratorFramework, e: &CuratorEvent| {
                if let Some(err) = e.error() {
                    eprintln!("create {} failed: {err}", e.path());
                    failed.fetch_add(1, Ordering::SeqCst);
                }
                let _ = permit.send(()); // always, success or not
            })
            .for_path_with_data(&format!("/items/item-{i:05}"), &payload(i))?;
    }
    window.drain()?;
    let took = start.elapsed();
    println!(
        "in_background, window {WINDOW}: {NODES} creates in {:.2} s, {:.0}/s ({:.1}x), {} failed",
        took.as_secs_f64(),
        NODES as f64 / took.as_secs_f64(),
        NODES as f64 / took.as_secs_f64() / sync_rate,
        failed.load(Ordering::SeqCst)
    );

    // Read them back the same way; each callback checks its node's bytes.
    let wrong = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    for i in 0..NODES {
        window.acquire()?;
        let (permit, wrong) = (window.permit(), wrong.clone());
        client
            .get_data()
            .in_background(move |_c: &CuratorFramework, e: &CuratorEvent| {
                if e.data() != Some(&payload(i)[..]) {
                    wrong.fetch_add(1, Ordering::SeqCst);
                }
                let _ = permit.send(());
            })
            .for_path(&format!("/items/item-{i:05}"))?;
    }
    window.drain()?;
    let took = start.elapsed();
    println!(
        "read back {NODES} nodes in {:.2} s ({:.0}/s): {} wrong",
        took.as_secs_f64(),
        NODES as f64 / took.as_secs_f64(),
        wrong.load(Ordering::SeqCst)
    );
    assert_eq!(
        failed.load(Ordering::SeqCst) + wrong.load(Ordering::SeqCst),
        0
    );
    assert_eq!(client.get_children().for_path("/items")?.len(), NODES);

    // A failure goes to the callback as an error, in order with the rest.
    let (tx, rx) = mpsc::channel();
    client
        .create()
        .in_background(move |_c: &CuratorFramework, e: &CuratorEvent| {
            let _ = tx.send(format!(
                "{:?} {} -> result code {}, {:?}",
                e.event_type(),
                e.path(),
                e.result_code(),
                e.error().map(ToString::to_string)
            ));
        })
        .for_path("/items/item-00000")?;
    let report = rx.recv_timeout(WAIT).map_err(|_| Error::Timeout)?;
    println!("creating an existing node in the background: {report}");

    client
        .delete()
        .deleting_children_if_needed()
        .for_path("/")?;
    client.close();
    Ok(())
}

fn payload(i: usize) -> Vec<u8> {
    format!("item {i}").into_bytes()
}
