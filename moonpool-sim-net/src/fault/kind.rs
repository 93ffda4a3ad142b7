//! What kinds of fault fire, and how often each fired in one iteration.

use std::fmt;

/// One kind of injected fault, as counted in [`FaultCounts`] and recorded as
/// [`NetEvent::Fault`](crate::NetEvent::Fault) in the trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultKind {
    /// A packet took the slow latency tail.
    SlowPacket,
    /// A host's send or receive side, or a host pair, was clogged.
    Clog,
    /// A partition started (pair, one direction, or an isolated host).
    Partition,
    /// Partitions and clogs were healed by a script.
    Heal,
    /// A packet was held back by a clog or partition.
    Held,
    /// A connection failed because data stayed unacknowledged longer than
    /// `connection_timeout` (partition, loss, or a vanished peer).
    ConnectionTimeout,
    /// A read or write closed its connection at random.
    RandomClose,
    /// A script closed connections.
    ScriptedClose,
    /// Bits of a delivered segment were flipped.
    BitFlip,
    /// `poll_write` accepted only a prefix.
    ShortWrite,
    /// `poll_read` returned less than was available.
    ShortRead,
    /// A connection attempt was refused by a fault.
    ConnectRefused,
    /// A connection attempt was left hanging by a fault.
    ConnectHang,
    /// A transmission of a segment was lost and retransmitted later.
    Loss,
    /// A host crashed: peers see RST.
    CrashReset,
    /// A host vanished: no FIN, no RST, its peers' connections are half-open.
    CrashVanish,
    /// A host stopped gracefully: its sockets sent FIN.
    CrashGraceful,
    /// A host restarted after a fault crashed it.
    Restart,
    /// A host's clock read ahead of simulated time.
    ClockDrift,
    /// A buggified sleep slept longer.
    BuggifiedDelay,
}

impl FaultKind {
    /// Every kind, in counting order.
    pub const ALL: [FaultKind; 20] = [
        FaultKind::SlowPacket,
        FaultKind::Clog,
        FaultKind::Partition,
        FaultKind::Heal,
        FaultKind::Held,
        FaultKind::ConnectionTimeout,
        FaultKind::RandomClose,
        FaultKind::ScriptedClose,
        FaultKind::BitFlip,
        FaultKind::ShortWrite,
        FaultKind::ShortRead,
        FaultKind::ConnectRefused,
        FaultKind::ConnectHang,
        FaultKind::Loss,
        FaultKind::CrashReset,
        FaultKind::CrashVanish,
        FaultKind::CrashGraceful,
        FaultKind::Restart,
        FaultKind::ClockDrift,
        FaultKind::BuggifiedDelay,
    ];

    /// A stable snake_case name, for reports.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::SlowPacket => "slow_packet",
            FaultKind::Clog => "clog",
            FaultKind::Partition => "partition",
            FaultKind::Heal => "heal",
            FaultKind::Held => "held",
            FaultKind::ConnectionTimeout => "connection_timeout",
            FaultKind::RandomClose => "random_close",
            FaultKind::ScriptedClose => "scripted_close",
            FaultKind::BitFlip => "bit_flip",
            FaultKind::ShortWrite => "short_write",
            FaultKind::ShortRead => "short_read",
            FaultKind::ConnectRefused => "connect_refused",
            FaultKind::ConnectHang => "connect_hang",
            FaultKind::Loss => "loss",
            FaultKind::CrashReset => "crash_reset",
            FaultKind::CrashVanish => "crash_vanish",
            FaultKind::CrashGraceful => "crash_graceful",
            FaultKind::Restart => "restart",
            FaultKind::ClockDrift => "clock_drift",
            FaultKind::BuggifiedDelay => "buggified_delay",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How many times each [`FaultKind`] fired.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultCounts {
    counts: [u64; FaultKind::ALL.len()],
}

impl FaultCounts {
    /// Times `kind` fired.
    pub fn get(&self, kind: FaultKind) -> u64 {
        self.counts[kind.index()]
    }

    /// Every kind with its count (zeros included), in [`FaultKind::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (FaultKind, u64)> + '_ {
        FaultKind::ALL.iter().map(|&kind| (kind, self.get(kind)))
    }

    /// Faults of every kind.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Adds `other`'s counts (to sum iterations).
    pub fn add(&mut self, other: &FaultCounts) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts) {
            *mine += theirs;
        }
    }

    pub(crate) fn bump(&mut self, kind: FaultKind) {
        self.counts[kind.index()] += 1;
    }
}
