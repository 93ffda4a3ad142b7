//! What was still waiting when an iteration stalled or ran out of budget.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::net::connection::{EndState, Side};
use crate::world::World;

/// The state of the world when an iteration stalled or ran out of budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitReport {
    /// Simulated time when the iteration was stopped.
    pub at: Duration,
    /// Stable hash of the network events until then.
    pub trace_hash: u64,
    /// Network events applied until then.
    pub events: u64,
    /// Every host still running, with what it was waiting on.
    pub hosts: Vec<HostReport>,
}

/// One running host in a [`WaitReport`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostReport {
    /// The host's name.
    pub name: String,
    /// The host's address.
    pub ip: Ipv4Addr,
    /// Its current incarnation.
    pub incarnation: u64,
    /// It is a workload that has not finished.
    pub workload_pending: bool,
    /// Its tasks that had not finished.
    pub live_tasks: usize,
    /// Its open sockets.
    pub sockets: Vec<SocketReport>,
}

/// One open socket in a [`HostReport`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketReport {
    /// A listening socket.
    Listener {
        /// Its bound address.
        addr: SocketAddr,
        /// A task was waiting in `accept`.
        accepting: bool,
        /// Connections queued, not yet accepted.
        backlog: usize,
    },
    /// A connect in progress.
    Connecting {
        /// The local end.
        local: SocketAddr,
        /// The address being connected to.
        to: SocketAddr,
    },
    /// A connected stream.
    Stream {
        /// The local end.
        local: SocketAddr,
        /// The remote end.
        peer: SocketAddr,
        /// A task was blocked reading (no data, no EOF).
        reading: bool,
        /// A task was blocked writing (send buffer full).
        writing: bool,
        /// Bytes received, not yet read.
        unread: usize,
        /// Bytes written, not yet delivered.
        unsent: usize,
        /// The peer's FIN arrived.
        eof: bool,
        /// The stream was reset.
        reset: bool,
    },
}

impl World {
    pub(crate) fn wait_report(&self, at: Duration) -> WaitReport {
        let mut hosts = Vec::new();
        for (id, host) in self.hosts.iter() {
            if !host.alive {
                continue;
            }
            let mut sockets = Vec::new();
            for (_, listener) in self.listeners.iter() {
                if listener.host == id {
                    sockets.push(SocketReport::Listener {
                        addr: listener.addr,
                        accepting: !listener.acceptors.is_empty(),
                        backlog: listener.backlog.len(),
                    });
                }
            }
            for (_, conn) in self.conns.iter() {
                for side in [Side::Client, Side::Server] {
                    let end = conn.end(side);
                    if end.host != id || end.is_dead() {
                        continue;
                    }
                    sockets.push(match end.state {
                        EndState::Connecting => SocketReport::Connecting {
                            local: end.local,
                            to: conn.target,
                        },
                        _ => SocketReport::Stream {
                            local: end.local,
                            peer: conn.end(side.other()).local,
                            reading: end.read_waker.is_waiting(),
                            writing: end.write_waker.is_waiting(),
                            unread: end.recv_bytes,
                            unsent: end.unsent_bytes + end.in_flight,
                            eof: end.fin_received,
                            reset: end.reset,
                        },
                    });
                }
            }
            hosts.push(HostReport {
                name: host.name.clone(),
                ip: host.ip,
                incarnation: host.incarnation,
                workload_pending: host.workload == Some(super::WorkloadStatus::Running),
                live_tasks: host.tasks.iter().filter(|t| !t.is_finished()).count(),
                sockets,
            });
        }
        WaitReport {
            at,
            trace_hash: self.net.trace.hash(),
            events: self.net.trace.count(),
            hosts,
        }
    }
}

impl fmt::Display for WaitReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "at {:?} after {} network events (trace {:016x}); hosts still running:",
            self.at, self.events, self.trace_hash
        )?;
        for host in &self.hosts {
            write!(f, "\n  {host}")?;
        }
        Ok(())
    }
}

impl fmt::Display for HostReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}) incarnation {}",
            self.name, self.ip, self.incarnation
        )?;
        if self.workload_pending {
            write!(f, ", workload not finished")?;
        }
        write!(f, ", {} live tasks", self.live_tasks)?;
        for socket in &self.sockets {
            write!(f, "\n    {socket}")?;
        }
        Ok(())
    }
}

impl fmt::Display for SocketReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SocketReport::Listener {
                addr,
                accepting,
                backlog,
            } => {
                write!(f, "listener {addr}")?;
                if *accepting {
                    write!(f, " blocked in accept")?;
                }
                write!(f, " ({backlog} queued)")
            }
            SocketReport::Connecting { local, to } => {
                write!(f, "stream {local} -> {to} blocked connecting")
            }
            SocketReport::Stream {
                local,
                peer,
                reading,
                writing,
                unread,
                unsent,
                eof,
                reset,
            } => {
                write!(f, "stream {local} -> {peer}")?;
                if *reading {
                    write!(f, " blocked reading")?;
                }
                if *writing {
                    write!(f, " blocked writing")?;
                }
                write!(f, " ({unread} unread, {unsent} unsent")?;
                if *eof {
                    write!(f, ", EOF received")?;
                }
                if *reset {
                    write!(f, ", reset")?;
                }
                write!(f, ")")
            }
        }
    }
}
