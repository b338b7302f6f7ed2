//! Four-letter words on the client port: the first four bytes of a connection, answered
//! with text and a close (`FourLetterCommands`). All words are whitelisted, as with
//! `4lw.commands.whitelist=*`. Implemented: `ruok`, `isro`, `srvr`, `stat`, `mntr`, `cons`,
//! `wchs`, `wchc`, `wchp`, `dump`, `conf`, `envi`, `dirs`, `crst`, `srst`; the reports carry
//! the counters a test can use (zxid, znodes, sessions, watches, connections) rather than
//! every JVM metric.

use std::fmt::Write as _;
use std::sync::Arc;

use super::shared::ServerShared;
use super::stats::MemberShared;

/// The version string `srvr` and `mntr` report.
pub(crate) const VERSION: &str = "3.8.0-zk-curator-testing, built on 1970-01-01 00:00 UTC";

const NOT_SERVING: &str = "This ZooKeeper instance is not currently serving requests\n";

/// The reply to a four-letter word, or `None` if `word` is not one (it is then a frame
/// length).
pub(crate) fn answer(core: &ServerShared, me: &Arc<MemberShared>, word: [u8; 4]) -> Option<String> {
    let w = std::str::from_utf8(&word).ok()?;
    let known = [
        "ruok", "isro", "srvr", "stat", "mntr", "cons", "wchs", "wchc", "wchp", "dump", "conf",
        "envi", "dirs", "crst", "srst",
    ];
    if !known.contains(&w) {
        return None;
    }
    let role = core.role(me.index);
    if w == "ruok" {
        return Some("imok".into());
    }
    if w == "isro" {
        return Some(if role.is_some() { "rw" } else { "null" }.into());
    }
    let Some(role) = role else {
        return Some(NOT_SERVING.into());
    };
    let st = core.state.lock();
    let mut out = String::new();
    let my_conns: Vec<_> = st.conns.values().filter(|c| c.member == me.index).collect();
    let (received, sent) = me.counts();
    let stats = |out: &mut String| {
        let _ = write!(
            out,
            "Latency min/avg/max: 0/0.0/0\nReceived: {received}\nSent: {sent}\nConnections: {}\n\
             Outstanding: 0\nZxid: 0x{:x}\nMode: {role}\nNode count: {}\n",
            my_conns.len(),
            st.zxid,
            st.tree.node_count()
        );
    };
    let cons = |out: &mut String| {
        for c in &my_conns {
            let _ = writeln!(
                out,
                " /{}[1](queued=0,recved={},sent={},sid=0x{:x},to={})",
                c.addr, c.received, c.sent, c.session, c.timeout_ms
            );
        }
    };
    match w {
        "srvr" => {
            let _ = writeln!(out, "Zookeeper version: {VERSION}");
            stats(&mut out);
        }
        "stat" => {
            let _ = writeln!(out, "Zookeeper version: {VERSION}");
            out.push_str("Clients:\n");
            cons(&mut out);
            out.push('\n');
            stats(&mut out);
        }
        "cons" => {
            cons(&mut out);
            out.push('\n');
        }
        "mntr" => {
            let rows: [(&str, String); 14] = [
                ("zk_version", VERSION.into()),
                ("zk_server_state", role.into()),
                ("zk_ephemerals_count", st.tree.ephemeral_count().to_string()),
                ("zk_num_alive_connections", my_conns.len().to_string()),
                ("zk_avg_latency", "0.0".into()),
                ("zk_outstanding_requests", "0".into()),
                ("zk_znode_count", st.tree.node_count().to_string()),
                ("zk_global_sessions", st.sessions.len().to_string()),
                ("zk_watch_count", st.watches.count().to_string()),
                (
                    "zk_approximate_data_size",
                    st.tree.approximate_data_size().to_string(),
                ),
                ("zk_packets_sent", sent.to_string()),
                ("zk_packets_received", received.to_string()),
                ("zk_min_latency", "0".into()),
                ("zk_max_latency", "0".into()),
            ];
            for (k, v) in rows {
                let _ = writeln!(out, "{k}\t{v}");
            }
            let _ = writeln!(out, "zk_uptime\t{}", me.started.elapsed().as_millis());
        }
        "wchs" => {
            let d = &st.watches.data;
            let _ = writeln!(
                out,
                "{} connections watching {} paths\nTotal watches:{}",
                d.conn_count(),
                d.path_count(),
                d.size()
            );
        }
        "wchc" | "wchp" => {
            let mut ids: Vec<_> = st.conns.iter().collect();
            ids.sort_by_key(|(id, _)| **id);
            for (id, c) in ids {
                let paths = st.watches.data.paths_of(*id);
                if !paths.is_empty() {
                    let _ = writeln!(out, "0x{:x}", c.session);
                    for p in paths {
                        let _ = writeln!(out, "\t{p}");
                    }
                }
            }
            out.push('\n');
        }
        "dump" => {
            out.push_str("SessionTracker dump:\n");
            let _ = writeln!(out, "Global Sessions({}):", st.sessions.len());
            for id in st.sessions.ids() {
                let to = st.sessions.get(id).map_or(0, |s| s.timeout_ms);
                let _ = writeln!(out, "0x{id:x}\t{to}ms");
            }
            out.push_str("ephemeral nodes dump:\n");
            for id in st.sessions.ids() {
                let eph = st.tree.ephemerals_of(id);
                if !eph.is_empty() {
                    let _ = writeln!(out, "Sessions with Ephemerals ({}):\n0x{id:x}:", 1);
                    for p in eph {
                        let _ = writeln!(out, "\t{p}");
                    }
                }
            }
        }
        "conf" => {
            let _ = writeln!(
                out,
                "clientPortAddress=127.0.0.1\ntickTime={}\nminSessionTimeout={}\nmaxSessionTimeout={}\nserverId={}",
                core.cfg.tick.as_millis(),
                core.cfg.min_session.as_millis(),
                core.cfg.max_session.as_millis(),
                me.index
            );
        }
        "envi" => out.push_str("Environment:\nzookeeper.version=3.8.0-zk-curator-testing\n"),
        "dirs" => out.push_str("datadir_size: 0\nlogdir_size: 0\n"),
        "crst" => out.push_str("Connection stats reset.\n"),
        "srst" => out.push_str("Server stats reset.\n"),
        _ => {}
    }
    Some(out)
}
