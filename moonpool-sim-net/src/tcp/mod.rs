//! The thin tokio-looking layer: `SimTcpStream`, `SimTcpListener`, the
//! accept stream and the `tower` connector.

mod addr;
mod connector;
mod listener;
mod listener_stream;
mod socket;
mod split;
mod split_owned;
mod stream;

pub use addr::ToSimAddr;
pub use connector::{ConnectFuture, SimConnector};
pub use listener::{SimIncoming, SimTcpListener};
pub use listener_stream::SimTcpListenerStream;
pub use socket::SimTcpSocket;
pub use split::{ReadHalf, WriteHalf};
pub use split_owned::{OwnedReadHalf, OwnedWriteHalf, ReuniteError};
pub use stream::SimTcpStream;

#[cfg(feature = "tonic")]
mod connected;
