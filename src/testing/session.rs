//! The session table: ids, passwords, negotiated timeouts and expiry deadlines.
//!
//! Like `SessionTrackerImpl`, a deadline is rounded up to the next tick boundary, so a
//! session whose client goes silent expires between `timeout` and `timeout + tickTime` after
//! its last request. The ticker thread (`shared`) asks [`Sessions::due`] and closes what it
//! returns. Passwords are derived from the id the way the server derives them
//! (`new java.util.Random(id ^ 0xB3415C00).nextBytes(16)`), which keeps them stable across a
//! `stop()`/`restart()` and across cluster members.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::watches::ConnId;

const SUPER_SECRET: i64 = 0xB341_5C00;

/// One session.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub id: i64,
    pub passwd: [u8; 16],
    pub timeout_ms: i32,
    pub deadline: Instant,
    /// The connection currently attached, if any.
    pub conn: Option<ConnId>,
}

pub(crate) struct Sessions {
    map: HashMap<i64, Session>,
    next_id: i64,
    tick: Duration,
    epoch: Instant,
}

impl Sessions {
    /// A table whose ids start as `SessionTrackerImpl.initializeNextSessionId(server_id)`:
    /// the time in ms shifted into the middle bits, the server id in the top byte.
    pub(crate) fn new(server_id: i64, tick: Duration) -> Sessions {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let mut next_id = (((ms << 24) as u64) >> 8) as i64 | (server_id << 56);
        if next_id == i64::MIN {
            next_id += 1;
        }
        Sessions {
            map: HashMap::new(),
            next_id,
            tick: tick.max(Duration::from_millis(1)),
            epoch: Instant::now(),
        }
    }

    fn deadline(&self, now: Instant, timeout_ms: i32) -> Instant {
        let tick = self.tick.as_millis().max(1) as u64;
        let t =
            now.saturating_duration_since(self.epoch).as_millis() as u64 + timeout_ms.max(0) as u64;
        self.epoch + Duration::from_millis((t / tick + 1) * tick)
    }

    /// A new session with a negotiated timeout; returns its id and password.
    pub(crate) fn create(&mut self, timeout_ms: i32, now: Instant) -> (i64, [u8; 16]) {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        let passwd = password(id);
        let deadline = self.deadline(now, timeout_ms);
        self.map.insert(
            id,
            Session {
                id,
                passwd,
                timeout_ms,
                deadline,
                conn: None,
            },
        );
        (id, passwd)
    }

    pub(crate) fn get(&self, id: i64) -> Option<&Session> {
        self.map.get(&id)
    }

    pub(crate) fn get_mut(&mut self, id: i64) -> Option<&mut Session> {
        self.map.get_mut(&id)
    }

    /// Pushes the deadline out by the session's timeout (every request does this).
    pub(crate) fn touch(&mut self, id: i64, now: Instant) {
        let tick = self.tick.as_millis().max(1) as u64;
        let epoch = self.epoch;
        if let Some(s) = self.map.get_mut(&id) {
            let t = now.saturating_duration_since(epoch).as_millis() as u64
                + s.timeout_ms.max(0) as u64;
            s.deadline = epoch + Duration::from_millis((t / tick + 1) * tick);
        }
    }

    pub(crate) fn remove(&mut self, id: i64) -> Option<Session> {
        self.map.remove(&id)
    }

    /// Sessions whose deadline has passed.
    pub(crate) fn due(&self, now: Instant) -> Vec<i64> {
        let mut v: Vec<i64> = self
            .map
            .values()
            .filter(|s| s.deadline <= now)
            .map(|s| s.id)
            .collect();
        v.sort_unstable();
        v
    }

    /// Restarts every session's clock, as a server that loads its sessions from disk, or a
    /// newly elected leader, does.
    pub(crate) fn touch_all(&mut self, now: Instant) {
        let ids: Vec<i64> = self.map.keys().copied().collect();
        for id in ids {
            self.touch(id, now);
        }
    }

    pub(crate) fn ids(&self) -> Vec<i64> {
        let mut v: Vec<i64> = self.map.keys().copied().collect();
        v.sort_unstable();
        v
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

/// `java.util.Random(id ^ superSecret).nextBytes(new byte[16])`.
pub(crate) fn password(id: i64) -> [u8; 16] {
    const MULT: i64 = 0x5_DEEC_E66D;
    const MASK: i64 = (1 << 48) - 1;
    let mut seed = ((id ^ SUPER_SECRET) ^ MULT) & MASK;
    let mut next_int = || {
        seed = (seed.wrapping_mul(MULT).wrapping_add(0xB)) & MASK;
        (seed >> 16) as i32
    };
    let mut out = [0u8; 16];
    for chunk in out.chunks_mut(4) {
        let mut rnd = next_int();
        for b in chunk {
            *b = rnd as u8;
            rnd >>= 8;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_random_bytes() {
        // new java.util.Random(0).nextBytes(new byte[16]) with the seed pre-xored so that
        // id ^ SUPER_SECRET == 0.
        let p = password(SUPER_SECRET);
        assert_eq!(
            p,
            [
                0x60, 0xb4, 0x20, 0xbb, 0x38, 0x51, 0xd9, 0xd4, 0x7a, 0xcb, 0x93, 0x3d, 0xbe, 0x70,
                0x39, 0x9b
            ]
        );
        assert_ne!(password(1), password(2));
    }

    #[test]
    fn deadlines_round_up_to_ticks() {
        let mut s = Sessions::new(0, Duration::from_millis(100));
        let now = Instant::now();
        let (id, _) = s.create(1000, now);
        let d = s.get(id).unwrap().deadline;
        assert!(d > now + Duration::from_millis(1000));
        assert!(d <= now + Duration::from_millis(1100));
        assert!(s.due(now).is_empty());
        assert_eq!(s.due(now + Duration::from_millis(1200)), vec![id]);
        assert_ne!(id, 0);
    }
}
