//! The places of incoming connections in their handshake, oldest first:
//! when they are all taken, a new connection takes the place of the oldest
//! unfinished handshake (of its own source first), so that connections
//! that stall their handshake can delay a new client but never lock it
//! out.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use crate::peer::lock;

/// Why a handshake lost its place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Eviction {
    /// Every place was taken: the oldest handshake of all made room.
    Oldest,
    /// Its source held its whole share: the source's oldest made room.
    SameSource,
}

/// The handshakes under way, in order of arrival.
#[derive(Default)]
struct Table {
    next: u64,
    /// Arrival number → source, and the sender whose drop tells the
    /// handshake it lost its place.
    by_age: BTreeMap<u64, (IpAddr, oneshot::Sender<()>)>,
    /// Source → arrival numbers of its handshakes.
    by_source: BTreeMap<IpAddr, BTreeSet<u64>>,
}

impl Table {
    fn remove(&mut self, seq: u64) -> Option<oneshot::Sender<()>> {
        let (source, evict) = self.by_age.remove(&seq)?;
        if let Some(seqs) = self.by_source.get_mut(&source) {
            seqs.remove(&seq);
            if seqs.is_empty() {
                self.by_source.remove(&source);
            }
        }
        Some(evict)
    }
}

/// The handshake places of one accept loop.
pub(crate) struct Handshakes {
    table: Arc<Mutex<Table>>,
    max: usize,
    max_per_source: usize,
}

/// A handshake's place; given back on drop. [`HandshakeSlot::evicted`]
/// resolves when a newer connection took it.
pub(crate) struct HandshakeSlot {
    table: Arc<Mutex<Table>>,
    seq: u64,
    evicted: oneshot::Receiver<()>,
}

impl HandshakeSlot {
    /// Resolves once the place was given to a newer connection: the
    /// handshake must then end and its connection close.
    pub(crate) async fn evicted(&mut self) {
        // The sender is only ever dropped (never used): that is the signal.
        let _ = (&mut self.evicted).await;
    }
}

impl Drop for HandshakeSlot {
    fn drop(&mut self) {
        let evict = lock(&self.table).remove(self.seq);
        // Dropped after the lock is released: it wakes nobody but us.
        drop(evict);
    }
}

/// The canonical form of a source address (an IPv4-mapped IPv6 address is
/// the IPv4 host it maps).
fn source(from: SocketAddr) -> IpAddr {
    from.ip().to_canonical()
}

impl Handshakes {
    /// At most `max` handshakes, at most `max_per_source` from one IP
    /// address (both at least 1).
    pub(crate) fn new(max: usize, max_per_source: usize) -> Self {
        Self {
            table: Arc::default(),
            max: max.max(1),
            max_per_source: max_per_source.max(1),
        }
    }

    /// A place for the handshake of a connection from `from`. Always
    /// given: if `from`'s source holds its whole share, its oldest
    /// handshake is evicted; else, if every place is taken, the oldest of
    /// all is. Returns the place and what was evicted to make it.
    pub(crate) fn admit(&self, from: SocketAddr) -> (HandshakeSlot, Option<Eviction>) {
        let source = source(from);
        let (evict, slot, eviction) = {
            let mut table = lock(&self.table);
            let same_source = table
                .by_source
                .get(&source)
                .filter(|seqs| seqs.len() >= self.max_per_source)
                .and_then(|seqs| seqs.first().copied());
            let (victim, eviction) = match same_source {
                Some(seq) => (Some(seq), Some(Eviction::SameSource)),
                None if table.by_age.len() >= self.max => (
                    table.by_age.first_key_value().map(|(&seq, _)| seq),
                    Some(Eviction::Oldest),
                ),
                None => (None, None),
            };
            let evict = victim.and_then(|seq| table.remove(seq));
            let seq = table.next;
            table.next += 1;
            let (sender, receiver) = oneshot::channel();
            table.by_age.insert(seq, (source, sender));
            table.by_source.entry(source).or_default().insert(seq);
            let slot = HandshakeSlot {
                table: self.table.clone(),
                seq,
                evicted: receiver,
            };
            (evict, slot, eviction.filter(|_| victim.is_some()))
        };
        // Wakes the evicted handshake, with the table unlocked.
        drop(evict);
        (slot, eviction)
    }

    /// Handshakes under way now.
    pub(crate) fn in_use(&self) -> u64 {
        lock(&self.table).by_age.len() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(ip: &str) -> SocketAddr {
        format!("{ip}:1").parse().unwrap()
    }

    fn is_evicted(slot: &mut HandshakeSlot) -> bool {
        matches!(
            slot.evicted.try_recv(),
            Err(oneshot::error::TryRecvError::Closed)
        )
    }

    #[test]
    fn a_full_table_evicts_the_oldest_handshake_for_a_new_one() {
        let handshakes = Handshakes::new(2, 2);
        let (mut first, none) = handshakes.admit(from("10.0.0.1"));
        assert_eq!(none, None);
        let (mut second, _) = handshakes.admit(from("10.0.0.2"));
        let (mut third, eviction) = handshakes.admit(from("10.0.0.3"));
        assert_eq!(eviction, Some(Eviction::Oldest));
        assert!(is_evicted(&mut first));
        assert!(!is_evicted(&mut second));
        assert!(!is_evicted(&mut third));
        assert_eq!(handshakes.in_use(), 2);
        drop(first);
        assert_eq!(handshakes.in_use(), 2, "the evicted place is already gone");
        drop(second);
        assert_eq!(handshakes.in_use(), 1);
    }

    #[test]
    fn a_source_over_its_share_evicts_its_own_oldest_not_anothers() {
        let handshakes = Handshakes::new(10, 2);
        let (mut other, _) = handshakes.admit(from("10.0.0.9"));
        let (mut first, _) = handshakes.admit(from("10.0.0.1"));
        let (mut second, _) = handshakes.admit(from("10.0.0.1"));
        let (_third, eviction) = handshakes.admit("[::ffff:10.0.0.1]:2".parse().unwrap());
        assert_eq!(eviction, Some(Eviction::SameSource));
        assert!(is_evicted(&mut first));
        assert!(!is_evicted(&mut second));
        assert!(
            !is_evicted(&mut other),
            "an older handshake of another source stays"
        );
        assert_eq!(handshakes.in_use(), 3);
    }
}
