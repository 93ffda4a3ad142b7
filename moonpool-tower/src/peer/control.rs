//! An operator's hold on one peer's connection: close the current one, or
//! close it and dial a new one at once (see `Peer::close_connection` and
//! `Peer::reconnect`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::sync::Notify;

/// The requests a user made of a peer's connection, read by its keeper.
#[derive(Debug, Default)]
pub(crate) struct ConnectionControl {
    /// Bumped by every close request. A connection remembers the value it
    /// started with, so a request applies to the connection open when it
    /// was made, never to a later one.
    closes: AtomicU64,
    /// Wakes every running connection's supervisor (`notify_waiters`: no
    /// permit is stored for a connection that does not exist yet).
    close_requested: Notify,
    /// Whether the keeper is to dial now, skipping any reconnection delay.
    reconnect: AtomicBool,
    /// Wakes the keeper for `reconnect`.
    reconnect_requested: Notify,
}

impl ConnectionControl {
    /// The close requests so far: what a connection starting now records.
    pub(crate) fn closes(&self) -> u64 {
        self.closes.load(Ordering::SeqCst)
    }

    /// Asks the open connection, if any, to close.
    pub(crate) fn request_close(&self) {
        self.closes.fetch_add(1, Ordering::SeqCst);
        self.close_requested.notify_waiters();
    }

    /// Asks the keeper to dial at once, whether or not anything is queued.
    pub(crate) fn request_reconnect(&self) {
        self.reconnect.store(true, Ordering::SeqCst);
        self.reconnect_requested.notify_one();
    }

    /// Resolves once a close was requested after `started` was read.
    pub(crate) async fn closed_since(&self, started: u64) {
        loop {
            let notified = self.close_requested.notified();
            tokio::pin!(notified);
            // Registered before the check, so a request between the check
            // and the await still wakes this waiter.
            notified.as_mut().enable();
            if self.closes() != started {
                return;
            }
            notified.await;
        }
    }

    /// Resolves once a reconnect is requested (or is already pending).
    pub(crate) async fn reconnect_requested(&self) {
        while !self.reconnect.load(Ordering::SeqCst) {
            self.reconnect_requested.notified().await;
        }
    }

    /// Clears a pending reconnect request: the keeper is dialing, or a
    /// connection has just opened (it is the fresh connection asked for).
    pub(crate) fn clear_reconnect(&self) {
        self.reconnect.store(false, Ordering::SeqCst);
    }
}
