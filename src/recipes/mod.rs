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
