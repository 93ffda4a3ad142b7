//! A peer's send queue: what is waiting to be written, and the reliable
//! packets held until their sender acknowledges them.
//!
//! Every packet gets a sequence number in the order it was accepted. The
//! *unsent* list is what the next write takes from. A reliable packet is
//! also held in a map by sequence number until it is cancelled; when a
//! connection ends, the unsent list is rebuilt from that map (original
//! order) and unreliable packets that were still unsent are discarded.

use std::collections::{BTreeMap, VecDeque};

use moonpool_codec::Packet;
use tokio::sync::OwnedSemaphorePermit;

use super::outgoing::Delivery;

/// The room a packet takes in the queue's bounds while it waits to be
/// written: the queue slot its sender reserved in `poll_ready`, or, for a
/// packet sent without one, a place among those (and its share of their
/// byte budget). Released when the entry leaves the unsent list (written,
/// discarded or cancelled). Resends take none.
#[derive(Debug, Default)]
pub(crate) struct Slot {
    _permits: [Option<OwnedSemaphorePermit>; 2],
}

impl Slot {
    /// A queue slot reserved by `poll_ready`.
    pub(crate) fn reserved(permit: OwnedSemaphorePermit) -> Self {
        Self {
            _permits: [Some(permit), None],
        }
    }

    /// A place among the packets queued without a reserved slot, and its
    /// bytes.
    pub(crate) fn unreserved(place: OwnedSemaphorePermit, bytes: OwnedSemaphorePermit) -> Self {
        Self {
            _permits: [Some(place), Some(bytes)],
        }
    }
}

/// One entry of the unsent list.
#[derive(Debug)]
struct Queued {
    seq: u64,
    unreliable: Option<Packet>,
    _slot: Slot,
}

/// The send queue of one peer.
#[derive(Debug, Default)]
pub(crate) struct SendQueue {
    reliable: BTreeMap<u64, Packet>,
    unsent: VecDeque<Queued>,
    next_seq: u64,
}

impl SendQueue {
    /// Appends a packet; returns its sequence number.
    pub(crate) fn push(&mut self, packet: Packet, delivery: Delivery, slot: Slot) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        let unreliable = match delivery {
            Delivery::Reliable => {
                self.reliable.insert(seq, packet);
                None
            }
            Delivery::Unreliable => Some(packet),
        };
        self.unsent.push_back(Queued {
            seq,
            unreliable,
            _slot: slot,
        });
        seq
    }

    /// Forgets reliable packet `seq`: it will not be written again. Returns
    /// whether it was still held.
    pub(crate) fn cancel(&mut self, seq: u64) -> bool {
        if self.reliable.remove(&seq).is_none() {
            return false;
        }
        if let Some(index) = self.unsent.iter().position(|queued| queued.seq == seq) {
            self.unsent.remove(index);
        }
        true
    }

    /// Takes the next packet to write, in acceptance order.
    pub(crate) fn pop(&mut self) -> Option<Packet> {
        let queued = self.unsent.pop_front()?;
        match queued.unreliable {
            Some(packet) => Some(packet),
            // `cancel` removes an entry from both places, so a reliable entry
            // in the unsent list is always in the map.
            None => self.reliable.get(&queued.seq).cloned(),
        }
    }

    /// A connection ended: every held reliable packet is queued again in its
    /// original order, ahead of nothing else, and unsent unreliable packets
    /// are discarded. Returns how many were discarded.
    pub(crate) fn connection_ended(&mut self) -> usize {
        let mut slots = BTreeMap::new();
        let mut discarded = 0;
        for queued in self.unsent.drain(..) {
            if queued.unreliable.is_some() {
                discarded += 1;
            } else {
                slots.insert(queued.seq, queued._slot);
            }
        }
        self.unsent = self
            .reliable
            .keys()
            .map(|&seq| Queued {
                seq,
                unreliable: None,
                _slot: slots.remove(&seq).unwrap_or_default(),
            })
            .collect();
        discarded
    }

    /// Drops everything (shutdown).
    pub(crate) fn clear(&mut self) {
        self.unsent.clear();
        self.reliable.clear();
    }

    /// Whether reliable packet `seq` is still held.
    pub(crate) fn is_reliable_pending(&self, seq: u64) -> bool {
        self.reliable.contains_key(&seq)
    }

    /// Packets waiting to be written.
    pub(crate) fn depth(&self) -> usize {
        self.unsent.len()
    }

    /// Reliable packets held.
    pub(crate) fn reliable_outstanding(&self) -> usize {
        self.reliable.len()
    }

    /// Whether anything waits to be written.
    pub(crate) fn has_unsent(&self) -> bool {
        !self.unsent.is_empty()
    }

    /// Nothing to write and nothing held.
    pub(crate) fn is_empty(&self) -> bool {
        self.unsent.is_empty() && self.reliable.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use moonpool_codec::Uid;

    fn packet(n: u64) -> Packet {
        Packet::new(Uid::new(1, n), vec![n as u8])
    }

    fn drain(queue: &mut SendQueue) -> Vec<u64> {
        std::iter::from_fn(|| queue.pop())
            .map(|p| p.token.second)
            .collect()
    }

    #[test]
    fn packets_are_written_in_acceptance_order() {
        let mut queue = SendQueue::default();
        queue.push(packet(1), Delivery::Reliable, Slot::default());
        queue.push(packet(2), Delivery::Unreliable, Slot::default());
        queue.push(packet(3), Delivery::Reliable, Slot::default());
        assert_eq!(drain(&mut queue), vec![1, 2, 3]);
    }

    #[test]
    fn a_connection_end_requeues_reliable_in_order_and_discards_unreliable() {
        let mut queue = SendQueue::default();
        queue.push(packet(1), Delivery::Reliable, Slot::default());
        queue.push(packet(2), Delivery::Unreliable, Slot::default());
        assert_eq!(drain(&mut queue), vec![1, 2]);
        queue.push(packet(3), Delivery::Reliable, Slot::default());
        queue.push(packet(4), Delivery::Unreliable, Slot::default());
        assert_eq!(queue.connection_ended(), 1);
        assert_eq!(drain(&mut queue), vec![1, 3]);
        assert_eq!(queue.reliable_outstanding(), 2);
    }

    #[test]
    fn cancel_forgets_a_reliable_packet_and_is_idempotent() {
        let mut queue = SendQueue::default();
        let first = queue.push(packet(1), Delivery::Reliable, Slot::default());
        queue.push(packet(2), Delivery::Reliable, Slot::default());
        assert!(queue.cancel(first));
        assert!(!queue.cancel(first));
        assert_eq!(drain(&mut queue), vec![2]);
        queue.connection_ended();
        assert_eq!(drain(&mut queue), vec![2]);
    }

    #[test]
    fn permits_are_released_when_entries_leave_the_unsent_list() {
        let semaphore = std::sync::Arc::new(tokio::sync::Semaphore::new(2));
        let mut queue = SendQueue::default();
        let permit = || Slot::reserved(semaphore.clone().try_acquire_owned().unwrap());
        queue.push(packet(1), Delivery::Reliable, permit());
        queue.push(packet(2), Delivery::Unreliable, permit());
        assert_eq!(semaphore.available_permits(), 0);
        assert_eq!(queue.connection_ended(), 1);
        assert_eq!(semaphore.available_permits(), 1, "the discarded one");
        assert!(queue.pop().is_some());
        assert_eq!(semaphore.available_permits(), 2, "the written one");
    }
}
