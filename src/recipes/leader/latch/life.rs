//! The latch as its user drives it: start, close, ask and wait. The protocol these set in
//! motion is in [`engine`](super::engine).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::engine::Inner;
use super::{CloseMode, LeaderLatchState};
use crate::error::{Error, Result};
use crate::framework::ConnectionState;
use crate::recipes::on_event_thread;

impl Inner {
    pub(super) fn start(self: &Arc<Self>) -> Result<()> {
        {
            let mut standing = self.standing.lock();
            match standing.state {
                LeaderLatchState::Latent => standing.state = LeaderLatchState::Started,
                LeaderLatchState::Started => {
                    return Err(Error::InvalidArgument(format!(
                        "the LeaderLatch on {} was already started",
                        self.path
                    )))
                }
                LeaderLatchState::Closed => return Err(self.closed_error()),
            }
        }
        self.client
            .add_weak_state_listener(self, &self.state_listener, |inner, _c, s| inner.on_state(s));
        // Joins now if connected; otherwise the first Connected does (Curator's
        // AfterConnectionEstablished), so the create is not spent on a dead connection.
        let me = self.clone();
        on_event_thread(&self.client, move || {
            if me.connected_as_delivered() {
                me.recheck();
            }
        });
        Ok(())
    }

    pub(super) fn close(self: &Arc<Self>, mode: CloseMode) -> Result<()> {
        let (node, was_leader) = {
            let mut standing = self.standing.lock();
            if standing.state != LeaderLatchState::Started {
                return Err(match standing.state {
                    LeaderLatchState::Closed => self.closed_error(),
                    _ => Error::InvalidArgument(format!(
                        "the LeaderLatch on {} was never started",
                        self.path
                    )),
                });
            }
            standing.state = LeaderLatchState::Closed;
            standing.generation += 1;
            standing.owner = None;
            let was = std::mem::replace(&mut standing.leader, false);
            self.changed.notify_all();
            (standing.our_path.take(), was)
        };
        match mode {
            CloseMode::Silent => self.listeners.clear(),
            CloseMode::NotifyLeader => {
                if was_leader {
                    self.notify(false);
                }
                // After the notification just queued (listener calls go through the event
                // thread in order).
                let me = self.clone();
                on_event_thread(&self.client, move || me.listeners.clear());
            }
        }
        // The node first: its deletion is what hands leadership over. Its own watch fires
        // with it, so removing the watches afterwards costs no request for that one.
        if let Some(node) = node {
            self.delete(node);
        }
        self.client.remove_watchers();
        self.client.remove_state_listener(&self.state_listener);
        Ok(())
    }

    pub(super) fn has_leadership(&self) -> bool {
        let (leader, owner) = {
            let standing = self.standing.lock();
            (
                standing.state == LeaderLatchState::Started && standing.leader,
                standing.owner,
            )
        };
        leader && self.live(owner)
    }

    /// Waits for leadership until `deadline` (`None`: forever); `Ok(false)` on timeout.
    pub(super) fn await_leadership(&self, deadline: Option<Instant>) -> Result<bool> {
        let mut standing = self.standing.lock();
        loop {
            match standing.state {
                LeaderLatchState::Started => {}
                LeaderLatchState::Closed => return Err(self.closed_error()),
                LeaderLatchState::Latent => {
                    return Err(Error::InvalidArgument(format!(
                        "the LeaderLatch on {} is not started",
                        self.path
                    )))
                }
            }
            // The flag is set, but the connection may be down right now (the Suspended
            // event not handled yet): look again shortly rather than wait for a change.
            let mut slice = None;
            if standing.leader {
                if self.live(standing.owner) {
                    return Ok(true);
                }
                slice = Some(Instant::now() + Duration::from_millis(10));
            }
            let until = match (deadline, slice) {
                (Some(d), Some(s)) => Some(d.min(s)),
                (d, s) => d.or(s),
            };
            match until {
                Some(t) => {
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        return Ok(false);
                    }
                    self.changed.wait_until(&mut standing, t);
                }
                None => self.changed.wait(&mut standing),
            }
        }
    }

    pub(super) fn closed_error(&self) -> Error {
        Error::InvalidArgument(format!("the LeaderLatch on {} is closed", self.path))
    }

    /// The live view (the handle's own state, not the events delivered so far): the current
    /// session owns our node, and the connection is up or its loss is not an error under
    /// the client's policy.
    pub(super) fn live(&self, owner: Option<i64>) -> bool {
        let Ok(h) = self.client.zookeeper_client().zookeeper() else {
            return false;
        };
        owner == Some(h.session_id())
            && (h.state().is_connected()
                || !self
                    .client
                    .connection_state_error_policy()
                    .is_error_state(ConnectionState::Suspended))
    }

    /// Connected as far as the states delivered so far go. Called on the event thread, this
    /// is in step with the state listener: false means a `Connected` or `Reconnected` is
    /// still to come (and will check), true means it has been handled. The handle's own
    /// state would not do: it turns connected only after the event is posted.
    pub(super) fn connected_as_delivered(&self) -> bool {
        self.client
            .connection_state()
            .is_some_and(ConnectionState::is_connected)
    }
}
