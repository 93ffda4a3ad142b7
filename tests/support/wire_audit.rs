//! Audits what a peer hands to its connection: the frames of the bytes its
//! writes had accepted, checked as they are written. When the receiving
//! side sees a gap the sender never wrote, the bytes were lost in the
//! network, not by the peer.

#![allow(dead_code)] // Each test target uses a part of the support modules.

use moonpool_sim_net::always;

/// `token.first` of reliable workload packets (see `peer_workload.rs`).
const RELIABLE: u64 = 1;
/// Frame header: length, checksum, token.
const HEADER: usize = 24;

/// The frames written on one connection, parsed from the accepted bytes.
#[derive(Debug, Default)]
pub(crate) struct WrittenFrames {
    pending: Vec<u8>,
    last_reliable: Option<u64>,
}

impl WrittenFrames {
    /// Takes bytes a write accepted; checks each completed frame.
    pub(crate) fn accepted(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
        loop {
            if self.pending.len() < HEADER {
                return;
            }
            let field = |at: usize, n: usize| {
                let mut buf = [0u8; 8];
                buf[..n].copy_from_slice(&self.pending[at..at + n]);
                u64::from_le_bytes(buf)
            };
            let len = field(0, 4) as usize;
            if len < HEADER || self.pending.len() < len {
                return;
            }
            let (kind, n) = (field(8, 8), field(16, 8));
            if kind == RELIABLE {
                always!(
                    self.last_reliable.is_none_or(|last| n == last + 1),
                    "the peer writes reliable packets in send order without gaps on a connection",
                    "wrote reliable {n} after {:?}",
                    self.last_reliable
                );
                self.last_reliable = Some(n);
            }
            self.pending.drain(..len);
        }
    }
}
