//! What the I/O thread learns while it cannot connect: every host tried since the last
//! connection and why it failed. An operation that gives up waiting for a connection reports
//! it ([`Error::hosts_tried`](crate::Error::hosts_tried)), and each failing host is logged at
//! `warn!` once per outage instead of on every attempt.
//!
//! The I/O thread writes it ([`io`](super::io)); callers read it through
//! `SessionShared::connection_loss` (in `shared`).

use std::sync::Arc;

use crate::error::{HostFailure, HostFailureKind};

/// The hosts that failed since the last connection (the I/O thread's record).
#[derive(Debug, Default)]
pub(crate) struct Outage {
    failures: Vec<HostFailure>,
    /// The host being tried right now.
    trying: Option<String>,
}

impl Outage {
    /// An attempt on `host` begins.
    pub(crate) fn trying(&mut self, host: String) {
        self.trying = Some(host);
    }

    /// Records a failed attempt; true when `host` had not failed yet in this outage (the
    /// I/O thread logs that one at `warn!`, later ones at `debug!`).
    pub(crate) fn failed(&mut self, host: &str, kind: HostFailureKind) -> bool {
        self.trying = None;
        match self.failures.iter_mut().find(|f| f.host == host) {
            Some(f) => {
                f.kind = kind;
                false
            }
            None => {
                self.failures.push(HostFailure {
                    host: host.to_string(),
                    kind,
                });
                true
            }
        }
    }

    /// Connected: the outage is over. Returns how many hosts had failed in it.
    pub(crate) fn connected(&mut self) -> usize {
        self.trying = None;
        std::mem::take(&mut self.failures).len()
    }

    /// The hosts as an operation giving up now reports them: each failed host with its
    /// last reason, then the host still being tried, as timed out. `None` if there is
    /// nothing to say.
    pub(crate) fn snapshot(&self) -> Option<Arc<[HostFailure]>> {
        let mut hosts = self.failures.clone();
        if let Some(t) = &self.trying {
            if !hosts.iter().any(|f| &f.host == t) {
                hosts.push(HostFailure {
                    host: t.clone(),
                    kind: HostFailureKind::TimedOut,
                });
            }
        }
        if hosts.is_empty() {
            None
        } else {
            Some(hosts.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_entry_per_host_with_its_last_reason_and_the_attempt_in_progress() {
        let mut o = Outage::default();
        assert!(o.snapshot().is_none());
        o.trying("a:1".into());
        assert!(o.failed("a:1", HostFailureKind::Refused));
        o.trying("b:2".into());
        assert!(o.failed("b:2", HostFailureKind::Unresolved("no such host".into())));
        o.trying("a:1".into());
        assert!(
            !o.failed("a:1", HostFailureKind::TimedOut),
            "a:1 failed before"
        );
        o.trying("c:3".into());
        let s = o.snapshot().unwrap();
        let shown: Vec<String> = s.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "a:1: timed out",
                "b:2: DNS failure (no such host)",
                "c:3: timed out"
            ]
        );
        assert_eq!(o.connected(), 2);
        assert!(o.snapshot().is_none());
        assert!(o.failed("a:1", HostFailureKind::Refused), "a new outage");
    }
}
