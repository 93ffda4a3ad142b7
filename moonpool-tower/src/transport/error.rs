//! Why a transport configuration was rejected.

use rand::rngs::SysError;

use crate::backoff::BackoffConfigError;

/// A [`TransportConfig`](super::TransportConfig) the transport cannot run
/// with, returned by [`TransportConfig::validate`](super::TransportConfig::validate)
/// and [`TransportBuilder::build`](super::TransportBuilder::build) (which
/// also returns [`NoEntropy`](Self::NoEntropy)).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TransportConfigError {
    /// The peers' reconnection schedule
    /// ([`PeerConfig::reconnect`](crate::peer::PeerConfig::reconnect)) is
    /// invalid.
    #[error("invalid reconnection schedule: {0}")]
    Reconnect(#[from] BackoffConfigError),
    /// A capacity is larger than the largest bound the transport can keep
    /// (tokio's `Semaphore::MAX_PERMITS`, `usize::MAX >> 3`).
    #[error("{field} is {value}, above the largest supported capacity {max}")]
    CapacityTooLarge {
        /// The field, as a path from `TransportConfig`
        /// (`"peer.queue_capacity"`).
        field: &'static str,
        /// The configured value.
        value: usize,
        /// The largest accepted value.
        max: usize,
    },
    /// No RNG was given to the builder
    /// ([`TransportBuilder::rng`](super::TransportBuilder::rng),
    /// [`TransportBuilder::seed`](super::TransportBuilder::seed)) and the
    /// operating system could not provide the entropy to seed one.
    #[error("no RNG given and the operating system provided no entropy: {source}")]
    NoEntropy {
        /// The operating system's error.
        source: SysError,
    },
}
