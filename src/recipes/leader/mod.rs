//! Leader election, with Curator's znode layouts so that Rust and Java processes take part
//! in one election:
//!
//! * [`LeaderLatch`]: every participant holds a `latch-` node; the first one leads until it
//!   closes or loses its session. Ask [`has_leadership`](LeaderLatch::has_leadership), wait
//!   with [`await_leadership`](LeaderLatch::await_leadership), or listen
//!   ([`LeaderLatchListener`]).
//! * [`Participant`]: a contender as any process can see it (its id and whether it leads).
//!
//! Layout (Curator 5.x): `P/_c_<uuid>-latch-<seq>`, ephemeral sequential, protected, data =
//! the participant id as UTF-8; sorted by the text after the last `latch-`.

mod latch;
mod participant;

pub use latch::{
    CloseMode, LeaderLatch, LeaderLatchBuilder, LeaderLatchListener, LeaderLatchState,
    LATCH_NODE_NAME,
};
pub use participant::Participant;

use crate::framework::CuratorFramework;

/// Runs `f` on the client's event thread (at once when already there): the leader recipes
/// keep their protocol steps and listener calls there, in one order.
pub(crate) fn on_event_thread(client: &CuratorFramework, f: impl FnOnce() + Send + 'static) {
    let d = client.event_dispatcher();
    if d.is_event_thread() {
        f()
    } else {
        d.post(f)
    }
}
