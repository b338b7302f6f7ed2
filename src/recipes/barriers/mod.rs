//! Barriers (Curator's `recipes.barriers`), with Curator's layouts:
//!
//! * [`DistributedBarrier`]: processes wait while a node exists; whoever holds the barrier
//!   removes it to let them all through.
//! * [`DistributedDoubleBarrier`]: a group of `n` members waits until all `n` have entered,
//!   computes, and waits again until all have left. Members are ephemeral `<path>/<uuid>`
//!   nodes; the last to arrive creates `<path>/ready`.
//!
//! Every wait re-checks the server after each wake-up (a watch, a reconnection, a new session)
//! instead of trusting the wake-up itself, so a notification that is not the awaited change, or
//! a watch lost with a session, never lets anyone through early or keeps them waiting forever.

mod barrier;
mod double;
mod wake;

pub use barrier::DistributedBarrier;
pub use double::DistributedDoubleBarrier;
