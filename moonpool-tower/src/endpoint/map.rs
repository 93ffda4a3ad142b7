//! The endpoint map: FoundationDB's `EndpointMap`, a fixed array for
//! well-known tokens and a map for the rest.

// Allowed: a fixed hasher, and the map is never iterated (see `DynamicMap`).
#[allow(clippy::disallowed_types)]
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, DefaultHasher};

use moonpool_codec::Uid;

/// The hasher of the dynamic map: std's SipHash with its fixed zero key.
/// The map is only ever looked up, never iterated, so its order cannot leak
/// into behaviour; the fixed key keeps even its memory layout the same from
/// run to run. Flooding is not a concern: a peer chooses the tokens it
/// looks up, never the tokens that are stored (the node draws them from its
/// RNG or the application names them).
type FixedHasher = BuildHasherDefault<DefaultHasher>;

/// The dynamic tokens' map: looked up, never iterated.
#[allow(clippy::disallowed_types)] // Fixed hasher, no iteration: no order leaks.
type DynamicMap<V> = HashMap<Uid, V, FixedHasher>;

/// A map from token to `V` with an O(1) lookup for well-known tokens.
///
/// - A well-known token (`first == u64::MAX`) whose index (its `second`
///   word) is below [`well_known_slots`](Self::well_known_slots) lives in a
///   fixed-size array at that index: a lookup is one bounds check and one
///   load, however many endpoints are registered.
/// - Every other token (random tokens, interface methods, well-known tokens
///   beyond the array) lives in a `HashMap` with a fixed hasher: an
///   expected O(1) lookup. The map is never iterated, so nothing the node
///   does depends on its order (see `docs/determinism.md`).
///
/// The map has the lookup surface of `BTreeMap` (`get`, `insert`,
/// `remove`, `contains_key`, `len`) and no iteration.
///
/// ```
/// use moonpool_codec::Uid;
/// use moonpool_tower::endpoint::EndpointMap;
///
/// let mut map = EndpointMap::new(128);
/// map.insert(Uid::well_known(70), "status");
/// map.insert(Uid::new(7, 1), "echo");
/// assert_eq!(map.get(&Uid::well_known(70)), Some(&"status"));
/// assert_eq!(map.get(&Uid::new(7, 1)), Some(&"echo"));
/// assert_eq!(map.len(), 2);
/// ```
pub struct EndpointMap<V> {
    well_known: Box<[Option<V>]>,
    dynamic: DynamicMap<V>,
    /// Entries in `well_known`.
    well_known_len: usize,
}

impl<V> EndpointMap<V> {
    /// An empty map whose array holds well-known indices
    /// `0..well_known_slots`.
    pub fn new(well_known_slots: usize) -> Self {
        Self {
            well_known: std::iter::repeat_with(|| None)
                .take(well_known_slots)
                .collect(),
            dynamic: DynamicMap::default(),
            well_known_len: 0,
        }
    }

    /// How many well-known indices the array holds.
    pub fn well_known_slots(&self) -> usize {
        self.well_known.len()
    }

    /// The array index of `token`, if it is a well-known token in range.
    fn slot(&self, token: &Uid) -> Option<usize> {
        if !token.is_well_known() {
            return None;
        }
        usize::try_from(token.second)
            .ok()
            .filter(|index| *index < self.well_known.len())
    }

    /// The value at `token`.
    pub fn get(&self, token: &Uid) -> Option<&V> {
        match self.slot(token) {
            Some(index) => self.well_known.get(index).and_then(Option::as_ref),
            None => self.dynamic.get(token),
        }
    }

    /// Whether a value is stored at `token`.
    pub fn contains_key(&self, token: &Uid) -> bool {
        self.get(token).is_some()
    }

    /// Stores `value` at `token`; returns the value it replaces.
    pub fn insert(&mut self, token: Uid, value: V) -> Option<V> {
        match self.slot(&token) {
            Some(index) => {
                let old = self.well_known.get_mut(index)?.replace(value);
                if old.is_none() {
                    self.well_known_len += 1;
                }
                old
            }
            None => self.dynamic.insert(token, value),
        }
    }

    /// Removes and returns the value at `token`.
    pub fn remove(&mut self, token: &Uid) -> Option<V> {
        match self.slot(token) {
            Some(index) => {
                let old = self.well_known.get_mut(index)?.take();
                if old.is_some() {
                    self.well_known_len -= 1;
                }
                old
            }
            None => self.dynamic.remove(token),
        }
    }

    /// How many tokens have a value.
    pub fn len(&self) -> usize {
        self.well_known_len + self.dynamic.len()
    }

    /// Whether no token has a value.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<V> std::fmt::Debug for EndpointMap<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointMap")
            .field("well_known_slots", &self.well_known.len())
            .field("well_known", &self.well_known_len)
            .field("dynamic", &self.dynamic.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_tokens_within_the_slots_and_dynamic_tokens_are_both_found() {
        let mut map = EndpointMap::new(8);
        assert_eq!(map.insert(Uid::well_known(3), 'w'), None);
        assert_eq!(map.insert(Uid::new(3, 3), 'd'), None);
        assert_eq!(map.get(&Uid::well_known(3)), Some(&'w'));
        assert_eq!(map.get(&Uid::new(3, 3)), Some(&'d'));
        assert_eq!(map.get(&Uid::well_known(4)), None);
        assert_eq!(map.len(), 2);
    }

    #[test]
    fn a_well_known_token_beyond_the_slots_is_kept_in_the_dynamic_map() {
        let mut map = EndpointMap::new(8);
        map.insert(Uid::well_known(8), 'x');
        map.insert(Uid::new(u64::MAX, u64::MAX), 'y');
        assert_eq!(map.get(&Uid::well_known(8)), Some(&'x'));
        assert_eq!(map.get(&Uid::new(u64::MAX, u64::MAX)), Some(&'y'));
        assert_eq!(map.len(), 2);
    }

    #[test]
    fn insert_replaces_and_remove_empties_without_miscounting() {
        let mut map = EndpointMap::new(8);
        map.insert(Uid::well_known(1), 1);
        assert_eq!(map.insert(Uid::well_known(1), 2), Some(1));
        map.insert(Uid::new(1, 1), 3);
        assert_eq!(map.len(), 2);
        assert_eq!(map.remove(&Uid::well_known(1)), Some(2));
        assert_eq!(map.remove(&Uid::well_known(1)), None);
        assert_eq!(map.remove(&Uid::new(1, 1)), Some(3));
        assert!(map.is_empty());
        assert!(!map.contains_key(&Uid::well_known(1)));
    }

    #[test]
    fn a_map_without_slots_keeps_every_token_in_the_dynamic_map() {
        let mut map = EndpointMap::new(0);
        map.insert(Uid::well_known(0), ());
        assert!(map.contains_key(&Uid::well_known(0)));
        assert_eq!(map.well_known_slots(), 0);
    }
}
