//! The thin tokio-looking layer: `SimTcpStream`, `SimTcpListener`, the
//! accept stream and the `tower` connector.

mod addr;
mod connector;
mod listener;
mod stream;

pub use addr::ToSimAddr;
pub use connector::{ConnectFuture, SimConnector};
pub use listener::{SimIncoming, SimTcpListener};
pub use stream::SimTcpStream;
