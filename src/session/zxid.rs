//! Which zxids in server frames are believable, so that one corrupted frame cannot poison
//! the session's `last_zxid` (the `lastZxidSeen` of every later handshake: a value ahead of
//! every server gets the session refused everywhere, "client must try another server").
//!
//! A zxid is an epoch (high 32 bits, one per elected leader) and a counter (low 32 bits,
//! one per transaction of that epoch). What a server guarantees, from its sources (3.4-3.9):
//!
//! * Every reply header, ping replies included, carries the server's last processed zxid,
//!   read after the request's own transaction was applied (`FinalRequestProcessor`), and one
//!   session's requests are processed in order: along one connection these zxids **never
//!   decrease**. Replies that carry no zxid (auth: 0, unknown op: -1) are not zxids.
//! * A server accepts a handshake only if its last processed zxid is at least the client's
//!   `lastZxidSeen`: the first zxid on a connection is **at least the one sent**.
//! * A leader election closes every client connection of every member (followers included):
//!   along one connection the **epoch never changes**. A new epoch shows up only on a new
//!   connection, and its counter starts again from zero.
//! * Notifications carry -1 (3.4-3.8) or the zxid of the transaction that fired them
//!   (3.9+; -1 for those SetWatches fires); they are never ordered against replies, so only
//!   "too far ahead" applies to them, and they never enter `last_zxid`.
//!
//! "Too far ahead" needs a rate: no ensemble commits anywhere near [`MAX_TXN_PER_SEC`]
//! transactions a second (the fastest manage about a tenth of it), so a counter that grew by
//! more than that rate allows since the last zxid was heard, plus [`SLACK`], is a corrupted
//! frame; so is an epoch that advanced by more than [`MAX_EPOCHS`] plus
//! [`EPOCHS_PER_SEC`] per second away (an election takes longer than a quarter second).
//! A legitimate frame is never refused: clients writing between two replies only make the
//! counter grow at the ensemble's real rate, and an election only shows up across a
//! reconnect, where the bound allows a new epoch.
//!
//! A corrupted zxid inside the bound (a flipped low byte) is caught by the next frame of the
//! same connection, which then looks like a step backwards: the connection is dropped and
//! `last_zxid` is rolled back to its value before the suspect frame. That undoes a poisoned
//! value; if the suspect frame was genuine, the session only forgets the newest zxid it saw
//! (it may then reconnect to a server that has not applied that one reply's transaction
//! yet: a stale read, never a refused session).

use std::time::{Duration, Instant};

/// Faster than any ZooKeeper ensemble commits (ten times the fastest reported).
pub(crate) const MAX_TXN_PER_SEC: i64 = 1_000_000;
/// Counter growth allowed on top of the rate (timing noise, batches).
pub(crate) const SLACK: i64 = 1 << 22;
/// Epochs a new connection may have moved on by, plus [`EPOCHS_PER_SEC`] per second away.
pub(crate) const MAX_EPOCHS: i64 = 8;
/// See [`MAX_EPOCHS`].
pub(crate) const EPOCHS_PER_SEC: i64 = 4;
/// How long a follower may keep serving clients after its leader is gone (syncLimit ticks),
/// so how much older than our last frame a new epoch may be.
const NEW_EPOCH_LEAD: Duration = Duration::from_secs(60);

fn epoch(z: i64) -> i64 {
    z >> 32
}

fn counter(z: i64) -> i64 {
    z & 0xffff_ffff
}

/// A frame whose zxid cannot be right: the connection must be dropped.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Implausible {
    pub why: String,
    /// What `last_zxid` must go back to (the previous frame may have been the corrupt one).
    pub rollback: Option<i64>,
}

/// Tracks the zxids of one handle's connections (owned by its I/O thread).
#[derive(Debug)]
pub(crate) struct ZxidGuard {
    /// The highest zxid accepted on this connection, or the `lastZxidSeen` it started with.
    floor: i64,
    /// `last_zxid` before `floor` was last raised on this connection.
    before: Option<i64>,
    /// The epoch of this connection, once a frame carried a zxid.
    epoch: Option<i64>,
    /// When `floor` was heard (kept across connections).
    heard: Instant,
}

impl ZxidGuard {
    pub(crate) fn new(now: Instant) -> ZxidGuard {
        ZxidGuard {
            floor: 0,
            before: None,
            epoch: None,
            heard: now,
        }
    }

    /// A new connection, accepted with `last_zxid` as its `lastZxidSeen`.
    pub(crate) fn connected(&mut self, last_zxid: i64) {
        self.floor = last_zxid;
        self.before = None;
        self.epoch = None;
    }

    /// How far past `floor` a zxid may be at `now`.
    fn ahead(&self, z: i64, now: Instant) -> Option<String> {
        if self.floor <= 0 {
            return None; // nothing known yet: a new session, or resumed from elsewhere
        }
        let away = now.saturating_duration_since(self.heard);
        let rate = |d: Duration| {
            (d.as_millis() as i64)
                .saturating_mul(MAX_TXN_PER_SEC / 1000)
                .saturating_add(SLACK)
        };
        let (e, fe) = (epoch(z), epoch(self.floor));
        if e == fe {
            let grew = z - self.floor;
            return (grew > rate(away)).then(|| {
                format!(
                    "zxid {z:#x} is {grew} transactions past {:#x}, heard {} ms ago",
                    self.floor,
                    away.as_millis()
                )
            });
        }
        if e < fe {
            return None; // behind, not ahead: judged by the caller
        }
        let epochs = MAX_EPOCHS + EPOCHS_PER_SEC * away.as_secs() as i64;
        if self.epoch.is_some() || e - fe > epochs || counter(z) > rate(away + NEW_EPOCH_LEAD) {
            return Some(format!(
                "zxid {z:#x}: epoch {e:#x} after {fe:#x}{}, {} ms after the last zxid",
                if self.epoch.is_some() {
                    " on one connection"
                } else {
                    ""
                },
                away.as_millis()
            ));
        }
        None
    }

    /// Judges the zxid of a reply or ping reply heard at `now` (nothing changes: the frame
    /// may still turn out corrupt elsewhere; see [`accept`](Self::accept)).
    pub(crate) fn check_reply(&self, z: i64, now: Instant) -> Result<(), Implausible> {
        let why = if z < -1 {
            // Replies without a zxid carry 0 (auth, SASL) or -1 (unknown op).
            format!("reply zxid {z}")
        } else if z <= 0 {
            return Ok(());
        } else if z < self.floor {
            return Err(Implausible {
                why: format!("zxid {z:#x} after {:#x} on the same connection", self.floor),
                rollback: self.before,
            });
        } else if let Some(why) = self.ahead(z, now) {
            why
        } else {
            return Ok(());
        };
        Err(Implausible {
            why,
            rollback: None,
        })
    }

    /// Takes the zxid of a whole, well-formed reply or ping reply that passed
    /// [`check_reply`](Self::check_reply); true if it carries one.
    pub(crate) fn accept(&mut self, z: i64, now: Instant) -> bool {
        if z <= 0 {
            return false;
        }
        if z > self.floor {
            self.before = Some(self.floor);
            self.floor = z;
        }
        self.epoch = Some(epoch(z));
        self.heard = now;
        true
    }

    /// Judges the zxid of a notification (-1, or a transaction's zxid from 3.9 on).
    pub(crate) fn notification(&self, z: i64, now: Instant) -> Result<(), Implausible> {
        let why = if z < -1 {
            Some(format!("notification zxid {z}"))
        } else if z == -1 {
            None
        } else {
            self.ahead(z, now)
        };
        match why {
            Some(why) => Err(Implausible {
                why,
                rollback: None,
            }),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const E: i64 = 5 << 32;

    fn at(t0: Instant, ms: u64) -> Instant {
        t0 + Duration::from_millis(ms)
    }

    impl ZxidGuard {
        /// check_reply then accept, as the I/O thread does for a good frame.
        fn reply(&mut self, z: i64, now: Instant) -> Result<Option<i64>, Implausible> {
            self.check_reply(z, now)?;
            Ok(self.accept(z, now).then_some(z))
        }
    }

    #[test]
    fn replies_may_grow_at_any_real_rate_and_never_step_back() {
        let t0 = Instant::now();
        let mut g = ZxidGuard::new(t0);
        g.connected(E + 100);
        // The first zxid may equal the one sent; writers elsewhere make it grow.
        assert_eq!(g.reply(E + 100, at(t0, 1)), Ok(Some(E + 100)));
        assert_eq!(g.reply(E + 5_000, at(t0, 2)), Ok(Some(E + 5_000)));
        // Idle for a minute while others write 100k/s.
        assert_eq!(
            g.reply(E + 6_005_000, at(t0, 60_002)),
            Ok(Some(E + 6_005_000))
        );
        // Auth and unknown-op replies carry no zxid.
        assert_eq!(g.reply(0, at(t0, 60_003)), Ok(None));
        assert_eq!(g.reply(-1, at(t0, 60_003)), Ok(None));
        assert!(g.reply(-2, at(t0, 60_003)).is_err());
        // A step back: the previous raise may have been the lie.
        let e = g.reply(E + 6_004_999, at(t0, 60_004)).unwrap_err();
        assert_eq!(e.rollback, Some(E + 5_000));
    }

    #[test]
    fn a_flipped_high_byte_is_refused_at_once() {
        let t0 = Instant::now();
        let mut g = ZxidGuard::new(t0);
        g.connected(E + 100);
        assert!(g.reply(E + 200, at(t0, 5)).is_ok());
        // Any bit of the five high bytes: epoch raised or lowered, or a sign, or a
        // counter sixteen million ahead.
        for bit in 24..64 {
            let z = (E + 300) ^ (1i64 << bit);
            assert!(g.reply(z, at(t0, 10)).is_err(), "bit {bit}: {z:#x}");
        }
        // The epoch's lowest bit on an established connection.
        assert!(g.reply((6 << 32) + 300, at(t0, 10)).is_err());
        // Unharmed: still accepts the truth.
        assert_eq!(g.reply(E + 300, at(t0, 11)), Ok(Some(E + 300)));
    }

    #[test]
    fn a_new_epoch_is_allowed_across_a_reconnect_only() {
        let t0 = Instant::now();
        let mut g = ZxidGuard::new(t0);
        g.connected(E + 100);
        assert!(g.reply(E + 100_000, at(t0, 1)).is_ok());
        // Leader killed: a new connection, two elections later.
        g.connected(E + 100_000);
        assert_eq!(
            g.reply((7 << 32) + 3, at(t0, 2_000)),
            Ok(Some((7 << 32) + 3))
        );
        // ...but not a thousand elections later, nor one with a huge counter.
        g.connected(E + 100_000);
        assert!(g.reply((1000 << 32) + 3, at(t0, 2_000)).is_err());
        assert!(g.reply((7 << 32) + 0x4000_0000, at(t0, 2_000)).is_err());
    }

    #[test]
    fn nothing_known_means_nothing_refused() {
        let t0 = Instant::now();
        let mut g = ZxidGuard::new(t0);
        g.connected(0);
        assert_eq!(
            g.reply(0x7f00_0000_0000_0001, t0),
            Ok(Some(0x7f00_0000_0000_0001))
        );
        assert!(g.notification(0x7f00_0000_0000_0002, t0).is_ok());
    }

    #[test]
    fn notifications_are_judged_for_distance_only() {
        let t0 = Instant::now();
        let mut g = ZxidGuard::new(t0);
        g.connected(E + 100);
        assert!(g.reply(E + 1_000, t0).is_ok());
        assert!(g.notification(-1, t0).is_ok());
        assert!(
            g.notification(E + 500, t0).is_ok(),
            "behind a reply is fine"
        );
        assert!(g.notification(E + 2_000, t0).is_ok());
        assert!(g.notification(-2, t0).is_err());
        assert!(g.notification(E + (1 << 40), t0).is_err());
        assert!(g
            .notification(0x4000_0000_0000_0000 | (E + 1000), t0)
            .is_err());
        // A notification never moves the floor.
        assert!(g.reply(E + 1_000, t0).is_ok());
    }
}
