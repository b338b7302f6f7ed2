//! [`Publisher`]: how a cache hands its events to its listeners: on the thread that applied
//! the change (the client's event thread), or, when the cache was given an executor, on that
//! [`WorkerPool`] under one key per cache, so that the cache's events keep their order (Curator
//! runs PathChildrenCache and TreeCache events on a single-thread executor). Listeners added
//! with their own pool get their events there, each in order.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::framework::Listenable;
use crate::session::WorkerPool;

pub(crate) struct Publisher<L: ?Sized> {
    listeners: Arc<Listenable<L>>,
    executor: Option<(WorkerPool, String)>,
}

impl<L: ?Sized + Send + Sync + 'static> Publisher<L> {
    /// `kind` names the cache type in the pool key.
    pub(crate) fn new(kind: &str, executor: Option<WorkerPool>) -> Publisher<L> {
        static N: AtomicU64 = AtomicU64::new(0);
        let key = format!("{kind}-{}", N.fetch_add(1, Ordering::Relaxed));
        Publisher {
            listeners: Arc::new(Listenable::default()),
            executor: executor.map(|p| (p, key)),
        }
    }

    pub(crate) fn listenable(&self) -> &Listenable<L> {
        &self.listeners
    }

    /// Calls `f` for every listener (no lock is held meanwhile).
    pub(crate) fn publish(&self, f: impl Fn(&L) + Send + Sync + Clone + 'static) {
        match &self.executor {
            None => self.listeners.for_each(f),
            Some((pool, key)) => {
                let ls = self.listeners.clone();
                pool.execute(key, move || ls.for_each(f));
            }
        }
    }

    pub(crate) fn clear(&self) {
        self.listeners.clear();
    }
}
