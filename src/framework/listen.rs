//! [`Listenable`]: a list of listeners, each called on the thread that raises the event (the
//! event thread, in order with watches) or, when added with a [`WorkerPool`], on the pool,
//! one event at a time per listener.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::session::events::guarded;
use crate::session::WorkerPool;

/// Identifies an added listener, for [`Listenable::remove_listener`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ListenerId(u64);

struct Entry<L: ?Sized> {
    id: ListenerId,
    listener: Arc<L>,
    executor: Option<WorkerPool>,
}

/// A set of listeners of one kind (`L` is a listener trait object, e.g.
/// `dyn ConnectionStateListener`).
///
/// Typed `add_listener` methods live on each instantiation (for example
/// `Listenable<dyn ConnectionStateListener>::add_listener`) and take a closure whose argument
/// types are inferred. A type of yours implementing the listener trait goes in with
/// [`add_arc`](Listenable::add_arc).
///
/// ```
/// # use std::time::Duration;
/// # use std::sync::Arc;
/// # use zk_curator::framework::*;
/// # let server = zk_curator::testing::TestingServer::start().unwrap();
/// # let client = CuratorFrameworkFactory::new_client(&server.connect_string(), RetryOneTime::new(Duration::from_millis(10)))?;
/// let pool = zk_curator::WorkerPool::new(1)?;
/// client.connection_state_listenable().add_listener(|_client, state| println!("{state:?}"));
/// client
///     .connection_state_listenable()
///     .add_listener_with_executor(|_client, state| println!("{state:?}"), &pool);
/// client.curator_listenable().add_listener(|_client, event| println!("{:?}", event.event_type()));
/// client.unhandled_error_listenable().add_listener(|msg, err| eprintln!("{msg}: {err}"));
///
/// struct Logger;
/// impl ConnectionStateListener for Logger {
///     fn state_changed(&self, _client: &CuratorFramework, state: ConnectionState) {
///         println!("{state:?}");
///     }
/// }
/// client.connection_state_listenable().add_arc(Arc::new(Logger), None);
/// # client.start()?;
/// # client.close();
/// # Ok::<(), zk_curator::Error>(())
/// ```
pub struct Listenable<L: ?Sized> {
    entries: Mutex<Vec<Entry<L>>>,
    next: AtomicU64,
    panics: AtomicU64,
}

impl<L: ?Sized> Default for Listenable<L> {
    fn default() -> Self {
        Listenable {
            entries: Mutex::new(Vec::new()),
            next: AtomicU64::new(1),
            panics: AtomicU64::new(0),
        }
    }
}

impl<L: ?Sized + Send + Sync + 'static> Listenable<L> {
    /// Adds a listener (already shared); events reach it on the raising thread, or on
    /// `executor` if given.
    pub fn add_arc(&self, listener: Arc<L>, executor: Option<&WorkerPool>) -> ListenerId {
        let id = ListenerId(self.next.fetch_add(1, Ordering::Relaxed));
        self.entries.lock().push(Entry {
            id,
            listener,
            executor: executor.cloned(),
        });
        id
    }

    /// Removes a listener; false if it was not there.
    pub fn remove_listener(&self, id: ListenerId) -> bool {
        let mut e = self.entries.lock();
        let before = e.len();
        e.retain(|x| x.id != id);
        e.len() != before
    }

    /// Removes every listener.
    pub fn clear(&self) {
        self.entries.lock().clear();
    }

    /// Number of listeners.
    pub fn len(&self) -> usize {
        self.entries.lock().len()
    }

    /// True without listeners.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Listener panics caught so far.
    pub fn panic_count(&self) -> u64 {
        self.panics.load(Ordering::Relaxed)
    }

    /// Calls `f` for each listener: inline (a panic is caught, logged and counted) or on the
    /// listener's pool, keyed by the listener so that its calls stay in order. No lock is
    /// held while listeners run.
    pub(crate) fn for_each(&self, f: impl Fn(&L) + Send + Sync + Clone + 'static) {
        let snapshot: Vec<(ListenerId, Arc<L>, Option<WorkerPool>)> = self
            .entries
            .lock()
            .iter()
            .map(|e| (e.id, e.listener.clone(), e.executor.clone()))
            .collect();
        for (id, l, exec) in snapshot {
            match exec {
                None => {
                    let _ = guarded(&self.panics, "listener", || f(&l));
                }
                Some(pool) => {
                    let f = f.clone();
                    pool.execute(&format!("listener-{}", id.0), move || f(&l));
                }
            }
        }
    }
}

impl<L: ?Sized> std::fmt::Debug for Listenable<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listenable")
            .field("listeners", &self.entries.lock().len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    trait Hear: Send + Sync {
        fn hear(&self, n: u32);
    }
    impl<F: Fn(u32) + Send + Sync> Hear for F {
        fn hear(&self, n: u32) {
            self(n)
        }
    }

    #[test]
    fn inline_pooled_removal_and_panics() {
        let l: Listenable<dyn Hear> = Listenable::default();
        let (tx, rx) = mpsc::channel();
        let t = tx.clone();
        let a = l.add_arc(Arc::new(move |n| t.send(("inline", n)).unwrap()), None);
        let pool = WorkerPool::new(1).unwrap();
        let t = tx.clone();
        l.add_arc(
            Arc::new(move |n| t.send(("pooled", n)).unwrap()),
            Some(&pool),
        );
        l.add_arc(Arc::new(|_| panic!("listener panics")), None);
        l.for_each(|h| h.hear(7));
        let mut got: Vec<_> = (0..2)
            .map(|_| rx.recv_timeout(Duration::from_secs(5)).unwrap())
            .collect();
        got.sort();
        assert_eq!(got, vec![("inline", 7), ("pooled", 7)]);
        assert_eq!(l.panic_count(), 1);
        assert!(l.remove_listener(a));
        assert!(!l.remove_listener(a));
        assert_eq!(l.len(), 2);
    }
}
