//! The session engine: one connection to an ensemble, the threads that serve it, the pending
//! request FIFO, the watch registry, the event thread and the worker pool. The low-level
//! [`ZooKeeper`](crate::ZooKeeper) handle is a thin layer over it.
//!
//! # Threads and data flow
//!
//! ```text
//!   caller threads                 zk-io (one per connection)          zk-event (one)
//!   ──────────────                 ──────────────────────────          ──────────────
//!   sync call ──┐                  blocking read of frames             runs, in order:
//!   async call ─┤ writer lock:     │                                    · watchers
//!               │ xid, FIFO push,  ├─ reply ──► pop FIFO head,          · async callbacks
//!               │ write(socket) ───┤            check xid, register     · state changes
//!               │                  │            watch, then:            │
//!   sync caller ◄───── one-shot ───┤  ◄── sync: wake the caller         │
//!   waits       │                  │      async: ─────────────────────► │
//!               │                  ├─ notification (xid -1) ──────────► │
//!               │                  ├─ idle: ping; silent: reconnect     │
//!               │                  └─ lost: fail FIFO (ConnectionLoss), │
//!                                     Disconnected ───────────────────► │
//!                                                                       └─► WorkerPool
//!                                                                           (offloaded
//!                                                                           watchers)
//! ```
//!
//! * **zk-io** owns the socket's read side: it reads frames through a buffered
//!   [`FrameReader`](crate::proto::FrameReader), completes requests, turns notifications into
//!   events, pings when idle (after a third of the session timeout; the connection counts as
//!   lost after two thirds without a byte) and reconnects: to the next host, with the session
//!   id, password and last zxid seen, replaying auth and restoring every watch with
//!   SetWatches/SetWatches2 before queued requests go out. It never runs user code. A frame
//!   with a header no server sends (an error code out of range, a zxid that cannot be right:
//!   see `zxid`, a ping or SetWatches reply out of turn) is corrupt and ends the connection,
//!   as one that does not decode; after 4/3 of the session timeout without hearing a server
//!   the session is reported `Expired`.
//! * **Sending** happens on the caller's thread under a short lock that assigns the xid,
//!   pushes the FIFO entry and writes the frame, so a synchronous call costs no thread hop.
//!   Concurrent callers share writes; an asynchronous request made behind others in flight
//!   is written by zk-io after their next replies, batched with its neighbours (Nagle's
//!   rule, bounded; see `shared`).
//!   Requests made while disconnected wait in a queue, bounded by the request timeout (and
//!   by a framework operation's connection deadline), and go out after the reconnect; requests on the wire when a connection dies fail with
//!   `ConnectionLoss`.
//! * **Synchronous replies** go from zk-io straight to the waiting caller, never through the
//!   event thread, so a watcher or callback may call the client synchronously.
//! * **zk-event** runs watchers, async completions and state changes one at a time, in the
//!   order zk-io produced them, which is the server's order. Its channel is unbounded and
//!   never drops an item. A panicking callback is caught, logged and counted.
//! * **WorkerPool** threads (`zk-worker-N`) run offloaded watchers: per-path order, parallel
//!   across paths.
//!
//! * **TLS and SASL** change none of this. The connection is a `stream::Stream`, plain or
//!   (feature `tls`) TLS: zk-io reads it, callers write it under the same writer lock, and
//!   encryption happens under a short lock of the TLS state that is never held during I/O
//!   (`tls::stream`). The TLS handshake is part of a connection attempt; SASL runs on zk-io
//!   after the handshake and before the connection is installed (`sasl`), so no request
//!   overtakes it.
//!
//! No crate lock is held while user code runs. Threads are named, owned and joined on close.
//!
//! Layering, bottom up (a module uses only those before it; `.ci/import_loops.py` checks):
//! hosts, outage, stall, stream, watcher, zxid; events (the event thread, the `Reply` it
//! delivers and the cork list), registry; pending, pool; shared (the state callers and zk-io
//! share); readonly, sasl; io.

pub(crate) mod events;
pub(crate) mod hosts;
pub(crate) mod io;
pub(crate) mod outage;
pub(crate) mod pending;
pub(crate) mod pool;
pub(crate) mod readonly;
pub(crate) mod registry;
#[cfg(feature = "sasl")]
pub(crate) mod sasl;
pub(crate) mod shared;
pub(crate) mod stall;
pub(crate) mod stream;
pub(crate) mod watcher;
pub(crate) mod zxid;

pub use events::EventDispatcher;
pub use pool::WorkerPool;
pub use shared::States;
pub use watcher::{node_events, NodeEvent, SharedWatcher, WatchedEvent, Watcher};
