//! 128-bit tokens that name endpoints.

use std::fmt;

/// A 128-bit token naming an endpoint, as FoundationDB's `UID`.
///
/// Tokens are compared, ordered and hashed by `(first, second)`. Well-known
/// tokens, served by every transport at a fixed address, have
/// `first == u64::MAX` and `second` equal to their index (see
/// [`WellKnownToken`]).
///
/// `Debug` and `Display` print 32 lowercase hex digits: `first` then `second`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Uid {
    /// The high 64 bits.
    pub first: u64,
    /// The low 64 bits.
    pub second: u64,
}

impl Uid {
    /// A token from its two halves.
    pub const fn new(first: u64, second: u64) -> Self {
        Self { first, second }
    }

    /// The well-known token with the given index: `first == u64::MAX`,
    /// `second == index`.
    pub const fn well_known(index: u32) -> Self {
        Self {
            first: u64::MAX,
            second: index as u64,
        }
    }

    /// Whether this is a well-known token (`first == u64::MAX`).
    pub const fn is_well_known(&self) -> bool {
        self.first == u64::MAX
    }

    /// A fresh token drawn from `rng`.
    ///
    /// The RNG is the caller's: in a simulation it is seeded from the
    /// iteration, so tokens are reproducible. A drawn token is never
    /// well-known (a draw that lands there is drawn again).
    pub fn random<R: rand_core::Rng + ?Sized>(rng: &mut R) -> Self {
        loop {
            let uid = Self::new(rng.next_u64(), rng.next_u64());
            if !uid.is_well_known() {
                return uid;
            }
        }
    }

    /// The token of method `index` of an interface whose base token is
    /// `self`, as FoundationDB's `UID::adjusted`: the low half is offset by
    /// the index, the high half is kept, so the methods of one interface are
    /// found from one base token.
    pub const fn adjusted(&self, index: u32) -> Self {
        Self {
            first: self.first,
            second: self.second.wrapping_add(index as u64),
        }
    }

    /// The 16 bytes of this token as they appear on the wire:
    /// `first` then `second`, each little-endian.
    pub fn to_le_bytes(&self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&self.first.to_le_bytes());
        out[8..].copy_from_slice(&self.second.to_le_bytes());
        out
    }

    /// The token from its wire form (see [`Uid::to_le_bytes`]).
    pub fn from_le_bytes(bytes: [u8; 16]) -> Self {
        let mut first = [0u8; 8];
        let mut second = [0u8; 8];
        first.copy_from_slice(&bytes[..8]);
        second.copy_from_slice(&bytes[8..]);
        Self::new(u64::from_le_bytes(first), u64::from_le_bytes(second))
    }
}

impl fmt::Display for Uid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}{:016x}", self.first, self.second)
    }
}

impl fmt::Debug for Uid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The tokens every transport serves at fixed, well-known indices.
///
/// Indices below [`WellKnownToken::RESERVED`] are reserved for moonpool;
/// applications that register their own well-known endpoints use indices
/// from there up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u32)]
pub enum WellKnownToken {
    /// Answers a packet sent to a token nobody serves.
    EndpointNotFound = 0,
    /// Answers pings: the connection monitor's liveness check.
    Ping = 1,
    /// Answers a packet the receiver refuses to deliver to an endpoint.
    UnauthorizedEndpoint = 2,
}

impl WellKnownToken {
    /// Well-known indices below this are reserved for moonpool itself.
    pub const RESERVED: u32 = 64;

    /// This token's index.
    pub const fn index(self) -> u32 {
        self as u32
    }

    /// This token as a [`Uid`].
    pub const fn uid(self) -> Uid {
        Uid::well_known(self as u32)
    }

    /// The well-known token a [`Uid`] names, if it names one moonpool defines.
    pub const fn from_uid(uid: Uid) -> Option<Self> {
        if !uid.is_well_known() {
            return None;
        }
        match uid.second {
            0 => Some(Self::EndpointNotFound),
            1 => Some(Self::Ping),
            2 => Some(Self::UnauthorizedEndpoint),
            _ => None,
        }
    }
}

impl From<WellKnownToken> for Uid {
    fn from(token: WellKnownToken) -> Self {
        token.uid()
    }
}
