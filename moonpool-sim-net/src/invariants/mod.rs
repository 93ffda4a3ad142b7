//! Invariants: checks across the state every host publishes.
//!
//! A host publishes typed values under string keys with [`publish`] (any
//! `'static` value) or [`publish_json`] (anything `Serialize`); the latest
//! value per (host, key) is kept. An [`Invariant`] sees all of it as a
//! [`PublishedState`] and returns `Err(message)` when the system is wrong,
//! which fails the iteration with its seed. Invariants run at quiescence
//! (after the workloads ended and the hosts were told to shut down), and,
//! if asked, also after each publish.
//!
//! Outside a simulation, publishing is a no-op.

mod state;

use std::fmt;
use std::sync::Arc;

pub(crate) use state::PublishedState as StateMap;
pub use state::{HostState, PublishedState, publish, publish_json};

/// The check an [`Invariant`] runs.
pub type InvariantCheck = dyn Fn(&PublishedState) -> Result<(), String> + Send + Sync;

/// When an invariant runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvariantSchedule {
    /// Once, at quiescence: after the workloads ended and hosts were told to
    /// shut down. The default.
    AtQuiescence,
    /// After every publish by any host, and at quiescence.
    AfterEachPublish,
}

/// A named check over the state all hosts published.
#[derive(Clone)]
pub struct Invariant {
    name: String,
    schedule: InvariantSchedule,
    check: Arc<InvariantCheck>,
}

impl Invariant {
    /// An invariant checked at quiescence.
    pub fn new(
        name: impl Into<String>,
        check: impl Fn(&PublishedState) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        Self {
            name: name.into(),
            schedule: InvariantSchedule::AtQuiescence,
            check: Arc::new(check),
        }
    }

    /// Also checks this invariant after each publish (and still at
    /// quiescence).
    pub fn after_each_publish(mut self) -> Self {
        self.schedule = InvariantSchedule::AfterEachPublish;
        self
    }

    /// The invariant's name, as failures report it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// When the invariant runs.
    pub fn schedule(&self) -> InvariantSchedule {
        self.schedule
    }

    /// Runs the check once.
    pub fn check(&self, state: &PublishedState) -> Result<(), String> {
        (self.check)(state)
    }
}

impl fmt::Debug for Invariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Invariant")
            .field("name", &self.name)
            .field("schedule", &self.schedule)
            .finish_non_exhaustive()
    }
}

/// Runs the selected invariants in order; the first failure's message.
pub(crate) fn check_all(
    invariants: &[Invariant],
    state: &PublishedState,
    selected: impl Fn(&Invariant) -> bool,
) -> Option<String> {
    invariants
        .iter()
        .filter(|invariant| selected(invariant))
        .find_map(|invariant| {
            invariant
                .check(state)
                .err()
                .map(|message| format!("invariant \"{}\" failed: {message}", invariant.name))
        })
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use super::*;

    const HOST: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));

    #[test]
    fn check_all_reports_the_first_failing_invariant_by_name() {
        let mut state = PublishedState::default();
        state.insert(HOST, "count", Arc::new(3_u64));
        let invariants = [
            Invariant::new("has count", |s| {
                s.get::<u64>(HOST, "count")
                    .map(|_| ())
                    .ok_or_else(|| "missing".to_owned())
            }),
            Invariant::new("count is even", |s| match s.get::<u64>(HOST, "count") {
                Some(n) if n % 2 == 1 => Err(format!("count {n} is odd")),
                _ => Ok(()),
            }),
            Invariant::new("never reached", |_| Err("unreachable".into())),
        ];
        let failure = check_all(&invariants, &state, |_| true);
        assert_eq!(
            failure.as_deref(),
            Some("invariant \"count is even\" failed: count 3 is odd")
        );
    }

    #[test]
    fn selection_skips_invariants() {
        let invariants = [Invariant::new("fails", |_| Err("no".into()))];
        assert_eq!(
            check_all(&invariants, &PublishedState::default(), |_| false),
            None
        );
    }
}
