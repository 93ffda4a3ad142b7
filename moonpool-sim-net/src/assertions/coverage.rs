//! `always!`/`sometimes!` coverage accumulated over the iterations of a run.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::record::AssertionRecord;

/// How one `always!` fared over a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlwaysCoverage {
    /// Times it was evaluated, over all iterations.
    pub evaluations: u64,
    /// Times it was false, over all iterations.
    pub failures: u64,
}

/// Which `sometimes!` conditions were seen, and how often, over a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    /// `sometimes!` name → number of iterations that saw it true. Declared
    /// names and names registered (evaluated) but never true are listed with
    /// 0.
    pub sometimes: BTreeMap<String, u64>,
    /// `always!` name → counts.
    pub always: BTreeMap<String, AlwaysCoverage>,
}

impl Coverage {
    /// Declares a `sometimes!` name up front, so a site that is never even
    /// reached still counts as missing.
    pub(crate) fn declare(&mut self, name: &str) {
        if !self.sometimes.contains_key(name) {
            self.sometimes.insert(name.to_owned(), 0);
        }
    }

    /// Adds one iteration's record.
    pub(crate) fn absorb(&mut self, record: &AssertionRecord) {
        for (name, seen) in record.sometimes_by_name() {
            match self.sometimes.get_mut(name) {
                Some(count) => *count += u64::from(seen),
                None => {
                    self.sometimes.insert(name.to_owned(), u64::from(seen));
                }
            }
        }
        for (name, stats) in record.always_by_name() {
            let total = match self.always.get_mut(name) {
                Some(total) => total,
                None => self.always.entry(name.to_owned()).or_default(),
            };
            total.evaluations += stats.evaluations;
            total.failures += stats.failures;
        }
    }

    /// `sometimes!` names (registered or declared) no iteration saw true.
    pub fn missing(&self) -> Vec<&str> {
        self.sometimes
            .iter()
            .filter(|(_, seen)| **seen == 0)
            .map(|(name, _)| name.as_str())
            .collect()
    }

    /// Whether there is at least one registered or declared `sometimes!`
    /// and every one was seen. An empty table is not complete: a run that
    /// requires coverage but has nothing to cover is a mistake (a typo in
    /// the builder, or the assertions compiled out), not a success.
    pub fn is_complete(&self) -> bool {
        !self.sometimes.is_empty() && self.sometimes.values().all(|seen| *seen > 0)
    }

    /// A printable table: one line per `sometimes!` with the iterations
    /// that saw it, out of `iterations`.
    pub fn table(&self, iterations: u64) -> CoverageTable<'_> {
        self.table_for(iterations, true)
    }

    /// [`table`](Self::table) for a run that `required` every `sometimes!`
    /// or not: an unseen name is `MISSING` in the first, `not reached in
    /// this run` in the second (a replay of one seed, a slice of a sweep).
    pub fn table_for(&self, iterations: u64, required: bool) -> CoverageTable<'_> {
        CoverageTable {
            coverage: self,
            iterations,
            required,
        }
    }
}

/// [`Coverage`] rendered for a terminal; see [`Coverage::table`].
#[derive(Debug)]
pub struct CoverageTable<'a> {
    coverage: &'a Coverage,
    iterations: u64,
    required: bool,
}

impl fmt::Display for CoverageTable<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self
            .coverage
            .sometimes
            .keys()
            .map(|name| name.chars().count())
            .max()
            .unwrap_or(0)
            .max("sometimes!".len());
        writeln!(
            f,
            "{:<width$}  {:>10}  {:>6}",
            "sometimes!", "iterations", "%"
        )?;
        for (name, seen) in &self.coverage.sometimes {
            let percent = if self.iterations == 0 {
                0.0
            } else {
                *seen as f64 * 100.0 / self.iterations as f64
            };
            let mark = match (*seen, self.required) {
                (0, true) => "  MISSING",
                (0, false) => "  not reached in this run",
                _ => "",
            };
            writeln!(f, "{name:<width$}  {seen:>10}  {percent:>5.1}%{mark}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assertions::site::Site;

    #[test]
    fn absorb_counts_iterations_that_saw_each_name() {
        let mut coverage = Coverage::default();
        coverage.declare("never reached");
        static SITE: Site = Site::new("c.rs", 1, 1);
        for seen in [true, false, true] {
            let mut record = AssertionRecord::default();
            record.sometimes(seen, "flaky", &SITE);
            record.sometimes(false, "never true", &SITE);
            record.always(true, "holds", &SITE, || None);
            coverage.absorb(&record);
        }
        assert_eq!(coverage.sometimes["flaky"], 2);
        assert_eq!(coverage.missing(), vec!["never reached", "never true"]);
        assert!(!coverage.is_complete());
        assert_eq!(coverage.always["holds"].evaluations, 3);
    }

    #[test]
    fn an_optional_table_says_not_reached_instead_of_missing() {
        let mut coverage = Coverage::default();
        coverage.sometimes.insert("unseen".into(), 0);
        let table = coverage.table_for(1, false).to_string();
        assert!(table.contains("not reached in this run"), "{table}");
        assert!(!table.contains("MISSING"), "{table}");
    }

    #[test]
    fn table_marks_missing_names() {
        let mut coverage = Coverage::default();
        coverage.sometimes.insert("seen".into(), 2);
        coverage.sometimes.insert("unseen".into(), 0);
        let table = coverage.table(4).to_string();
        assert!(
            table.contains("seen                 2   50.0%\n"),
            "{table}"
        );
        assert!(
            table.contains("unseen               0    0.0%  MISSING"),
            "{table}"
        );
    }
}
