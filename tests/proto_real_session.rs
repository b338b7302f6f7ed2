//! The codec against real ZooKeeper 3.8, session operations over a raw connection
//! ([`RawConn`]): the handshake with and without the read-only byte, resume and expired
//! resume, auth (xid -4), whoAmI and ACLs, ping (xid -2), closeSession, reconfig refused, an
//! unknown op code.

mod support;

use support::raw::{create_req, get_data};
use support::{unique_root, RawConn, RealServer};
use zk_curator::proto::*;
use zk_curator::Error;

fn server() -> Option<&'static RealServer> {
    RealServer::shared()
}

#[test]
fn handshake_with_and_without_the_read_only_byte() {
    let Some(zk) = server() else { return };
    let req = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        timeout: 30_000,
        session_id: 0,
        passwd: vec![0; 16],
        read_only: Some(false),
    };
    assert_eq!(req.to_bytes().len(), 45);
    let (conn, len) = RawConn::handshake(zk.port(), &req);
    assert_eq!(len, 37);
    let s = &conn.session;
    assert_eq!(s.protocol_version, 0);
    assert_eq!(s.timeout, 30_000);
    assert_ne!(s.session_id, 0);
    assert_eq!(s.passwd.len(), 16);
    assert_eq!(s.read_only, Some(false));

    let (old, len) = RawConn::handshake(
        zk.port(),
        &ConnectRequest {
            read_only: None,
            ..req.clone()
        },
    );
    assert_eq!(len, 36);
    assert_eq!(old.session.read_only, None);
    assert!(!old.session.is_read_only());

    // Resuming with the id and password keeps the session.
    let resume = ConnectRequest {
        session_id: s.session_id,
        passwd: s.passwd.clone(),
        ..req.clone()
    };
    let (again, _) = RawConn::handshake(zk.port(), &resume);
    assert_eq!(again.session.session_id, s.session_id);
    assert!(!again.session.is_expired());

    // A wrong password is answered as an expired session, then the socket is closed.
    let mut bad_pw = resume.passwd.clone();
    bad_pw[0] ^= 0xff;
    let (mut bad, len) = RawConn::handshake(
        zk.port(),
        &ConnectRequest {
            passwd: bad_pw,
            ..resume
        },
    );
    assert_eq!(len, 37);
    assert!(bad.session.is_expired());
    assert_eq!(bad.session.session_id, 0);
    assert_eq!(bad.session.passwd, vec![0; 16]);
    bad.expect_closed();
}

#[test]
fn auth_who_am_i_and_acls() {
    let Some(zk) = server() else { return };
    let mut c = RawConn::connect(zk.port());
    let root = unique_root("acl");
    c.ok(Request::Create(create_req(&root, None, 0)));

    let auth = Request::Auth(AuthPacket {
        auth_type: 0,
        scheme: "digest".into(),
        auth: b"u:p".to_vec(),
    });
    let (h, body) = c
        .call_with_xid(xid::AUTH, &auth)
        .expect("a reply")
        .into_parts();
    assert_eq!(
        (h.xid, h.zxid, h.err, body),
        (-4, 0, 0, Some(Response::Empty))
    );

    let Response::WhoAmI(w) = c.ok(Request::WhoAmI) else {
        panic!("WhoAmIResponse")
    };
    let ids: Vec<(&str, &str)> = w
        .client_info
        .iter()
        .map(|i| (i.auth_scheme.as_str(), i.user.as_str()))
        .collect();
    assert!(ids.contains(&("ip", "127.0.0.1")), "{ids:?}");
    assert!(ids.contains(&("digest", "u")), "{ids:?}");

    // auth: resolves to the session's digest identity.
    let p = format!("{root}/mine");
    let mut req = create_req(&p, Some(b"secret"), 0);
    req.acl = Acl::creator_all();
    c.ok(Request::Create(req));
    let Response::GetAcl(a) = c.ok(Request::GetAcl(GetAclRequest { path: p.clone() })) else {
        panic!("GetAclResponse")
    };
    assert_eq!(a.acl.len(), 1);
    assert_eq!(
        (a.acl[0].perms, a.acl[0].id.scheme.as_str()),
        (Perms::ALL, "digest")
    );
    // digest:u:base64(sha1("u:p")), 28 characters of hash.
    assert!(
        a.acl[0].id.id.starts_with("u:") && a.acl[0].id.id.len() == 30,
        "{:?}",
        a.acl
    );
    assert_eq!(a.stat.aversion, 0);

    // Another session without the identity may not read it.
    let mut other = RawConn::connect(zk.port());
    let code = other.err(get_data(&p));
    assert!(matches!(Error::from_code(code, &p), Error::NoAuth { .. }));

    let set_acl = |acl: Vec<Acl>, version| {
        Request::SetAcl(SetAclRequest {
            path: p.clone(),
            acl,
            version,
        })
    };
    assert_eq!(c.err(set_acl(Acl::open_unsafe(), 7)), -103);
    assert_eq!(c.err(set_acl(vec![], -1)), -114);
    let Response::SetAcl(s) = c.ok(set_acl(Acl::read_unsafe(), 0)) else {
        panic!("SetAclResponse")
    };
    assert_eq!(s.stat.aversion, 1);
    // Without ADMIN now, even the creator may not change it back.
    assert_eq!(c.err(set_acl(Acl::open_unsafe(), 1)), -102);
    let Response::GetData(d) = other.ok(get_data(&p)) else {
        panic!("readable now")
    };
    assert_eq!(d.data.as_deref(), Some(&b"secret"[..]));
}

#[test]
fn reconfig_is_refused_when_disabled() {
    let Some(zk) = server() else { return };
    let mut c = RawConn::connect(zk.port());
    let code = c.err(Request::Reconfig(ReconfigRequest {
        joining_servers: Some("server.9=127.0.0.1:1:2;3".into()),
        leaving_servers: None,
        new_members: None,
        cur_config_id: -1,
    }));
    assert!(matches!(
        Error::from_code(code, "/"),
        Error::ReconfigDisabled { .. }
    ));
}

#[test]
fn ping_then_close_session() {
    let Some(zk) = server() else { return };
    let mut c = RawConn::connect(zk.port());
    let root = unique_root("close");
    let (h, _) = c
        .call(Request::Create(create_req(&root, None, 1)))
        .expect("a reply")
        .into_parts();
    assert_eq!(h.err, 0);
    let (p, body) = c
        .call_with_xid(xid::PING, &Request::Ping)
        .expect("a reply")
        .into_parts();
    assert_eq!((p.xid, p.err, body), (-2, 0, Some(Response::Empty)));
    assert!(
        p.zxid >= h.zxid,
        "ping reply carries the last processed zxid"
    );

    let (h, body) = c
        .call(&Request::CloseSession)
        .expect("a reply")
        .into_parts();
    assert_eq!((h.err, body), (0, Some(Response::Empty)));
    c.expect_closed();

    // The session is over: its ephemeral node is gone and it cannot be resumed.
    let mut other = RawConn::connect(zk.port());
    assert_eq!(other.err(get_data(&root)), -101);
    let (resumed, _) = RawConn::handshake(
        zk.port(),
        &ConnectRequest {
            timeout: 30_000,
            session_id: c.session.session_id,
            passwd: c.session.passwd.clone(),
            read_only: Some(false),
            ..ConnectRequest::default()
        },
    );
    assert!(resumed.session.is_expired());
}

#[test]
fn unknown_op_code_is_unimplemented_and_closes() {
    let Some(zk) = server() else { return };
    let mut c = RawConn::connect(zk.port());
    c.send_raw(RequestHeader { xid: 1, op: 999 }, &[])
        .expect("send");
    let (h, _) = c.read_reply().expect("a reply");
    assert_eq!((h.xid, h.zxid, h.err), (1, -1, -6));
    assert!(matches!(
        Error::from_code(h.err, ""),
        Error::Unimplemented { .. }
    ));
    c.expect_closed();
}
