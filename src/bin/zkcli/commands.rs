//! Running commands: [`Session`] holds the connection (a `CuratorFramework`, which replaces
//! an expired session by itself) and runs each [`Command`] through the library's public API —
//! the low-level `ZooKeeper` handle inside the framework's retry loop for the operations
//! zkCli.sh maps one to one, the framework's builders where they do more (`deleteall`), the
//! `PersistentWatcher` recipe for `watch -p|-r` (in `watch`). Results go to the given writer
//! in `format`'s shapes; failures come back as a [`Failure`] that says which exit code it is.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::time::Duration;

use zk_curator::{
    Acl, CuratorFramework, CuratorFrameworkFactory, Error, KeeperState, RetryNTimes, SharedWatcher,
    WatchedEvent, ZooKeeper,
};

use zk_curator::proto::OpCode;

use crate::args::Global;
use crate::encoding::DataFormat;
use crate::failure::{Failure, Outcome};
use crate::format;
use crate::spec::Command;
use crate::terminal::{Console, LineSource};

/// A connection and what zkcli remembers about it.
pub struct Session {
    client: CuratorFramework,
    server: String,
    /// `addauth`s of this run, replayed when a new session replaces an expired one.
    auth: Vec<(String, Vec<u8>)>,
    /// The framework's handle generation the auths were last given to.
    auth_generation: u64,
    console: Arc<Console>,
    /// Node events of `-w` watches (or the loss of the session that held them), for a
    /// one-shot command that waits for its watch.
    fired: (Sender<Option<WatchedEvent>>, Receiver<Option<WatchedEvent>>),
    /// At the prompt (ephemeral nodes live on; `watch` stops on Enter).
    pub interactive: bool,
}

impl Session {
    /// Connects to `g.server` and waits up to `g.timeout` for the session.
    pub fn connect(
        g: &Global,
        console: Arc<Console>,
        interactive: bool,
    ) -> Result<Session, Failure> {
        let mut b = CuratorFrameworkFactory::builder()
            .connect_string(&g.server)
            .session_timeout(g.session_timeout)
            .connection_timeout(g.timeout)
            .retry_policy(RetryNTimes::new(2, Duration::from_millis(250)));
        for (scheme, auth) in &g.auth {
            b = b.authorization(scheme, auth);
        }
        // A connect string the library refuses is a usage error.
        let client = b
            .build()
            .map_err(|e| Failure::Usage(format!("--server {:?}: {e}", g.server)))?;
        client.start()?;
        if !client.block_until_connected(g.timeout) {
            client.close();
            return Err(Failure::Other(format!(
                "cannot connect to {} within {:?}",
                g.server, g.timeout
            )));
        }
        Ok(Session {
            auth_generation: client.zookeeper_client().instance_index(),
            client,
            server: g.server.clone(),
            auth: Vec::new(),
            console,
            fired: channel(),
            interactive,
        })
    }

    /// The framework client (for `watch`).
    pub fn client(&self) -> &CuratorFramework {
        &self.client
    }

    /// The console events are printed on.
    pub fn console(&self) -> &Arc<Console> {
        &self.console
    }

    /// `host:port(STATE)` for the prompt.
    pub fn describe(&self) -> String {
        let state = match self.client.zookeeper_client().zookeeper() {
            Ok(zk) => format!("{:?}", zk.state()).to_uppercase(),
            Err(_) => "CLOSED".into(),
        };
        format!("{}({state})", self.server)
    }

    /// Closes the session (its ephemeral nodes go at once).
    pub fn close(&self) {
        self.client.close();
    }

    /// Waits for the first node event of a `-w` watch (one-shot mode; the event was already
    /// printed by the watcher). An error if the session, and with it the watch, is lost.
    pub fn wait_for_watch(&self) -> Outcome {
        match self.fired.1.recv() {
            Ok(Some(_)) => Ok(()),
            _ => Err(Failure::Other(
                "the session was lost before the watch fired (the watch went with it)".into(),
            )),
        }
    }

    /// Runs `f` on the current low-level handle in the framework's retry loop, after giving a
    /// replacement session the `addauth`s of the old one.
    fn call<T>(
        &mut self,
        f: impl FnMut(&ZooKeeper) -> zk_curator::Result<T>,
    ) -> Result<T, Failure> {
        self.replay_auth()?;
        Ok(self.client.zookeeper_client().call_with_retry(f)?)
    }

    fn replay_auth(&mut self) -> Result<(), Failure> {
        let generation = self.client.zookeeper_client().instance_index();
        if generation != self.auth_generation && !self.auth.is_empty() {
            let zk = self.client.zookeeper_client().zookeeper()?;
            for (scheme, auth) in &self.auth {
                zk.add_auth_info(scheme, auth)?;
            }
        }
        self.auth_generation = generation;
        Ok(())
    }

    /// A watcher that prints each node event and hands it to
    /// [`wait_for_watch`](Self::wait_for_watch). One [`SharedWatcher`] per command, so that a
    /// retried call registers it once.
    fn printing_watcher(&self) -> SharedWatcher {
        let console = self.console.clone();
        let fired = self.fired.0.clone();
        SharedWatcher::new(move |e: &WatchedEvent| {
            // Connection changes reach every watcher; the prompt shows the state instead.
            if e.path().is_some() {
                console.line(&format::event(e));
                let _ = fired.send(Some(e.clone()));
            } else if matches!(e.state(), KeeperState::Expired | KeeperState::AuthFailed) {
                let _ = fired.send(None);
            }
        })
    }

    /// Runs one command; `input` answers `deleteall`'s question and stops an interactive
    /// `watch`. `help`, `history` and `quit` belong to the caller.
    pub fn run(
        &mut self,
        cmd: Command,
        out: &mut dyn Write,
        input: &mut dyn LineSource,
    ) -> Outcome {
        match cmd {
            Command::Ls {
                path,
                recursive: true,
                watch,
                ..
            } => {
                if watch {
                    let w = self.printing_watcher();
                    self.call(|zk| zk.get_children_w_shared(&path, &w))?;
                }
                for p in self.tree(&path, false)? {
                    writeln!(out, "{p}")?;
                }
            }
            Command::Ls {
                path, stat, watch, ..
            } => {
                let (mut children, st) = if watch {
                    let w = self.printing_watcher();
                    self.call(|zk| zk.get_children2_w_shared(&path, &w))?
                } else {
                    self.call(|zk| zk.get_children2(&path, false))?
                };
                children.sort();
                writeln!(out, "[{}]", children.join(", "))?;
                if stat {
                    out.write_all(format::stat(&st).as_bytes())?;
                }
            }
            Command::Get {
                path,
                stat,
                watch,
                format,
            } => {
                let (data, st) = if watch {
                    let w = self.printing_watcher();
                    self.call(|zk| zk.get_data_w_shared(&path, &w))?
                } else {
                    self.call(|zk| zk.get_data(&path, false))?
                };
                write_data(out, format, &data)?;
                if stat {
                    out.write_all(format::stat(&st).as_bytes())?;
                }
            }
            Command::Stat { path, watch } => {
                let st = if watch {
                    let w = self.printing_watcher();
                    self.call(|zk| zk.exists_w_shared(&path, &w))?
                } else {
                    self.call(|zk| zk.exists(&path, false))?
                };
                // exists answers a missing node with no Stat; zkcli calls that NoNode, as
                // the library would name it for any other operation.
                let st = st.ok_or_else(|| Error::NoNode {
                    path: path.clone(),
                    op: Some(OpCode::Exists),
                })?;
                out.write_all(format::stat(&st).as_bytes())?;
            }
            Command::Set {
                path,
                data,
                version,
                stat,
            } => {
                let st = self.call(|zk| zk.set_data(&path, &data, version))?;
                if stat {
                    out.write_all(format::stat(&st).as_bytes())?;
                }
            }
            Command::Create {
                path,
                data,
                mode,
                ttl,
                acl,
            } => {
                let acl = acl.unwrap_or_else(Acl::open_unsafe);
                let created = match ttl {
                    Some(ttl) => {
                        self.call(|zk| zk.create_ttl(&path, &data, &acl, mode, ttl))?
                            .0
                    }
                    None => self.call(|zk| zk.create(&path, &data, &acl, mode))?,
                };
                writeln!(out, "Created {created}")?;
                if mode.is_ephemeral() && !self.interactive {
                    eprintln!("zkcli: note: {created} is ephemeral and goes away as zkcli exits");
                }
            }
            Command::Delete { path, version } => self.call(|zk| zk.delete(&path, version))?,
            Command::DeleteAll { path, yes } => self.delete_all(&path, yes, input)?,
            Command::GetAcl { path, stat } => {
                let (acl, st) = self.call(|zk| zk.get_acl(&path))?;
                out.write_all(format::acl(&acl).as_bytes())?;
                if stat {
                    out.write_all(format::stat(&st).as_bytes())?;
                }
            }
            Command::SetAcl {
                path,
                acl,
                version,
                recursive,
                stat,
            } => {
                let st = self.call(|zk| zk.set_acl(&path, &acl, version))?;
                if recursive {
                    for p in self.tree(&path, false)?.into_iter().skip(1) {
                        match self.call(|zk| zk.set_acl(&p, &acl, -1)) {
                            // Deleted meanwhile: nothing to protect.
                            Err(Failure::Zk(Error::NoNode { .. })) => {}
                            other => {
                                other?;
                            }
                        }
                    }
                }
                if stat {
                    out.write_all(format::stat(&st).as_bytes())?;
                }
            }
            Command::AddAuth { scheme, auth } => {
                self.call(|zk| zk.add_auth_info(&scheme, &auth))?;
                self.auth.push((scheme, auth));
            }
            Command::Sync { path } => {
                self.call(|zk| zk.sync(&path))?;
                writeln!(out, "Sync is OK")?;
            }
            Command::WhoAmI => {
                let ids = self.call(|zk| zk.who_am_i())?;
                out.write_all(format::who_am_i(&ids).as_bytes())?;
            }
            Command::Config {
                stat,
                watch,
                format,
            } => {
                let (data, st) = if watch {
                    let w = self.printing_watcher();
                    self.call(|zk| zk.get_config_w_shared(&w))?
                } else {
                    self.call(|zk| zk.get_config(false))?
                };
                if !data.is_empty() {
                    write_data(out, format, &data)?;
                }
                if stat {
                    out.write_all(format::stat(&st).as_bytes())?;
                }
            }
            Command::Watch { path, mode } => {
                self.replay_auth()?;
                crate::watch::run(
                    self.client(),
                    self.console(),
                    self.interactive,
                    &path,
                    mode,
                    input,
                )?;
            }
            Command::Help { .. } | Command::History | Command::Quit => {
                return Err(Failure::Usage("only at the interactive prompt".into()))
            }
        }
        out.flush()?;
        Ok(())
    }

    /// Every path at and below `root`, breadth first, children sorted (zkCli's `ls -R`
    /// order). With `skip_system`, `/zookeeper` and below are left out. Nodes deleted during
    /// the walk are skipped; the root itself must exist.
    fn tree(&mut self, root: &str, skip_system: bool) -> Result<Vec<String>, Failure> {
        let mut all = Vec::new();
        let mut queue = VecDeque::from([root.to_string()]);
        while let Some(p) = queue.pop_front() {
            let mut children = match self.call(|zk| zk.get_children(&p, false)) {
                Ok(c) => c,
                Err(Failure::Zk(Error::NoNode { .. })) if p != root => continue,
                Err(e) => return Err(e),
            };
            children.sort();
            for c in children {
                let child = if p == "/" {
                    format!("/{c}")
                } else {
                    format!("{p}/{c}")
                };
                if !(skip_system && child == "/zookeeper") {
                    queue.push_back(child);
                }
            }
            all.push(p);
        }
        Ok(all)
    }

    /// `deleteall`: counts what goes, asks unless `yes`, then deletes bottom-up through the
    /// framework's `deleting_children_if_needed`. On `/` everything but `/zookeeper` goes.
    fn delete_all(&mut self, path: &str, yes: bool, input: &mut dyn LineSource) -> Outcome {
        let root = path == "/"
            && self
                .client
                .zookeeper_client()
                .zookeeper()?
                .chroot()
                .is_none();
        let nodes = self.tree(path, root)?;
        let targets: Vec<String> = if root {
            nodes
                .iter()
                .skip(1)
                .filter(|p| p.matches('/').count() == 1)
                .cloned()
                .collect()
        } else {
            vec![path.to_string()]
        };
        let count = if root { nodes.len() - 1 } else { nodes.len() };
        if !yes {
            let question = match (root, count) {
                (true, _) => format!("Delete all {count} nodes outside /zookeeper? [y/N] "),
                (false, 1) => format!("Delete {path}? [y/N] "),
                (false, 2) => format!("Delete {path} and the node below it? [y/N] "),
                _ => format!("Delete {path} and the {} nodes below it? [y/N] ", count - 1),
            };
            let answer = input.ask(&question)?.unwrap_or_default();
            if !matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
                return Err(Failure::Other(format!(
                    "deleteall {path}: not confirmed; nothing deleted"
                )));
            }
        }
        self.replay_auth()?;
        for t in targets {
            self.client
                .delete()
                .deleting_children_if_needed()
                .for_path(&t)?;
        }
        Ok(())
    }
}

/// Node data in `format` and a newline.
fn write_data(out: &mut dyn Write, format: DataFormat, data: &[u8]) -> io::Result<()> {
    out.write_all(&format.encode(data))?;
    out.write_all(b"\n")
}
