//! One connection's framed halves, and a byte counter on the read side.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use moonpool_codec::PacketCodec;
use tokio::io::{AsyncRead, ReadBuf, ReadHalf, WriteHalf};
use tokio_util::codec::{FramedRead, FramedWrite};

use crate::net::BoxIo;

/// Counts raw bytes read: the monitor's sign of life, and, against the
/// bytes of decoded frames, how much of an unfinished frame has arrived.
pub(crate) struct CountingRead<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: AsyncRead + Unpin> AsyncRead for CountingRead<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        let read = buf.filled().len().saturating_sub(before);
        self.count.fetch_add(read as u64, Ordering::Relaxed);
        result
    }
}

/// The two framed halves of one connection.
pub(crate) struct Wire {
    pub(crate) reader: FramedRead<CountingRead<ReadHalf<BoxIo>>, PacketCodec>,
    pub(crate) writer: FramedWrite<WriteHalf<BoxIo>, PacketCodec>,
    /// Raw bytes read so far.
    pub(crate) received: Arc<AtomicU64>,
}

impl Wire {
    /// Frames `io` with frames of at most `max_frame_length` bytes.
    pub(crate) fn new(io: BoxIo, max_frame_length: usize) -> Self {
        let codec = PacketCodec::with_max_frame_length(max_frame_length);
        let (read, write) = tokio::io::split(io);
        let received = Arc::new(AtomicU64::new(0));
        let counting = CountingRead {
            inner: read,
            count: received.clone(),
        };
        Self {
            reader: FramedRead::new(counting, codec),
            writer: FramedWrite::new(write, codec),
            received,
        }
    }
}
