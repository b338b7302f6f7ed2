//! `InterProcessMutex`: one lock shared by threads of several clients (as it would be by
//! several processes, Java Curator ones included: the nodes are Curator's).
//!
//! Three clients, each its own ZooKeeper session, run two threads each; every thread takes
//! the lock five times and, while holding it, increments a counter stored in a znode by a
//! plain read then write (no version check): without mutual exclusion, increments would be
//! lost. Then: a try with a timeout while another client holds the lock, and re-entrance.
//!
//! A held lock is only as good as the session: see the `recipes::locks` docs for what to
//! do on `Suspended` and `Lost`.
//!
//! ```sh
//! cargo run --example distributed_lock                           # in-process test server
//! ZK_CONNECT=127.0.0.1:2181 cargo run --example distributed_lock  # your ZooKeeper
//! ```

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use zk_curator::recipes::locks::InterProcessMutex;

mod common;

const LOCK: &str = "/locks/ledger";
const COUNTER: &str = "/ledger-total";
const CLIENTS: usize = 3;
const THREADS: usize = 2;
const ROUNDS: usize = 5;

fn main() -> zk_curator::Result<()> {
    let (_server, connect) = common::server()?;
    let clients = (0..CLIENTS)
        .map(|_| common::client(&connect, "distributed_lock"))
        .collect::<zk_curator::Result<Vec<_>>>()?;
    clients[0]
        .create()
        .or_set_data()
        .for_path_with_data(COUNTER, b"0")?;

    println!("{CLIENTS} clients x {THREADS} threads x {ROUNDS} increments under {LOCK}");
    let start = Instant::now();
    let barrier = Arc::new(Barrier::new(CLIENTS * THREADS));
    let mut threads = Vec::new();
    for (c, client) in clients.iter().enumerate() {
        // One lock object per client, shared by its threads: each thread that acquires gets
        // a node of its own, and the lock is re-entrant per thread, as in Curator.
        let lock = InterProcessMutex::new(client, LOCK)?;
        for t in 0..THREADS {
            let (client, lock, barrier) = (client.clone(), lock.clone(), barrier.clone());
            let name = format!("client-{c}/thread-{t}");
            threads.push(thread::spawn(move || -> zk_curator::Result<()> {
                barrier.wait();
                for _ in 0..ROUNDS {
                    let held = lock.lock()?; // released when `held` is dropped
                    let n: u64 = String::from_utf8_lossy(&client.get_data().for_path(COUNTER)?)
                        .parse()
                        .unwrap_or(0);
                    thread::sleep(Duration::from_millis(2)); // a window for a lost update
                    client
                        .set_data()
                        .for_path(COUNTER, (n + 1).to_string().as_bytes())?;
                    // The node is P/_c_<uuid>-lock-<sequence>: show the sequence.
                    let node = lock.lock_node().unwrap_or_default();
                    let seq = node.rsplit_once("-lock-").map_or("?", |(_, s)| s);
                    println!(
                        "  {name} holds the lock with node #{seq}: counter {}",
                        n + 1
                    );
                    drop(held);
                }
                Ok(())
            }));
        }
    }
    for t in threads {
        t.join().unwrap_or_else(|p| std::panic::resume_unwind(p))?;
    }
    let total = String::from_utf8_lossy(&clients[0].get_data().for_path(COUNTER)?).to_string();
    println!(
        "counter = {total} (expected {}), in {:.2} s",
        CLIENTS * THREADS * ROUNDS,
        start.elapsed().as_secs_f64()
    );
    assert_eq!(total, (CLIENTS * THREADS * ROUNDS).to_string());

    // While client 0 holds it, client 1 gives up after a timeout.
    let a = InterProcessMutex::new(&clients[0], LOCK)?;
    let b = InterProcessMutex::new(&clients[1], LOCK)?;
    a.acquire()?;
    println!(
        "client 0 holds the lock; participants: {:?}",
        a.participant_nodes()?
    );
    let waited = Instant::now();
    let got = b.acquire_timeout(Duration::from_millis(300))?;
    println!(
        "client 1 tried for 300 ms: acquired = {got} (after {:.0} ms)",
        waited.elapsed().as_secs_f64() * 1e3
    );
    assert!(!got);
    // Re-entrant: the holding thread may acquire again, and releases as often.
    a.acquire()?;
    println!(
        "client 0 acquired again from the same thread (re-entrant); owned by this thread: {}",
        a.is_owned_by_current_thread()
    );
    a.release()?;
    a.release()?;
    let got = b.acquire_timeout(Duration::from_secs(5))?;
    println!("client 0 released twice; client 1 now gets it: {got}");
    b.release()?;

    for c in &clients {
        c.close();
    }
    let cleanup = common::client(&connect, "distributed_lock")?;
    cleanup
        .delete()
        .deleting_children_if_needed()
        .for_path("/")?;
    cleanup.close();
    Ok(())
}
