//! The `io::Error`s simulated sockets return, one constructor per cause, so
//! every call site says the same thing the same way.

use std::io;

pub(crate) fn reset() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionReset, "connection reset by peer")
}

pub(crate) fn refused() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionRefused, "connection refused")
}

pub(crate) fn broken_pipe() -> io::Error {
    io::Error::new(
        io::ErrorKind::BrokenPipe,
        "write after shutdown: the write half is closed",
    )
}

pub(crate) fn not_connected() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "the socket is not connected (reset, timed out, or closed at both ends)",
    )
}

pub(crate) fn no_address() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "could not resolve to any address",
    )
}

pub(crate) fn invalid_input(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, what.to_owned())
}

pub(crate) fn aborted() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "the socket is gone: its host crashed, or the simulation ended",
    )
}

pub(crate) fn host_down() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "this task belongs to a host incarnation that crashed",
    )
}

pub(crate) fn outside_host() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "moonpool-sim-net: socket call outside any simulated host; run it in a host's \
         factory or workload, or in a task spawned with moonpool_sim_net::spawn or a HostHandle",
    )
}

pub(crate) fn addr_in_use(port: u16) -> io::Error {
    io::Error::new(
        io::ErrorKind::AddrInUse,
        format!("port {port} already has a listener on this host"),
    )
}

pub(crate) fn addr_not_available(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::AddrNotAvailable, what.to_owned())
}

pub(crate) fn timed_out() -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        "connection timed out: data stayed unacknowledged (partition, loss, or the peer vanished)",
    )
}

/// The error a connection failed with and no call has reported yet (the
/// kernel's `sk_err`): the next read, write or `take_error` reports it once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SocketError {
    /// A RST arrived (`ECONNRESET`).
    Reset,
    /// A RST arrived after the peer's FIN, before ours (`EPIPE`: Linux's
    /// answer in `CLOSE_WAIT`).
    BrokenPipe,
    /// Data stayed unacknowledged too long (`ETIMEDOUT`).
    TimedOut,
}

impl SocketError {
    pub(crate) fn into_io(self) -> io::Error {
        match self {
            SocketError::Reset => reset(),
            SocketError::BrokenPipe => io::Error::new(
                io::ErrorKind::BrokenPipe,
                "broken pipe: the peer reset the connection after closing it",
            ),
            SocketError::TimedOut => timed_out(),
        }
    }
}
