//! The test vocabulary: `buggify!`, `always!`, `sometimes!`.
//!
//! Inside a simulation iteration the macros talk to that iteration's
//! context (a thread-local: each iteration runs on its own current-thread
//! runtime on one thread, so host tasks see it too). Outside a simulation
//! they are no-ops: `buggify!()` is `false`, assertions record nowhere.
//!
//! - [`buggify!`](crate::buggify) / [`buggify_with_prob!`](crate::buggify_with_prob):
//!   FoundationDB's two-level scheme. Each call site (file, line, column) is
//!   switched on for the iteration with [`BuggifyConfig::site_probability`];
//!   a switched-on site fires with [`BuggifyConfig::fire_probability`] (or
//!   the given `p`). Draws come from a stream of the seed reserved for
//!   buggify, so adding a site never perturbs the network's draws.
//! - [`always!`](crate::always)`(cond, "name")` fails the iteration when
//!   `cond` is false; an optional format message says why.
//! - [`sometimes!`](crate::sometimes)`(cond, "name")` records that `cond`
//!   was seen true. A name is registered when first evaluated (or declared
//!   on the builder); the report counts, per name, the iterations that saw
//!   it, and a run that asks for full coverage fails if one was never seen.

mod buggify;
pub(crate) mod context;
mod coverage;
pub(crate) mod knob_table;
mod record;
mod site;

pub use buggify::BuggifyConfig;
#[doc(hidden)]
pub use context::{__always, __buggify, __sometimes};
pub use context::{current_seed, fail_iteration, in_simulation, shutdown_signal};
pub use coverage::{AlwaysCoverage, Coverage, CoverageTable};
pub use site::Site;

pub(crate) use record::AssertionRecord;
pub(crate) use site::mix64;

/// `true` when this call site is switched on for the iteration and fires
/// (with the configured probability, 25% by default). Always `false`
/// outside a simulation.
///
/// ```
/// if moonpool_sim_net::buggify!() {
///     // take the rare path: a tiny buffer, an early timeout, a reorder…
/// }
/// ```
#[macro_export]
macro_rules! buggify {
    () => {
        $crate::assertions::__buggify(
            {
                static SITE: $crate::assertions::Site =
                    $crate::assertions::Site::new(file!(), line!(), column!());
                &SITE
            },
            ::core::option::Option::None,
        )
    };
}

/// Like [`buggify!`](crate::buggify), but a switched-on site fires with
/// probability `p` (clamped into `[0, 1]`).
///
/// ```
/// let slow = moonpool_sim_net::buggify_with_prob!(0.01);
/// assert!(!slow, "outside a simulation buggify never fires");
/// ```
#[macro_export]
macro_rules! buggify_with_prob {
    ($p:expr $(,)?) => {
        $crate::assertions::__buggify(
            {
                static SITE: $crate::assertions::Site =
                    $crate::assertions::Site::new(file!(), line!(), column!());
                &SITE
            },
            ::core::option::Option::Some(($p) as f64),
        )
    };
}

/// Fails the simulation iteration when `cond` is false. An optional
/// `format!`-style message, evaluated only on failure, says why.
///
/// ```
/// let (sent, echoed) = (b"ping".to_vec(), b"ping".to_vec());
/// moonpool_sim_net::always!(echoed == sent, "echo returns what was sent");
/// moonpool_sim_net::always!(echoed.len() == 4, "echo length", "got {} bytes", echoed.len());
/// ```
#[macro_export]
macro_rules! always {
    ($cond:expr, $name:expr $(,)?) => {{
        static SITE: $crate::assertions::Site =
            $crate::assertions::Site::new(file!(), line!(), column!());
        $crate::assertions::__always($cond, $name, &SITE, || ::core::option::Option::None)
    }};
    ($cond:expr, $name:expr, $($message:tt)+) => {{
        static SITE: $crate::assertions::Site =
            $crate::assertions::Site::new(file!(), line!(), column!());
        $crate::assertions::__always($cond, $name, &SITE, || {
            ::core::option::Option::Some(::std::format!($($message)+))
        })
    }};
}

/// Records that `cond` was seen true in this iteration (and registers the
/// name on first evaluation, true or not).
///
/// ```
/// let retried = false;
/// moonpool_sim_net::sometimes!(retried, "a request was retried");
/// ```
#[macro_export]
macro_rules! sometimes {
    ($cond:expr, $name:expr $(,)?) => {{
        static SITE: $crate::assertions::Site =
            $crate::assertions::Site::new(file!(), line!(), column!());
        $crate::assertions::__sometimes($cond, $name, &SITE)
    }};
}
