//! What the server does with one request frame of an established connection, without the
//! I/O: decode the header and the body, and apply it (`ops`) under the state lock. The
//! connection's reader thread (`conn`) turns the answer into bytes on its outbox; the fuzz
//! target (`__fuzz`) feeds it frames directly.

use super::ops::{self, ConnCtx};
use super::shared::State;
use crate::proto::{xid, OpCode, Reader, Record, Request, RequestHeader, Response};

/// What to do with one request.
pub(crate) enum Handled {
    /// Close the connection without an answer.
    Close,
    /// A SASL token: the connection's SASL state answers it (OK with a null token, zxid
    /// 0, when the server has no SASL users).
    Sasl { xid: i32, token: Vec<u8> },
    /// Answer with this header and body.
    Reply {
        xid: i32,
        zxid: i64,
        err: i32,
        body: Option<Response>,
        /// Close the connection once the answer is written.
        close: bool,
        /// A known op: `fail_next` may drop its answer.
        known: bool,
    },
}

/// Decodes `frame`'s header; `None` if it is malformed (the connection closes).
pub(crate) fn header(frame: &[u8]) -> Option<(RequestHeader, Reader<'_>)> {
    let mut r = Reader::new(frame);
    RequestHeader::decode(&mut r).ok().map(|h| (h, r))
}

/// Handles one request whose session owns the connection (the caller checked).
pub(crate) fn handle(
    st: &mut State,
    cx: &mut ConnCtx,
    header: RequestHeader,
    r: &mut Reader<'_>,
) -> Handled {
    let known = OpCode::try_from(header.op).ok().filter(|op| {
        !matches!(
            op,
            OpCode::Notification | OpCode::Error | OpCode::CreateSession | OpCode::DeleteContainer
        )
    });
    let Some(op) = known else {
        log::warn!(
            "connection {}: unknown op code {}; answering Unimplemented and closing",
            cx.conn,
            header.op
        );
        return Handled::Reply {
            xid: header.xid,
            zxid: -1,
            err: ops::UNIMPLEMENTED,
            body: None,
            close: true,
            known: false,
        };
    };
    let reply = match Request::decode(op, r) {
        Ok(req) => match req {
            Request::Ping => ops::Reply::err(xid::PING, 0),
            Request::Auth(a) => {
                let reply = ops::apply(st, cx, header.xid, Request::Auth(a));
                if let Some(e) = st.conns.get_mut(&cx.conn) {
                    e.auth = cx.auth.clone();
                }
                reply
            }
            // Answered by the connection, which holds the SASL exchange's state.
            Request::Sasl(s) => {
                return Handled::Sasl {
                    xid: header.xid,
                    token: s.token,
                }
            }
            Request::CreateTtl(r) if r.ttl < 0 && !matches!(r.flags, 5 | 6) => {
                // 3.8.0 accepts this in its request pipeline and then dies applying it (and
                // again replaying its log). A client sees its connection drop.
                log::warn!(
                    "connection {}: createTTL with flags {} and ttl {} would crash a 3.8.0 \
                     server; closing the connection instead",
                    cx.conn,
                    r.flags,
                    r.ttl
                );
                return Handled::Close;
            }
            req => ops::apply(st, cx, header.xid, req),
        },
        Err(e) => {
            log::warn!("connection {}: cannot decode {op:?}: {e}", cx.conn);
            if op.is_write() {
                st.next_zxid();
            }
            ops::Reply::err(header.xid, ops::MARSHALLING)
        }
    };
    Handled::Reply {
        xid: reply.xid,
        zxid: reply.zxid_override.unwrap_or(st.zxid),
        err: reply.err,
        body: reply.body.filter(|_| reply.err == 0),
        close: reply.close,
        known: true,
    }
}
