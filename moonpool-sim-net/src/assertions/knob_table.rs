//! One iteration's drawn knobs, kept in the iteration's context beside its
//! assertion record; [`crate::knobs`] draws them.

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;

/// The configurations an iteration drew: name → the configuration as JSON.
pub type DrawnKnobs = BTreeMap<String, serde_json::Value>;

/// The knobs an iteration drew that differ from the configuration it was
/// given: dotted path (`transport.peer.queue_capacity`) → drawn value, a
/// duration written as text (`"37.5ms"`). What a failing seed prints.
pub type ChangedKnobs = BTreeMap<String, serde_json::Value>;

/// One iteration's drawn configurations, typed and as JSON.
#[derive(Default)]
pub(crate) struct KnobTable {
    /// Whether this iteration randomizes its knobs.
    pub(crate) enabled: bool,
    pub(crate) typed: BTreeMap<&'static str, Box<dyn Any + Send>>,
    pub(crate) drawn: DrawnKnobs,
    pub(crate) changed: ChangedKnobs,
}

impl KnobTable {
    pub(crate) fn new(enabled: bool) -> Self {
        Self {
            enabled,
            ..Self::default()
        }
    }
}

impl fmt::Debug for KnobTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KnobTable")
            .field("enabled", &self.enabled)
            .field("drawn", &self.drawn)
            .field("changed", &self.changed)
            .finish_non_exhaustive()
    }
}
