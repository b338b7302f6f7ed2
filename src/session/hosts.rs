//! The connect string (`host:port[,host:port...][/chroot]`, Java's `ConnectStringParser`) and
//! the host rotation the I/O thread follows: shuffled once, tried round-robin, rebalanced
//! when the server list changes (`rebalance`).

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

use crate::error::{Error, Result};
use crate::path;
use rebalance::{decide, Reconfig, Rng};

mod rebalance;

/// ZooKeeper's default client port.
pub(crate) const DEFAULT_PORT: u16 = 2181;

/// One `host:port` of a connect string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HostPort {
    pub host: String,
    pub port: u16,
}

impl HostPort {
    /// Resolves the host (a literal address resolves without a lookup); `Err` with the
    /// resolver's message when it does not resolve (the I/O thread logs it, once per outage).
    pub(crate) fn resolve(&self) -> std::result::Result<Vec<SocketAddr>, String> {
        match (self.host.as_str(), self.port).to_socket_addrs() {
            Ok(it) => {
                let addrs: Vec<SocketAddr> = it.collect();
                if addrs.is_empty() {
                    Err("no address".into())
                } else {
                    Ok(addrs)
                }
            }
            Err(e) => Err(e.to_string()),
        }
    }
}

impl std::fmt::Display for HostPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// A parsed connect string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConnectString {
    pub hosts: Vec<HostPort>,
    /// The chroot in server form (`/app`), `None` for none (or `/`).
    pub chroot: Option<String>,
}

impl ConnectString {
    pub(crate) fn parse(s: &str) -> Result<ConnectString> {
        let bad = |why: &str| Error::InvalidArgument(format!("connect_string {s:?}: {why}"));
        let (hosts_part, chroot) = match s.find('/') {
            Some(i) => (&s[..i], Some(&s[i..])),
            None => (s, None),
        };
        let chroot = match chroot {
            None | Some("/") => None,
            Some(c) => {
                path::validate_path(c, false).map_err(|e| bad(&format!("bad chroot: {e}")))?;
                Some(c.to_string())
            }
        };
        let mut hosts = Vec::new();
        for part in hosts_part.split(',') {
            let part = part.trim();
            if part.is_empty() {
                return Err(bad("empty host"));
            }
            hosts.push(parse_host(part).map_err(|why| bad(&why))?);
        }
        Ok(ConnectString { hosts, chroot })
    }
}

fn parse_host(part: &str) -> std::result::Result<HostPort, String> {
    let (host, port) = if let Some(rest) = part.strip_prefix('[') {
        let end = rest
            .find(']')
            .ok_or_else(|| format!("unclosed [ in {part:?}"))?;
        let host = &rest[..end];
        let after = &rest[end + 1..];
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| format!("junk after ] in {part:?}"))?,
            ),
        };
        (host, port)
    } else {
        match part.split_once(':') {
            Some((h, p)) if !p.contains(':') => (h, Some(p)),
            Some(_) => return Err(format!("IPv6 address {part:?} must be in [brackets]")),
            None => (part, None),
        }
    };
    if host.is_empty() {
        return Err(format!("empty host name in {part:?}"));
    }
    let port = match port {
        None => DEFAULT_PORT,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|&p| p != 0)
            .ok_or_else(|| format!("bad port in {part:?}"))?,
    };
    Ok(HostPort {
        host: host.to_string(),
        port,
    })
}

/// The hosts a handle connects to: shuffled once, tried round-robin, and after
/// [`update`](HostRing::update) (a new server list) rebalanced as ZooKeeper's client does
/// (see [`rebalance`]). Shared by the I/O thread, which walks it, and
/// callers of `update_server_list`; each call takes one short lock, never held for I/O.
#[derive(Debug)]
pub(crate) struct HostRing {
    state: Mutex<Ring>,
    /// The connection must be given up for the rebalancing (seen by the I/O thread, which
    /// looks at every pass: an atomic, not the lock).
    move_pending: AtomicBool,
}

#[derive(Debug)]
struct Ring {
    /// The current list, shuffled.
    hosts: Vec<HostPort>,
    /// The same hosts in the order the connect string gave them.
    given: Vec<HostPort>,
    /// The host last handed out by `next_host` (Java's `currentIndex`).
    current: Option<usize>,
    /// The host of the last connection (Java's `lastIndex`).
    last: Option<usize>,
    /// Connected to `hosts[current]` (from `connected()` to the next `next_host()`).
    attached: bool,
    /// Attempts since the last successful connection.
    failures: usize,
    rng: Rng,
    /// Moving after a list change: the picks to try before plain round-robin.
    reconfig: Option<Reconfig>,
}

impl HostRing {
    pub(crate) fn new(hosts: Vec<HostPort>, seed: u64) -> HostRing {
        let mut rng = Rng::new(seed);
        let given = hosts.clone();
        let mut hosts = hosts;
        // Every client spreads over the ensemble.
        rng.shuffle(&mut hosts);
        HostRing {
            state: Mutex::new(Ring {
                hosts,
                given,
                current: None,
                last: None,
                attached: false,
                failures: 0,
                rng,
                reconfig: None,
            }),
            move_pending: AtomicBool::new(false),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.state.lock().hosts.len()
    }

    /// The next host to try: while moving after a list change, the rebalancing's pick;
    /// otherwise the next in turn.
    pub(crate) fn next_host(&self) -> HostPort {
        let mut r = self.state.lock();
        r.attached = false;
        self.move_pending.store(false, Ordering::Release);
        if let Some(mut rc) = r.reconfig.take() {
            let draw = r.rng.unit();
            if let Some(h) = rc.pick(draw) {
                r.current = r.hosts.iter().position(|x| *x == h);
                r.reconfig = Some(rc);
                return h;
            }
            // Every server of both groups tried: back to plain round-robin.
        }
        let n = r.hosts.len().max(1);
        let i = r.current.map_or(0, |c| (c + 1) % n);
        r.current = Some(i);
        r.hosts[i % r.hosts.len()].clone()
    }

    /// Moves `host` to be tried next (a read-write server found while read-only).
    pub(crate) fn prefer(&self, host: &HostPort) {
        let mut r = self.state.lock();
        if let Some(i) = r.hosts.iter().position(|h| h == host) {
            let n = r.hosts.len();
            r.current = Some((i + n - 1) % n);
            r.reconfig = None;
        }
    }

    pub(crate) fn failed(&self) {
        self.state.lock().failures += 1;
    }

    /// A connection to the host last handed out is up.
    pub(crate) fn connected(&self) {
        let mut r = self.state.lock();
        r.failures = 0;
        r.last = r.current;
        r.reconfig = None;
        r.attached = true;
    }

    /// True after a whole cycle of hosts failed (time to back off).
    pub(crate) fn cycle_failed(&self) -> bool {
        let r = self.state.lock();
        r.failures > 0 && r.failures % r.hosts.len().max(1) == 0
    }

    /// How many complete failed cycles in a row.
    pub(crate) fn failed_cycles(&self) -> usize {
        let r = self.state.lock();
        r.failures / r.hosts.len().max(1)
    }

    pub(crate) fn hosts(&self) -> Vec<HostPort> {
        self.state.lock().hosts.clone()
    }

    /// The hosts in the order the connect string (or the last update) listed them.
    pub(crate) fn given(&self) -> Vec<HostPort> {
        self.state.lock().given.clone()
    }

    /// Replaces the server list (ZooKeeper's `updateServerList`): decides, as ZooKeeper's
    /// client does, whether this client leaves its server to even out the load. True when
    /// the current connection must be given up now (then [`take_move`](Self::take_move)
    /// says so to the I/O thread until its next attempt).
    pub(crate) fn update(&self, new_hosts: Vec<HostPort>) -> bool {
        let mut guard = self.state.lock();
        let r = &mut *guard;
        let given = new_hosts;
        let mut shuffled = given.clone();
        r.rng.shuffle(&mut shuffled);
        // The server this client counts as its own: where the rebalancing would send it
        // next, the one it is connected to, or the one it was last connected to.
        let mine = if let Some(mut rc) = r.reconfig.take() {
            let draw = r.rng.unit();
            rc.pick(draw)
        } else if r.attached {
            r.current.and_then(|i| r.hosts.get(i).cloned())
        } else {
            None
        };
        let mine = mine
            .or_else(|| r.last.and_then(|i| r.hosts.get(i).cloned()))
            .or_else(|| r.hosts.first().cloned());
        let mine_listed = mine.as_ref().is_some_and(|m| shuffled.contains(m));
        let (num_old, num_new) = Reconfig::counts(&shuffled, &r.hosts);
        let draw = r.rng.unit();
        let plan = decide(r.hosts.len(), num_old, num_new, mine_listed, draw);
        match plan {
            Some(p_new) => {
                r.reconfig = Some(Reconfig::new(&shuffled, &r.hosts, p_new));
                r.current = None;
            }
            None => {
                // Staying: round-robin goes on from this client's server in the new order.
                let at = r.current.and_then(|i| r.hosts.get(i).cloned());
                r.current = at.and_then(|h| shuffled.iter().position(|x| *x == h));
            }
        }
        r.last = r.current;
        r.hosts = shuffled;
        r.given = given;
        r.failures = 0;
        let move_now = plan.is_some() && r.attached;
        if move_now {
            self.move_pending.store(true, Ordering::Release);
        }
        move_now
    }

    /// True once: the connection must be given up for the rebalancing.
    pub(crate) fn take_move(&self) -> bool {
        self.move_pending.load(Ordering::Acquire) && self.move_pending.swap(false, Ordering::AcqRel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_table() {
        let hp = |h: &str, p: u16| HostPort {
            host: h.into(),
            port: p,
        };
        let ok: &[(&str, Vec<HostPort>, Option<&str>)] = &[
            ("127.0.0.1:2181", vec![hp("127.0.0.1", 2181)], None),
            ("a", vec![hp("a", 2181)], None),
            ("a:1,b:2", vec![hp("a", 1), hp("b", 2)], None),
            ("a:1, b:2/app", vec![hp("a", 1), hp("b", 2)], Some("/app")),
            ("a:1/", vec![hp("a", 1)], None),
            ("a/app/sub", vec![hp("a", 2181)], Some("/app/sub")),
            ("[::1]:3000", vec![hp("::1", 3000)], None),
            ("[::1]", vec![hp("::1", 2181)], None),
        ];
        for (s, hosts, chroot) in ok {
            let c = ConnectString::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(&c.hosts, hosts, "{s}");
            assert_eq!(c.chroot.as_deref(), *chroot, "{s}");
        }
        for bad in [
            "",
            ",",
            "a,,b",
            ":2181",
            "a:0",
            "a:x",
            "a:70000",
            "::1",
            "[::1",
            "[::1]x",
            "a/app/",
            "a//app",
            "a:1/app/..",
        ] {
            let e = ConnectString::parse(bad).unwrap_err();
            assert!(matches!(e, Error::InvalidArgument(_)), "{bad}: {e:?}");
        }
    }

    #[test]
    fn ring_rotates_and_counts_cycles() {
        let hosts = ConnectString::parse("a:1,b:2,c:3").unwrap().hosts;
        let r = HostRing::new(hosts.clone(), 42);
        let seen: Vec<HostPort> = (0..3).map(|_| r.next_host()).collect();
        for h in &hosts {
            assert!(seen.contains(h));
        }
        assert_eq!(r.next_host(), seen[0]);
        for _ in 0..3 {
            r.failed();
        }
        assert!(r.cycle_failed());
        assert_eq!(r.failed_cycles(), 1);
        r.connected();
        assert!(!r.cycle_failed());
        r.prefer(&seen[2]);
        assert_eq!(r.next_host(), seen[2]);
        assert_eq!(hosts[0].to_string(), "a:1");
        assert_eq!(hp6().to_string(), "[::1]:5");
    }

    fn hp6() -> HostPort {
        HostPort {
            host: "::1".into(),
            port: 5,
        }
    }
}
