//! A retry policy for tower's `Retry` that retries only what is safe.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use tower::BoxError;
use tower::retry::Policy;
use tower::retry::backoff::Backoff;
use tower::retry::budget::{Budget, TpsBudget};

use super::RpcError;
use crate::backoff::{BackoffConfig, BackoffConfigError, JitteredBackoff, JitteredBackoffSession};

/// The numbers of an [`RpcRetryPolicy`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryConfig {
    /// Retries per call at most, after the first attempt. Default 3.
    pub max_retries: u32,
    /// The sleep before each retry. Default
    /// [`BackoffConfig::full_jitter`] (50 ms doubling to 10 s, full
    /// jitter), so clients that failed together do not retry together.
    pub backoff: BackoffConfig,
    /// How long a deposit in the retry budget counts. Default 10 s
    /// (tower's default).
    pub budget_ttl: Duration,
    /// Retries per second always allowed, whatever the success rate.
    /// Default 10 (tower's default).
    pub budget_min_per_sec: u32,
    /// Retries allowed as a fraction of successful calls within the ttl.
    /// Default 0.2 (tower's default): under a failure storm retries add at
    /// most 20 % to the load.
    pub budget_retry_percent: f32,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_retries: 3,
            backoff: BackoffConfig::full_jitter(),
            budget_ttl: Duration::from_secs(10),
            budget_min_per_sec: 10,
            budget_retry_percent: 0.2,
        }
    }
}

/// A [`tower::retry::Policy`] for [`RpcClient`](super::RpcClient) calls.
///
/// It retries a failed call only if doing so cannot execute the request
/// twice unless that is harmless:
/// - [`RpcError::EndpointNotFound`] is always retried (nothing ran; the
///   endpoint may be back, as after a server restart);
/// - [`RpcError::MaybeDelivered`], [`RpcError::BrokenPromise`] and a
///   timeout (tower's `Elapsed`, when the policy sits outside a `Timeout`)
///   are retried only when the policy is marked
///   [`idempotent`](Self::idempotent);
/// - nothing else is retried: application errors, decode errors, a request
///   the server could not decode, a closed peer.
///
/// Each retry sleeps a full-jitter backoff (from
/// [`backoff`](crate::backoff), seeded by the caller) and withdraws from a
/// [`TpsBudget`] shared by every clone; each success deposits. With no
/// budget left, the error is returned as is. The policy works with the
/// client's own error (`Error = RpcError`) and with boxed errors (when
/// `Timeout` or `Buffer` sit inside `Retry`).
pub struct RpcRetryPolicy {
    config: RetryConfig,
    idempotent: bool,
    budget: Arc<TpsBudget>,
    backoff: JitteredBackoff,
    /// Per call: retries so far and the backoff session.
    retries: u32,
    session: Option<JitteredBackoffSession>,
}

impl RpcRetryPolicy {
    /// A policy for non-idempotent requests with `config`, its backoff
    /// jitter drawn from `rng`. Fails if `config.backoff` is invalid.
    pub fn new(config: RetryConfig, rng: StdRng) -> Result<Self, BackoffConfigError> {
        let budget = TpsBudget::new(
            config.budget_ttl,
            config.budget_min_per_sec,
            config.budget_retry_percent,
        );
        Ok(Self {
            backoff: JitteredBackoff::new(config.backoff, rng)?,
            config,
            idempotent: false,
            budget: Arc::new(budget),
            retries: 0,
            session: None,
        })
    }

    /// This policy, treating requests as idempotent (or not): whether a
    /// request that may have been executed can be sent again.
    #[must_use]
    pub const fn idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = idempotent;
        self
    }

    /// The retry budget, shared by every clone.
    pub fn budget(&self) -> &Arc<TpsBudget> {
        &self.budget
    }

    /// Whether a call that failed with `error` may be retried.
    pub const fn should_retry(&self, error: &RpcError) -> bool {
        matches!(error, RpcError::EndpointNotFound { .. })
            || (self.idempotent && error.maybe_executed())
    }

    fn classify_boxed(&self, error: &BoxError) -> bool {
        if let Some(error) = error.downcast_ref::<RpcError>() {
            return self.should_retry(error);
        }
        self.idempotent && error.is::<tower::timeout::error::Elapsed>()
    }

    fn decide(&mut self, retry: bool) -> Option<tokio::time::Sleep> {
        if !retry || self.retries >= self.config.max_retries || !self.budget.withdraw() {
            return None;
        }
        self.retries += 1;
        let backoff = &self.backoff;
        let session = self.session.get_or_insert_with(|| backoff.session());
        Some(session.next_backoff())
    }
}

impl<Req: Clone, Res> Policy<Req, Res, RpcError> for RpcRetryPolicy {
    type Future = tokio::time::Sleep;

    fn retry(
        &mut self,
        _req: &mut Req,
        result: &mut Result<Res, RpcError>,
    ) -> Option<Self::Future> {
        match result {
            Ok(_) => {
                self.budget.deposit();
                None
            }
            Err(error) => {
                let retry = self.should_retry(error);
                self.decide(retry)
            }
        }
    }

    fn clone_request(&mut self, req: &Req) -> Option<Req> {
        Some(req.clone())
    }
}

impl<Req: Clone, Res> Policy<Req, Res, BoxError> for RpcRetryPolicy {
    type Future = tokio::time::Sleep;

    fn retry(
        &mut self,
        _req: &mut Req,
        result: &mut Result<Res, BoxError>,
    ) -> Option<Self::Future> {
        match result {
            Ok(_) => {
                self.budget.deposit();
                None
            }
            Err(error) => {
                let retry = self.classify_boxed(error);
                self.decide(retry)
            }
        }
    }

    fn clone_request(&mut self, req: &Req) -> Option<Req> {
        Some(req.clone())
    }
}

impl Clone for RpcRetryPolicy {
    /// A clone shares the budget and the backoff RNG; it starts a call
    /// afresh (no retries yet).
    fn clone(&self) -> Self {
        Self {
            config: self.config,
            idempotent: self.idempotent,
            budget: Arc::clone(&self.budget),
            backoff: self.backoff.clone(),
            retries: 0,
            session: None,
        }
    }
}

impl fmt::Debug for RpcRetryPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RpcRetryPolicy")
            .field("config", &self.config)
            .field("idempotent", &self.idempotent)
            .field("retries", &self.retries)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use moonpool_codec::{Endpoint, NetworkAddress, Uid};
    use rand::SeedableRng;

    fn endpoint() -> Endpoint {
        Endpoint::new(NetworkAddress::new([10, 0, 0, 1].into(), 1), Uid::new(1, 1))
    }

    fn policy(idempotent: bool) -> RpcRetryPolicy {
        RpcRetryPolicy::new(RetryConfig::default(), StdRng::seed_from_u64(1))
            .unwrap()
            .idempotent(idempotent)
    }

    #[test]
    fn only_failures_that_cannot_execute_twice_are_retried_by_default() {
        let endpoint = endpoint();
        let cases = [
            (RpcError::EndpointNotFound { endpoint }, true, true),
            (RpcError::MaybeDelivered { endpoint }, false, true),
            (RpcError::BrokenPromise { endpoint }, false, true),
            (
                RpcError::Application(crate::rpc::ApplicationError::new(1, "no")),
                false,
                false,
            ),
            (
                RpcError::BadRequest {
                    endpoint,
                    message: "x".into(),
                },
                false,
                false,
            ),
            (
                RpcError::MalformedReply {
                    endpoint,
                    reason: "x",
                },
                false,
                false,
            ),
        ];
        for (error, plain, idempotent) in cases {
            assert_eq!(policy(false).should_retry(&error), plain, "{error}");
            assert_eq!(policy(true).should_retry(&error), idempotent, "{error}");
        }
    }

    #[test]
    fn a_boxed_timeout_is_retried_only_for_idempotent_requests() {
        let elapsed = || -> BoxError { Box::new(tower::timeout::error::Elapsed::new()) };
        assert!(!policy(false).classify_boxed(&elapsed()));
        assert!(policy(true).classify_boxed(&elapsed()));
        let boxed: BoxError = Box::new(RpcError::EndpointNotFound {
            endpoint: endpoint(),
        });
        assert!(policy(false).classify_boxed(&boxed));
        assert!(!policy(true).classify_boxed(&"other".into()));
    }

    #[tokio::test(start_paused = true)]
    async fn retries_stop_at_the_configured_maximum() {
        let mut policy = RpcRetryPolicy::new(
            RetryConfig {
                max_retries: 2,
                ..RetryConfig::default()
            },
            StdRng::seed_from_u64(3),
        )
        .unwrap();
        let mut request = ();
        let mut failed: Result<(), RpcError> = Err(RpcError::EndpointNotFound {
            endpoint: endpoint(),
        });
        let mut retries = 0;
        while let Some(sleep) =
            Policy::<(), (), RpcError>::retry(&mut policy, &mut request, &mut failed)
        {
            sleep.await;
            retries += 1;
        }
        assert_eq!(retries, 2);
    }
}
