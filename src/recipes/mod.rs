//! Curator's recipes over the [framework](crate::framework), with the same znode layouts as
//! Java Curator so that Rust and Java processes share them.

pub mod atomic;
pub mod barriers;
pub mod cache;
pub mod nodes;
mod exact;
pub mod shared;
mod watch;

pub use watch::{PersistentWatcher, ResetListener};
