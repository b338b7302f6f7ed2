//! `watch [-p|-r] path`: prints the node's events, one line each on stdout, until stopped —
//! by Ctrl-C (or any kill) from the shell, by Enter at the interactive prompt.
//!
//! Without a flag it sets the classic one-shot watches (data via `exists`, so creation and
//! deletion are seen; children via `getChildren` while the node exists) and sets them again
//! after every event and every reconnect, which works on any server but can miss a change
//! made between an event and the next watch. `-p` and `-r` use the library's
//! `PersistentWatcher` recipe (ZooKeeper 3.6+), which misses nothing while connected and
//! re-adds itself after reconnects and session loss. Connection changes go to stderr.
//!
//! Events reach this module on the client's event thread and are handed over a channel to
//! the thread that prints and re-arms: watchers must not block the event thread.

use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;

use zk_curator::recipes::PersistentWatcher;
use zk_curator::{ConnectionState, CuratorFramework, Error, SharedWatcher, WatchedEvent};

use crate::failure::{Failure, Outcome};
use crate::format;
use crate::spec::WatchMode;
use crate::terminal::{Console, LineSource};

/// What the printing thread hears.
enum Msg {
    Event(WatchedEvent),
    /// A persistent watch was (re-)added.
    Armed,
    State(ConnectionState),
    /// A persistent watch could not be added.
    Fatal(Error),
    /// Enter was pressed at the prompt.
    Stop,
}

/// Runs `watch`, printing to `console`. In one-shot mode it returns only on an error; at the
/// prompt (`interactive`) it returns when `input` gives a line (Enter) or ends.
pub fn run(
    client: &CuratorFramework,
    console: &Arc<Console>,
    interactive: bool,
    path: &str,
    mode: WatchMode,
    input: &mut dyn LineSource,
) -> Outcome {
    let client = client.clone();
    let (tx, rx) = channel();
    let state_tx = tx.clone();
    let state_id = client.connection_state_listenable().add_listener(
        move |_c: &CuratorFramework, s: ConnectionState| {
            let _ = state_tx.send(Msg::State(s));
        },
    );
    let result = watch_with(&client, console, interactive, path, mode, (tx, rx), input);
    client
        .connection_state_listenable()
        .remove_listener(state_id);
    result
}

fn watch_with(
    client: &CuratorFramework,
    console: &Arc<Console>,
    interactive: bool,
    path: &str,
    mode: WatchMode,
    (tx, rx): (Sender<Msg>, Receiver<Msg>),
    input: &mut dyn LineSource,
) -> Outcome {
    let how = if interactive {
        "press Enter to stop"
    } else {
        "Ctrl-C to stop"
    };
    let event_tx = tx.clone();
    let to_channel = move |e: &WatchedEvent| {
        let _ = event_tx.send(Msg::Event(e.clone()));
    };
    let mut pump = Pump {
        client: client.clone(),
        path: path.to_string(),
        console: console.clone(),
        standard: None,
        announce: None,
    };
    let mut persistent = None;
    let mut unhandled = None;
    let armed = match mode {
        WatchMode::Standard => {
            let w = SharedWatcher::new(to_channel);
            let armed = arm(client, path, &w);
            if armed.is_ok() {
                eprintln!("watching {path} (data and children, set again after each event); {how}");
            }
            pump.standard = Some(w);
            armed.map_err(Failure::from)
        }
        WatchMode::Persistent | WatchMode::Recursive => {
            let recursive = mode == WatchMode::Recursive;
            let pw = PersistentWatcher::new(client, path, recursive);
            pw.listenable().add_listener(to_channel);
            let armed_tx = tx.clone();
            pw.reset_listenable().add_listener(move || {
                let _ = armed_tx.send(Msg::Armed);
            });
            // The recipe adds its watch in the background and reports failures here.
            let fatal_tx = tx.clone();
            unhandled = Some(client.unhandled_error_listenable().add_listener(
                move |_msg: &str, e: &Error| {
                    let _ = fatal_tx.send(Msg::Fatal(e.clone()));
                },
            ));
            let kind = if recursive {
                "persistent recursive"
            } else {
                "persistent"
            };
            pump.announce = Some(format!("watching {path} ({kind}); {how}"));
            let started = pw.start().map_err(Failure::from);
            persistent = Some(pw);
            started
        }
    };
    let result = match armed {
        Err(e) => {
            pump.forget();
            Err(e)
        }
        // At the prompt the printing runs beside the line reader, which waits for Enter.
        Ok(()) if interactive => std::thread::scope(|s| {
            let console = console.clone();
            let printer = s.spawn(move || {
                let r = pump.run(rx);
                if r.is_err() {
                    console.line("the watch stopped (press Enter)");
                }
                r
            });
            let _ = input.read_line("");
            let _ = tx.send(Msg::Stop);
            printer
                .join()
                .unwrap_or_else(|_| Err(Failure::Other("watch: the printer panicked".into())))
        }),
        Ok(()) => {
            drop(tx);
            pump.run(rx)
        }
    };
    if let Some(pw) = persistent {
        pw.close();
    }
    if let Some(id) = unhandled {
        client.unhandled_error_listenable().remove_listener(id);
    }
    result
}

/// Prints events and keeps one-shot watches set.
struct Pump {
    client: CuratorFramework,
    path: String,
    console: std::sync::Arc<Console>,
    /// The one-shot watcher to set again after each event (standard mode).
    standard: Option<SharedWatcher>,
    /// What to say once the persistent watch is in place.
    announce: Option<String>,
}

impl Pump {
    fn run(mut self, rx: Receiver<Msg>) -> Outcome {
        let result = self.pump(&rx);
        self.forget();
        result
    }

    /// Removes the one-shot watches, so that none is left behind at the prompt (ignored if
    /// the server cannot be reached: they are removed locally all the same).
    fn forget(&self) {
        if let Some(w) = &self.standard {
            if let Ok(zk) = self.client.zookeeper_client().zookeeper() {
                let _ = zk.remove_watches(&self.path, w, zk_curator::WatcherType::Any, true);
            }
        }
    }

    fn pump(&mut self, rx: &Receiver<Msg>) -> Outcome {
        while let Ok(msg) = rx.recv() {
            match msg {
                Msg::Event(e) => {
                    // State changes reach node watchers too; they are reported once, below.
                    if e.path().is_none() {
                        continue;
                    }
                    // Set again before printing: whoever reacts to the line (a script, a
                    // test) finds the watch in place.
                    let rearmed = self.rearm();
                    self.console.line(&format::event(&e));
                    rearmed?;
                }
                Msg::Armed => {
                    if let Some(a) = self.announce.take() {
                        eprintln!("{a}");
                    }
                }
                // `Connected` comes once per client, and it was connected before the watch.
                Msg::State(ConnectionState::Connected) => {}
                Msg::State(s) => {
                    eprintln!("connection {}", format!("{s:?}").to_uppercase());
                    if s.is_connected() {
                        self.rearm()?;
                    }
                }
                Msg::Fatal(e) => return Err(e.into()),
                Msg::Stop => break,
            }
        }
        Ok(())
    }

    /// Sets the one-shot watches again; a lost connection is not fatal (a reconnect re-arms).
    fn rearm(&self) -> Outcome {
        let Some(w) = &self.standard else {
            return Ok(());
        };
        match arm(&self.client, &self.path, w) {
            Err(e) if e.is_retryable() || matches!(e, Error::Timeout) => Ok(()),
            other => Ok(other?),
        }
    }
}

/// Sets a data watch (through `exists`, so a creation is seen too) and, if the node exists,
/// a child watch.
fn arm(client: &CuratorFramework, path: &str, w: &SharedWatcher) -> Result<(), Error> {
    let zkc = client.zookeeper_client();
    if zkc
        .call_with_retry(|zk| zk.exists_w_shared(path, w))?
        .is_some()
    {
        match zkc.call_with_retry(|zk| zk.get_children_w_shared(path, w)) {
            // Deleted in between: the data watch hears it.
            Err(Error::NoNode { .. }) => {}
            other => {
                other?;
            }
        }
    }
    Ok(())
}
