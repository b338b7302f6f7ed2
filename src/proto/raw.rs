//! **Unstable: not covered by semver.** The frame layer of the protocol, for the benchmark's
//! raw floor (`examples/zk-curator-bench`, `--client raw` and `raw-hop`) and for protocol
//! tests: reading length-prefixed frames ([`FrameReader`]), writing whole request, reply and
//! record frames (`encode_*`, `begin_frame` / `end_frame`) and the frame size limits.
//!
//! The module is hidden from the documentation and may change or go away in any release,
//! minor and patch included, as ureq's `unversioned`: a client speaks ZooKeeper through
//! [`ZooKeeper`](crate::ZooKeeper) or [`CuratorFramework`](crate::CuratorFramework), and
//! needs none of this. The records these functions write (the rest of [`proto`](super))
//! are the stable part.
//!
//! ```
//! use zk_curator::proto::raw::{encode_request, FrameReader, DEFAULT_MAX_FRAME};
//! use zk_curator::proto::{GetDataRequest, Request};
//! let mut wire = Vec::new();
//! let req = Request::GetData(GetDataRequest { path: "/a".into(), watch: false });
//! let len = encode_request(&mut wire, 7, &req);
//! let mut frames = FrameReader::new(DEFAULT_MAX_FRAME);
//! assert_eq!(frames.read_frame(&mut &wire[..])?.len(), len);
//! # Ok::<(), std::io::Error>(())
//! ```

pub use super::frame::{
    begin_frame, check_frame_len, encode_record_frame, encode_reply, encode_request, end_frame,
    FrameReader, DEFAULT_MAX_FRAME, FRAME_SLACK, MAX_PACKET,
};
