//! The server list of a live handle: [`ZooKeeper::update_server_list`] (Java's
//! `ZooKeeper.updateServerList`, for ensembles whose membership changes) and
//! [`ZooKeeper::current_connection_string`]. The rebalancing rule itself is in
//! `session::hosts::rebalance`; the host rotation in `session::hosts`.

use super::ZooKeeper;
use crate::error::{Error, Result};
use crate::session::hosts::ConnectString;

impl ZooKeeper {
    /// Replaces the servers this handle connects to, keeping its session (Java's
    /// `updateServerList`), for an ensemble whose membership changed (a dynamic
    /// reconfiguration, see [`reconfig`](Self::reconfig)).
    ///
    /// `connect_string` is `host:port[,host:port...]`, optionally followed by the handle's
    /// own chroot (a chroot cannot change on a live session: another one is refused). To even
    /// out the load, the handle may leave its server, with ZooKeeper's probabilities: when
    /// servers were added it moves to one of them with probability
    /// `1 - old_count / new_count`; when its server was removed it always moves, spreading
    /// over the remaining and new servers so that each ends up with an equal share. A move
    /// drops the connection at once and resumes the session on the chosen server: requests
    /// on the wire fail with a retryable `ConnectionLoss`, watchers hear `Disconnected` then
    /// `SyncConnected`, and watches and ephemeral nodes are kept, as after any reconnect.
    /// When the handle is not connected, the new list applies to its next attempt.
    ///
    /// Servers are compared by host text and port, not by resolved address: `localhost:2181`
    /// and `127.0.0.1:2181` count as different servers.
    ///
    /// ```
    /// use zk_curator::ZooKeeper;
    /// # let a = zk_curator::testing::TestingServer::start().unwrap();
    /// let zk = ZooKeeper::builder(&a.connect_string()).connect()?;
    /// // The connect string names a server that is not there; the handle stays where it is.
    /// zk.update_server_list(&format!("{},127.0.0.1:1", a.connect_string()))?;
    /// assert_eq!(zk.current_connection_string(), format!("{},127.0.0.1:1", a.connect_string()));
    /// assert!(zk.update_server_list("").is_err());
    /// # zk.close()?;
    /// # Ok::<(), zk_curator::Error>(())
    /// ```
    pub fn update_server_list(&self, connect_string: &str) -> Result<()> {
        let cs = ConnectString::parse(connect_string)?;
        if cs.chroot.is_some() && cs.chroot != self.core.cfg.connect.chroot {
            return Err(Error::InvalidArgument(format!(
                "update_server_list {connect_string:?}: the chroot cannot change on a live \
                 session (this handle's is {:?})",
                self.core.cfg.connect.chroot.as_deref().unwrap_or("/")
            )));
        }
        self.check_alive()?;
        if self.core.hosts.update(cs.hosts) {
            log::info!(
                "server list changed to {}: leaving the current server to rebalance",
                self.current_connection_string()
            );
            // The I/O thread sees the socket fail and reconnects through the rebalancing's
            // picks, resuming the session.
            self.core.detach();
        } else {
            log::info!(
                "server list changed to {}",
                self.current_connection_string()
            );
        }
        Ok(())
    }

    /// The servers this handle connects to, as the connect string (or the last
    /// [`update_server_list`](Self::update_server_list)) listed them, with the chroot.
    pub fn current_connection_string(&self) -> String {
        let hosts: Vec<String> = self
            .core
            .hosts
            .given()
            .iter()
            .map(|h| h.to_string())
            .collect();
        let mut s = hosts.join(",");
        if let Some(c) = &self.core.cfg.connect.chroot {
            s.push_str(c);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use crate::session::hosts::{ConnectString, HostPort, HostRing};

    fn hosts(s: &str) -> Vec<HostPort> {
        ConnectString::parse(s).unwrap().hosts
    }

    /// 1,000 simulated clients (host choice only, no sockets) connect to the old list, then
    /// get the new one; returns the share of clients per server afterwards.
    fn simulate(old: &str, new: &str, seed: u64) -> HashMap<u16, f64> {
        const CLIENTS: u64 = 1000;
        let mut at: HashMap<u16, f64> = HashMap::new();
        for c in 0..CLIENTS {
            let ring = HostRing::new(hosts(old), seed.wrapping_mul(1_000_003).wrapping_add(c));
            let first = ring.next_host();
            ring.connected();
            let moved = ring.update(hosts(new));
            let now = if moved { ring.next_host() } else { first };
            *at.entry(now.port).or_default() += 1.0 / CLIENTS as f64;
            if moved {
                // The rebalancing's pick is always in the new list.
                assert!(hosts(new).contains(&now), "{now}");
            }
        }
        at
    }

    fn check(old: &str, new: &str, expected: &[(u16, f64)]) {
        for seed in [1, 2, 3] {
            let got = simulate(old, new, seed);
            let mut shares: Vec<(u16, f64)> = got.iter().map(|(p, s)| (*p, *s)).collect();
            shares.sort_by_key(|x| x.0);
            eprintln!("{old} -> {new}, seed {seed}: {shares:.3?}");
            for &(port, want) in expected {
                let share = got.get(&port).copied().unwrap_or(0.0);
                assert!(
                    (share - want).abs() <= 0.04,
                    "{old} -> {new}, seed {seed}: server {port} has {share:.3} of the \
                     clients, expected {want:.3} ({got:?})"
                );
            }
            let listed: Vec<u16> = hosts(new).iter().map(|h| h.port).collect();
            assert!(
                got.keys().all(|p| listed.contains(p)),
                "clients left on removed servers: {got:?}"
            );
        }
    }

    #[test]
    fn adding_servers_moves_a_fair_share_to_them() {
        // 3 -> 5: each server ends with a fifth; 40 % of the clients move.
        let fifth = 0.2;
        check(
            "h:1,h:2,h:3",
            "h:1,h:2,h:3,h:4,h:5",
            &[(1, fifth), (2, fifth), (3, fifth), (4, fifth), (5, fifth)],
        );
        // 3 -> 4.
        check(
            "h:1,h:2,h:3",
            "h:1,h:2,h:3,h:4",
            &[(1, 0.25), (2, 0.25), (3, 0.25), (4, 0.25)],
        );
    }

    #[test]
    fn removing_servers_spreads_their_clients_over_the_rest() {
        let third = 1.0 / 3.0;
        check(
            "h:1,h:2,h:3,h:4,h:5",
            "h:1,h:2,h:3",
            &[(1, third), (2, third), (3, third)],
        );
        check("h:1,h:2,h:3", "h:1,h:2", &[(1, 0.5), (2, 0.5)]);
    }

    #[test]
    fn replacing_servers_keeps_the_load_even() {
        // One removed, two added.
        check(
            "h:1,h:2,h:3",
            "h:2,h:3,h:4,h:5",
            &[(2, 0.25), (3, 0.25), (4, 0.25), (5, 0.25)],
        );
        // Two removed, one added: the removed servers' clients go 2/3 to the new one.
        let third = 1.0 / 3.0;
        check(
            "h:1,h:2,h:3,h:4",
            "h:1,h:2,h:5",
            &[(1, third), (2, third), (5, third)],
        );
        // Same size, one swapped.
        let third = 1.0 / 3.0;
        check(
            "h:1,h:2,h:3",
            "h:1,h:2,h:4",
            &[(1, third), (2, third), (4, third)],
        );
    }

    #[test]
    fn a_client_that_is_not_connected_applies_the_list_to_its_next_attempts() {
        let ring = HostRing::new(hosts("h:1,h:2"), 9);
        // Never connected: nothing to drop.
        assert!(!ring.update(hosts("h:3,h:4")));
        assert!(!ring.take_move());
        for _ in 0..4 {
            let h = ring.next_host();
            assert!(h.port == 3 || h.port == 4, "{h}");
        }
        assert_eq!(ring.given(), hosts("h:3,h:4"));
        // Connected to a server that is removed: it must move now, once.
        let first = ring.next_host();
        ring.connected();
        let other = if first.port == 3 { "h:4" } else { "h:3" };
        assert!(ring.update(hosts(other)));
        assert!(ring.take_move());
        assert!(!ring.take_move());
        assert_eq!(ring.next_host().to_string(), other);
        // A client whose server stays in a list that shrank stays, and nothing is dropped.
        let ring = HostRing::new(hosts("h:1,h:2,h:3"), 5);
        let at = ring.next_host();
        ring.connected();
        let keep = if at.port == 1 {
            "h:1,h:2"
        } else {
            "h:1,h:2,h:3"
        };
        let keep = if at.port == 3 { "h:3,h:1" } else { keep };
        assert!(!ring.update(hosts(keep)));
        assert!(!ring.take_move());
    }
}
