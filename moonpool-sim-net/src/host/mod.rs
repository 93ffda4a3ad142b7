//! Hosts: the host table, the ambient host context every host task runs in,
//! the host-scoped spawner, and crash/restart.

mod context;
mod error;
mod handle;
mod lifecycle;
mod spawn;
mod table;
mod task;

pub(crate) use context::{HostContext, current_host_and_time};
pub use error::HostError;
pub use handle::{HostInfo, SimHandle, handle};
pub(crate) use lifecycle::{Factory, RootFuture, start_host};
pub use spawn::{BoxedTask, HostHandle, spawn};
pub(crate) use table::{HostId, HostTable};
pub(crate) use task::panic_message;
