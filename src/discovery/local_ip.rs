//! The machine's own addresses, for the default address of a new instance (Curator's
//! `ServiceInstanceBuilder.getAllLocalIPs` with its default `LocalIpFilter`: no loopback,
//! no link-local addresses).
//!
//! The standard library cannot list network interfaces and the crate allows no `unsafe`,
//! so on Linux the kernel's own tables are read: `/proc/net/fib_trie` (the IPv4 addresses
//! the host answers to: its `/32 host LOCAL` entries) and `/proc/net/if_inet6`. Elsewhere
//! the list is empty and instances get no default address (set one with
//! [`address`](super::ServiceInstanceBuilder::address)).
//!
//! Order: IPv4 before IPv6, each in the kernel's order. Java lists per interface and puts an
//! interface's IPv6 addresses first, so on a host with a global IPv6 address a Java
//! service's default address is that IPv6 address (with its zone, e.g.
//! `fd00:0:0:0:0:0:0:2%eth0`); an IPv4 address is the one clients of a service registry
//! can use most often, so zk-curator prefers it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Every non-loopback, non-link-local address of this host: IPv4 first (see the module
/// docs). Empty where the kernel's tables cannot be read.
pub fn local_ips() -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = Vec::new();
    let v4 = std::fs::read_to_string("/proc/net/fib_trie").unwrap_or_default();
    let v6 = std::fs::read_to_string("/proc/net/if_inet6").unwrap_or_default();
    for ip in parse_fib_trie(&v4)
        .into_iter()
        .map(IpAddr::V4)
        .chain(parse_if_inet6(&v6).into_iter().map(IpAddr::V6))
    {
        if usable(&ip) && !out.contains(&ip) {
            out.push(ip);
        }
    }
    out
}

/// The default address of a new instance: the first of [`local_ips`], as text.
pub(crate) fn default_address() -> Option<String> {
    local_ips().first().map(IpAddr::to_string)
}

fn usable(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => !a.is_loopback() && !a.is_link_local() && !a.is_unspecified(),
        // fe80::/10 is link-local.
        IpAddr::V6(a) => {
            !a.is_loopback() && !a.is_unspecified() && (a.segments()[0] & 0xffc0) != 0xfe80
        }
    }
}

/// The addresses of `/32 host LOCAL` entries: each follows the `|-- a.b.c.d` line it
/// belongs to. The table lists them twice (Main and Local); callers drop repeats.
fn parse_fib_trie(text: &str) -> Vec<Ipv4Addr> {
    let mut out = Vec::new();
    let mut last: Option<Ipv4Addr> = None;
    for line in text.lines() {
        let t = line.trim();
        if let Some(addr) = t.strip_prefix("|-- ") {
            last = addr.trim().parse().ok();
        } else if t.starts_with("/32 host LOCAL") {
            if let Some(a) = last.take() {
                out.push(a);
            }
        }
    }
    out
}

/// The first column of each line: 32 hex digits.
fn parse_if_inet6(text: &str) -> Vec<Ipv6Addr> {
    text.lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|hex| hex.len() == 32)
        .filter_map(|hex| u128::from_str_radix(hex, 16).ok())
        .map(Ipv6Addr::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIB: &str = "Main:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 universe UNICAST
     +-- 127.0.0.0/8 2 0 2
        +-- 127.0.0.0/31 1 0 0
           |-- 127.0.0.0
              /8 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
        |-- 127.255.255.255
           /32 link BROADCAST
     +-- 192.0.2.0/24 2 0 2
           |-- 192.0.2.0
              /24 link UNICAST
           |-- 192.0.2.2
              /32 host LOCAL
        |-- 169.254.1.1
           /32 host LOCAL
";

    const INET6: &str = "00000000000000000000000000000001 01 80 10 80       lo
fe8000000000000000fc00fffe000001 04 40 20 80     eth0
fd000000000000000000000000000002 04 40 00 82     eth0
garbage
";

    #[test]
    fn parses_the_kernel_tables() {
        let v4 = parse_fib_trie(FIB);
        assert_eq!(
            v4,
            ["127.0.0.1", "192.0.2.2", "169.254.1.1"].map(|a| a.parse::<Ipv4Addr>().unwrap())
        );
        let v6 = parse_if_inet6(INET6);
        assert_eq!(v6.len(), 3);
        assert_eq!(v6[2], "fd00::2".parse::<Ipv6Addr>().unwrap());
        let kept: Vec<IpAddr> = v4
            .into_iter()
            .map(IpAddr::V4)
            .chain(v6.into_iter().map(IpAddr::V6))
            .filter(usable)
            .collect();
        assert_eq!(
            kept,
            vec![
                "192.0.2.2".parse::<IpAddr>().unwrap(),
                "fd00::2".parse().unwrap()
            ]
        );
    }

    #[test]
    fn this_host_has_no_loopback_in_its_list() {
        assert!(local_ips().iter().all(|ip| !ip.is_loopback()));
    }
}
