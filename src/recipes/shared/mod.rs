//! Shared values (Curator's `recipes.shared`): one node whose data every participant reads,
//! watches and changes with compare-and-set.
//!
//! * [`SharedValue`]: raw bytes.
//! * [`SharedCount`]: a 32-bit counter, stored as Curator stores it (4 bytes, big-endian), so
//!   a Java `SharedCount` on the same path shares it.
//!
//! Both keep a local copy updated by a watch, re-read it after every reconnection (a
//! listener never misses the latest value, even after a session loss), tell their listeners
//! about every new value in order, and write with [`try_set_value`](SharedValue::try_set_value)
//! / [`try_set_count`](SharedCount::try_set_count): a versioned `setData` whose outcome is
//! known even when its reply is lost (see the crate's `recipes` docs), so a counting loop is
//! exact through connection drops.

mod count;
mod value;

pub use count::SharedCount;
pub use value::SharedValue;

use std::sync::Arc;

use crate::framework::{ConnectionState, CuratorFramework, Listenable, ListenerId};
use crate::session::WorkerPool;

/// A value with the node version it was read at: what
/// [`try_set_value`](SharedValue::try_set_value) compares against (Curator's
/// `VersionedValue`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VersionedValue<T> {
    version: i32,
    value: T,
}

impl<T> VersionedValue<T> {
    /// A value at a version (`-1`: not read from the server yet).
    pub fn new(version: i32, value: T) -> VersionedValue<T> {
        VersionedValue { version, value }
    }

    /// The node's data version this value was read at.
    pub fn version(&self) -> i32 {
        self.version
    }

    /// The value.
    pub fn value(&self) -> &T {
        &self.value
    }

    /// The value, by move.
    pub fn into_value(self) -> T {
        self.value
    }
}

/// Hears about new values of a [`SharedValue`] (and connection state changes).
///
/// Implemented for every `Fn(&[u8]) + Send + Sync + 'static`; implement the trait on a type
/// of your own to hear the connection states too.
pub trait SharedValueListener: Send + Sync + 'static {
    /// The value changed to `new_value` (called in order, on the client's event thread or on
    /// the listener's pool).
    fn value_has_changed(&self, new_value: &[u8]);

    /// The client's connection state changed. Default: nothing.
    fn state_changed(&self, client: &CuratorFramework, new_state: ConnectionState) {
        let _ = (client, new_state);
    }
}

impl<F: Fn(&[u8]) + Send + Sync + 'static> SharedValueListener for F {
    fn value_has_changed(&self, new_value: &[u8]) {
        self(new_value)
    }
}

impl Listenable<dyn SharedValueListener> {
    /// Adds a listener called on the client's event thread.
    pub fn add_listener(&self, l: impl SharedValueListener) -> ListenerId {
        self.add_arc(Arc::new(l), None)
    }

    /// Adds a listener called on `pool` (its calls stay in order).
    pub fn add_listener_with_executor(
        &self,
        l: impl SharedValueListener,
        pool: &WorkerPool,
    ) -> ListenerId {
        self.add_arc(Arc::new(l), Some(pool))
    }
}

/// Hears about new values of a [`SharedCount`] (and connection state changes).
///
/// Implemented for every `Fn(i32) + Send + Sync + 'static`.
pub trait SharedCountListener: Send + Sync + 'static {
    /// The count changed to `new_count`.
    fn count_has_changed(&self, new_count: i32);

    /// The client's connection state changed. Default: nothing.
    fn state_changed(&self, client: &CuratorFramework, new_state: ConnectionState) {
        let _ = (client, new_state);
    }
}

impl<F: Fn(i32) + Send + Sync + 'static> SharedCountListener for F {
    fn count_has_changed(&self, new_count: i32) {
        self(new_count)
    }
}

impl Listenable<dyn SharedCountListener> {
    /// Adds a listener called on the client's event thread.
    pub fn add_listener(&self, l: impl SharedCountListener) -> ListenerId {
        self.add_arc(Arc::new(l), None)
    }

    /// Adds a listener called on `pool` (its calls stay in order).
    pub fn add_listener_with_executor(
        &self,
        l: impl SharedCountListener,
        pool: &WorkerPool,
    ) -> ListenerId {
        self.add_arc(Arc::new(l), Some(pool))
    }
}
