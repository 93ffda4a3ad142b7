//! The wrapper every host task runs in: installs the host context and the
//! host's tracing span, counts polls (host progress, for stall detection),
//! and reports a panic as the iteration's failure before letting it unwind.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use pin_project::pin_project;
use tokio::task::futures::TaskLocalFuture;
use tracing::Instrument;
use tracing::instrument::Instrumented;

use super::{HostContext, HostId};
use crate::world::Shared;

#[pin_project]
pub(crate) struct HostTask<F> {
    #[pin]
    inner: TaskLocalFuture<HostContext, Instrumented<F>>,
    shared: Arc<Shared>,
    host: HostId,
}

impl<F: Future> HostTask<F> {
    pub(crate) fn new(ctx: HostContext, future: F) -> Self {
        let shared = ctx.shared.clone();
        let host = ctx.host;
        let span = ctx.span.clone();
        Self {
            inner: ctx.scope(future.instrument(span)),
            shared,
            host,
        }
    }
}

impl<F: Future> Future for HostTask<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        this.shared.count_poll();
        let inner = this.inner;
        match catch_unwind(AssertUnwindSafe(move || inner.poll(cx))) {
            Ok(poll) => poll,
            Err(payload) => {
                let message = panic_message(payload.as_ref());
                this.shared.record_panic(*this.host, message);
                resume_unwind(payload)
            }
        }
    }
}

pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a non-string panic payload".to_owned()
    }
}
