//! The connect string (`host:port[,host:port...][/chroot]`, Java's `ConnectStringParser`) and
//! the host rotation the I/O thread follows: shuffled once, tried round-robin.

use std::net::{SocketAddr, ToSocketAddrs};

use crate::error::{Error, Result};
use crate::path;

/// ZooKeeper's default client port.
pub const DEFAULT_PORT: u16 = 2181;

/// One `host:port` of a connect string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HostPort {
    pub host: String,
    pub port: u16,
}

impl HostPort {
    /// Resolves the host (a literal address resolves without a lookup); `Err` with the
    /// resolver's message when it does not resolve (the I/O thread logs it, once per outage).
    pub fn resolve(&self) -> std::result::Result<Vec<SocketAddr>, String> {
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
    pub fn parse(s: &str) -> Result<ConnectString> {
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

/// Round-robin over the shuffled hosts, counting full cycles without a connection.
#[derive(Debug)]
pub(crate) struct HostRing {
    hosts: Vec<HostPort>,
    next: usize,
    /// Attempts since the last successful connection.
    failures: usize,
}

impl HostRing {
    pub fn new(mut hosts: Vec<HostPort>, seed: u64) -> HostRing {
        // Fisher-Yates with a small PRNG: every client spreads over the ensemble.
        let mut x = seed | 1;
        for i in (1..hosts.len()).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let j = (x % (i as u64 + 1)) as usize;
            hosts.swap(i, j);
        }
        HostRing {
            hosts,
            next: 0,
            failures: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.hosts.len()
    }

    /// The next host to try.
    pub fn next_host(&mut self) -> HostPort {
        let h = self.hosts[self.next % self.hosts.len()].clone();
        self.next = (self.next + 1) % self.hosts.len();
        h
    }

    /// Moves `host` to be tried next (a read-write server found while read-only).
    pub fn prefer(&mut self, host: &HostPort) {
        if let Some(i) = self.hosts.iter().position(|h| h == host) {
            self.next = i;
        }
    }

    pub fn failed(&mut self) {
        self.failures += 1;
    }

    pub fn connected(&mut self) {
        self.failures = 0;
    }

    /// True after a whole cycle of hosts failed (time to back off).
    pub fn cycle_failed(&self) -> bool {
        self.failures > 0 && self.failures % self.hosts.len() == 0
    }

    /// How many complete failed cycles in a row.
    pub fn failed_cycles(&self) -> usize {
        self.failures / self.hosts.len()
    }

    pub fn hosts(&self) -> &[HostPort] {
        &self.hosts
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
        let mut r = HostRing::new(hosts.clone(), 42);
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
