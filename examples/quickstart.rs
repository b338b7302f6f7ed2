//! A first tour of zk-curator: a watched read, a connection-state listener, a background call
//! and a transaction. Watchers, listeners and background callbacks all run on the client's
//! event thread (`zk-event`), one at a time, in the order the server sent what they report:
//! docs/threading.md explains what that means for your code. The other examples each take
//! one use further (`ls examples/`).
//!
//! ```sh
//! cargo run --example quickstart                          # against an in-process test server
//! ZK_CONNECT=127.0.0.1:2181 cargo run --example quickstart  # against your ZooKeeper
//! ```

use std::sync::mpsc;
use std::time::Duration;

use zk_curator::framework::{
    ConnectionState, CuratorEvent, CuratorFramework, CuratorFrameworkFactory,
    ExponentialBackoffRetry,
};
use zk_curator::testing::TestingServer;
use zk_curator::{CreateMode, Stat, WatchedEvent};

fn main() -> zk_curator::Result<()> {
    // Where to connect: $ZK_CONNECT, or a test server started right here.
    let (_server, connect) = match std::env::var("ZK_CONNECT") {
        Ok(c) => (None, c),
        Err(_) => {
            let s = TestingServer::start()?;
            let c = s.connect_string();
            println!("started an in-process ZooKeeper on {c}");
            (Some(s), c)
        }
    };

    let client = CuratorFrameworkFactory::builder()
        .connect_string(&connect)
        .session_timeout(Duration::from_secs(30))
        .connection_timeout(Duration::from_secs(15))
        .retry_policy(ExponentialBackoffRetry::new(Duration::from_millis(100), 5))
        .namespace("quickstart")
        .build()?;

    // Connection states arrive on the client's event thread, in order with watches.
    client.connection_state_listenable().add_listener(
        |_c: &CuratorFramework, s: ConnectionState| {
            println!("connection state: {s:?}");
        },
    );
    client.start()?;
    if !client.block_until_connected(Duration::from_secs(10)) {
        eprintln!("could not connect to {connect}");
        return Ok(());
    }

    // A node, and a watch on it: the watcher fires once, when the data changes.
    let path = client
        .create()
        .creating_parents_if_needed()
        .with_mode(CreateMode::EphemeralSequential)
        .for_path_with_data("/jobs/job-", b"payload")?;
    println!("created {path}");
    let (watched_tx, watched_rx) = mpsc::channel();
    let mut stat = Stat::default();
    let data = client
        .get_data()
        .storing_stat_in(&mut stat)
        .using_watcher(move |e: &WatchedEvent| {
            println!(
                "watch fired: {:?} on {:?} (on thread {:?})",
                e.event_type(),
                e.path(),
                std::thread::current().name().unwrap_or("?")
            );
            let _ = watched_tx.send(());
        })
        .for_path(&path)?;
    println!(
        "read {:?} (version {})",
        String::from_utf8_lossy(&data),
        stat.version
    );
    client
        .set_data()
        .with_version(stat.version)
        .for_path(&path, b"v2")?;
    let _ = watched_rx.recv_timeout(Duration::from_secs(5));

    // A background call: the callback runs on the event thread.
    let (bg_tx, bg_rx) = mpsc::channel();
    client
        .get_data()
        .in_background(move |_c: &CuratorFramework, e: &CuratorEvent| {
            println!(
                "background {:?} of {} -> {:?}",
                e.event_type(),
                e.path(),
                e.data().map(String::from_utf8_lossy)
            );
            let _ = bg_tx.send(());
        })
        .for_path(&path)?;
    let _ = bg_rx.recv_timeout(Duration::from_secs(5));

    // A transaction: all or nothing.
    let op = client.transaction_op();
    let results = client.transaction().for_operations(vec![
        op.create().for_path_with_data("/config", b"a=1")?,
        op.set_data().for_path("/config", b"a=2")?,
        op.check().with_version(1).for_path("/config")?,
    ])?;
    for r in &results {
        println!("transaction: {:?} {}", r.op_type(), r.for_path());
    }
    let failed = client.transaction().for_operations(vec![
        op.delete().for_path("/config")?,
        op.delete().for_path("/does-not-exist")?,
    ]);
    println!("a failing transaction changes nothing: {failed:?}");
    println!(
        "/config is still {:?}",
        String::from_utf8_lossy(&client.get_data().for_path("/config")?)
    );

    client
        .delete()
        .guaranteed()
        .deleting_children_if_needed()
        .for_path("/")?;
    client.close();
    println!("closed");
    println!(
        "more: cargo run --example config_watch | many_watchers | slow_watchers | \
         distributed_lock | leader_election | work_queue | background_pipeline | \
         testing_faults"
    );
    Ok(())
}
