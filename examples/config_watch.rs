//! A service that reloads its configuration from a znode whenever an operator changes it.
//!
//! The service keeps `/config` in a [`CuratorCache`] (a persistent watch on the node: no
//! watch to set again after each event, nothing missed between two events, and the cache
//! reads everything again after a reconnection). Its listener parses each new version and
//! swaps it in; a version that does not parse is rejected and the running one kept; a
//! deleted node keeps the last good version. The service's request threads read the current
//! version concurrently with the reloads, so it sits behind an `RwLock`: state that other
//! threads share needs a lock even when only the event thread writes it.
//!
//! ```sh
//! cargo run --example config_watch                           # in-process test server
//! ZK_CONNECT=127.0.0.1:2181 cargo run --example config_watch  # your ZooKeeper
//! ```

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex, RwLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use zk_curator::framework::CuratorFramework;
use zk_curator::recipes::cache::{
    ChildData, CuratorCache, CuratorCacheListener, CuratorCacheOption,
};
use zk_curator::Error;

mod common;

const CONFIG: &str = "/config";
const WAIT: Duration = Duration::from_secs(10);

/// The service's configuration: `key=value` lines, with a required `greeting` and a
/// `max_connections` that must be a number.
#[derive(Debug, Clone, PartialEq)]
struct Config {
    version: i32,
    greeting: String,
    max_connections: u32,
}

impl Config {
    fn parse(node: &ChildData) -> Result<Config, String> {
        let text = std::str::from_utf8(node.data().unwrap_or_default())
            .map_err(|_| "not UTF-8".to_string())?;
        let mut kv = BTreeMap::new();
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let (k, v) = line
                .split_once('=')
                .ok_or_else(|| format!("not key=value: {line:?}"))?;
            kv.insert(k.trim(), v.trim());
        }
        Ok(Config {
            version: node.stat().version,
            greeting: kv.get("greeting").ok_or("no greeting")?.to_string(),
            max_connections: kv
                .get("max_connections")
                .unwrap_or(&"100")
                .parse()
                .map_err(|e| format!("max_connections: {e}"))?,
        })
    }
}

/// What the service reports about each reload (for this demo's narration).
enum Reload {
    Applied(Config),
    Rejected(i32, String),
    Deleted,
}

impl std::fmt::Display for Reload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reload::Applied(c) => write!(
                f,
                "applied version {}: greeting {:?}, max_connections {}",
                c.version, c.greeting, c.max_connections
            ),
            Reload::Rejected(v, why) => write!(f, "rejected version {v} ({why})"),
            Reload::Deleted => write!(f, "the node is gone: kept the last good version"),
        }
    }
}

/// The service: a config kept current by a cache, and request threads that read it.
struct Service {
    config: Arc<RwLock<Option<Config>>>,
    cache: CuratorCache,
    stop: Arc<AtomicBool>,
    workers: Vec<JoinHandle<()>>,
    /// Requests served, per config version.
    served: Arc<Mutex<BTreeMap<i32, u64>>>,
}

impl Service {
    fn start(
        client: &CuratorFramework,
        reloads: mpsc::Sender<Reload>,
    ) -> zk_curator::Result<Service> {
        let config: Arc<RwLock<Option<Config>>> = Arc::default();
        let cache = CuratorCache::build(client, CONFIG, &[CuratorCacheOption::SingleNodeCache]);
        let (apply, keep) = (config.clone(), reloads.clone());
        // The listener runs on the client's event thread, one event at a time, in order: two
        // reloads never race each other.
        cache.listenable().add_listener(
            CuratorCacheListener::builder()
                .for_creates_and_changes(move |_old, node| {
                    let report = match Config::parse(node) {
                        Ok(c) => {
                            if let Ok(mut current) = apply.write() {
                                *current = Some(c.clone());
                            }
                            Reload::Applied(c)
                        }
                        Err(why) => Reload::Rejected(node.stat().version, why),
                    };
                    let _ = reloads.send(report);
                })
                .for_deletes(move |_last| {
                    let _ = keep.send(Reload::Deleted);
                })
                .build(),
        );
        cache.start()?;

        let stop = Arc::new(AtomicBool::new(false));
        let served: Arc<Mutex<BTreeMap<i32, u64>>> = Arc::default();
        let workers = (0..2)
            .map(|i| {
                let (config, stop, served) = (config.clone(), stop.clone(), served.clone());
                thread::Builder::new()
                    .name(format!("request-{i}"))
                    .spawn(move || {
                        while !stop.load(Ordering::Relaxed) {
                            // A request: read the current config (a short read lock).
                            let version = config
                                .read()
                                .ok()
                                .and_then(|c| c.as_ref().map(|c| c.version));
                            if let (Some(v), Ok(mut s)) = (version, served.lock()) {
                                *s.entry(v).or_default() += 1;
                            }
                            thread::sleep(Duration::from_millis(1));
                        }
                    })
                    .map_err(Error::from)
            })
            .collect::<zk_curator::Result<Vec<_>>>()?;
        Ok(Service {
            config,
            cache,
            stop,
            workers,
            served,
        })
    }

    fn current(&self) -> Option<Config> {
        self.config.read().ok().and_then(|c| c.clone())
    }

    fn stop(self) -> BTreeMap<i32, u64> {
        self.stop.store(true, Ordering::Relaxed);
        for w in self.workers {
            let _ = w.join();
        }
        self.cache.close();
        let served = self.served.lock().map(|s| s.clone()).unwrap_or_default();
        served
    }
}

fn main() -> zk_curator::Result<()> {
    let (_server, connect) = common::server()?;
    let client = common::client(&connect, "config_watch")?;

    // The operator writes a first version before the service starts.
    client
        .create()
        .or_set_data()
        .for_path_with_data(CONFIG, b"greeting=hello\nmax_connections=10")?;
    let (tx, reloads) = mpsc::channel();
    let service = Service::start(&client, tx)?;
    let next = || reloads.recv_timeout(WAIT).map_err(|_| Error::Timeout);
    println!("service started: {}", next()?);
    thread::sleep(Duration::from_millis(100)); // the request threads serve a while

    let edits: [&[u8]; 3] = [
        b"greeting=bonjour\nmax_connections=20",
        b"greeting=hola\nmax_connections=lots", // does not parse: rejected
        b"greeting=hallo\nmax_connections=30",
    ];
    for data in edits {
        let sent = Instant::now();
        client.set_data().for_path(CONFIG, data)?;
        let what = next()?;
        println!(
            "operator wrote {:?}\n  -> {what} after {:.1} ms; the service runs {:?}",
            String::from_utf8_lossy(data),
            sent.elapsed().as_secs_f64() * 1e3,
            service.current().map(|c| (c.version, c.greeting))
        );
        thread::sleep(Duration::from_millis(100));
    }
    client.delete().for_path(CONFIG)?;
    println!(
        "operator deleted {CONFIG}\n  -> {}; the service keeps {:?}",
        next()?,
        service.current().map(|c| c.version)
    );

    let served = service.stop();
    println!("requests served per config version: {served:?}");
    assert_eq!(served.keys().copied().collect::<Vec<_>>(), vec![0, 1, 3]);
    client
        .delete()
        .deleting_children_if_needed()
        .for_path("/")?;
    client.close();
    Ok(())
}
