//! Moving connections when the server list changes: the probabilistic rebalancing of
//! ZooKeeper's client (`StaticHostProvider.updateServerList`, 3.5+), used by
//! [`HostRing`](super::HostRing) when `ZooKeeper::update_server_list` gives it a new list.
//!
//! The rule keeps the load even without any coordination between clients. Say a client's
//! list had `old_len` servers and the new one has `total`, of which `num_old` were in the old
//! list and `num_new` were not:
//!
//! * **The ensemble grew** (`total > old_len`). A client whose server is still listed moves
//!   to one of the new servers with probability `1 - old_len / total`, so that each server
//!   ends up with `1 / total` of the clients; a client whose server is gone moves to a new
//!   server.
//! * **It shrank or kept its size.** A client whose server is still listed stays (its
//!   server's share can only grow). A client whose server is gone picks an old server with
//!   probability `p_old = num_old * (old_len - total) / (total * (old_len - num_old))` and a
//!   new one otherwise: the clients of removed servers fill the new servers up to `1 / total`
//!   and spread the rest over the old ones.
//!
//! A client that moves tries the chosen group first (new servers with probability `p_new`
//! per attempt, in a shuffled order), then the other group, then falls back to plain
//! round-robin over the whole new list. This module is pure logic: no sockets, no clock.

use super::HostPort;

/// A small deterministic PRNG (xorshift64*): shuffles and coin flips. Seeded per handle, so
/// that clients started together still choose independently.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        // A zero state would stay zero.
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15 | 1)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `[0, 1)`, with 24 bits as Java's `Random.nextFloat`.
    pub(crate) fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u32 << 24) as f32
    }

    /// Uniform in `0..n` (`n > 0`).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// Fisher-Yates.
    pub(crate) fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

/// Whether a client leaves its server after a list change, and if so the probability of
/// trying a new server (rather than an old one) on each pick. `None`: it stays.
///
/// `draw` is a uniform random number in `[0, 1)`, taken only when the ensemble grew and the
/// client's server is still listed.
pub(crate) fn decide(
    old_len: usize,
    num_old: usize,
    num_new: usize,
    mine_listed: bool,
    draw: f32,
) -> Option<f32> {
    let total = num_old + num_new;
    if total > old_len {
        if !mine_listed {
            return Some(1.0);
        }
        let leave = 1.0 - old_len as f32 / total as f32;
        // Java compares with <=; a draw of exactly the threshold moves too.
        (draw <= leave).then_some(1.0)
    } else if mine_listed {
        None
    } else {
        let denominator = total * (old_len - num_old);
        let p_old = if denominator == 0 {
            // Every old server is still listed and nothing was added, yet this client's
            // server is not among them (it was reached by another name): spread over the
            // old servers.
            1.0
        } else {
            (num_old * (old_len - total)) as f32 / denominator as f32
        };
        Some(1.0 - p_old)
    }
}

/// The picks of a client that moves: new and old servers (each shuffled), and how far it
/// got through each.
#[derive(Debug, Clone)]
pub(crate) struct Reconfig {
    old: Vec<HostPort>,
    new: Vec<HostPort>,
    next_old: usize,
    next_new: usize,
    p_new: f32,
}

impl Reconfig {
    /// `shuffled` is the new list (shuffled); `previous` the list it replaces.
    pub(crate) fn new(shuffled: &[HostPort], previous: &[HostPort], p_new: f32) -> Reconfig {
        let (old, new): (Vec<HostPort>, Vec<HostPort>) =
            shuffled.iter().cloned().partition(|h| previous.contains(h));
        Reconfig {
            old,
            new,
            next_old: 0,
            next_new: 0,
            p_new,
        }
    }

    /// Splits a new list into (servers also in `previous`, servers not in it).
    pub(crate) fn counts(shuffled: &[HostPort], previous: &[HostPort]) -> (usize, usize) {
        let old = shuffled.iter().filter(|h| previous.contains(h)).count();
        (old, shuffled.len() - old)
    }

    /// The next server to try: a new one with probability `p_new` (or when the old ones are
    /// used up), else an old one; `None` once both groups are used up.
    pub(crate) fn pick(&mut self, draw: f32) -> Option<HostPort> {
        let take_new = draw <= self.p_new;
        if self.next_new < self.new.len() && (take_new || self.next_old >= self.old.len()) {
            self.next_new += 1;
            return self.new.get(self.next_new - 1).cloned();
        }
        if self.next_old < self.old.len() {
            self.next_old += 1;
            return self.old.get(self.next_old - 1).cloned();
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_follow_zookeepers_rule() {
        // Grew from 3 to 5, my server kept: leave with probability 2/5.
        assert_eq!(decide(3, 3, 2, true, 0.39), Some(1.0));
        assert_eq!(decide(3, 3, 2, true, 0.41), None);
        // Grew, my server gone: always to a new one.
        assert_eq!(decide(3, 2, 2, false, 0.99), Some(1.0));
        // Shrank, my server kept: stay.
        assert_eq!(decide(5, 3, 0, true, 0.0), None);
        // Shrank from 5 to 3 old servers: the removed servers' clients go to old ones.
        assert_eq!(decide(5, 3, 0, false, 0.0), Some(0.0));
        // 4 -> {a, b} kept + e added: p_old = 2 * 1 / (3 * 2) = 1/3.
        let p_new = decide(4, 2, 1, false, 0.0).unwrap();
        assert!((p_new - 2.0 / 3.0).abs() < 1e-6, "{p_new}");
        // Same size, one replaced: the replaced server's clients go to the new one.
        assert_eq!(decide(3, 2, 1, false, 0.0), Some(1.0));
        // Nothing changed but my server was never listed: spread over the old ones.
        assert_eq!(decide(3, 3, 0, false, 0.5), Some(0.0));
    }

    #[test]
    fn picks_take_the_chosen_group_first_then_the_other() {
        let hp = |p: u16| HostPort {
            host: "h".into(),
            port: p,
        };
        let previous = [hp(1), hp(2)];
        let shuffled = [hp(3), hp(1), hp(4)];
        assert_eq!(Reconfig::counts(&shuffled, &previous), (1, 2));
        let mut r = Reconfig::new(&shuffled, &previous, 1.0);
        let picks: Vec<u16> = std::iter::from_fn(|| r.pick(0.5)).map(|h| h.port).collect();
        assert_eq!(picks, vec![3, 4, 1]);
        let mut r = Reconfig::new(&shuffled, &previous, 0.0);
        let picks: Vec<u16> = std::iter::from_fn(|| r.pick(0.5)).map(|h| h.port).collect();
        assert_eq!(picks, vec![1, 3, 4]);
    }

    #[test]
    fn rng_is_uniform_enough_for_coin_flips() {
        let mut r = Rng::new(7);
        let n = 100_000;
        let below = (0..n).filter(|_| r.unit() < 0.25).count();
        let frac = below as f64 / n as f64;
        assert!((frac - 0.25).abs() < 0.01, "{frac}");
        let mut v: Vec<u32> = (0..10).collect();
        r.shuffle(&mut v);
        let mut sorted = v.clone();
        sorted.sort();
        assert_eq!(sorted, (0..10).collect::<Vec<_>>());
    }
}
