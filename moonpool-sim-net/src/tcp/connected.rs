//! tonic's `Connected` for the simulated stream (cargo feature `tonic`).

use tonic::transport::server::{Connected, TcpConnectInfo};

use super::SimTcpStream;

/// Gives tonic the connection's addresses, as for tokio's `TcpStream`: a
/// handler's `Request::local_addr` and `Request::remote_addr` work.
impl Connected for SimTcpStream {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        TcpConnectInfo {
            local_addr: self.local_addr().ok(),
            remote_addr: self.peer_addr().ok(),
        }
    }
}
