//! The event queue: packets on the wire, ordered by arrival time and then by
//! the order they were sent, so same-instant events apply in a stable order.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use bytes::Bytes;
use tokio::time::Instant;

use super::connection::Side;
use super::slab::Key;

/// A packet in flight.
pub(crate) enum Event {
    /// Connection request from the client end of `Key`.
    Syn(Key),
    /// Handshake reply reaching the client end.
    SynAck(Key),
    /// Refusal reaching the client end.
    Refuse(Key),
    /// The client's last connection request went unanswered for its whole
    /// retransmission timeout: the connect fails (a timer, not a packet).
    SynTimeout(Key),
    /// Bytes reaching the `to` end.
    Data { conn: Key, to: Side, data: Bytes },
    /// End of stream reaching the `to` end.
    Fin { conn: Key, to: Side },
    /// Reset reaching the `to` end.
    Rst { conn: Key, to: Side },
    /// A clog or partition may have ended: deliver what the `to` end held.
    Release { conn: Key, to: Side },
    /// The connection's retransmission timer: it times out if the `to` end
    /// still holds unacknowledged data since a connection timeout ago
    /// (or at once, if `always`).
    Expire { conn: Key, to: Side, always: bool },
}

impl Event {
    /// A connection handshake packet (SYN, SYN-ACK, refusal).
    pub(crate) fn is_handshake(&self) -> bool {
        matches!(self, Event::Syn(_) | Event::SynAck(_) | Event::Refuse(_))
    }
}

struct Scheduled {
    at: Instant,
    seq: u64,
    event: Event,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at && self.seq == other.seq
    }
}

impl Eq for Scheduled {}

impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scheduled {
    // Reversed: `BinaryHeap` pops the greatest, we want the earliest.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .at
            .cmp(&self.at)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

pub(crate) struct EventQueue {
    heap: BinaryHeap<Scheduled>,
    seq: u64,
}

impl EventQueue {
    pub(crate) fn new() -> Self {
        Self {
            heap: BinaryHeap::new(),
            seq: 0,
        }
    }

    pub(crate) fn push(&mut self, at: Instant, event: Event) {
        self.heap.push(Scheduled {
            at,
            seq: self.seq,
            event,
        });
        self.seq += 1;
    }

    /// The earliest event if it is due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<Event> {
        if self.heap.peek()?.at > now {
            return None;
        }
        self.heap.pop().map(|scheduled| scheduled.event)
    }

    pub(crate) fn next_time(&self) -> Option<Instant> {
        self.heap.peek().map(|scheduled| scheduled.at)
    }

    pub(crate) fn clear(&mut self) {
        self.heap.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn same_instant_events_pop_in_send_order() {
        let start = Instant::now();
        let key = crate::net::slab::Slab::new().insert(());
        let mut queue = EventQueue::new();
        let later = start + Duration::from_millis(2);
        let sooner = start + Duration::from_millis(1);
        queue.push(later, Event::Syn(key));
        queue.push(sooner, Event::SynAck(key));
        queue.push(sooner, Event::Refuse(key));
        assert!(queue.pop_due(start).is_none());
        assert!(matches!(queue.pop_due(later), Some(Event::SynAck(_))));
        assert!(matches!(queue.pop_due(later), Some(Event::Refuse(_))));
        assert!(matches!(queue.pop_due(later), Some(Event::Syn(_))));
        assert!(queue.next_time().is_none());
    }
}
