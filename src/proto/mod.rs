//! The ZooKeeper client wire protocol (jute records and op codes) for servers 3.4 through 3.9.
//!
//! Pure functions over bytes, no I/O: the session engine encodes requests and decodes replies
//! with it, and the in-process test server (`testing`) decodes requests and encodes
//! replies with the very same code. Most users never touch this module; it is public so that a
//! tool (a benchmark floor, a proxy, a test) can speak the protocol directly.
//!
//! * [`codec`]: the jute primitives, the bounds-checked [`Reader`] and the [`Record`] trait.
//! * [`frame`]: length-prefixed frames, [`FrameReader`] and the frame encoders.
//! * [`consts`]: op codes, error codes, event types, keeper states, create modes, permissions, xids.
//! * records: [`header`] (handshake and headers), [`data`] (Stat, ACL), [`ops`] (every request
//!   and response body), [`multi`] (multi / multiRead), [`message`] (bodies keyed by op code).
//!
//! Decoding is total: any byte slice decodes to `Ok` or to [`Error::Protocol`](crate::Error),
//! never a panic, and no length field can size an allocation beyond the frame that holds it.
//!
//! ```
//! use zk_curator::proto::{frame, GetDataRequest, Reader, Record, Request, RequestHeader};
//! let mut buf = Vec::new();
//! let req = Request::GetData(GetDataRequest { path: "/a".into(), watch: true });
//! frame::encode_request(&mut buf, 1, &req);
//! let mut r = Reader::new(&buf[4..]);
//! let header = RequestHeader::decode(&mut r).unwrap();
//! assert_eq!(Request::decode(header.op_code().unwrap(), &mut r).unwrap(), req);
//! ```

pub mod codec;
pub mod consts;
pub mod data;
pub mod frame;
pub mod header;
pub mod message;
pub mod multi;
pub mod ops;

pub use codec::{Jute, Reader, Record};
pub use consts::{
    xid, AddWatchMode, CreateMode, ErrorCode, EventType, KeeperState, OpCode, Perm, Perms,
    WatcherType,
};
pub use data::{Acl, Id, Stat};
pub use frame::FrameReader;
pub use header::{ConnectRequest, ConnectResponse, ReplyHeader, RequestHeader};
pub use message::{Request, Response};
pub use multi::{MultiHeader, MultiOp, MultiRequest, MultiResponse, MultiResult};
pub use ops::*;
