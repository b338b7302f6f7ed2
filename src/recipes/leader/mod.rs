//! Leader election, with Curator's znode layouts so that Rust and Java processes take part
//! in one election:
//!
//! * [`LeaderLatch`]: every participant holds a `latch-` node; the first one leads until it
//!   closes or loses its session. Ask [`has_leadership`](LeaderLatch::has_leadership), wait
//!   with [`await_leadership`](LeaderLatch::await_leadership), or listen
//!   ([`LeaderLatchListener`]).
//! * [`LeaderSelector`]: participants queue on Curator's mutex; the one holding it leads
//!   while its [`LeaderSelectorListener::take_leadership`] runs, on the selector's thread,
//!   and can be cancelled through its [`Leadership`] flag.
//! * [`Participant`]: a contender as any process can see it (its id and whether it leads).
//!
//! Layouts (Curator 5.x), under the election path `P`, every node ephemeral sequential and
//! protected, data = the participant id as UTF-8, sorted by the text after the last marker:
//!
//! | Recipe | Nodes |
//! |---|---|
//! | [`LeaderLatch`] | `P/_c_<uuid>-latch-<seq>` |
//! | [`LeaderSelector`] | `P/_c_<uuid>-lock-<seq>` (an `InterProcessMutex`'s nodes) |
//!
//! Both recipes give leadership up when the connection is suspended or the session lost
//! (as the client's [`ConnectionStateErrorPolicy`](crate::framework::ConnectionStateErrorPolicy)
//! says), check that their node belongs to their current session before leading, and
//! report leadership through a live view of the connection, so two participants never lead
//! at once as far as the server's view of sessions allows.

mod latch;
mod participant;
mod selector;

pub use latch::{
    CloseMode, LeaderLatch, LeaderLatchBuilder, LeaderLatchListener, LeaderLatchState,
    LATCH_NODE_NAME,
};
pub use participant::Participant;
pub use selector::{
    CancelLeadership, LeaderSelector, LeaderSelectorBuilder, LeaderSelectorListener, Leadership,
};
