//! The state a [`ServiceDiscovery`](super::ServiceDiscovery) shares with its caches and
//! providers, and the writes of its own registrations: creating, re-creating, watching and
//! removing their nodes.
//!
//! Each registration is an [`Entry`]. Its writes are serialized by the entry's lock, as
//! Curator serializes them with `synchronized (entry)`: register, update, unregister and the
//! background repairs below never interleave for one instance. That lock is held across the
//! registry calls of one operation; it is the only lock held there, no user code runs under
//! it, and the calls are answered by the I/O thread, so it cannot deadlock.
//!
//! Repairs run on the discovery's own worker thread, never on the event thread:
//! * on `Connected` / `Reconnected`, every registration is checked: a node that still exists,
//!   holds our data and (for dynamic types) belongs to the current session is left alone;
//!   otherwise the registration is written again as `register_service` writes it (Curator
//!   rewrites every one unconditionally, which makes every cache see a delete and a create
//!   after each reconnect);
//! * each registered node carries a watch: a dynamic instance deleted by someone else is
//!   created again; with `watch_instances`, data written by someone else becomes the
//!   registration's data (Curator's `watchInstances`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use super::instance::check_node_name;
use super::serializer::InstanceSerializer;
use super::service_type::ServiceType;
use crate::error::{Error, Result};
use crate::framework::{ConnectionState, CuratorFramework, CuratorFrameworkState, ListenerId};
use crate::path;
use crate::proto::{EventType, Stat};
use crate::session::{SharedWatcher, WatchedEvent, WorkerPool};

pub(crate) const LATENT: u8 = 0;
pub(crate) const STARTED: u8 = 1;
pub(crate) const CLOSED: u8 = 2;

/// Something the discovery closes when it closes (its providers).
pub(crate) trait Closer: Send + Sync {
    fn close_now(&self);
}

/// One registration.
pub(crate) struct Entry {
    pub name: String,
    pub id: String,
    pub service_type: ServiceType,
    state: Mutex<EntryState>,
    /// One watcher per entry, so that arming it again never adds a second watch.
    watcher: SharedWatcher,
}

struct EntryState {
    /// What the node holds (ours, or adopted with `watch_instances`).
    bytes: Vec<u8>,
    /// The node as created (differs from `name/id` for `DynamicSequential`).
    node: Option<String>,
    /// False once unregistered: pending repairs then do nothing.
    registered: bool,
}

impl Entry {
    /// The data the registration writes.
    pub(crate) fn bytes(&self) -> Vec<u8> {
        self.state.lock().bytes.clone()
    }
}

/// What a discovery, its caches and its providers share.
pub(crate) struct Shared<P> {
    pub client: CuratorFramework,
    pub base_path: String,
    pub serializer: Arc<dyn InstanceSerializer<P>>,
    watch_instances: bool,
    entries: Mutex<HashMap<String, Arc<Entry>>>,
    providers: Mutex<Vec<Weak<dyn Closer>>>,
    state_listener: Mutex<Option<ListenerId>>,
    worker: WorkerPool,
    pub state: AtomicU8,
}

impl<P: Send + Sync + 'static> Shared<P> {
    pub(crate) fn new(
        client: CuratorFramework,
        base_path: String,
        serializer: Arc<dyn InstanceSerializer<P>>,
        watch_instances: bool,
    ) -> Result<Arc<Shared<P>>> {
        let worker = WorkerPool::new(1)?;
        Ok(Arc::new(Shared {
            client,
            base_path,
            serializer,
            watch_instances,
            entries: Mutex::new(HashMap::new()),
            providers: Mutex::new(Vec::new()),
            state_listener: Mutex::new(None),
            worker,
            state: AtomicU8::new(LATENT),
        }))
    }

    pub(crate) fn path_for_name(&self, name: &str) -> Result<String> {
        check_node_name("service name", name)?;
        Ok(path::make_path(&self.base_path, name))
    }

    pub(crate) fn path_for_instance(&self, name: &str, id: &str) -> Result<String> {
        check_node_name("instance id", id)?;
        Ok(path::make_path(&self.path_for_name(name)?, id))
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.state.load(Ordering::Acquire) == CLOSED
    }

    /// The entry for `(name, id)`, made if new, holding `bytes` as its data. An id is
    /// registered under one name only.
    pub(crate) fn entry(
        self: &Arc<Self>,
        name: &str,
        id: &str,
        t: ServiceType,
        bytes: Vec<u8>,
    ) -> Result<Arc<Entry>> {
        self.path_for_instance(name, id)?;
        let mut entries = self.entries.lock();
        if let Some(e) = entries.get(id) {
            if e.name != name {
                return Err(Error::InvalidArgument(format!(
                    "instance {id} is registered as a {} instance, not {name}",
                    e.name
                )));
            }
            return Ok(e.clone());
        }
        let e = Arc::new(Entry {
            name: name.to_string(),
            id: id.to_string(),
            service_type: t,
            state: Mutex::new(EntryState {
                bytes,
                node: None,
                registered: true,
            }),
            watcher: self.node_watcher(id),
        });
        entries.insert(id.to_string(), e.clone());
        Ok(e)
    }

    /// The ids of every registration, sorted.
    pub(crate) fn entry_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.entries.lock().keys().cloned().collect();
        ids.sort();
        ids
    }

    pub(crate) fn get_entry(&self, id: &str) -> Option<Arc<Entry>> {
        self.entries.lock().get(id).cloned()
    }

    pub(crate) fn remove_entry(&self, id: &str) -> Option<Arc<Entry>> {
        self.entries.lock().remove(id)
    }

    /// Writes the registration: create; if the node exists, delete it and create it again
    /// so that watchers see the change (two tries, as Curator).
    pub(crate) fn register(&self, e: &Entry, bytes: Option<Vec<u8>>) -> Result<()> {
        let mut st = e.state.lock();
        if let Some(b) = bytes {
            st.bytes = b;
        }
        st.registered = true;
        self.write_node(e, &mut st)
    }

    fn write_node(&self, e: &Entry, st: &mut EntryState) -> Result<()> {
        let path = self.path_for_instance(&e.name, &e.id)?;
        if let Some(old) = st.node.clone().filter(|n| *n != path) {
            // A sequential registration written again: its old node goes first.
            delete_quietly(&self.client, &old)?;
            st.node = None;
        }
        let mode = e.service_type.create_mode();
        for attempt in 0..2 {
            let created = self
                .client
                .create()
                .creating_parent_containers_if_needed()
                .with_mode(mode)
                .for_path_with_data(&path, &st.bytes);
            match created {
                Ok(node) => {
                    self.arm_watch(e, &node);
                    st.node = Some(node);
                    return Ok(());
                }
                Err(Error::NodeExists { .. }) if attempt == 0 => {
                    delete_quietly(&self.client, &path)?;
                }
                Err(err) => return Err(err),
            }
        }
        Err(Error::NodeExists {
            path,
            op: Some(crate::proto::OpCode::Create),
        })
    }

    /// After a (re)connect: rewrites the registration unless its node is intact.
    fn ensure(&self, e: &Entry) -> Result<()> {
        let mut st = e.state.lock();
        if !st.registered || self.is_closed() {
            return Ok(());
        }
        if let Some(node) = st.node.clone() {
            let mut stat = Stat::default();
            match self
                .client
                .get_data()
                .storing_stat_in(&mut stat)
                .for_path(&node)
            {
                Ok(data) => {
                    let owned = !e.service_type.is_dynamic()
                        || Some(stat.ephemeral_owner) == self.session_id();
                    if owned && data == st.bytes {
                        self.arm_watch(e, &node);
                        return Ok(());
                    }
                }
                Err(Error::NoNode { .. }) => {}
                Err(err) => return Err(err),
            }
        }
        log::debug!("registering {}/{} again", e.name, e.id);
        self.write_node(e, &mut st)
    }

    /// A watched event on a registered node (on the worker).
    fn repair(&self, e: &Entry, event: EventType) {
        let mut st = e.state.lock();
        let Some(node) = st.node.clone() else { return };
        if !st.registered || self.is_closed() {
            return;
        }
        let exists = self
            .client
            .check_exists()
            .using_shared_watcher(&e.watcher)
            .for_path(&node);
        match exists {
            Ok(Some(_)) if self.watch_instances && event == EventType::NodeDataChanged => {
                match self.client.get_data().for_path(&node) {
                    Ok(data) if data != st.bytes => match self.serializer.deserialize(&data) {
                        Ok(_) => st.bytes = data,
                        Err(err) => log::debug!("could not deserialize {node}: {err}"),
                    },
                    Ok(_) => {}
                    Err(err) => log::debug!("re-reading {node}: {err}"),
                }
            }
            Ok(Some(_)) => {}
            Ok(None) if e.service_type.is_dynamic() => {
                log::info!("{node} was deleted by someone else; registering it again");
                if let Err(err) = self.recreate(e, &mut st) {
                    log::warn!("could not register {node} again: {err}");
                }
            }
            Ok(None) => log::warn!("instance data has been deleted for {node}"),
            Err(err) => log::debug!("watching {node}: {err}"),
        }
    }

    /// Creates a deleted dynamic node again; a node that is back already is left alone.
    fn recreate(&self, e: &Entry, st: &mut EntryState) -> Result<()> {
        let path = self.path_for_instance(&e.name, &e.id)?;
        let created = self
            .client
            .create()
            .creating_parent_containers_if_needed()
            .with_mode(e.service_type.create_mode())
            .for_path_with_data(&path, &st.bytes);
        match created {
            Ok(node) => {
                self.arm_watch(e, &node);
                st.node = Some(node);
                Ok(())
            }
            Err(Error::NodeExists { .. }) => {
                self.arm_watch(e, &path);
                Ok(())
            }
            Err(err) => Err(err),
        }
    }

    /// Sets the node's data (the registration's data first, so that a re-registration
    /// writes it even if this write fails).
    pub(crate) fn update(&self, e: &Entry, bytes: Vec<u8>) -> Result<()> {
        let mut st = e.state.lock();
        st.bytes = bytes;
        let node = match st.node.clone() {
            Some(n) => n,
            None => self.path_for_instance(&e.name, &e.id)?,
        };
        self.client
            .set_data()
            .for_path(&node, &st.bytes)
            .map(|_| ())
    }

    /// Removes the node (a guaranteed delete: retried in the background if it fails).
    pub(crate) fn unregister(&self, e: &Entry) -> Result<()> {
        let mut st = e.state.lock();
        st.registered = false;
        // A registration whose create failed may still have made its node (the reply was
        // lost); a sequential one cannot be found by name.
        let node = match st.node.take() {
            Some(n) => n,
            None if e.service_type == ServiceType::DynamicSequential => return Ok(()),
            None => self.path_for_instance(&e.name, &e.id)?,
        };
        if self.client.state() == CuratorFrameworkState::Stopped {
            if e.service_type.is_dynamic() {
                // Its session, and so its node, ended with the client.
                return Ok(());
            }
            return Err(Error::Closed);
        }
        match self.client.delete().guaranteed().for_path(&node) {
            Ok(()) | Err(Error::NoNode { .. }) => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// Every registration, for close.
    pub(crate) fn take_entries(&self) -> Vec<Arc<Entry>> {
        self.entries.lock().drain().map(|(_, e)| e).collect()
    }

    fn arm_watch(&self, e: &Entry, node: &str) {
        if let Err(err) = self
            .client
            .check_exists()
            .using_shared_watcher(&e.watcher)
            .for_path(node)
        {
            log::debug!("could not watch {node}: {err}");
        }
    }

    fn session_id(&self) -> Option<i64> {
        self.client
            .zookeeper_client()
            .zookeeper()
            .ok()
            .map(|zk| zk.session_id())
    }

    /// The watcher of entry `id`: node events become repairs on the worker.
    fn node_watcher(self: &Arc<Self>, id: &str) -> SharedWatcher {
        let weak = Arc::downgrade(self);
        let id = id.to_string();
        SharedWatcher::new(move |ev: &WatchedEvent| {
            let t = ev.event_type();
            if !matches!(
                t,
                EventType::NodeDeleted | EventType::NodeDataChanged | EventType::NodeCreated
            ) {
                return;
            }
            let Some(shared) = weak.upgrade() else { return };
            let id2 = id.clone();
            let weak = weak.clone();
            shared.worker.execute(&id, move || {
                let Some(shared) = weak.upgrade() else { return };
                if let Some(e) = shared.get_entry(&id2) {
                    shared.repair(&e, t);
                }
            });
        })
    }

    /// Listens for (re)connections: every registration is checked on the worker.
    pub(crate) fn listen_for_reconnects(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        let id = self.client.connection_state_listenable().add_listener(
            move |_c: &CuratorFramework, s: ConnectionState| {
                if !matches!(s, ConnectionState::Connected | ConnectionState::Reconnected) {
                    return;
                }
                let Some(shared) = weak.upgrade() else { return };
                let entries: Vec<Arc<Entry>> = shared.entries.lock().values().cloned().collect();
                for e in entries {
                    let weak = weak.clone();
                    shared.worker.execute(&e.id.clone(), move || {
                        let Some(shared) = weak.upgrade() else { return };
                        if let Err(err) = shared.ensure(&e) {
                            log::error!(
                                "could not register {}/{} after reconnecting: {err}",
                                e.name,
                                e.id
                            );
                        }
                    });
                }
            },
        );
        *self.state_listener.lock() = Some(id);
    }

    pub(crate) fn add_provider(&self, p: Weak<dyn Closer>) {
        let mut ps = self.providers.lock();
        ps.retain(|p| p.strong_count() > 0);
        ps.push(p);
    }

    pub(crate) fn remove_provider(&self, p: &Weak<dyn Closer>) {
        self.providers
            .lock()
            .retain(|q| q.strong_count() > 0 && !Weak::ptr_eq(q, p));
    }

    /// Stops listening, closes the providers; the caller unregisters the entries.
    pub(crate) fn shut_down(&self) {
        self.client.remove_state_listener(&self.state_listener);
        let providers: Vec<Weak<dyn Closer>> = self.providers.lock().drain(..).collect();
        for p in providers.iter().filter_map(Weak::upgrade) {
            p.close_now();
        }
    }

    /// Stops the worker (after the entries are unregistered: pending repairs see that).
    pub(crate) fn stop_worker(&self) {
        self.worker.shutdown();
    }
}

/// Deletes `path`, a missing node being fine.
fn delete_quietly(client: &CuratorFramework, path: &str) -> Result<()> {
    match client.delete().for_path(path) {
        Ok(()) | Err(Error::NoNode { .. }) => Ok(()),
        Err(e) => Err(e),
    }
}
