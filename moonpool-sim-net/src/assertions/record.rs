//! What one iteration's `always!` and `sometimes!` calls recorded.

use std::collections::BTreeMap;

use super::site::Site;

/// One `always!` (or invariant) that did not hold: the first one fails the
/// iteration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AssertionFailure {
    /// What failed and where, ready to print.
    pub(crate) message: String,
}

/// Per-`always!` counts for one iteration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct AlwaysStats {
    pub(crate) evaluations: u64,
    pub(crate) failures: u64,
}

/// Everything the assertion macros recorded during one iteration.
#[derive(Debug, Default)]
pub(crate) struct AssertionRecord {
    /// `sometimes!` name → seen true at least once this iteration.
    pub(crate) sometimes: BTreeMap<String, bool>,
    /// `always!` name → counts.
    pub(crate) always: BTreeMap<String, AlwaysStats>,
    /// The first failure; later ones only bump `extra_failures`.
    pub(crate) failure: Option<AssertionFailure>,
    /// Failures after the first.
    pub(crate) extra_failures: u64,
}

impl AssertionRecord {
    pub(crate) fn sometimes(&mut self, cond: bool, name: &str) {
        match self.sometimes.get_mut(name) {
            Some(seen) => *seen |= cond,
            None => {
                self.sometimes.insert(name.to_owned(), cond);
            }
        }
    }

    /// Records one `always!` evaluation; returns whether it was the first
    /// failure of the iteration.
    pub(crate) fn always(
        &mut self,
        cond: bool,
        name: &str,
        site: &Site,
        detail: impl FnOnce() -> Option<String>,
    ) -> bool {
        let stats = match self.always.get_mut(name) {
            Some(stats) => stats,
            None => self.always.entry(name.to_owned()).or_default(),
        };
        stats.evaluations += 1;
        if cond {
            return false;
        }
        stats.failures += 1;
        let message = match detail() {
            Some(detail) => format!("always!(\"{name}\") failed at {site}: {detail}"),
            None => format!("always!(\"{name}\") failed at {site}"),
        };
        self.fail(message)
    }

    /// Records a failure; returns whether it was the iteration's first.
    pub(crate) fn fail(&mut self, message: String) -> bool {
        if self.failure.is_some() {
            self.extra_failures += 1;
            return false;
        }
        self.failure = Some(AssertionFailure { message });
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SITE: Site = Site::new("record.rs", 1, 1);

    #[test]
    fn sometimes_is_registered_false_and_latches_true() {
        let mut record = AssertionRecord::default();
        record.sometimes(false, "x");
        assert_eq!(record.sometimes.get("x"), Some(&false));
        record.sometimes(true, "x");
        record.sometimes(false, "x");
        assert_eq!(record.sometimes.get("x"), Some(&true));
    }

    #[test]
    fn first_always_failure_is_kept_with_its_site_and_detail() {
        let mut record = AssertionRecord::default();
        assert!(!record.always(true, "ok", &SITE, || None));
        assert!(record.always(false, "bad", &SITE, || Some("3 != 4".into())));
        assert!(!record.always(false, "worse", &SITE, || None));
        let failure = record.failure.expect("failed");
        assert_eq!(
            failure.message,
            "always!(\"bad\") failed at record.rs:1:1: 3 != 4"
        );
        assert_eq!(record.extra_failures, 1);
        assert_eq!(
            record.always["bad"],
            AlwaysStats {
                evaluations: 1,
                failures: 1
            }
        );
        assert_eq!(record.always["ok"].failures, 0);
    }
}
