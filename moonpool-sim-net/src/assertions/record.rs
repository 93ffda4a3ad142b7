//! What one iteration's `always!` and `sometimes!` calls recorded.
//!
//! Records are kept per call site, in a vector indexed by the site's slot,
//! so the macros stay cheap in hot loops; names are aggregated when the
//! iteration is absorbed into the run's coverage.

use std::collections::BTreeMap;

use super::site::Site;

/// One `always!` (or invariant) that did not hold: the first one fails the
/// iteration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AssertionFailure {
    /// What failed and where, ready to print.
    pub(crate) message: String,
    /// When (simulated time since the start) and on which host it failed,
    /// when it failed inside a host task: where the timeline marks it.
    pub(crate) at: Option<(std::time::Duration, std::net::Ipv4Addr)>,
}

/// Per-`always!` counts for one iteration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct AlwaysStats {
    pub(crate) evaluations: u64,
    pub(crate) failures: u64,
}

/// The names one call site was evaluated with (almost always exactly one)
/// and what it recorded under each.
type SiteNames<T> = Vec<(String, T)>;

/// Everything the assertion macros recorded during one iteration.
#[derive(Debug, Default)]
pub(crate) struct AssertionRecord {
    /// `sometimes!` site slot → name → seen true at least once.
    sometimes: Vec<SiteNames<bool>>,
    /// `always!` site slot → name → counts.
    always: Vec<SiteNames<AlwaysStats>>,
    /// The first failure; later ones only bump `extra_failures`.
    pub(crate) failure: Option<AssertionFailure>,
    /// Failures after the first.
    pub(crate) extra_failures: u64,
}

/// The entry for `name` at `site`, created with `T::default()` if new.
fn entry<'a, T: Default>(
    sites: &'a mut Vec<SiteNames<T>>,
    site: &'static Site,
    name: &str,
) -> &'a mut T {
    let slot = site.slot();
    if sites.len() <= slot {
        sites.resize_with(slot + 1, Vec::new);
    }
    let names = &mut sites[slot];
    let index = match names.iter().position(|(known, _)| known == name) {
        Some(index) => index,
        None => {
            names.push((name.to_owned(), T::default()));
            names.len() - 1
        }
    };
    &mut names[index].1
}

impl AssertionRecord {
    pub(crate) fn sometimes(&mut self, cond: bool, name: &str, site: &'static Site) {
        *entry(&mut self.sometimes, site, name) |= cond;
    }

    /// Records one `always!` evaluation; returns whether it was the first
    /// failure of the iteration.
    pub(crate) fn always(
        &mut self,
        cond: bool,
        name: &str,
        site: &'static Site,
        detail: impl FnOnce() -> Option<String>,
    ) -> bool {
        let stats = entry(&mut self.always, site, name);
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
        self.failure = Some(AssertionFailure {
            message,
            at: crate::host::current_host_and_time(),
        });
        true
    }

    /// `sometimes!` name → seen true at any of its sites this iteration.
    pub(crate) fn sometimes_by_name(&self) -> BTreeMap<&str, bool> {
        let mut names = BTreeMap::new();
        for (name, seen) in self.sometimes.iter().flatten() {
            *names.entry(name.as_str()).or_insert(false) |= *seen;
        }
        names
    }

    /// `always!` name → counts summed over its sites.
    pub(crate) fn always_by_name(&self) -> BTreeMap<&str, AlwaysStats> {
        let mut names = BTreeMap::<&str, AlwaysStats>::new();
        for (name, stats) in self.always.iter().flatten() {
            let total = names.entry(name.as_str()).or_default();
            total.evaluations += stats.evaluations;
            total.failures += stats.failures;
        }
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static SITE: Site = Site::new("record.rs", 1, 1);
    static OTHER: Site = Site::new("record.rs", 2, 1);

    #[test]
    fn sometimes_is_registered_false_and_latches_true() {
        let mut record = AssertionRecord::default();
        record.sometimes(false, "x", &SITE);
        assert_eq!(record.sometimes_by_name().get("x"), Some(&false));
        record.sometimes(true, "x", &SITE);
        record.sometimes(false, "x", &SITE);
        assert_eq!(record.sometimes_by_name().get("x"), Some(&true));
    }

    #[test]
    fn a_name_is_seen_if_any_of_its_sites_saw_it() {
        let mut record = AssertionRecord::default();
        record.sometimes(false, "x", &SITE);
        record.sometimes(true, "x", &OTHER);
        record.sometimes(false, "y", &OTHER);
        let names = record.sometimes_by_name();
        assert_eq!((names["x"], names["y"]), (true, false));
    }

    #[test]
    fn one_site_may_use_several_names() {
        let mut record = AssertionRecord::default();
        for i in 0..3 {
            record.always(true, &format!("check {i}"), &SITE, || None);
        }
        record.always(true, "check 1", &OTHER, || None);
        let names = record.always_by_name();
        assert_eq!(names.len(), 3);
        assert_eq!(names["check 1"].evaluations, 2);
    }

    #[test]
    fn first_always_failure_is_kept_with_its_site_and_detail() {
        let mut record = AssertionRecord::default();
        assert!(!record.always(true, "ok", &SITE, || None));
        assert!(record.always(false, "bad", &SITE, || Some("3 != 4".into())));
        assert!(!record.always(false, "worse", &SITE, || None));
        let failure = record.failure.clone().expect("failed");
        assert_eq!(
            failure.message,
            "always!(\"bad\") failed at record.rs:1:1: 3 != 4"
        );
        assert_eq!(record.extra_failures, 1);
        let names = record.always_by_name();
        assert_eq!(
            names["bad"],
            AlwaysStats {
                evaluations: 1,
                failures: 1
            }
        );
        assert_eq!(names["ok"].failures, 0);
    }
}
