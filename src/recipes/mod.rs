//! Curator's recipes over the [framework](crate::framework), with the same znode layouts as
//! Java Curator so that Rust and Java processes share them.

pub mod atomic;
pub mod barriers;
pub mod cache;
mod exact;
pub mod leader;
pub mod locks;
pub mod nodes;
pub mod queue;
pub mod reaper;
pub mod shared;
mod watch;

pub use watch::{PersistentWatcher, ResetListener};

use crate::framework::CuratorFramework;

/// Runs `f` on the client's event thread (at once when already there). The caches apply
/// every change and issue every watched read there, which keeps reads, changes and their
/// watch bookkeeping in one order; the leader recipes keep their protocol steps and
/// listener calls there for the same reason.
pub(crate) fn on_event_thread(client: &CuratorFramework, f: impl FnOnce() + Send + 'static) {
    let d = client.event_dispatcher();
    if d.is_event_thread() {
        f()
    } else {
        d.post(f)
    }
}
