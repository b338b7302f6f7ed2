//! SASL on a fresh connection: the I/O thread runs the DIGEST-MD5 exchange
//! ([`auth::sasl`](crate::auth)) in ZooKeeper's `sasl` packets right after the handshake,
//! before the connection is installed, so no other request can overtake it (the Java client
//! holds its queue back the same way) and no caller writes meanwhile.
//!
//! A refusal (the server answers `AuthFailed`, or the mechanism finds the server's answer
//! wrong) ends the handle in `AuthFailed`, as in Java: no retry loop hammers a server with a
//! wrong password. Log lines name the user, never the password.

use std::io::Write;
use std::time::Instant;

use super::shared::SessionShared;
use super::stream::Stream;
use crate::auth::sasl::{new_nonce, DigestMd5};
use crate::auth::SaslDigest;
use crate::proto::frame::encode_request;
use crate::proto::{
    ErrorCode, FrameReader, GetSaslRequest, Reader, Record, ReplyHeader, Request, SetSaslResponse,
};

/// DIGEST-MD5 takes two round trips; a server that wants more is not speaking it.
const MAX_ROUNDS: usize = 4;

/// How the exchange ended, if not in success.
#[derive(Debug)]
pub(crate) enum SaslError {
    /// The credentials were refused (or the server could not prove it knows them): the
    /// handle must die in `AuthFailed`.
    Refused(String),
    /// The connection broke or timed out: try again on the next connection.
    Lost(String),
}

/// Authenticates the connection as `creds.user`; bounded by `deadline`.
pub(crate) fn authenticate(
    core: &SessionShared,
    stream: &Stream,
    reader: &mut FrameReader,
    creds: &SaslDigest,
    deadline: Instant,
) -> Result<(), SaslError> {
    // Without random bytes there is no safe nonce; the next connection tries again.
    let cnonce = new_nonce().map_err(SaslError::Lost)?;
    let mut mech = DigestMd5::new(&creds.user, &creds.password, cnonce);
    // DIGEST-MD5 has no initial response: an empty token asks for the challenge.
    let mut token = Vec::new();
    for _ in 0..MAX_ROUNDS {
        let xid = core.take_xid();
        let mut frame = Vec::with_capacity(64 + token.len());
        encode_request(&mut frame, xid, &Request::Sasl(GetSaslRequest { token }));
        (&*stream)
            .write_all(&frame)
            .map_err(|e| SaslError::Lost(format!("sending a SASL token: {e}")))?;
        let (header, body) = read_reply(stream, reader, deadline)?;
        if header.xid != xid {
            return Err(SaslError::Lost(format!(
                "expected the reply to SASL xid {xid}, got xid {}",
                header.xid
            )));
        }
        match ErrorCode::try_from(header.err) {
            Ok(ErrorCode::Ok) => {}
            Ok(ErrorCode::AuthFailed) => {
                return Err(SaslError::Refused(
                    "the server refused the credentials (wrong user name or password)".into(),
                ))
            }
            Ok(ErrorCode::SessionClosedRequireSaslAuth) => {
                return Err(SaslError::Refused(
                    "the server requires SASL authentication and refused this client's".into(),
                ))
            }
            _ => {
                return Err(SaslError::Refused(format!(
                    "the server answered the SASL token with error {}",
                    header.err
                )))
            }
        }
        let server = SetSaslResponse::decode(&mut Reader::new(&body))
            .map_err(|e| SaslError::Lost(format!("malformed SASL reply: {e}")))?
            .token;
        match mech.step(&server) {
            Ok(Some(next)) => token = next,
            Ok(None) if mech.is_complete() => return Ok(()),
            Ok(None) => return Err(SaslError::Refused("the exchange stopped early".into())),
            Err(why) => return Err(SaslError::Refused(why)),
        }
    }
    Err(SaslError::Refused(format!(
        "no agreement after {MAX_ROUNDS} rounds"
    )))
}

/// Reads the next reply, waiting through the socket's short read timeouts until `deadline`.
fn read_reply(
    stream: &Stream,
    reader: &mut FrameReader,
    deadline: Instant,
) -> Result<(ReplyHeader, Vec<u8>), SaslError> {
    loop {
        match reader.read_frame(&mut &*stream) {
            Ok(frame) => {
                let mut r = Reader::new(frame);
                let h = ReplyHeader::decode(&mut r)
                    .map_err(|e| SaslError::Lost(format!("malformed SASL reply: {e}")))?;
                return Ok((h, r.rest().to_vec()));
            }
            Err(e) if super::stream::is_timeout(&e) => {
                if Instant::now() >= deadline {
                    return Err(SaslError::Lost("no answer to a SASL token in time".into()));
                }
            }
            Err(e) => return Err(SaslError::Lost(format!("reading a SASL reply: {e}"))),
        }
    }
}
