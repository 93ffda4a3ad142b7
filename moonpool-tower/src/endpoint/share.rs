//! Each caller's share of an endpoint's bounded places (handler tasks,
//! request-stream queue slots), so that one flooding peer exhausts its
//! share, not everyone's.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::peer::lock;

/// Who a request came from, for counting shares: the identity of the peer
/// it arrived through (so the requests of one connection's remote count
/// together), or this node itself for a local delivery. Only compared,
/// never iterated in order, so its value leaks into no behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Caller(pub(crate) usize);

/// How many places each caller holds now.
#[derive(Debug, Default)]
pub(crate) struct CallerShares {
    held: Mutex<BTreeMap<Caller, usize>>,
}

/// One place held by a caller; given back on drop.
#[derive(Debug)]
pub(crate) struct ShareGuard {
    shares: Arc<CallerShares>,
    caller: Caller,
}

impl Drop for ShareGuard {
    fn drop(&mut self) {
        let mut held = lock(&self.shares.held);
        if let Some(count) = held.get_mut(&self.caller) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                held.remove(&self.caller);
            }
        }
    }
}

impl CallerShares {
    pub(crate) fn new() -> Arc<Self> {
        Arc::default()
    }

    /// One more place for `caller`, unless it already holds `share`.
    pub(crate) fn try_take(self: &Arc<Self>, caller: Caller, share: usize) -> Option<ShareGuard> {
        let mut held = lock(&self.held);
        let count = held.entry(caller).or_default();
        if *count >= share {
            if *count == 0 {
                held.remove(&caller);
            }
            return None;
        }
        *count += 1;
        Some(ShareGuard {
            shares: Arc::clone(self),
            caller,
        })
    }

    /// Places `caller` holds now.
    #[cfg(test)]
    fn held(&self, caller: Caller) -> usize {
        lock(&self.held).get(&caller).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caller_at_its_share_is_refused_while_another_is_served() {
        let shares = CallerShares::new();
        let (flooder, other) = (Caller(1), Caller(2));
        let first = shares.try_take(flooder, 2).unwrap();
        let _second = shares.try_take(flooder, 2).unwrap();
        assert!(shares.try_take(flooder, 2).is_none());
        let _served = shares.try_take(other, 2).unwrap();
        drop(first);
        assert_eq!(shares.held(flooder), 1);
        assert!(shares.try_take(flooder, 2).is_some());
        assert!(shares.try_take(Caller(3), 0).is_none());
        assert_eq!(
            shares.held(Caller(3)),
            0,
            "a refused caller leaves no entry"
        );
    }
}
