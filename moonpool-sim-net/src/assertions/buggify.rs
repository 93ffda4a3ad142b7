//! FoundationDB's two-level buggify: sites are switched on per iteration,
//! and a switched-on site fires with a probability on each call.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use super::site::{Site, mix64, unit_interval};

/// Salt that separates the buggify stream from every other stream derived
/// from an iteration's seed (the network's own RNG among them), so adding a
/// `buggify!` call never perturbs the network's draws.
const BUGGIFY_STREAM: u64 = 0x6275_6767_6966_7921; // "buggify!"

/// How `buggify!` behaves inside a simulation.
///
/// Outside a simulation `buggify!` is always false, whatever this says.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BuggifyConfig {
    /// Whether any site can fire. Default: `true` (simulation is where
    /// buggified code paths get exercised); `false` in a quiet configuration.
    pub enabled: bool,
    /// Probability that a given site is switched on for an iteration.
    /// Default: 0.25, FoundationDB's `P_BUGGIFIED_SECTION_ACTIVATED`.
    pub site_probability: f64,
    /// Probability that a switched-on `buggify!()` site fires on one call.
    /// Default: 0.25, FoundationDB's `P_BUGGIFIED_SECTION_FIRES`.
    /// `buggify_with_prob!(p)` uses `p` instead.
    pub fire_probability: f64,
}

impl BuggifyConfig {
    /// Buggify switched off: every site is false.
    pub const fn disabled() -> Self {
        Self {
            enabled: false,
            site_probability: 0.25,
            fire_probability: 0.25,
        }
    }
}

impl Default for BuggifyConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            site_probability: 0.25,
            fire_probability: 0.25,
        }
    }
}

/// Whether a site is switched on for the iteration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Activation {
    Undecided,
    Off,
    On,
}

/// Per-iteration buggify state: which sites are on, and the dedicated RNG
/// the firing draws come from.
#[derive(Debug)]
pub(crate) struct BuggifyState {
    config: BuggifyConfig,
    site_key: u64,
    rng: StdRng,
    /// Site slot → switched on? Decided on the site's first evaluation,
    /// from the site's stable hash; the slot only locates the decision.
    sites: Vec<Activation>,
    fired: u64,
}

impl BuggifyState {
    pub(crate) fn new(seed: u64, config: BuggifyConfig) -> Self {
        let stream = mix64(seed ^ BUGGIFY_STREAM);
        Self {
            config,
            site_key: mix64(stream),
            rng: StdRng::seed_from_u64(stream),
            sites: Vec::new(),
            fired: 0,
        }
    }

    /// Evaluates one `buggify!` call at `site`, firing with
    /// `fire_probability` (or the config's default) if the site is on.
    pub(crate) fn evaluate(&mut self, site: &'static Site, fire_probability: Option<f64>) -> bool {
        if !self.config.enabled {
            return false;
        }
        // Whether a site is on depends only on (seed, site), never on the
        // order sites are first reached, so one site's activation does not
        // shift another's.
        let slot = site.slot();
        if self.sites.len() <= slot {
            self.sites.resize(slot + 1, Activation::Undecided);
        }
        if self.sites[slot] == Activation::Undecided {
            let draw = unit_interval(mix64(self.site_key ^ site.stable_hash()));
            self.sites[slot] = if draw < clamp_probability(self.config.site_probability) {
                Activation::On
            } else {
                Activation::Off
            };
        }
        let active = self.sites[slot] == Activation::On;
        if !active {
            return false;
        }
        let p = clamp_probability(fire_probability.unwrap_or(self.config.fire_probability));
        let fires = self.rng.random_bool(p);
        if fires {
            self.fired += 1;
        }
        fires
    }

    /// How many times any site fired this iteration.
    pub(crate) fn fired(&self) -> u64 {
        self.fired
    }
}

/// Clamps a user-given probability into `[0, 1]`; NaN counts as 0.
fn clamp_probability(p: f64) -> f64 {
    if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) }
}

#[cfg(test)]
mod tests {
    use super::*;

    static SITE: Site = Site::new("buggify.rs", 10, 5);

    /// Distinct sites; leaked because real sites are `static`s.
    fn sites(n: u32) -> Vec<&'static Site> {
        (0..n)
            .map(|line| &*Box::leak(Box::new(Site::new("many.rs", line, 1))))
            .collect()
    }

    #[test]
    fn disabled_config_never_fires() {
        let mut state = BuggifyState::new(7, BuggifyConfig::disabled());
        assert!((0..1000).all(|_| !state.evaluate(&SITE, Some(1.0))));
    }

    #[test]
    fn about_a_quarter_of_sites_are_switched_on() {
        let mut state = BuggifyState::new(42, BuggifyConfig::default());
        let on = sites(4000)
            .into_iter()
            .filter(|site| state.evaluate(site, Some(1.0)))
            .count();
        assert!((800..1200).contains(&on), "{on} of 4000 sites on");
    }

    #[test]
    fn a_switched_on_site_fires_with_the_given_probability() {
        let mut state = BuggifyState::new(3, BuggifyConfig::default());
        let site = sites(200)
            .into_iter()
            .find(|site| state.evaluate(site, Some(1.0)))
            .expect("some site is on");
        let fired = (0..4000)
            .filter(|_| state.evaluate(site, Some(0.5)))
            .count();
        assert!((1800..2200).contains(&fired), "fired {fired} of 4000");
    }

    #[test]
    fn site_activation_depends_on_the_site_not_on_evaluation_order_or_address() {
        let all = sites(64);
        // The same coordinates at other addresses: the decision follows the
        // site's stable hash.
        let copies = sites(64);
        let mut forward = BuggifyState::new(9, BuggifyConfig::default());
        let mut backward = BuggifyState::new(9, BuggifyConfig::default());
        let on_forward: Vec<bool> = all.iter().map(|s| forward.evaluate(s, Some(1.0))).collect();
        let mut on_backward: Vec<bool> = copies
            .iter()
            .rev()
            .map(|s| backward.evaluate(s, Some(1.0)))
            .collect();
        on_backward.reverse();
        assert_eq!(on_forward, on_backward);
    }

    #[test]
    fn same_seed_gives_same_draws_and_out_of_range_probability_is_clamped() {
        let all = sites(50);
        let draws = |seed| {
            let mut state = BuggifyState::new(seed, BuggifyConfig::default());
            all.iter()
                .map(|s| state.evaluate(s, Some(f64::NAN)) || state.evaluate(s, Some(7.0)))
                .collect::<Vec<_>>()
        };
        assert_eq!(draws(5), draws(5));
        assert_ne!(draws(5), draws(6));
    }
}
