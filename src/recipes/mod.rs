//! Curator's recipes over the [framework](crate::framework), with the same znode layouts as
//! Java Curator so that Rust and Java processes share them.

pub mod cache;
pub mod leader;
pub mod locks;
pub mod queue;
pub mod reaper;
mod watch;

pub use watch::{PersistentWatcher, ResetListener};
