//! Resets: what reads, writes, `shutdown`, `peer_addr` and `take_error`
//! return once a connection was reset, and the bytes that arrived before.
//!
//! Timing: where a body waits for a RST to arrive it calls `settle()` (50 ms
//! of wall time on loopback, of simulated time in the simulator); the
//! kernel's answer depends on the RST having arrived, not on when.

use std::io::ErrorKind;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use tokio::io::Interest;

use crate::harness::{StreamApi, TestNet, conformance, settle};

conformance!(
    after_a_reset_is_reported_once_reads_return_eof_and_writes_broken_pipe,
    bytes_that_arrived_before_a_reset_stay_readable_then_the_reset_is_reported,
    a_write_to_a_peer_that_closed_draws_a_reset_then_writes_are_broken_pipe_and_reads_eof,
    peer_addr_of_a_reset_socket_is_not_connected_and_local_addr_stays,
    shutdown_of_a_reset_socket_is_ok,
    take_error_reports_a_pending_reset_once_and_reads_then_return_eof,
    a_zero_length_write_after_own_shutdown_is_broken_pipe,
    dropping_a_stream_with_zero_linger_resets_the_connection,
    a_write_to_a_reset_socket_reports_the_reset_first,
    every_call_on_a_reset_socket_answers_as_the_kernel_does,
);

/// A connection whose server end was dropped with unread data: the client
/// end has received a RST (and nothing else).
async fn reset_client<N: TestNet>(net: &N) -> N::Stream {
    let (mut client, mut server) = net.pair().await;
    client.write_all(&[9u8; 10]).await.unwrap();
    // Read one byte so the other nine are known to sit unread in the buffer.
    let mut one = [0u8; 1];
    server.read_exact(&mut one).await.unwrap();
    drop(server);
    settle().await;
    client
}

async fn after_a_reset_is_reported_once_reads_return_eof_and_writes_broken_pipe<N: TestNet>(
    net: N,
) {
    let mut client = reset_client(&net).await;
    let mut buf = [0u8; 8];
    let error = client.read(&mut buf).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ConnectionReset);
    for _ in 0..3 {
        assert_eq!(
            client.read(&mut buf).await.unwrap(),
            0,
            "reads after the reset"
        );
    }
    let error = client.write(b"more").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::BrokenPipe);
}

async fn a_write_to_a_reset_socket_reports_the_reset_first<N: TestNet>(net: N) {
    let mut client = reset_client(&net).await;
    let error = client.write(b"more").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ConnectionReset);
    let error = client.write(b"more").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::BrokenPipe);
    let mut buf = [0u8; 8];
    assert_eq!(client.read(&mut buf).await.unwrap(), 0);
}

async fn bytes_that_arrived_before_a_reset_stay_readable_then_the_reset_is_reported<N: TestNet>(
    net: N,
) {
    let (mut client, mut server) = net.pair().await;
    server.write_all(b"last words").await.unwrap();
    server.set_linger(Some(std::time::Duration::ZERO)).unwrap();
    drop(server);
    settle().await;
    let mut words = [0u8; 10];
    client.read_exact(&mut words).await.unwrap();
    assert_eq!(&words, b"last words");
    let mut buf = [0u8; 8];
    let error = client.read(&mut buf).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ConnectionReset);
    assert_eq!(client.read(&mut buf).await.unwrap(), 0);
}

async fn a_write_to_a_peer_that_closed_draws_a_reset_then_writes_are_broken_pipe_and_reads_eof<
    N: TestNet,
>(
    net: N,
) {
    let (mut client, server) = net.pair().await;
    drop(server);
    let mut buf = [0u8; 8];
    assert_eq!(client.read(&mut buf).await.unwrap(), 0, "the FIN arrived");
    // The kernel takes the bytes; the closed peer answers them with a RST.
    assert_eq!(client.write(b"anyone?").await.unwrap(), 7);
    settle().await;
    for _ in 0..2 {
        let error = client.write(b"more").await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::BrokenPipe);
        assert_eq!(client.read(&mut buf).await.unwrap(), 0);
    }
}

async fn peer_addr_of_a_reset_socket_is_not_connected_and_local_addr_stays<N: TestNet>(net: N) {
    let client = reset_client(&net).await;
    let error = client.peer_addr().unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NotConnected);
    let local = client.local_addr().unwrap();
    assert_ne!(local.port(), 0);
}

async fn shutdown_of_a_reset_socket_is_ok<N: TestNet>(net: N) {
    let mut client = reset_client(&net).await;
    client.shutdown().await.unwrap();
    let mut buf = [0u8; 8];
    let error = client.read(&mut buf).await.unwrap_err();
    assert_eq!(
        error.kind(),
        ErrorKind::ConnectionReset,
        "shutdown reported nothing"
    );
    client.shutdown().await.unwrap();
}

async fn take_error_reports_a_pending_reset_once_and_reads_then_return_eof<N: TestNet>(net: N) {
    let (client, server) = net.pair().await;
    assert!(client.take_error().unwrap().is_none(), "a healthy socket");
    drop(server);
    let mut client = reset_client(&net).await;
    let error = client.take_error().unwrap().expect("the reset is pending");
    assert_eq!(error.kind(), ErrorKind::ConnectionReset);
    assert!(client.take_error().unwrap().is_none(), "reported once");
    let mut buf = [0u8; 8];
    assert_eq!(client.read(&mut buf).await.unwrap(), 0);
}

async fn a_zero_length_write_after_own_shutdown_is_broken_pipe<N: TestNet>(net: N) {
    let (mut client, _server) = net.pair().await;
    assert_eq!(client.write(&[]).await.unwrap(), 0, "before shutdown");
    client.shutdown().await.unwrap();
    let error = client.write(&[]).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::BrokenPipe);
}

async fn dropping_a_stream_with_zero_linger_resets_the_connection<N: TestNet>(net: N) {
    let (mut client, server) = net.pair().await;
    assert_eq!(server.linger().unwrap(), None, "no linger by default");
    server.set_zero_linger().unwrap();
    assert_eq!(server.linger().unwrap(), Some(std::time::Duration::ZERO));
    drop(server);
    let mut buf = [0u8; 8];
    let error = client.read(&mut buf).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ConnectionReset);
}

async fn every_call_on_a_reset_socket_answers_as_the_kernel_does<N: TestNet>(net: N) {
    let mut client = reset_client(&net).await;
    let ready = client.ready(Interest::READABLE).await.unwrap();
    assert!(ready.is_readable() && ready.is_read_closed(), "{ready:?}");
    let mut buf = [0u8; 8];
    let error = client.peek(&mut buf).await.unwrap_err();
    assert_eq!(
        error.kind(),
        ErrorKind::ConnectionReset,
        "peek reports the reset"
    );
    assert_eq!(client.peek(&mut buf).await.unwrap(), 0);
    assert_eq!(client.try_read(&mut buf).unwrap(), 0);
    assert_eq!(client.read(&mut buf).await.unwrap(), 0);
    client.writable().await.unwrap();
    assert_eq!(
        client.try_write(b"x").unwrap_err().kind(),
        ErrorKind::BrokenPipe
    );
    assert_eq!(
        client.write(&[]).await.unwrap_err().kind(),
        ErrorKind::BrokenPipe
    );
    assert!(client.take_error().unwrap().is_none());
    client.set_nodelay(true).unwrap();
    client.set_ttl(32).unwrap();
    assert_eq!(client.ttl().unwrap(), 32);
    assert!(client.nodelay().unwrap());
    client.set_zero_linger().unwrap();
    client.flush().await.unwrap();
    client.shutdown().await.unwrap();
    assert_eq!(
        client.peer_addr().unwrap_err().kind(),
        ErrorKind::NotConnected
    );
    let (read, write) = client.into_split();
    drop(write);
    drop(read);
}
