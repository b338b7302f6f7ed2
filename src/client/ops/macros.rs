//! `request_methods!`: the public forms of one operation written out from one declaration,
//! so that the blocking, callback, watch-flag, closure-watcher and [`SharedWatcher`] forms
//! cannot drift apart. Every generated body is one line: it prepares the operation's
//! [`Call`](super::Call) with the named `*_call` method and hands it to
//! [`run`](crate::client::ZooKeeper::run) (blocking) or
//! [`run_async`](crate::client::ZooKeeper::run_async) (callback); a closure watcher is
//! wrapped into a [`SharedWatcher`] and goes to the shared form.
//!
//! Three shapes, each a line per generated method (`T` is the result type; the `*_call`
//! method takes the method's arguments in order, plus the watch where there is one):
//!
//! ```text
//! // a request without a watch
//! fn delete(path: &str, version: i32) -> () = delete_call;     // delete(path, version)
//! async delete_async;                                           // delete_async(path, version, cb)
//!
//! // a read that may leave a watch: get_data_call's last argument is a `Watch`
//! watched fn get_data(path: &str) -> (Vec<u8>, Stat) = get_data_call; // (path, watch: bool)
//! async get_data_async;                                         // get_data_async(path, watch, cb)
//! closure get_data_w, get_data_w_async;                         // (path, watcher: impl Fn), (.., cb)
//! shared get_data_w_shared, get_data_w_shared_async;            // (path, watcher: &SharedWatcher), (.., cb)
//!
//! // only a watcher of its own (addWatch): the `*_call` gets it as a SharedWatcher
//! watcher fn add_watch(path: &str; mode: AddWatchMode) -> () = add_watch_call;
//! async add_watch_async;                                        // add_watch_async(path, watcher, mode, cb)
//! shared add_watch_shared, add_watch_shared_async;              // (path, &SharedWatcher, mode[, cb])
//! ```
//!
//! The doc comment written above a declaration documents its first method; the others get
//! the project's standard one-liners ("[`x`](Self::x), asynchronously.", "... with a
//! watcher of its own.", "... with a [`SharedWatcher`]: one identity, ..."), naming the
//! method they derive from, so every generated method has its own specific rustdoc.
//!
//! [`SharedWatcher`]: crate::SharedWatcher

/// See the [module docs](self).
macro_rules! request_methods {
    // A request without a watch: blocking and callback forms.
    (
        $(#[$doc:meta])*
        fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $t:ty = $call:ident;
        async $(#[$adoc:meta])* $name_async:ident;
    ) => {
        $(#[$doc])*
        pub fn $name(&self, $($arg: $ty),*) -> $crate::error::Result<$t> {
            self.run(self.$call($($arg),*))
        }

        #[doc = concat!("[`", stringify!($name), "`](Self::", stringify!($name), "), asynchronously.")]
        $(#[$adoc])*
        pub fn $name_async(
            &self,
            $($arg: $ty,)*
            cb: impl FnOnce($crate::error::Result<$t>) + Send + 'static,
        ) -> $crate::error::Result<()> {
            self.run_async(self.$call($($arg),*), cb)
        }
    };

    // A read that may leave a watch: the `watch: bool` pair (default watcher), then the
    // closure and SharedWatcher pairs (a watcher of its own).
    (
        $(#[$doc:meta])*
        watched fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $t:ty = $call:ident;
        async $name_async:ident;
        closure $w:ident, $w_async:ident;
        shared $shared:ident, $shared_async:ident;
    ) => {
        $(#[$doc])*
        pub fn $name(&self, $($arg: $ty,)* watch: bool) -> $crate::error::Result<$t> {
            self.run(self.$call($($arg,)* watch.into()))
        }

        #[doc = concat!("[`", stringify!($name), "`](Self::", stringify!($name), "), asynchronously.")]
        pub fn $name_async(
            &self,
            $($arg: $ty,)*
            watch: bool,
            cb: impl FnOnce($crate::error::Result<$t>) + Send + 'static,
        ) -> $crate::error::Result<()> {
            self.run_async(self.$call($($arg,)* watch.into()), cb)
        }

        request_methods! {
            #[doc = concat!("[`", stringify!($name), "`](Self::", stringify!($name), ") with a watcher of its own.")]
            watcher fn $w($($arg: $ty),*;) -> $t = $call;
            async $w_async;
            shared $shared, $shared_async;
        }
    };

    // A watcher of its own only: closure and SharedWatcher forms, each blocking and with a
    // callback. Arguments before the `;` come before the watcher, the rest after it.
    (
        $(#[$doc:meta])*
        watcher fn $w:ident($($arg:ident: $ty:ty),*; $($arg2:ident: $ty2:ty),* $(,)?) -> $t:ty = $call:ident;
        async $w_async:ident;
        shared $shared:ident, $shared_async:ident;
    ) => {
        $(#[$doc])*
        #[doc = "The closure's argument type is inferred (`|e| ...`); a [`SharedWatcher`](crate::SharedWatcher) goes to"]
        #[doc = concat!("[`", stringify!($shared), "`](Self::", stringify!($shared), ").")]
        pub fn $w(
            &self,
            $($arg: $ty,)*
            watcher: impl Fn(&$crate::session::WatchedEvent) + Send + Sync + 'static,
            $($arg2: $ty2,)*
        ) -> $crate::error::Result<$t> {
            self.$shared($($arg,)* &$crate::session::SharedWatcher::new(watcher), $($arg2,)*)
        }

        #[doc = concat!("[`", stringify!($w), "`](Self::", stringify!($w), "), asynchronously.")]
        #[doc = "The closure's argument type is inferred (`|e| ...`); a [`SharedWatcher`](crate::SharedWatcher) goes to"]
        #[doc = concat!("[`", stringify!($shared_async), "`](Self::", stringify!($shared_async), ").")]
        pub fn $w_async(
            &self,
            $($arg: $ty,)*
            watcher: impl Fn(&$crate::session::WatchedEvent) + Send + Sync + 'static,
            $($arg2: $ty2,)*
            cb: impl FnOnce($crate::error::Result<$t>) + Send + 'static,
        ) -> $crate::error::Result<()> {
            self.$shared_async($($arg,)* &$crate::session::SharedWatcher::new(watcher), $($arg2,)* cb)
        }

        #[doc = concat!("[`", stringify!($w), "`](Self::", stringify!($w), ") with a [`SharedWatcher`](crate::SharedWatcher): ", shared_doc!())]
        pub fn $shared(
            &self,
            $($arg: $ty,)*
            watcher: &$crate::session::SharedWatcher,
            $($arg2: $ty2,)*
        ) -> $crate::error::Result<$t> {
            self.run(self.$call($($arg,)* watcher.clone().into(), $($arg2),*))
        }

        #[doc = concat!("[`", stringify!($w_async), "`](Self::", stringify!($w_async), ") with a [`SharedWatcher`](crate::SharedWatcher): ", shared_doc!())]
        pub fn $shared_async(
            &self,
            $($arg: $ty,)*
            watcher: &$crate::session::SharedWatcher,
            $($arg2: $ty2,)*
            cb: impl FnOnce($crate::error::Result<$t>) + Send + 'static,
        ) -> $crate::error::Result<()> {
            self.run_async(self.$call($($arg,)* watcher.clone().into(), $($arg2),*), cb)
        }
    };
}

/// What every `_shared` form says about identity.
macro_rules! shared_doc {
    () => {
        "one identity, so registering it again for the same node and kind keeps one \
         registration (called once per event, as in Java), and \
         [`remove_watches`](Self::remove_watches) can remove it."
    };
}
