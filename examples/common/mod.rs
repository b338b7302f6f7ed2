//! The setup the examples share: where to connect, and a started, connected client in the
//! example's own namespace. (A folder without `main.rs`, so cargo does not take it for an
//! example of its own; each example includes it with `mod common;`.)

use std::time::Duration;

use zk_curator::framework::{CuratorFramework, CuratorFrameworkFactory, ExponentialBackoffRetry};
use zk_curator::testing::TestingServer;
use zk_curator::Error;

/// `$ZK_CONNECT`, or an in-process test server started here (alive as long as the first
/// value is).
pub fn server() -> zk_curator::Result<(Option<TestingServer>, String)> {
    Ok(match std::env::var("ZK_CONNECT") {
        Ok(c) => (None, c),
        Err(_) => {
            let s = TestingServer::start()?;
            let c = s.connect_string();
            println!("started an in-process ZooKeeper on {c}");
            (Some(s), c)
        }
    })
}

/// A client of `connect` working under `namespace`, started and connected (`Timeout` if it
/// cannot connect within 15 s). Exponential backoff retries: 5, from 100 ms.
pub fn client(connect: &str, namespace: &str) -> zk_curator::Result<CuratorFramework> {
    let c = CuratorFrameworkFactory::builder()
        .connect_string(connect)
        .retry_policy(ExponentialBackoffRetry::new(Duration::from_millis(100), 5))
        .namespace(namespace)
        .build()?;
    c.start()?;
    if !c.block_until_connected(Duration::from_secs(15)) {
        return Err(Error::Timeout);
    }
    Ok(c)
}
