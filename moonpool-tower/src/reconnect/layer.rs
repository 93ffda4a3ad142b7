//! [`ReconnectLayer`]: builds a [`Reconnect`] around a `MakeService`.

use tower::Service;
use tower::layer::Layer;
use tower::retry::backoff::MakeBackoff;

use super::{Reconnect, ReconnectConfig};
use crate::backoff::JitteredBackoff;

/// Wraps a `MakeService` (a `Service<Target>` whose response is the service
/// to use) in a [`Reconnect`] that connects to `target` and reconnects with
/// backoff, never failing `poll_ready`.
///
/// Each service built gets a clone of the [`MakeBackoff`]; with
/// [`JitteredBackoff`] the clones share one seeded parent RNG, so every
/// service still jitters on its own stream.
///
/// ```
/// use moonpool_tower::backoff::{BackoffConfig, JitteredBackoff};
/// use moonpool_tower::reconnect::{ReconnectConfig, ReconnectLayer};
/// use rand::{SeedableRng, rngs::StdRng};
/// use std::time::Duration;
/// use tower::{Layer, service_fn};
///
/// let backoff = JitteredBackoff::new(BackoffConfig::foundationdb(), StdRng::seed_from_u64(1))?;
/// let layer = ReconnectLayer::new("10.0.0.7:4500", backoff)
///     .with_config(ReconnectConfig { reset_after: Duration::from_secs(10) });
/// let connector = service_fn(|_target: &'static str| async {
///     Ok::<_, std::io::Error>(service_fn(|req: u32| async move { Ok::<_, std::io::Error>(req) }))
/// });
/// let reconnect = layer.layer(connector);
/// assert!(!reconnect.is_connected()); // connects lazily, on the first poll_ready
/// # Ok::<(), moonpool_tower::backoff::BackoffConfigError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ReconnectLayer<Target, MB = JitteredBackoff> {
    target: Target,
    make_backoff: MB,
    config: ReconnectConfig,
}

impl<Target, MB> ReconnectLayer<Target, MB> {
    /// A layer connecting to `target`, backing off with sessions from
    /// `make_backoff`, with the default [`ReconnectConfig`].
    pub fn new(target: Target, make_backoff: MB) -> Self {
        Self {
            target,
            make_backoff,
            config: ReconnectConfig::default(),
        }
    }

    /// Replaces the [`ReconnectConfig`] of the services this layer builds.
    pub fn with_config(mut self, config: ReconnectConfig) -> Self {
        self.config = config;
        self
    }
}

impl<M, Target, MB> Layer<M> for ReconnectLayer<Target, MB>
where
    M: Service<Target>,
    MB: MakeBackoff + Clone,
    Target: Clone,
{
    type Service = Reconnect<M, Target, MB>;

    fn layer(&self, mk_service: M) -> Self::Service {
        Reconnect::new(mk_service, self.target.clone(), self.make_backoff.clone())
            .with_config(self.config)
    }
}
