//! Randomness without a randomness crate: seeds for retry jitter, host shuffles, protected
//! create ids, queue sharding and discovery's random strategy. A leaf at the bottom of the
//! crate, so that every layer (the session's host ring as well as the recipes) can use it.

/// A random seed: the standard library's per-process random hasher keys over a counter and
/// the clock (no randomness crate needed for jitter, shuffles and UUIDs).
pub(crate) fn seed() -> u64 {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    h.write_u128(nanos);
    h.finish()
}
