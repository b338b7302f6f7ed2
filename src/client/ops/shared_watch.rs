//! The [`SharedWatcher`] forms of the low-level watch methods: the watcher keeps its
//! identity, so registering it twice for one node and kind is one registration (called once
//! per event, as Java's object identity gives), and `remove_watches(&w)` finds it. The
//! closure forms in the parent module (`get_data_w(path, |e| ...)`, ...) wrap their closure
//! and come here.

use super::{children_conv, get_data_conv, Watch, CONFIG_NODE};
use crate::client::ZooKeeper;
use crate::error::Result;
use crate::proto::*;
use crate::session::SharedWatcher;

impl ZooKeeper {
    /// [`exists_w`](Self::exists_w) with a [`SharedWatcher`]: one identity, so registering it again
    /// for the same node and kind keeps one registration (called once per event, as in Java), and
    /// [`remove_watches`](Self::remove_watches) can remove it.
    pub fn exists_w_shared(&self, path: &str, watcher: &SharedWatcher) -> Result<Option<Stat>> {
        self.exists_sync(path, Watch::With(watcher.clone()))
    }

    /// [`exists_w_async`](Self::exists_w_async) with a [`SharedWatcher`]: one identity, so
    /// registering it again for the same node and kind keeps one registration (called once per
    /// event, as in Java), and [`remove_watches`](Self::remove_watches) can remove it.
    pub fn exists_w_shared_async(
        &self,
        path: &str,
        watcher: &SharedWatcher,
        cb: impl FnOnce(Result<Option<Stat>>) + Send + 'static,
    ) -> Result<()> {
        self.exists_async_impl(path, Watch::With(watcher.clone()), cb)
    }

    /// [`get_data_w`](Self::get_data_w) with a [`SharedWatcher`]: one identity, so registering it
    /// again for the same node and kind keeps one registration (called once per event, as in Java),
    /// and [`remove_watches`](Self::remove_watches) can remove it.
    pub fn get_data_w_shared(
        &self,
        path: &str,
        watcher: &SharedWatcher,
    ) -> Result<(Vec<u8>, Stat)> {
        let (req, reg) = self.get_data_request(path, Watch::With(watcher.clone()))?;
        self.sync_call(req, reg, path, get_data_conv)
    }

    /// [`get_data_w_async`](Self::get_data_w_async) with a [`SharedWatcher`]: one identity, so
    /// registering it again for the same node and kind keeps one registration (called once per
    /// event, as in Java), and [`remove_watches`](Self::remove_watches) can remove it.
    pub fn get_data_w_shared_async(
        &self,
        path: &str,
        watcher: &SharedWatcher,
        cb: impl FnOnce(Result<(Vec<u8>, Stat)>) + Send + 'static,
    ) -> Result<()> {
        let (req, reg) = self.get_data_request(path, Watch::With(watcher.clone()))?;
        self.async_call(req, reg, path, get_data_conv, cb)
    }

    /// [`get_children_w`](Self::get_children_w) with a [`SharedWatcher`]: one identity, so
    /// registering it again for the same node and kind keeps one registration (called once per
    /// event, as in Java), and [`remove_watches`](Self::remove_watches) can remove it.
    pub fn get_children_w_shared(
        &self,
        path: &str,
        watcher: &SharedWatcher,
    ) -> Result<Vec<String>> {
        let (req, reg) = self.children_request(path, Watch::With(watcher.clone()), false)?;
        self.sync_call(req, reg, path, children_conv)
            .map(|(c, _)| c)
    }

    /// [`get_children2_w`](Self::get_children2_w) with a [`SharedWatcher`]: one identity, so
    /// registering it again for the same node and kind keeps one registration (called once per
    /// event, as in Java), and [`remove_watches`](Self::remove_watches) can remove it.
    pub fn get_children2_w_shared(
        &self,
        path: &str,
        watcher: &SharedWatcher,
    ) -> Result<(Vec<String>, Stat)> {
        let (req, reg) = self.children_request(path, Watch::With(watcher.clone()), true)?;
        self.sync_call(req, reg, path, children_conv)
            .map(|(c, s)| (c, s.unwrap_or_default()))
    }

    /// [`get_children_w_async`](Self::get_children_w_async) with a [`SharedWatcher`]: one identity,
    /// so registering it again for the same node and kind keeps one registration (called once per
    /// event, as in Java), and [`remove_watches`](Self::remove_watches) can remove it.
    pub fn get_children_w_shared_async(
        &self,
        path: &str,
        watcher: &SharedWatcher,
        cb: impl FnOnce(Result<Vec<String>>) + Send + 'static,
    ) -> Result<()> {
        let (req, reg) = self.children_request(path, Watch::With(watcher.clone()), false)?;
        self.async_call(req, reg, path, |r| children_conv(r).map(|(c, _)| c), cb)
    }

    /// [`get_children2_w_async`](Self::get_children2_w_async) with a [`SharedWatcher`]: one
    /// identity, so registering it again for the same node and kind keeps one registration (called
    /// once per event, as in Java), and [`remove_watches`](Self::remove_watches) can remove it.
    pub fn get_children2_w_shared_async(
        &self,
        path: &str,
        watcher: &SharedWatcher,
        cb: impl FnOnce(Result<(Vec<String>, Stat)>) + Send + 'static,
    ) -> Result<()> {
        let (req, reg) = self.children_request(path, Watch::With(watcher.clone()), true)?;
        self.async_call(
            req,
            reg,
            path,
            |r| children_conv(r).map(|(c, s)| (c, s.unwrap_or_default())),
            cb,
        )
    }

    /// [`get_config_w`](Self::get_config_w) with a [`SharedWatcher`]: one identity, so registering
    /// it again for the same node and kind keeps one registration (called once per event, as in
    /// Java), and [`remove_watches`](Self::remove_watches) can remove it.
    pub fn get_config_w_shared(&self, watcher: &SharedWatcher) -> Result<(Vec<u8>, Stat)> {
        let (req, reg) = self.config_request(Watch::With(watcher.clone()))?;
        self.sync_call(req, reg, CONFIG_NODE, get_data_conv)
    }

    /// [`get_config_w_async`](Self::get_config_w_async) with a [`SharedWatcher`]: one identity, so
    /// registering it again for the same node and kind keeps one registration (called once per
    /// event, as in Java), and [`remove_watches`](Self::remove_watches) can remove it.
    pub fn get_config_w_shared_async(
        &self,
        watcher: &SharedWatcher,
        cb: impl FnOnce(Result<(Vec<u8>, Stat)>) + Send + 'static,
    ) -> Result<()> {
        let (req, reg) = self.config_request(Watch::With(watcher.clone()))?;
        self.async_call(req, reg, CONFIG_NODE, get_data_conv, cb)
    }

    /// [`add_watch`](Self::add_watch) with a [`SharedWatcher`]: one identity, so registering it
    /// again for the same node and kind keeps one registration (called once per event, as in Java),
    /// and [`remove_watches`](Self::remove_watches) can remove it.
    pub fn add_watch_shared(
        &self,
        path: &str,
        watcher: &SharedWatcher,
        mode: AddWatchMode,
    ) -> Result<()> {
        let (req, reg) = self.add_watch_request(path, watcher.clone(), mode)?;
        self.sync_call(req, reg, path, |_| Ok(()))
    }

    /// [`add_watch_async`](Self::add_watch_async) with a [`SharedWatcher`]: one identity, so
    /// registering it again for the same node and kind keeps one registration (called once per
    /// event, as in Java), and [`remove_watches`](Self::remove_watches) can remove it.
    pub fn add_watch_shared_async(
        &self,
        path: &str,
        watcher: &SharedWatcher,
        mode: AddWatchMode,
        cb: impl FnOnce(Result<()>) + Send + 'static,
    ) -> Result<()> {
        let (req, reg) = self.add_watch_request(path, watcher.clone(), mode)?;
        self.async_call(req, reg, path, |_| Ok(()), cb)
    }
}
