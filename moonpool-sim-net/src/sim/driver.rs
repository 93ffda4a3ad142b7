//! The driver: the one task that applies network events.
//!
//! It sleeps (one reusable `Sleep`) until the earliest event's instant; when
//! every task is idle, tokio's paused clock jumps straight there. A socket that
//! schedules an event earlier than the driver's sleep wakes it through a
//! `Notify`. Every event due at the current instant is applied in one batch,
//! then the collected wakers are woken with the lock released.

use std::sync::Arc;

use tokio::time::{Instant, sleep_until};

use crate::world::{Shared, Wakes};

pub(crate) async fn drive(shared: Arc<Shared>) {
    let sleep = sleep_until(shared.start);
    tokio::pin!(sleep);
    let mut wakes = Wakes::default();
    loop {
        let next = {
            let now = Instant::now();
            let mut world = shared.lock();
            world.process_due(now, &mut wakes);
            world.net.arm()
        };
        // The driver re-armed itself from the queue: no need to notify it.
        wakes.skip_driver();
        wakes.finish(&shared);
        match next {
            Some(at) => {
                sleep.as_mut().reset(at);
                tokio::select! {
                    biased;
                    () = shared.driver.notified() => {}
                    () = &mut sleep => {}
                }
            }
            None => shared.driver.notified().await,
        }
    }
}
