//! The registry of state published by hosts, keyed by host address.

use std::any::Any;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use serde::Serialize;

use crate::assertions::context::publish_value;

/// A published value: any `'static` type, shared.
type Value = Arc<dyn Any + Send + Sync>;

/// The latest value each host published under each key.
#[derive(Debug, Clone, Default)]
pub struct HostState {
    values: BTreeMap<String, Value>,
}

impl HostState {
    /// The value under `key`, if one was published with type `T`.
    pub fn get<T: Any>(&self, key: &str) -> Option<&T> {
        self.values.get(key)?.downcast_ref::<T>()
    }

    /// The value under `key` if it was published with [`publish_json`].
    pub fn json(&self, key: &str) -> Option<&serde_json::Value> {
        self.get::<serde_json::Value>(key)
    }

    /// The keys this host published, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }
}

/// Everything every host published in the current iteration, as invariants
/// see it. Hosts are in address order.
#[derive(Debug, Clone, Default)]
pub struct PublishedState {
    hosts: BTreeMap<IpAddr, HostState>,
}

impl PublishedState {
    /// One host's state, if it published anything.
    pub fn host(&self, host: impl Into<IpAddr>) -> Option<&HostState> {
        self.hosts.get(&host.into())
    }

    /// Every host that published, in address order.
    pub fn hosts(&self) -> impl Iterator<Item = (IpAddr, &HostState)> {
        self.hosts.iter().map(|(addr, state)| (*addr, state))
    }

    /// The value `host` published under `key`, if it has type `T`.
    pub fn get<T: Any>(&self, host: impl Into<IpAddr>, key: &str) -> Option<&T> {
        self.hosts.get(&host.into())?.get(key)
    }

    /// Every host's value under `key` that has type `T`, in address order.
    pub fn values<'a, T: Any>(&'a self, key: &'a str) -> impl Iterator<Item = (IpAddr, &'a T)> {
        self.hosts()
            .filter_map(move |(addr, state)| state.get::<T>(key).map(|value| (addr, value)))
    }

    /// Whether no host published anything.
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }

    /// Stores `value`, overwriting the previous value in place when it has
    /// the same type and no snapshot shares it (no allocation).
    pub(crate) fn put<T: Any + Send + Sync>(&mut self, host: IpAddr, key: &str, value: T) {
        let values = &mut self.hosts.entry(host).or_default().values;
        match values.get_mut(key) {
            Some(slot) => match Arc::get_mut(slot).and_then(|old| old.downcast_mut::<T>()) {
                Some(old) => *old = value,
                None => *slot = Arc::new(value),
            },
            None => {
                values.insert(key.to_owned(), Arc::new(value));
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn insert(&mut self, host: IpAddr, key: &str, value: Value) {
        let values = &mut self.hosts.entry(host).or_default().values;
        match values.get_mut(key) {
            Some(slot) => *slot = value,
            None => {
                values.insert(key.to_owned(), value);
            }
        }
    }
}

/// Publishes `value` as `host`'s state under `key`, replacing any earlier
/// value. A no-op outside a simulation.
pub fn publish<T: Any + Send + Sync>(host: impl Into<IpAddr>, key: &str, value: T) {
    let host = host.into();
    publish_value(|state| state.put(host, key, value));
}

/// Publishes `value` converted to a [`serde_json::Value`] (read it back
/// with [`HostState::json`] or `get::<serde_json::Value>`).
///
/// # Errors
/// The value does not convert to JSON (for example a map with non-string
/// keys).
pub fn publish_json<T: Serialize>(
    host: impl Into<IpAddr>,
    key: &str,
    value: &T,
) -> Result<(), serde_json::Error> {
    let json = serde_json::to_value(value)?;
    publish(host, key, json);
    Ok(())
}
