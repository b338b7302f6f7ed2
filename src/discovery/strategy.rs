//! How a [`ServiceProvider`](super::ServiceProvider) picks one instance: the
//! [`ProviderStrategy`] trait and Curator's three strategies.

use std::sync::atomic::{AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use super::instance::ServiceInstance;

/// Picks one of the instances a provider currently offers (Curator's `ProviderStrategy`;
/// Curator hands it an `InstanceProvider`, here the list itself). `None` when the list is
/// empty.
pub trait ProviderStrategy<P>: Send + Sync + 'static {
    /// One of `instances`, or `None`.
    fn get_instance(
        &self,
        instances: &[Arc<ServiceInstance<P>>],
    ) -> Option<Arc<ServiceInstance<P>>>;
}

/// A shared strategy, so that the caller keeps a handle on it (for example to read a
/// [`StickyStrategy`]'s instance number).
impl<P, S: ProviderStrategy<P>> ProviderStrategy<P> for Arc<S> {
    fn get_instance(
        &self,
        instances: &[Arc<ServiceInstance<P>>],
    ) -> Option<Arc<ServiceInstance<P>>> {
        (**self).get_instance(instances)
    }
}

/// Takes the instances in turn: the n-th pick gets instance `n mod len` of the current
/// list (Curator's `RoundRobinStrategy`, the default). Over `k × len` picks of an unchanged
/// list each instance is picked exactly `k` times.
#[derive(Debug, Default)]
pub struct RoundRobinStrategy {
    next: AtomicUsize,
}

impl RoundRobinStrategy {
    /// A strategy starting at the first instance.
    pub fn new() -> RoundRobinStrategy {
        RoundRobinStrategy::default()
    }
}

impl<P> ProviderStrategy<P> for RoundRobinStrategy {
    fn get_instance(
        &self,
        instances: &[Arc<ServiceInstance<P>>],
    ) -> Option<Arc<ServiceInstance<P>>> {
        if instances.is_empty() {
            return None;
        }
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        instances.get(n % instances.len()).cloned()
    }
}

/// Picks uniformly at random (Curator's `RandomStrategy`).
#[derive(Debug)]
pub struct RandomStrategy {
    state: AtomicU64,
}

impl Default for RandomStrategy {
    fn default() -> Self {
        RandomStrategy::new()
    }
}

impl RandomStrategy {
    /// A strategy seeded from the process's randomness.
    pub fn new() -> RandomStrategy {
        RandomStrategy {
            state: AtomicU64::new(crate::random::seed()),
        }
    }

    /// A uniform index below `n` (> 0): SplitMix64 for the bits, multiply-shift for the
    /// range (its bias, below 2^-32 for lists this size, does not matter here).
    fn index(&self, n: usize) -> usize {
        let mut z = self
            .state
            .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed)
            .wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        ((u128::from(z) * n as u128) >> 64) as usize
    }
}

impl<P> ProviderStrategy<P> for RandomStrategy {
    fn get_instance(
        &self,
        instances: &[Arc<ServiceInstance<P>>],
    ) -> Option<Arc<ServiceInstance<P>>> {
        if instances.is_empty() {
            return None;
        }
        instances.get(self.index(instances.len())).cloned()
    }
}

/// Keeps returning the instance its master strategy picked first, for as long as that
/// instance (same service name and id) is in the list; then asks the master again
/// (Curator's `StickyStrategy`). The instance returned is the list's current version of it.
pub struct StickyStrategy<P> {
    master: Box<dyn ProviderStrategy<P>>,
    /// Service name and id of the instance we stick to.
    ours: Mutex<Option<(String, String)>>,
    number: AtomicI32,
}

impl<P> StickyStrategy<P> {
    /// Sticks to what `master` picks.
    pub fn new(master: impl ProviderStrategy<P>) -> StickyStrategy<P> {
        StickyStrategy {
            master: Box::new(master),
            ours: Mutex::new(None),
            number: AtomicI32::new(-1),
        }
    }

    /// Incremented each time a new instance is picked (`-1` before the first pick), so a
    /// caller can tell when the instance changed.
    pub fn instance_number(&self) -> i32 {
        self.number.load(Ordering::Relaxed)
    }
}

impl<P: 'static> ProviderStrategy<P> for StickyStrategy<P> {
    fn get_instance(
        &self,
        instances: &[Arc<ServiceInstance<P>>],
    ) -> Option<Arc<ServiceInstance<P>>> {
        let find = |key: &(String, String)| {
            instances
                .iter()
                .find(|i| i.name() == key.0 && i.id() == key.1)
                .cloned()
        };
        let current = self.ours.lock().clone();
        if let Some(found) = current.as_ref().and_then(find) {
            return Some(found);
        }
        // The master runs without our lock held (it may be user code).
        let picked = self.master.get_instance(instances)?;
        let mut ours = self.ours.lock();
        if *ours == current {
            *ours = Some((picked.name().to_string(), picked.id().to_string()));
            self.number.fetch_add(1, Ordering::Relaxed);
            return Some(picked);
        }
        // Another caller picked meanwhile: use its choice if it is still listed.
        let theirs = ours.clone();
        drop(ours);
        theirs.as_ref().and_then(find).or(Some(picked))
    }
}

impl<P> std::fmt::Debug for StickyStrategy<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StickyStrategy")
            .field("ours", &*self.ours.lock())
            .field("instance_number", &self.instance_number())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(ids: &[&str]) -> Vec<Arc<ServiceInstance<()>>> {
        ids.iter()
            .map(|id| {
                Arc::new(
                    ServiceInstance::builder()
                        .name("s")
                        .id(*id)
                        .build()
                        .unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn round_robin_cycles() {
        let s = RoundRobinStrategy::new();
        let l = list(&["a", "b", "c"]);
        let picks: Vec<String> = (0..7)
            .map(|_| s.get_instance(&l).unwrap().id().to_string())
            .collect();
        assert_eq!(picks, ["a", "b", "c", "a", "b", "c", "a"]);
        assert!(ProviderStrategy::<()>::get_instance(&s, &[]).is_none());
    }

    #[test]
    fn random_is_uniform_enough() {
        let s = RandomStrategy::new();
        let mut counts = [0u32; 7];
        for _ in 0..70_000 {
            counts[s.index(7)] += 1;
        }
        // Expected 10,000 each, standard deviation about 93.
        assert!(
            counts.iter().all(|&c| (9_400..10_600).contains(&c)),
            "{counts:?}"
        );
        assert!(ProviderStrategy::<()>::get_instance(&s, &[]).is_none());
    }

    #[test]
    fn sticky_sticks_until_its_instance_leaves() {
        let s = StickyStrategy::new(RoundRobinStrategy::new());
        assert_eq!(s.instance_number(), -1);
        let l = list(&["a", "b", "c"]);
        for _ in 0..5 {
            assert_eq!(s.get_instance(&l).unwrap().id(), "a");
        }
        assert_eq!(s.instance_number(), 0);
        let without_a = list(&["b", "c"]);
        assert_eq!(
            s.get_instance(&without_a).unwrap().id(),
            "c",
            "round robin's second pick"
        );
        assert_eq!(s.get_instance(&l).unwrap().id(), "c");
        assert_eq!(s.instance_number(), 1);
        assert!(s.get_instance(&[]).is_none());
    }
}
