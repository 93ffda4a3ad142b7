//! Endpoints: the services a node serves, routed by token.
//!
//! An [`EndpointRouter`] maps tokens to [`PacketService`]s (tower services
//! over [`IncomingPacket`]s). [`TypedEndpoint`] turns any
//! `Service<Req, Response = Resp>` into one: it decodes the request
//! envelope, calls the service, and answers through a
//! [`ReplyPromise`](crate::actor::ReplyPromise) — so a service that fails
//! answers with an application error, and one whose future is dropped
//! answers `BrokenPromise`.
//!
//! ```
//! # use moonpool_tower::endpoint::EndpointRouter;
//! # fn example(router: &EndpointRouter) -> Result<(), moonpool_tower::endpoint::RouterError> {
//! use moonpool_codec::Uid;
//!
//! #[derive(Clone, PartialEq, prost::Message)]
//! struct Echo {
//!     #[prost(string, tag = "1")]
//!     text: String,
//! }
//!
//! let echo = tower::service_fn(|request: Echo| async move {
//!     Ok::<_, std::convert::Infallible>(request)
//! });
//! router.serve(Uid::new(7, 1), echo)?;
//! # Ok(())
//! # }
//! ```

mod dispatch;
mod map;
mod not_found;
mod reply_path;
mod router;
mod share;
mod typed;

use moonpool_codec::{Packet, Uid};

pub use dispatch::DEFAULT_MAX_HANDLER_TASKS;
pub use map::EndpointMap;
pub use reply_path::ReplyPath;
pub use router::{EndpointRouter, PacketService};
pub use typed::TypedEndpoint;

pub(crate) use not_found::is_reserved;
pub(crate) use router::{Resolution, RouterShared};
pub(crate) use share::{CallerShares, ShareGuard};

/// A packet delivered to an endpoint, with the way back to its sender.
#[derive(Debug, Clone)]
pub struct IncomingPacket {
    /// The packet (its token is the endpoint's).
    pub packet: Packet,
    /// Where replies go.
    pub reply: ReplyPath,
}

/// Why a registration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouterError {
    /// Something is already registered at the token (or it is the reply
    /// token of a pending call).
    #[error("token {token} is already in use")]
    TokenInUse {
        /// The token.
        token: Uid,
    },
    /// The token is one of moonpool's own well-known tokens (index below
    /// [`WellKnownToken::RESERVED`](moonpool_codec::WellKnownToken::RESERVED)).
    #[error("token {token} is a reserved well-known token")]
    ReservedToken {
        /// The token.
        token: Uid,
    },
}
