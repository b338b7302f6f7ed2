//! The ZooKeeper client wire protocol (jute records and op codes) for servers 3.4 through 3.9.
//!
//! Pure functions over bytes, no I/O: the session engine encodes requests and decodes replies
//! with it, and the in-process test server (`testing`) decodes requests and encodes
//! replies with the very same code. Most users never touch this module; it is public so that a
//! tool (a benchmark floor, a proxy, a test) can speak the protocol directly.
//!
//! * [`codec`]: the jute primitives, the bounds-checked [`Reader`] and the [`Record`] trait.
//! * [`consts`]: op codes, error codes, event types, keeper states, create modes, permissions, xids.
//! * records: [`header`] (handshake and headers), [`data`] (Stat, ACL), [`ops`] (every request
//!   and response body), [`multi`] (multi / multiRead), [`message`] (bodies keyed by op code).
//!
//! Decoding is total: any byte slice decodes to `Ok` or to [`Error::Protocol`](crate::Error),
//! never a panic, and no length field can size an allocation beyond the frame that holds it.
//!
//! ## What is stable
//!
//! Everything documented here follows the crate's semver: the value types the rest of the
//! API uses ([`Stat`], [`Acl`], [`Id`], [`Perms`], [`CreateMode`], [`EventType`],
//! [`KeeperState`], [`OpCode`], [`ErrorCode`], ...), and the records with their jute
//! encoding, which follow ZooKeeper's own definitions. The frame layer (reading and writing
//! length-prefixed frames, the frame size limits) is not: it lives in `proto::raw`, hidden
//! from these docs and free to change in any release, for the benchmark's raw floor and the
//! protocol tests.
//!
//! ```
//! use zk_curator::proto::{GetDataRequest, Reader, Record, Request, RequestHeader};
//! let req = Request::GetData(GetDataRequest { path: "/a".into(), watch: true });
//! let mut buf = Vec::new();
//! RequestHeader { xid: 1, op: req.op_code().code() }.encode(&mut buf);
//! req.encode(&mut buf);
//! let mut r = Reader::new(&buf);
//! let header = RequestHeader::decode(&mut r).unwrap();
//! assert_eq!(Request::decode(header.op_code().unwrap(), &mut r).unwrap(), req);
//! ```

pub mod codec;
pub mod consts;
pub mod data;
// The frame layer, for the crate itself; `raw` is its unstable public window.
pub(crate) mod frame;
pub mod header;
pub mod message;
pub mod multi;
pub mod ops;
#[doc(hidden)]
pub mod raw;

pub use codec::{Jute, Reader, Record};
pub use consts::{
    xid, AddWatchMode, CreateMode, ErrorCode, EventType, KeeperState, OpCode, Perm, Perms,
    WatcherType,
};
pub use data::{Acl, Id, Stat};
// For the crate's own readers (the session's and the TestingServer's); users reach it
// through `raw`.
pub(crate) use frame::FrameReader;
pub use header::{ConnectRequest, ConnectResponse, ReplyHeader, RequestHeader};
pub use message::{Request, Response};
pub use multi::{MultiHeader, MultiOp, MultiRequest, MultiResponse, MultiResult};
pub use ops::*;
