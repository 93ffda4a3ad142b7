//! `PacketCodec` inside tokio-util's `Framed`, over an in-memory pipe and
//! over real TCP on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use bytes::BytesMut;
use futures_util::{SinkExt, StreamExt};
use moonpool_codec::{Packet, PacketCodec, Uid, WireError};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::{Encoder, Framed, FramedRead, FramedWrite};

/// Long enough for any of these exchanges on a loaded machine; only there
/// so a bug hangs no CI run.
const DEADLINE: Duration = Duration::from_secs(30);

fn packets(count: usize) -> Vec<Packet> {
    (0..count)
        .map(|i| {
            let len = (i * 37) % 3000;
            let payload: Vec<u8> = (0..len).map(|b| (b ^ i) as u8).collect();
            Packet::new(Uid::new(i as u64, !(i as u64)), payload)
        })
        .collect()
}

/// Sends `packets` from one end, echoes them at the other, and checks that
/// every echo comes back intact and in order.
async fn echo_through<C, S>(client: C, server: S, packets: Vec<Packet>)
where
    C: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let echo = tokio::spawn(async move {
        let mut server = Framed::new(server, PacketCodec::new());
        while let Some(packet) = server.next().await {
            server.send(packet.unwrap()).await.unwrap();
        }
    });
    let (read, write) = tokio::io::split(client);
    let mut reader = FramedRead::new(read, PacketCodec::new());
    let mut writer = FramedWrite::new(write, PacketCodec::new());
    let expected = packets.clone();
    let send = tokio::spawn(async move {
        for packet in packets {
            writer.feed(packet).await.unwrap();
        }
        writer.flush().await.unwrap();
        writer
    });

    for want in expected {
        let got = reader.next().await.expect("an echo").unwrap();
        assert_eq!(got, want);
    }
    // Closing our side ends the echo loop, which closes its side.
    let mut writer = send.await.unwrap();
    writer.close().await.unwrap();
    assert!(reader.next().await.is_none());
    echo.await.unwrap();
}

#[tokio::test]
async fn packets_echo_intact_over_a_duplex_pipe_with_a_tiny_buffer() {
    // A 61-byte pipe cuts every frame at changing offsets.
    let (client, server) = tokio::io::duplex(61);

    tokio::time::timeout(DEADLINE, echo_through(client, server, packets(200)))
        .await
        .unwrap();
}

#[tokio::test]
async fn packets_echo_intact_over_tcp_on_loopback() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let client = TcpStream::connect(address).await.unwrap();
    let (server, _) = listener.accept().await.unwrap();

    tokio::time::timeout(DEADLINE, echo_through(client, server, packets(500)))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_corrupted_frame_over_tcp_is_a_checksum_mismatch_and_ends_the_stream() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    let mut frames = BytesMut::new();
    let mut codec = PacketCodec::new();
    codec
        .encode(Packet::new(Uid::new(1, 1), &b"good"[..]), &mut frames)
        .unwrap();
    let second = frames.len();
    codec
        .encode(Packet::new(Uid::new(2, 2), &b"flipped"[..]), &mut frames)
        .unwrap();
    codec
        .encode(Packet::new(Uid::new(3, 3), &b"never seen"[..]), &mut frames)
        .unwrap();
    frames[second + 30] ^= 0x10;
    client.write_all(&frames).await.unwrap();
    let mut server = Framed::new(server, PacketCodec::new());

    let first = server.next().await.unwrap().unwrap();
    let error = server.next().await.unwrap().unwrap_err();
    let after = server.next().await;

    assert_eq!(&first.payload[..], b"good");
    assert!(
        matches!(error, WireError::ChecksumMismatch { .. }),
        "{error:?}"
    );
    assert!(after.is_none(), "the stream ends after an error");
}

#[tokio::test]
async fn a_peer_closing_inside_a_frame_is_truncated() {
    let (mut client, server) = tokio::io::duplex(1024);
    let mut frame = BytesMut::new();
    PacketCodec::new()
        .encode(Packet::new(Uid::new(1, 1), vec![7u8; 100]), &mut frame)
        .unwrap();
    client.write_all(&frame[..60]).await.unwrap();
    drop(client);
    let mut server = FramedRead::new(server, PacketCodec::new());

    let error = server.next().await.unwrap().unwrap_err();

    assert!(
        matches!(
            error,
            WireError::Truncated {
                buffered: 60,
                expected: Some(124)
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn sending_an_oversized_packet_fails_and_sends_nothing() {
    let (client, server) = tokio::io::duplex(1024);
    let mut client = Framed::new(client, PacketCodec::with_max_frame_length(100));
    let mut server = FramedRead::new(server, PacketCodec::new());

    let error = client
        .send(Packet::new(Uid::new(1, 1), vec![0u8; 77]))
        .await
        .unwrap_err();
    client
        .send(Packet::new(Uid::new(2, 2), vec![0u8; 76]))
        .await
        .unwrap();

    assert!(matches!(
        error,
        WireError::FrameTooLarge { len: 101, max: 100 }
    ));
    let next = server.next().await.unwrap().unwrap();
    assert_eq!(next.token, Uid::new(2, 2));
}
