//! Trees for the cache tests: what the server holds under a root, a seeded random writer,
//! the seed itself (`ZK_TEST_SEED` to replay one), and a convergence wait.

use std::collections::BTreeMap;
use std::time::Duration;

use zk_curator::{CuratorFramework, Error};

/// path -> (data, version).
pub type Snap = BTreeMap<String, (Vec<u8>, i32)>;

/// The tree under `root` (the root included) as the server has it.
pub fn snapshot(c: &CuratorFramework, root: &str) -> Snap {
    let mut out = BTreeMap::new();
    let mut todo = vec![root.to_string()];
    while let Some(p) = todo.pop() {
        let mut st = zk_curator::Stat::default();
        match c.get_data().storing_stat_in(&mut st).for_path(&p) {
            Ok(d) => {
                out.insert(p.clone(), (d, st.version));
            }
            Err(Error::NoNode { .. }) => continue,
            Err(e) => panic!("snapshot {p}: {e}"),
        }
        match c.get_children().for_path(&p) {
            Ok(kids) => todo.extend(kids.iter().map(|k| zk_curator::path::make_path(&p, k))),
            Err(Error::NoNode { .. }) => {}
            Err(e) => panic!("snapshot {p}: {e}"),
        }
    }
    out
}

/// The direct children of `parent` as the server has them.
pub fn children_snapshot(c: &CuratorFramework, parent: &str) -> Snap {
    let mut out = BTreeMap::new();
    let kids = match c.get_children().for_path(parent) {
        Ok(k) => k,
        Err(Error::NoNode { .. }) => return out,
        Err(e) => panic!("children of {parent}: {e}"),
    };
    for k in kids {
        let p = zk_curator::path::make_path(parent, &k);
        let mut st = zk_curator::Stat::default();
        match c.get_data().storing_stat_in(&mut st).for_path(&p) {
            Ok(d) => {
                out.insert(p, (d, st.version));
            }
            Err(Error::NoNode { .. }) => {}
            Err(e) => panic!("read {p}: {e}"),
        }
    }
    out
}

/// The depth of `p` below `root` (0 for the root).
pub fn depth_below(root: &str, p: &str) -> usize {
    p.matches('/').count() - root.matches('/').count()
}

/// A seeded random writer: creates (depth up to 4), sets and deletes under `root`.
pub fn random_writes(c: &CuratorFramework, root: &str, ops: usize, seed: u64) {
    let mut rnd = rng(seed);
    let mut nodes: Vec<String> = vec![root.to_string()];
    for i in 0..ops {
        let pick = nodes[rnd(nodes.len())].clone();
        match rnd(10) {
            0..=4 if depth_below(root, &pick) < 4 => {
                let p = format!("{pick}/n{seed:x}-{i}");
                match c.create().for_path_with_data(&p, format!("{i}").as_bytes()) {
                    Ok(p) => nodes.push(p),
                    Err(Error::NoNode { .. }) => {}
                    Err(e) => panic!("seed {seed}: create {p}: {e}"),
                }
            }
            0..=4 => {}
            5..=7 => match c.set_data().for_path(&pick, format!("v{i}").as_bytes()) {
                Ok(_) | Err(Error::NoNode { .. }) => {}
                Err(e) => panic!("seed {seed}: set {pick}: {e}"),
            },
            _ if pick != root => match c.delete().for_path(&pick) {
                Ok(()) => nodes.retain(|n| n != &pick),
                Err(Error::NotEmpty { .. }) | Err(Error::NoNode { .. }) => {}
                Err(e) => panic!("seed {seed}: delete {pick}: {e}"),
            },
            _ => {}
        }
    }
}

/// A seeded random writer on one node: creates it, sets it, deletes it.
pub fn random_node_writes(c: &CuratorFramework, p: &str, ops: usize, seed: u64) {
    let mut rnd = rng(seed);
    for i in 0..ops {
        let r = match rnd(10) {
            0..=5 => c
                .set_data()
                .for_path(p, format!("v{i}").as_bytes())
                .map(|_| ()),
            6..=7 => c.delete().for_path(p),
            _ => c
                .create()
                .for_path_with_data(p, format!("c{i}").as_bytes())
                .map(|_| ()),
        };
        match r {
            Ok(()) | Err(Error::NoNode { .. }) | Err(Error::NodeExists { .. }) => {}
            Err(e) => panic!("seed {seed}: op {i} on {p}: {e}"),
        }
    }
}

/// xorshift64: reproducible from the seed.
fn rng(seed: u64) -> impl FnMut(usize) -> usize {
    let mut x = seed | 1;
    move |n: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % n as u64) as usize
    }
}

/// The seed of this run (`ZK_TEST_SEED` to replay), printed.
pub fn seed() -> u64 {
    let s = std::env::var("ZK_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    eprintln!("ZK_TEST_SEED={s}");
    s
}

/// Waits until `cache()` equals `server()`; panics with both after `timeout`.
pub fn converges(
    timeout: Duration,
    what: &str,
    mut cache: impl FnMut() -> Snap,
    mut server: impl FnMut() -> Snap,
) {
    let ok = super::wait_until(timeout, || cache() == server());
    assert!(
        ok,
        "{what} did not converge\ncache  {:?}\nserver {:?}",
        cache(),
        server()
    );
}
