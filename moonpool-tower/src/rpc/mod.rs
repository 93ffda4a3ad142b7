//! Typed RPC: a client that is a `tower::Service`, FoundationDB's reply
//! semantics, and a retry policy that knows which failures are safe to
//! retry.
//!
//! A call to an [`RpcClient`] sends `[reply token][request]` (the
//! [`envelope`]) and resolves exactly once, with the response or an
//! [`RpcError`]. The client composes with tower's own middleware:
//!
//! ```no_run
//! # use moonpool_tower::transport::Transport;
//! # use moonpool_codec::Endpoint;
//! # async fn example(transport: Transport, endpoint: Endpoint) -> Result<(), tower::BoxError> {
//! use std::time::Duration;
//! use moonpool_tower::rpc::{RetryConfig, RpcClient, RpcRetryPolicy};
//! use rand::{SeedableRng, rngs::StdRng};
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! #[derive(Clone, PartialEq, prost::Message)]
//! struct Get { #[prost(string, tag = "1")] key: String }
//! #[derive(Clone, PartialEq, prost::Message)]
//! struct Value { #[prost(bytes = "vec", tag = "1")] value: Vec<u8> }
//!
//! let policy = RpcRetryPolicy::new(RetryConfig::default(), StdRng::seed_from_u64(7))?
//!     .idempotent(true);
//! let client = ServiceBuilder::new()
//!     .retry(policy)
//!     .timeout(Duration::from_secs(1))
//!     .concurrency_limit(64)
//!     .service(RpcClient::<Get, Value>::new(&transport, endpoint).unreliable());
//! let value = client.oneshot(Get { key: "k".into() }).await?;
//! # Ok(())
//! # }
//! ```

mod client;
pub mod envelope;
mod error;
mod future;
mod retry;

pub use client::RpcClient;
pub use error::{ApplicationError, RpcError};
pub use future::ResponseFuture;
pub use retry::{RetryConfig, RpcRetryPolicy};
