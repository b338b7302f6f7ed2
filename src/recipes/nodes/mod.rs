//! Nodes that look after themselves (Curator's `recipes.nodes`), with Curator's layouts:
//!
//! * [`PersistentNode`]: a node (of any create mode) kept in place through session losses and
//!   deletions by others until closed.
//! * [`PersistentTtlNode`]: a container kept alive by a TTL child that is touched periodically;
//!   when the process stops touching it, the server removes both after the TTL.
//! * [`GroupMember`]: group membership: an ephemeral `<group>/<id>` node plus a cache of the
//!   group, so a member sees everyone (Java members included).
//!
//! Layering, bottom up (a module uses only those before it; `.ci/import_loops.py` checks):
//! builder, state (what a node's handle, passes and timer jobs share); pass; persistent
//! (the node, with the builder's `build`); group, ttl.

mod builder;
mod group;
mod pass;
mod persistent;
mod state;
mod ttl;

pub use builder::PersistentNodeBuilder;
pub use group::GroupMember;
pub use persistent::PersistentNode;
pub use state::PersistentNodeListener;
pub use ttl::PersistentTtlNode;
