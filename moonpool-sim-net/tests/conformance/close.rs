//! Closing: FIN, half-close, write after shutdown, drop with and without
//! unread data (FIN vs RST).

use std::io::ErrorKind;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::{TestNet, conformance};

conformance!(
    shutdown_sends_fin_and_the_peer_reads_eof_repeatedly,
    a_half_closed_peer_can_still_write_back,
    write_after_own_shutdown_is_broken_pipe,
    dropping_a_stream_sends_fin,
    dropping_a_stream_with_unread_data_sends_rst,
);

async fn shutdown_sends_fin_and_the_peer_reads_eof_repeatedly<N: TestNet>(net: N) {
    let (mut client, mut server) = net.pair().await;
    client.write_all(b"hello").await.unwrap();
    client.shutdown().await.unwrap();
    let mut received = Vec::new();
    server.read_to_end(&mut received).await.unwrap();
    assert_eq!(received, b"hello");
    let mut buf = [0u8; 8];
    for _ in 0..3 {
        assert_eq!(server.read(&mut buf).await.unwrap(), 0, "EOF is sticky");
    }
}

async fn a_half_closed_peer_can_still_write_back<N: TestNet>(net: N) {
    let (mut client, mut server) = net.pair().await;
    client.write_all(b"request").await.unwrap();
    client.shutdown().await.unwrap();
    let mut request = Vec::new();
    server.read_to_end(&mut request).await.unwrap();
    assert_eq!(request, b"request");
    server.write_all(b"reply").await.unwrap();
    server.shutdown().await.unwrap();
    let mut reply = Vec::new();
    client.read_to_end(&mut reply).await.unwrap();
    assert_eq!(reply, b"reply");
}

async fn write_after_own_shutdown_is_broken_pipe<N: TestNet>(net: N) {
    let (mut client, _server) = net.pair().await;
    client.shutdown().await.unwrap();
    let error = client.write(b"late").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::BrokenPipe);
}

async fn dropping_a_stream_sends_fin<N: TestNet>(net: N) {
    let (mut client, server) = net.pair().await;
    drop(server);
    let mut buf = [0u8; 8];
    assert_eq!(client.read(&mut buf).await.unwrap(), 0);
}

async fn dropping_a_stream_with_unread_data_sends_rst<N: TestNet>(net: N) {
    let (mut client, mut server) = net.pair().await;
    client.write_all(&[9u8; 10]).await.unwrap();
    // Read one byte so the other nine are known to sit unread in the buffer.
    let mut one = [0u8; 1];
    server.read_exact(&mut one).await.unwrap();
    drop(server);
    let mut buf = [0u8; 8];
    let error = client.read(&mut buf).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ConnectionReset);
    // The read consumed the reset: writes fail with EPIPE.
    let error = client.write_all(b"more").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::BrokenPipe);
}
