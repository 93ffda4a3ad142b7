//! Reconnect a `MakeService` with backoff, without ever failing `poll_ready`.
//!
//! tower's own `tower::reconnect::Reconnect` retries a failed connect in a
//! tight loop and reports connect errors from `poll_ready`, which tower's
//! contract treats as final for the service. [`Reconnect`] instead stays
//! `Pending` while it is not connected: a failed connect is logged, followed
//! by the next delay of a backoff session ([`JitteredBackoff`] by default),
//! and tried again; a connected service whose `poll_ready` fails is dropped
//! and replaced the same way.
//!
//! There is deliberately no cap on attempts: `poll_ready` never returns an
//! error. Bound how long a *request* may wait instead, with tower's
//! `Timeout` over a `Buffer` (the buffer accepts the request at once; the
//! timeout covers the wait for a connection and the call):
//!
//! ```
//! use std::time::Duration;
//! use moonpool_tower::backoff::{BackoffConfig, JitteredBackoff};
//! use moonpool_tower::reconnect::ReconnectLayer;
//! use rand::{SeedableRng, rngs::StdRng};
//! use tower::{Service, ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), tower::BoxError> {
//! let backoff = JitteredBackoff::new(BackoffConfig::foundationdb(), StdRng::seed_from_u64(7))?;
//! // Any `Service<Target>` that yields a service is a connector; this one
//! // hands out an in-memory echo service (a real one would dial `target`).
//! let connector = service_fn(|target: &'static str| async move {
//!     Ok::<_, std::io::Error>(service_fn(move |request: String| async move {
//!         Ok::<_, std::io::Error>(format!("{target} echoes {request}"))
//!     }))
//! });
//! let mut client = ServiceBuilder::new()
//!     .timeout(Duration::from_secs(2))
//!     .buffer(64)
//!     .layer(ReconnectLayer::new("db-1", backoff))
//!     .service(connector);
//! let reply = client.ready().await?.call("ping".to_owned()).await?;
//! assert_eq!(reply, "db-1 echoes ping");
//! # Ok(())
//! # }
//! ```

mod config;
mod error;
mod future;
mod layer;

pub use config::ReconnectConfig;
pub use error::NotConnected;
pub use future::ResponseFuture;
pub use layer::ReconnectLayer;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::time::Instant;
use tower::retry::backoff::{Backoff, MakeBackoff};
use tower::{BoxError, Service};
use tracing::{debug, info, warn};

use crate::backoff::JitteredBackoff;

/// A service that connects to `target` through a `MakeService` `M`, and
/// reconnects with backoff whenever the connection fails.
///
/// Guarantees:
/// - `poll_ready` never returns an error. While no connected service is
///   ready it is `Pending`: it drives `M::poll_ready` and the connect future,
///   and after any failure (`M::poll_ready` error, connect error, or the
///   connected service's `poll_ready` error) it logs the failure with the
///   target, sleeps the next delay of its backoff session, and tries again;
/// - connects lazily, on the first `poll_ready`; at most one connect is in
///   flight, and at most one is started per `poll_ready` call after a
///   failure, even with a zero backoff delay;
/// - the backoff session is made on the first failure and kept through
///   consecutive failures; it is dropped (so the schedule restarts at its
///   first delay) exactly when a connection that stayed up at least
///   [`ReconnectConfig::reset_after`] fails. That connection is replaced at
///   once; a connection that fails sooner is replaced after the next delay;
/// - `call` forwards to the connected service; errors of the response are
///   boxed ([`BoxError`]) and do *not* trigger a reconnect (only
///   `poll_ready` errors do). A `call` without readiness resolves to
///   [`NotConnected`] instead of panicking.
///
/// Time is tokio's ([`tokio::time`]), so the schedule runs on the paused
/// clock of tests and simulations.
pub struct Reconnect<M, Target, MB = JitteredBackoff>
where
    M: Service<Target>,
    MB: MakeBackoff,
{
    mk_service: M,
    target: Target,
    make_backoff: MB,
    config: ReconnectConfig,
    state: State<M::Future, M::Response, <MB::Backoff as Backoff>::Future>,
    /// The backoff session of the current run of failures, if any.
    session: Option<MB::Backoff>,
    /// Failures since the last healthy connection (for logs).
    failures: u32,
    /// `poll_ready` returned `Ready(Ok)` and `call` has not consumed it yet.
    ready: bool,
}

enum State<F, S, B> {
    Idle,
    Connecting(Pin<Box<F>>),
    BackingOff(Pin<Box<B>>),
    Connected { service: S, since: Instant },
}

/// What failed, for the log line.
#[derive(Debug, Clone, Copy)]
enum Failure {
    MakeServiceNotReady,
    Connect,
    Connection,
}

impl<M, Target, MB> Reconnect<M, Target, MB>
where
    M: Service<Target>,
    MB: MakeBackoff,
{
    /// A service that will connect to `target` through `mk_service` on its
    /// first `poll_ready`, backing off with sessions from `make_backoff`,
    /// with the default [`ReconnectConfig`].
    pub fn new(mk_service: M, target: Target, make_backoff: MB) -> Self {
        Self {
            mk_service,
            target,
            make_backoff,
            config: ReconnectConfig::default(),
            state: State::Idle,
            session: None,
            failures: 0,
            ready: false,
        }
    }

    /// Replaces the [`ReconnectConfig`].
    pub fn with_config(mut self, config: ReconnectConfig) -> Self {
        self.config = config;
        self
    }

    /// Whether a connected service is held (it may still turn out broken at
    /// its next `poll_ready`).
    pub fn is_connected(&self) -> bool {
        matches!(self.state, State::Connected { .. })
    }

    /// The target every connect is made to.
    pub fn target(&self) -> &Target {
        &self.target
    }
}

impl<M, Target, MB> Reconnect<M, Target, MB>
where
    M: Service<Target>,
    MB: MakeBackoff,
    Target: fmt::Debug,
{
    /// Records a failure and enters the next backoff delay.
    fn back_off(&mut self, failure: Failure, error: &BoxError) {
        self.failures = self.failures.saturating_add(1);
        let make_backoff = &mut self.make_backoff;
        let session = self
            .session
            .get_or_insert_with(|| make_backoff.make_backoff());
        let sleep = session.next_backoff();
        let what = match failure {
            Failure::MakeServiceNotReady => "connector failed",
            Failure::Connect => "connect failed",
            Failure::Connection => "connection failed",
        };
        if self.failures == 1 {
            warn!(service_target = ?self.target, error = %error, "{what}; reconnecting with backoff");
        } else {
            debug!(service_target = ?self.target, error = %error, failures = self.failures, "{what}; backing off");
        }
        self.state = State::BackingOff(Box::pin(sleep));
    }
}

impl<M, Target, MB, S, Request> Service<Request> for Reconnect<M, Target, MB>
where
    M: Service<Target, Response = S>,
    M::Error: Into<BoxError>,
    S: Service<Request>,
    S::Error: Into<BoxError>,
    MB: MakeBackoff,
    Target: Clone + fmt::Debug,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future>;

    /// Ready when a connected service is ready; otherwise `Pending` while
    /// connecting or backing off. Never `Ready(Err(_))`.
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.ready = false;
        let mut failed = false;
        loop {
            match &mut self.state {
                State::Idle => {
                    if failed {
                        // The backoff resolved at once: yield instead of
                        // connecting again within this poll (no busy loop).
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                    match self.mk_service.poll_ready(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Err(error)) => {
                            self.back_off(Failure::MakeServiceNotReady, &error.into());
                            failed = true;
                        }
                        Poll::Ready(Ok(())) => {
                            debug!(service_target = ?self.target, "connecting");
                            let connect = self.mk_service.call(self.target.clone());
                            self.state = State::Connecting(Box::pin(connect));
                        }
                    }
                }
                State::Connecting(connect) => match connect.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Err(error)) => {
                        self.back_off(Failure::Connect, &error.into());
                        failed = true;
                    }
                    Poll::Ready(Ok(service)) => {
                        if self.failures > 0 {
                            info!(service_target = ?self.target, failures = self.failures, "reconnected");
                        } else {
                            debug!(service_target = ?self.target, "connected");
                        }
                        self.state = State::Connected {
                            service,
                            since: Instant::now(),
                        };
                    }
                },
                State::BackingOff(sleep) => {
                    ready!(sleep.as_mut().poll(cx));
                    self.state = State::Idle;
                }
                State::Connected { service, since } => match service.poll_ready(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(())) => {
                        self.ready = true;
                        return Poll::Ready(Ok(()));
                    }
                    Poll::Ready(Err(error)) => {
                        let error: BoxError = error.into();
                        if since.elapsed() >= self.config.reset_after {
                            warn!(service_target = ?self.target, error = %error, "connection failed; reconnecting");
                            self.session = None;
                            self.failures = 0;
                            self.state = State::Idle;
                        } else {
                            self.back_off(Failure::Connection, &error);
                            failed = true;
                        }
                    }
                },
            }
        }
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let ready = std::mem::take(&mut self.ready);
        match &mut self.state {
            State::Connected { service, .. } if ready => {
                ResponseFuture::called(service.call(request))
            }
            _ => ResponseFuture::not_connected(),
        }
    }
}

impl<M, Target, MB> fmt::Debug for Reconnect<M, Target, MB>
where
    M: Service<Target>,
    MB: MakeBackoff,
    Target: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Idle => "Idle",
            State::Connecting(_) => "Connecting",
            State::BackingOff(_) => "BackingOff",
            State::Connected { .. } => "Connected",
        };
        f.debug_struct("Reconnect")
            .field("target", &self.target)
            .field("state", &state)
            .field("failures", &self.failures)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}
