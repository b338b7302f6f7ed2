//! Per-member fault switches shared with that member's connection threads: the pause gate
//! (a partition: bytes are accepted and read but nothing is processed or answered), the reply
//! latency, and the armed "apply, then close instead of replying" counters of `fail_next`.
//!
//! The flags are read on every request and every write, so they are atomics or a short
//! `parking_lot` critical section; the pause gate is a condvar so that paused threads sleep.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use crate::proto::OpCode;

#[derive(Default)]
pub(crate) struct Faults {
    paused: AtomicBool,
    /// The member is stopping: a pause no longer holds anything back.
    stopping: AtomicBool,
    gate: Mutex<()>,
    gate_cv: Condvar,
    latency_us: AtomicU64,
    fail_next: Mutex<HashMap<i32, u32>>,
    any_fail_armed: AtomicBool,
}

impl Faults {
    /// True while a pause holds traffic back (not once the member is stopping).
    pub(crate) fn paused(&self) -> bool {
        self.paused.load(Ordering::Acquire) && !self.stopping.load(Ordering::Acquire)
    }

    /// Marks the member as stopping (or started again), waking paused threads.
    pub(crate) fn set_stopping(&self, on: bool) {
        let _g = self.gate.lock();
        self.stopping.store(on, Ordering::Release);
        self.gate_cv.notify_all();
    }

    pub(crate) fn set_paused(&self, on: bool) {
        let _g = self.gate.lock();
        self.paused.store(on, Ordering::Release);
        self.gate_cv.notify_all();
    }

    /// Blocks while paused. Returns early (false) when `keep_waiting` says to stop; the wait
    /// re-checks every 50 ms so that a closing connection never hangs here.
    pub(crate) fn wait_unpaused(&self, keep_waiting: impl Fn() -> bool) -> bool {
        let mut g = self.gate.lock();
        while self.paused() {
            if !keep_waiting() {
                return false;
            }
            self.gate_cv.wait_for(&mut g, Duration::from_millis(50));
        }
        true
    }

    pub(crate) fn latency(&self) -> Duration {
        Duration::from_micros(self.latency_us.load(Ordering::Relaxed))
    }

    pub(crate) fn set_latency(&self, d: Duration) {
        self.latency_us.store(
            d.as_micros().min(u64::MAX as u128) as u64,
            Ordering::Relaxed,
        );
    }

    pub(crate) fn arm_fail_next(&self, n: u32, op: OpCode) {
        let mut m = self.fail_next.lock();
        if n == 0 {
            m.remove(&op.code());
        } else {
            m.insert(op.code(), n);
        }
        self.any_fail_armed.store(!m.is_empty(), Ordering::Release);
    }

    /// True (and one armed failure used up) if this request's reply must be dropped.
    pub(crate) fn take_fail(&self, op: i32) -> bool {
        if !self.any_fail_armed.load(Ordering::Acquire) {
            return false;
        }
        let mut m = self.fail_next.lock();
        let hit = match m.get_mut(&op) {
            Some(n) if *n > 0 => {
                *n -= 1;
                if *n == 0 {
                    m.remove(&op);
                }
                true
            }
            _ => false,
        };
        self.any_fail_armed.store(!m.is_empty(), Ordering::Release);
        hit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_next_counts_down_per_op() {
        let f = Faults::default();
        f.arm_fail_next(2, OpCode::Create);
        assert!(!f.take_fail(OpCode::Delete.code()));
        assert!(f.take_fail(OpCode::Create.code()));
        assert!(f.take_fail(OpCode::Create.code()));
        assert!(!f.take_fail(OpCode::Create.code()));
    }

    #[test]
    fn pause_gate_releases() {
        let f = Faults::default();
        assert!(f.wait_unpaused(|| true));
        f.set_paused(true);
        assert!(!f.wait_unpaused(|| false));
        f.set_paused(false);
        assert!(f.wait_unpaused(|| false));
    }
}
