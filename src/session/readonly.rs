//! Read-only mode: while connected to a read-only server (a partitioned minority running with
//! `readonlymode.enabled`), a probe thread (`zk-ro-probe`) asks the other hosts `isro` — first
//! after 100 ms, then doubling up to 60 s — and, when one answers `rw`, tells the I/O thread
//! to move there.
//!
//! The probe over TLS is tested with the TestingServer that answers it (`testing::server`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Weak};
use std::thread;
use std::time::Duration;

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError};

use super::hosts::HostPort;
use super::shared::SessionShared;
use super::stream::{Stream, Transport};

impl SessionShared {
    /// Starts probing for a read-write server (a no-op if a probe already runs).
    pub(crate) fn start_ro_probe(self: &Arc<Self>, current: HostPort, hosts: Vec<HostPort>) {
        let mut slot = self.ro_probe.lock();
        if slot.is_some() || hosts.len() < 2 {
            return;
        }
        let (tx, rx) = bounded(1);
        let weak = Arc::downgrade(self);
        let spawned = thread::Builder::new()
            .name("zk-ro-probe".into())
            .spawn(move || probe(weak, current, hosts, rx));
        match spawned {
            Ok(_) => *slot = Some(tx),
            Err(e) => log::warn!("cannot start the read-only probe: {e}"),
        }
    }

    /// Stops the probe (dropping its channel ends its sleep at once).
    pub(crate) fn stop_ro_probe(&self) {
        self.ro_probe.lock().take();
    }

    /// The read-write server the probe found, if any (taken once).
    pub(crate) fn take_rw_found(&self) -> Option<HostPort> {
        self.rw_found.lock().take()
    }
}

fn probe(core: Weak<SessionShared>, current: HostPort, hosts: Vec<HostPort>, stop: Receiver<()>) {
    let mut delay = Duration::from_millis(100);
    loop {
        match stop.recv_timeout(delay) {
            Err(RecvTimeoutError::Timeout) => {}
            _ => return,
        }
        // Over TLS when the session uses TLS: a secure port answers nothing else.
        let Some(transport) = core.upgrade().map(|c| c.cfg.transport.clone()) else {
            return;
        };
        for h in hosts.iter().filter(|h| **h != current) {
            if isro(h, &transport).as_deref() == Some("rw") {
                if let Some(c) = core.upgrade() {
                    *c.rw_found.lock() = Some(h.clone());
                    c.ro_probe.lock().take();
                }
                return;
            }
        }
        delay = (delay * 2).min(Duration::from_secs(60));
    }
}

/// Asks a server whether it is read-only (`rw`, `ro`, or `null` when not serving), over
/// the session's transport (TLS included).
pub(crate) fn isro(h: &HostPort, transport: &Transport) -> Option<String> {
    let timeout = Duration::from_secs(1);
    for addr in h.resolve().unwrap_or_default() {
        let Ok(tcp) = TcpStream::connect_timeout(&addr, timeout) else {
            continue;
        };
        let _ = tcp.set_read_timeout(Some(timeout));
        let _ = tcp.set_write_timeout(Some(timeout));
        let Ok(s) = Stream::open(tcp, transport, &h.host) else {
            continue;
        };
        if (&s).write_all(b"isro").is_err() {
            continue;
        }
        let mut out = Vec::new();
        let _ = (&s).take(64).read_to_end(&mut out);
        return Some(String::from_utf8_lossy(&out).trim().to_string());
    }
    None
}
