//! [`DownInstancePolicy`] and the manager that applies it: instances a provider's user has
//! reported errors for are left out for a while (Curator's `DownInstancePolicy` and
//! `DownInstanceManager`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::instance::ServiceInstance;

/// When an instance counts as down: once `error_threshold` errors have been noted for it,
/// a provider leaves it out until `timeout` has passed since its first error (Curator's
/// defaults: 30 s, 2 errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownInstancePolicy {
    timeout: Duration,
    error_threshold: u32,
}

impl Default for DownInstancePolicy {
    fn default() -> Self {
        DownInstancePolicy {
            timeout: Duration::from_secs(30),
            error_threshold: 2,
        }
    }
}

impl DownInstancePolicy {
    /// A policy: errors are forgotten `timeout` after the first one; `error_threshold`
    /// errors within it make an instance down.
    pub fn new(timeout: Duration, error_threshold: u32) -> DownInstancePolicy {
        DownInstancePolicy {
            timeout,
            error_threshold,
        }
    }

    /// How long an error record lives.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Errors that make an instance down.
    pub fn error_threshold(&self) -> u32 {
        self.error_threshold
    }
}

struct Status {
    since: Instant,
    errors: u32,
}

struct Statuses {
    by_instance: HashMap<(String, String), Status>,
    last_purge: Instant,
}

/// The error records of one provider. Instances are told apart by service name and id
/// (Curator compares every field, so there an instance whose data changed starts afresh).
pub(crate) struct DownInstanceManager {
    policy: DownInstancePolicy,
    statuses: Mutex<Statuses>,
}

impl DownInstanceManager {
    pub(super) fn new(policy: DownInstancePolicy) -> DownInstanceManager {
        DownInstanceManager {
            policy,
            statuses: Mutex::new(Statuses {
                by_instance: HashMap::new(),
                last_purge: Instant::now(),
            }),
        }
    }

    /// Notes one error for `instance`.
    pub(super) fn add<P>(&self, instance: &ServiceInstance<P>) {
        self.add_at(instance, Instant::now())
    }

    fn add_at<P>(&self, instance: &ServiceInstance<P>, now: Instant) {
        let mut s = self.statuses.lock();
        self.purge(&mut s, now);
        s.by_instance
            .entry(key(instance))
            .or_insert(Status {
                since: now,
                errors: 0,
            })
            .errors += 1;
    }

    /// True unless `instance` is down.
    pub(super) fn is_up<P>(&self, instance: &ServiceInstance<P>) -> bool {
        self.is_up_at(instance, Instant::now())
    }

    fn is_up_at<P>(&self, instance: &ServiceInstance<P>, now: Instant) -> bool {
        let mut s = self.statuses.lock();
        self.purge(&mut s, now);
        s.by_instance
            .get(&key(instance))
            .is_none_or(|st| st.errors < self.policy.error_threshold)
    }

    /// Drops records older than the timeout, at most every half timeout (as Curator).
    fn purge(&self, s: &mut Statuses, now: Instant) {
        if now.saturating_duration_since(s.last_purge) < self.policy.timeout / 2 {
            return;
        }
        s.last_purge = now;
        let timeout = self.policy.timeout;
        s.by_instance
            .retain(|_, st| now.saturating_duration_since(st.since) < timeout);
    }
}

fn key<P>(i: &ServiceInstance<P>) -> (String, String) {
    (i.name().to_string(), i.id().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inst(id: &str) -> ServiceInstance<()> {
        ServiceInstance::builder().name("s").id(id).build().unwrap()
    }

    #[test]
    fn threshold_then_timeout() {
        let m = DownInstanceManager::new(DownInstancePolicy::new(Duration::from_secs(10), 2));
        let (a, b) = (inst("a"), inst("b"));
        let t0 = Instant::now();
        assert!(m.is_up_at(&a, t0));
        m.add_at(&a, t0);
        assert!(m.is_up_at(&a, t0), "one error is below the threshold");
        m.add_at(&a, t0 + Duration::from_secs(1));
        assert!(!m.is_up_at(&a, t0 + Duration::from_secs(2)));
        assert!(m.is_up_at(&b, t0 + Duration::from_secs(2)));
        // Still down before the timeout (the purge at 5 s keeps it) ...
        assert!(!m.is_up_at(&a, t0 + Duration::from_secs(6)));
        // ... and forgotten at the first purge after it.
        assert!(m.is_up_at(&a, t0 + Duration::from_secs(12)));
        assert_eq!(
            DownInstancePolicy::default().timeout(),
            Duration::from_secs(30)
        );
        assert_eq!(DownInstancePolicy::default().error_threshold(), 2);
    }

    #[test]
    fn threshold_of_one_and_zero() {
        let one = DownInstanceManager::new(DownInstancePolicy::new(Duration::from_secs(10), 1));
        one.add(&inst("a"));
        assert!(!one.is_up(&inst("a")));
        let zero = DownInstanceManager::new(DownInstancePolicy::new(Duration::from_secs(10), 0));
        zero.add(&inst("a"));
        assert!(!zero.is_up(&inst("a")));
        assert!(zero.is_up(&inst("b")), "no record, no judgement");
    }
}
