//! A work queue shared by several consumers, and a shared counter of the work done.
//!
//! One producer puts 200 jobs into a `DistributedQueue` with a lock path (exactly-once
//! delivery: a job is deleted only after its consumer returned, and one that fails is put
//! back). Two consumers, each with its own client (as two processes would be), take jobs;
//! each job done increments a `DistributedAtomicLong`, an exact counter shared by every
//! process. The consumer closure runs on the queue's own thread (`zk-queue-N`), one job at a
//! time, never on the client's event thread, so it may take its time.
//!
//! The queue's nodes are Java Curator's: a Curator `QueueBuilder` on the same path with a
//! `StringSerializer`-compatible serializer sees the same jobs.
//!
//! ```sh
//! cargo run --example work_queue                           # in-process test server
//! ZK_CONNECT=127.0.0.1:2181 cargo run --example work_queue  # your ZooKeeper
//! ```

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use zk_curator::framework::RetryNTimes;
use zk_curator::recipes::atomic::DistributedAtomicLong;
use zk_curator::recipes::queue::{consumer_fn, QueueBuilder, StringSerializer};
use zk_curator::Error;

mod common;

const JOBS: usize = 200;
const QUEUE: &str = "/jobs";
const LOCKS: &str = "/jobs-locks";
const DONE: &str = "/stats/done";

fn main() -> zk_curator::Result<()> {
    let (_server, connect) = common::server()?;
    let producer_client = common::client(&connect, "work_queue")?;
    let (done_tx, done_rx) = mpsc::channel();

    // Two consumers, each its own session.
    let mut consumers = Vec::new();
    for name in ["consumer-a", "consumer-b"] {
        let c = common::client(&connect, "work_queue")?;
        let done =
            DistributedAtomicLong::new(&c, DONE, RetryNTimes::new(10, Duration::from_millis(10)))?;
        let tx = done_tx.clone();
        let queue = QueueBuilder::builder(
            &c,
            consumer_fn(move |job: String| {
                thread::sleep(Duration::from_millis(2)); // the work
                let count = done.increment()?;
                if !count.succeeded() {
                    return Err("the counter could not be incremented".into());
                }
                let _ = tx.send((name, job));
                Ok(())
            }),
            StringSerializer,
            QUEUE,
        )
        .lock_path(LOCKS)
        .build_queue()?;
        queue.start()?;
        consumers.push((c, queue));
    }

    let producer =
        QueueBuilder::producer(&producer_client, StringSerializer, QUEUE).build_queue()?;
    producer.start()?;
    let start = Instant::now();
    for i in 0..JOBS {
        producer.put(format!("job {i}"))?; // in the background (Curator's default)
    }
    if !producer.flush_puts(Duration::from_secs(30)) {
        return Err(Error::Timeout);
    }
    println!(
        "put {JOBS} jobs in {:.2} s (background puts, flushed)",
        start.elapsed().as_secs_f64()
    );

    let mut per_consumer: BTreeMap<&str, usize> = BTreeMap::new();
    let mut seen = std::collections::HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.len() < JOBS {
        let left = deadline.saturating_duration_since(Instant::now());
        let (who, job) = done_rx.recv_timeout(left).map_err(|_| Error::Timeout)?;
        *per_consumer.entry(who).or_default() += 1;
        assert!(seen.insert(job), "a job was done twice");
    }
    println!(
        "all {JOBS} jobs done once each in {:.2} s: {per_consumer:?}",
        start.elapsed().as_secs_f64()
    );
    let counter = DistributedAtomicLong::new(
        &producer_client,
        DONE,
        RetryNTimes::new(3, Duration::from_millis(10)),
    )?;
    let total = *counter.get()?.post_value();
    println!("the shared counter {DONE} reads {total}");
    assert_eq!(total, JOBS as i64);

    producer.close();
    for (c, q) in consumers {
        q.close();
        c.close();
    }
    producer_client
        .delete()
        .deleting_children_if_needed()
        .for_path("/")?;
    producer_client.close();
    Ok(())
}
