//! The peer as a tower service: backpressure, refusals, cancel handles,
//! connection-failure receipts, write coalescing. Paused time, in-memory
//! connections.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod peer_support;

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::FutureExt;
use moonpool_codec::{NetworkAddress, Packet, Uid};
use moonpool_tower::peer::{Delivery, Outgoing, PeerConfig, PeerError};
use moonpool_tower::transport::{Transport, TransportConfig};
use peer_support::{MemoryNet, addr, eventually, packet, with_peer};
use tokio::io::{AsyncRead, AsyncWrite, DuplexStream, ReadBuf};
use tower::{Service, ServiceExt};

const WITHIN: Duration = Duration::from_secs(10);

#[tokio::test(start_paused = true)]
async fn poll_ready_is_pending_when_the_queue_is_full_and_woken_when_it_drains() {
    let net = MemoryNet::default();
    let address = addr("10.0.0.1:1");
    let small = PeerConfig {
        queue_capacity: 2,
        ..PeerConfig::default()
    };
    let client = net.client(2, with_peer(small));
    let mut peer = client.peer(address);
    // Nobody listens yet: nothing drains.
    peer.send(Outgoing::reliable(packet(1))).await.unwrap();
    peer.send(Outgoing::reliable(packet(2))).await.unwrap();
    assert!(peer.ready().now_or_never().is_none(), "full");
    let mut other = peer.clone();
    assert!(
        other.ready().now_or_never().is_none(),
        "full for every handle"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        other.ready().now_or_never().is_none(),
        "still full while down"
    );

    let waiter = tokio::spawn(async move {
        other.send(Outgoing::reliable(packet(3))).await.unwrap();
    });
    let mut server = net.server(address, 1, TransportConfig::default());
    tokio::time::timeout(WITHIN, waiter).await.unwrap().unwrap();
    assert_eq!(server.recv_numbers(3, WITHIN).await, vec![1, 2, 3]);
}

#[tokio::test(start_paused = true)]
async fn a_reserved_slot_belongs_to_the_handle_that_reserved_it() {
    let net = MemoryNet::default();
    let small = PeerConfig {
        queue_capacity: 1,
        ..PeerConfig::default()
    };
    let client = net.client(2, with_peer(small));
    let mut first = client.peer(addr("10.0.0.1:1"));
    let mut second = first.clone();
    first.ready().await.unwrap();
    assert!(second.ready().now_or_never().is_none());
    first.call(Outgoing::unreliable(packet(1))).await.unwrap();
    assert_eq!(first.metrics().queue_depth, 1);
}

#[tokio::test(start_paused = true)]
async fn oversize_packets_are_refused_and_a_shut_down_peer_fails_calls() {
    let net = MemoryNet::default();
    let limited = PeerConfig {
        max_frame_length: 100,
        ..PeerConfig::default()
    };
    let client = net.client(2, with_peer(limited));
    let mut peer = client.peer(addr("10.0.0.1:1"));
    let big = Packet::new(Uid::new(1, 1), vec![0u8; 77]);
    assert_eq!(
        peer.send(Outgoing::reliable(big)).await.unwrap_err(),
        PeerError::PacketTooLarge { len: 101, max: 100 }
    );

    client.transport.shutdown().await;
    assert!(peer.is_closed());
    let error = tokio::time::timeout(WITHIN, peer.send(Outgoing::reliable(packet(1))))
        .await
        .expect("poll_ready does not block on a closed peer")
        .unwrap_err();
    assert_eq!(
        error,
        PeerError::Closed {
            address: Some("10.0.0.1:1".parse().unwrap())
        }
    );
    let late = client.transport.peer(addr("10.0.0.2:1").into());
    assert!(late.is_closed(), "peers made after shutdown are closed");
}

#[tokio::test(start_paused = true)]
async fn dropping_a_reliable_handle_does_not_cancel_but_cancel_does() {
    let net = MemoryNet::default();
    let address = addr("10.0.0.1:1");
    let mut server = net.server(address, 1, TransportConfig::default());
    let client = net.client(2, TransportConfig::default());
    let mut peer = client.peer(address);

    drop(peer.send(Outgoing::reliable(packet(1))).await.unwrap());
    let cancelled = peer.send(Outgoing::reliable(packet(2))).await.unwrap();
    assert_eq!(cancelled.delivery(), Delivery::Reliable);
    assert_eq!(server.recv_numbers(2, WITHIN).await, vec![1, 2]);
    let handle = cancelled.into_reliable_handle().unwrap();
    assert!(handle.is_pending());
    handle.cancel();
    handle.cancel();
    assert!(!handle.is_pending());

    server.transport.shutdown().await;
    net.unlisten(address);
    drop(server);
    let mut restarted = net.server(address, 3, TransportConfig::default());
    assert_eq!(
        restarted.recv_numbers(1, WITHIN).await,
        vec![1],
        "1 is resent, 2 is not"
    );
    assert!(restarted.nothing_within(Duration::from_secs(1)).await);
}

#[tokio::test(start_paused = true)]
async fn a_receipt_tells_whether_the_connection_it_went_out_on_failed() {
    let net = MemoryNet::default();
    let address = addr("10.0.0.1:1");
    let mut server = net.server(address, 1, TransportConfig::default());
    let client = net.client(2, TransportConfig::default());
    let mut peer = client.peer(address);
    let events = peer.connection_events();

    let sent = peer.send(Outgoing::unreliable(packet(1))).await.unwrap();
    server.recv(WITHIN).await;
    assert_eq!(events.current().connections, 1);
    assert!(!sent.connection_failed());

    server.transport.shutdown().await;
    tokio::time::timeout(WITHIN, sent.connection_failure())
        .await
        .unwrap();
    assert!(sent.connection_failed());
    assert!(events.current().failures >= 1);
    let later = peer.send(Outgoing::unreliable(packet(2))).await.unwrap();
    assert_eq!(
        later.failures_at_accept(),
        peer.connection_events().current().failures
    );
}

/// A duplex stream that counts flushes.
struct CountingFlushes {
    inner: DuplexStream,
    flushes: Arc<AtomicUsize>,
}

impl AsyncRead for CountingFlushes {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for CountingFlushes {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.flushes.fetch_add(1, Ordering::SeqCst);
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[tokio::test(start_paused = true)]
async fn writes_are_flushed_when_the_queue_drains_not_per_packet() {
    let net = MemoryNet::default();
    let address = addr("10.0.0.1:1");
    let mut server = net.server(address, 1, TransportConfig::default());
    let flushes = Arc::new(AtomicUsize::new(0));
    let connector = {
        let (net, flushes) = (net.clone(), flushes.clone());
        tower::service_fn(move |to| {
            let (net, flushes) = (net.clone(), flushes.clone());
            async move {
                let inner = net.connect(to).await?;
                Ok::<_, std::io::Error>(CountingFlushes { inner, flushes })
            }
        })
    };
    let client = Transport::builder(connector).seed(2).build().unwrap();
    let mut peer = client.peer(NetworkAddress::from(address));
    peer.send(Outgoing::reliable(packet(0))).await.unwrap();
    server.recv(WITHIN).await;
    let before = flushes.load(Ordering::SeqCst);

    // Queued in one go, without yielding to the keeper in between.
    for n in 1..=200 {
        peer.ready().await.unwrap();
        peer.call(Outgoing::unreliable(packet(n))).await.unwrap();
    }
    let received = server.recv_numbers(200, WITHIN).await;
    assert_eq!(received, (1..=200).collect::<Vec<_>>());
    let used = flushes.load(Ordering::SeqCst) - before;
    assert!(used <= 5, "{used} flushes for 200 packets");
    eventually(WITHIN, "the queue is empty", || {
        peer.metrics().queue_depth == 0
    })
    .await;
}
