//! How a [`PathChildrenCache`](super::PathChildrenCache) follows the server: listings, child
//! reads, watch events and connection states, applied on the client's event thread (Curator's
//! `RefreshOperation`, `GetDataOperation`, `processChildren`, `applyNewData`), and the blocking
//! loads of `rebuild`.

use std::collections::BTreeSet;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use super::{Inner, Life, RefreshMode};
use crate::error::{Error, Result};
use crate::framework::{ConnectionState, CuratorEvent, CuratorFramework, CuratorFrameworkState};
use crate::path;
use crate::proto::{EventType, Stat};
use crate::recipes::cache::types::{ChildData, PathChildrenCacheEvent, PathChildrenCacheEventType};
use crate::recipes::cache::window::WINDOW;
use crate::recipes::on_event_thread;
use crate::session::WatchedEvent;

fn event(
    event_type: PathChildrenCacheEventType,
    data: Option<ChildData>,
) -> PathChildrenCacheEvent {
    PathChildrenCacheEvent {
        event_type,
        data,
        initial_data: None,
    }
}

impl Inner {
    fn is_started(&self) -> bool {
        self.st.lock().life == Life::Started
    }

    pub(super) fn check_started(&self) -> Result<()> {
        match self.st.lock().life {
            Life::Started => Ok(()),
            Life::Latent => Err(Error::InvalidArgument("the cache is not started".into())),
            Life::Closed => Err(Error::InvalidArgument("the cache is closed".into())),
        }
    }

    fn publish(&self, e: PathChildrenCacheEvent) {
        let client = self.client.clone();
        self.publisher.publish(move |l| l.child_event(&client, &e));
    }

    pub(super) fn on_state(self: &Arc<Self>, s: ConnectionState) {
        if !self.is_started() {
            return;
        }
        match s {
            ConnectionState::Suspended => {
                self.publish(event(PathChildrenCacheEventType::ConnectionSuspended, None))
            }
            ConnectionState::Lost => {
                self.publish(event(PathChildrenCacheEventType::ConnectionLost, None))
            }
            ConnectionState::Connected | ConnectionState::Reconnected => {
                self.refresh(RefreshMode::ForceGetDataAndStat);
                self.publish(event(
                    PathChildrenCacheEventType::ConnectionReconnected,
                    None,
                ));
            }
            ConnectionState::ReadOnly => {}
        }
    }

    pub(super) fn on_watch(self: &Arc<Self>, e: &WatchedEvent) {
        let Some(p) = e.path() else { return };
        if p == self.path {
            match e.event_type() {
                EventType::NodeDeleted => {
                    self.watch.forget(p);
                    self.refresh(RefreshMode::Standard);
                }
                EventType::NodeChildrenChanged
                | EventType::NodeCreated
                | EventType::NodeDataChanged => self.refresh(RefreshMode::Standard),
                _ => {}
            }
            return;
        }
        match e.event_type() {
            EventType::NodeDeleted => {
                self.watch.forget(p);
                self.remove(p);
            }
            EventType::NodeDataChanged => self.get_data_and_stat(p),
            _ => {}
        }
    }

    pub(super) fn refresh_on_event_thread(self: &Arc<Self>, mode: RefreshMode) {
        let me = self.clone();
        on_event_thread(&self.client, move || me.refresh(mode));
    }

    /// Lists the children (watched), after making the parent if needed (event thread).
    fn refresh(self: &Arc<Self>, mode: RefreshMode) {
        let ensured = {
            let st = self.st.lock();
            if st.life != Life::Started {
                return;
            }
            st.ensured
        };
        if ensured {
            return self.list_children(mode);
        }
        // Curator's EnsureContainers, in the background (several round trips, never on
        // the event thread): the parents of `path/foo` are `path` and its ancestors.
        let weak = Arc::downgrade(self);
        let sent = self
            .client
            .check_exists()
            .creating_parent_containers_if_needed()
            .in_background(move |_c: &CuratorFramework, e: &CuratorEvent| {
                let Some(inner) = weak.upgrade() else { return };
                match e.error() {
                    None | Some(Error::NoNode { .. }) => {
                        inner.st.lock().ensured = true;
                        inner.list_children(mode);
                    }
                    Some(err) => inner.client.report_unhandled(
                        &format!("PathChildrenCache: creating {}", inner.path),
                        err,
                    ),
                }
            })
            .for_path(&path::make_path(&self.path, "foo"));
        if let Err(e) = sent {
            self.client
                .report_unhandled("PathChildrenCache: refresh", &e);
        }
    }

    fn list_children(self: &Arc<Self>, mode: RefreshMode) {
        let weak = Arc::downgrade(self);
        self.window.submit(Box::new(move |slot| {
            let Some(inner) = weak.upgrade() else { return };
            if !inner.is_started() {
                return;
            }
            inner.watch.note(&inner.path);
            let w = Arc::downgrade(&inner);
            let sent = inner
                .client
                .get_children()
                .using_shared_watcher(&inner.watch.watcher())
                .in_background(move |_c: &CuratorFramework, e: &CuratorEvent| {
                    let _slot = slot;
                    if let Some(inner) = w.upgrade() {
                        inner.on_children(mode, e);
                    }
                })
                .for_path(&inner.path);
            if let Err(e) = sent {
                inner
                    .client
                    .report_unhandled("PathChildrenCache: getChildren", &e);
            }
        }));
    }

    fn on_children(self: &Arc<Self>, mode: RefreshMode, e: &CuratorEvent) {
        if !self.is_started() {
            // Answered after close(): the watch it set must go too.
            self.watch.remove(&self.client, &self.path);
            return;
        }
        match e.error() {
            None => self.process_children(e.children().unwrap_or_default(), mode),
            Some(Error::NoNode { .. }) => {
                self.st.lock().ensured = false;
                if mode != RefreshMode::NoNodeException {
                    self.refresh(RefreshMode::NoNodeException);
                }
            }
            Some(err) => log::debug!("PathChildrenCache {}: getChildren failed: {err}", self.path),
        }
    }

    fn process_children(self: &Arc<Self>, names: &[String], mode: RefreshMode) {
        let listed: BTreeSet<&String> = names.iter().collect();
        let (removed, to_read) = {
            let mut st = self.st.lock();
            let removed: Vec<String> = st
                .current
                .keys()
                .filter(|k| {
                    let name = path::node_name(k).to_string();
                    !listed.contains(&name)
                })
                .cloned()
                .collect();
            let to_read: Vec<String> = listed
                .iter()
                .map(|n| path::make_path(&self.path, n))
                .filter(|p| mode == RefreshMode::ForceGetDataAndStat || !st.current.contains_key(p))
                .collect();
            if let Some(init) = st.initial.as_mut() {
                init.listed = true;
                for n in &listed {
                    // A child already read keeps its value (Curator overwrites it here and
                    // can then wait forever for a read that is never issued).
                    init.nodes.entry((*n).clone()).or_insert(None);
                }
            }
            (removed, to_read)
        };
        for p in removed {
            self.remove(&p);
        }
        for p in to_read {
            self.get_data_and_stat(&p);
        }
        self.maybe_initialized();
    }

    /// Reads a child (watched) through the window (event thread).
    fn get_data_and_stat(self: &Arc<Self>, full: &str) {
        let weak = Arc::downgrade(self);
        let full = full.to_string();
        self.window.submit(Box::new(move |slot| {
            let Some(inner) = weak.upgrade() else { return };
            if !inner.is_started() {
                return;
            }
            inner.watch.note(&full);
            let w = Arc::downgrade(&inner);
            let p = full.clone();
            let sent = inner
                .client
                .get_data()
                .using_shared_watcher(&inner.watch.watcher())
                .in_background(move |_c: &CuratorFramework, e: &CuratorEvent| {
                    let _slot = slot;
                    if let Some(inner) = w.upgrade() {
                        inner.on_child_data(&p, e);
                    }
                })
                .for_path(&full);
            if let Err(e) = sent {
                inner
                    .client
                    .report_unhandled("PathChildrenCache: getData", &e);
            }
        }));
    }

    fn on_child_data(self: &Arc<Self>, full: &str, e: &CuratorEvent) {
        if !self.is_started() {
            self.watch.remove(&self.client, full);
            return;
        }
        match e.error() {
            None => {
                if let Some(d) =
                    ChildData::from_read(&self.client, full, e, self.cache_data, self.compressed)
                {
                    self.apply_new_data(d);
                }
            }
            Some(Error::NoNode { .. }) => self.remove(full),
            Some(err) => {
                log::debug!("PathChildrenCache {full}: getData failed: {err}");
                if !err.is_retryable() {
                    // NoAuth and the like: this child cannot be cached; the initial load
                    // must not wait for it (a lost connection re-reads it instead).
                    let waiting = {
                        let mut st = self.st.lock();
                        st.initial
                            .as_mut()
                            .is_some_and(|i| i.nodes.remove(path::node_name(full)).is_some())
                    };
                    if waiting {
                        self.maybe_initialized();
                    }
                }
            }
        }
    }

    fn apply_new_data(self: &Arc<Self>, data: ChildData) {
        let ev = {
            let mut st = self.st.lock();
            let name = path::node_name(data.path()).to_string();
            let ev = match st.current.get(data.path()) {
                // An answer older than what we hold (a rebuild raced with the watches).
                Some(old) if old.stat().mzxid > data.stat().mzxid => return,
                Some(old) if old.stat().mzxid == data.stat().mzxid => None,
                Some(_) => Some(PathChildrenCacheEventType::ChildUpdated),
                None => Some(PathChildrenCacheEventType::ChildAdded),
            };
            st.current.insert(data.path().to_string(), data.clone());
            if let Some(init) = st.initial.as_mut() {
                init.nodes.insert(name, Some(data.clone()));
            }
            ev
        };
        if let Some(t) = ev {
            self.publish(event(t, Some(data)));
        }
        self.maybe_initialized();
    }

    fn remove(self: &Arc<Self>, full: &str) {
        let old = {
            let mut st = self.st.lock();
            if let Some(init) = st.initial.as_mut() {
                init.nodes.remove(path::node_name(full));
            }
            st.current.remove(full)
        };
        if let Some(old) = old {
            self.publish(event(PathChildrenCacheEventType::ChildRemoved, Some(old)));
        }
        self.maybe_initialized();
    }

    /// `StartMode::PostInitializedEvent`: once every child of the first listing has been
    /// read (or has vanished), one `Initialized` event.
    fn maybe_initialized(&self) {
        let initial = {
            let mut st = self.st.lock();
            match &st.initial {
                Some(init) if init.listed && init.nodes.values().all(Option::is_some) => {
                    st.initial.take()
                }
                _ => None,
            }
        };
        if let Some(init) = initial {
            let data: Vec<ChildData> = init.nodes.into_values().flatten().collect();
            self.publish(PathChildrenCacheEvent {
                event_type: PathChildrenCacheEventType::Initialized,
                data: None,
                initial_data: Some(data),
            });
        }
    }

    /// EnsureContainers, synchronously (rebuilds).
    pub(super) fn ensure_sync(&self) -> Result<()> {
        if self.st.lock().ensured {
            return Ok(());
        }
        self.client.create_containers(&self.path)?;
        self.st.lock().ensured = true;
        Ok(())
    }

    /// Reads one child now (no watch): `None` if it is gone.
    pub(super) fn read_one(&self, full: &str) -> Result<Option<ChildData>> {
        if self.cache_data {
            let mut stat = Stat::default();
            let mut b = self.client.get_data();
            if self.compressed {
                b = b.decompressed();
            }
            match b.storing_stat_in(&mut stat).for_path(full) {
                Ok(d) => Ok(Some(ChildData::new(full, stat, Some(Arc::from(d))))),
                Err(Error::NoNode { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        } else {
            Ok(self
                .client
                .check_exists()
                .for_path(full)?
                .map(|stat| ChildData::new(full, stat, None)))
        }
    }

    /// Reads `paths` (no watches) for a rebuild: pipelined background reads, at most
    /// [`WINDOW`] in flight, collected here; one at a time on the event thread.
    pub(super) fn read_all(&self, paths: &[String]) -> Result<Vec<(String, Option<ChildData>)>> {
        if self.client.event_dispatcher().is_event_thread() {
            return paths
                .iter()
                .map(|p| Ok((p.clone(), self.read_one(p)?)))
                .collect();
        }
        let (tx, rx) = mpsc::channel::<(usize, CuratorEvent)>();
        let mut out = Vec::with_capacity(paths.len());
        let (mut next, mut inflight) = (0usize, 0usize);
        while next < paths.len() || inflight > 0 {
            while next < paths.len() && inflight < WINDOW {
                let (i, tx) = (next, tx.clone());
                let cb = move |_c: &CuratorFramework, e: &CuratorEvent| {
                    let _ = tx.send((i, e.clone()));
                };
                let p = &paths[i];
                if self.cache_data {
                    self.client.get_data().in_background(cb).for_path(p)?;
                } else {
                    self.client.check_exists().in_background(cb).for_path(p)?;
                }
                next += 1;
                inflight += 1;
            }
            let (i, e) = loop {
                match rx.recv_timeout(Duration::from_millis(100)) {
                    Ok(r) => break r,
                    Err(_) if self.client.state() != CuratorFrameworkState::Started => {
                        return Err(Error::Closed)
                    }
                    Err(_) => {}
                }
            };
            inflight -= 1;
            let p = paths.get(i).cloned().unwrap_or_default();
            match e.error() {
                None => {
                    let d = ChildData::from_read(
                        &self.client,
                        &p,
                        &e,
                        self.cache_data,
                        self.compressed,
                    );
                    out.push((p, d));
                }
                Some(Error::NoNode { .. }) => out.push((p, None)),
                Some(err) => return Err(err.clone()),
            }
        }
        Ok(out)
    }
}
