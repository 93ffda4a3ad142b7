//! The tunables of a transport.

use std::time::Duration;

use crate::peer::PeerConfig;

/// The tunables of a [`Transport`](super::Transport): its peers' and its
/// accept loop's.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TransportConfig {
    /// The configuration of every peer of the transport.
    pub peer: PeerConfig,
    /// The accept loop's own tunables.
    pub accept: AcceptConfig,
    /// The endpoint router's tunables.
    pub endpoint: EndpointConfig,
}

/// The tunables of the accept loop.
#[derive(Debug, Clone, PartialEq)]
pub struct AcceptConfig {
    /// Pause after an accept error (for instance too many open files)
    /// before accepting again. Default 100 ms: errors of that kind persist
    /// for a while, and retrying at once would spin.
    pub error_pause: Duration,
}

impl Default for AcceptConfig {
    fn default() -> Self {
        Self {
            error_pause: Duration::from_millis(100),
        }
    }
}

/// The tunables of the endpoint router.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointConfig {
    /// Requests a [`RequestStream`](crate::actor::RequestStream) holds
    /// before it answers new ones `BrokenPromise` instead of queueing them.
    /// Default 1024: a server loop that far behind is overloaded; the bound
    /// keeps peers from growing its memory without limit, and the caller
    /// learns at once (its retry policy decides what to do).
    pub request_stream_capacity: usize,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        Self {
            request_stream_capacity: 1024,
        }
    }
}
