//! tokio's `TcpStream` API beyond `AsyncRead`/`AsyncWrite`: halves,
//! `peek`, readiness, `try_*`, `try_io`, and the addresses once closed.

use std::future::poll_fn;
use std::io::{ErrorKind, IoSlice, IoSliceMut};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest, ReadBuf};

use crate::harness::{ReadHalfApi, StreamApi, TestNet, WriteHalfApi, conformance, settle};

conformance!(
    owned_halves_work_from_two_tasks_and_reunite,
    halves_of_different_streams_do_not_reunite,
    dropping_the_owned_write_half_sends_fin,
    owned_halves_peek_try_and_wait_like_the_stream,
    a_forgotten_write_half_sends_no_fin,
    borrowed_halves_write_and_read_at_once,
    peek_shows_the_same_bytes_until_a_read_takes_them,
    try_read_would_block_until_readable_then_reads,
    try_read_vectored_and_try_read_buf_fill_in_order,
    try_write_and_try_write_vectored_write_when_writable,
    try_write_would_block_once_the_buffers_are_full,
    ready_reports_writable_then_readable_then_read_closed,
    try_io_runs_the_operation_once_ready,
    several_tasks_awaiting_readable_are_all_woken,
    peer_addr_is_not_connected_once_both_ends_closed,
);

async fn owned_halves_work_from_two_tasks_and_reunite<N: TestNet>(net: N) {
    let (client, mut server) = net.pair().await;
    let (mut read, mut write) = client.into_split();
    let writer = net.spawn(async move {
        write.write_all(b"ping").await.unwrap();
        write
    });
    let mut ping = [0u8; 4];
    server.read_exact(&mut ping).await.unwrap();
    server.write_all(b"pong").await.unwrap();
    let mut pong = [0u8; 4];
    read.read_exact(&mut pong).await.unwrap();
    assert_eq!((&ping, &pong), (b"ping", b"pong"));
    let write = writer.await.unwrap();
    let mut client = N::Stream::reunite(read, write).expect("halves of one stream");
    client.write_all(b"again").await.unwrap();
    let mut again = [0u8; 5];
    server.read_exact(&mut again).await.unwrap();
    assert_eq!(&again, b"again", "reuniting did not shut the write half");
}

async fn halves_of_different_streams_do_not_reunite<N: TestNet>(net: N) {
    let (a, _a_server) = net.pair().await;
    let (b, _b_server) = net.pair().await;
    let (a_read, _a_write) = a.into_split();
    let (_b_read, b_write) = b.into_split();
    let error = N::Stream::reunite(a_read, b_write).expect_err("different streams");
    assert!(error.contains("not from the same socket"), "{error}");
}

async fn dropping_the_owned_write_half_sends_fin<N: TestNet>(net: N) {
    let (client, mut server) = net.pair().await;
    let (mut read, write) = client.into_split();
    drop(write);
    let mut buf = [0u8; 4];
    assert_eq!(server.read(&mut buf).await.unwrap(), 0, "FIN");
    server.write_all(b"back").await.unwrap();
    read.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"back", "the read half still reads");
}

async fn owned_halves_peek_try_and_wait_like_the_stream<N: TestNet>(net: N) {
    let (client, mut server) = net.pair().await;
    let local = client.local_addr().unwrap();
    let peer = client.peer_addr().unwrap();
    let (mut read, write) = client.into_split();
    assert_eq!(
        (read.local_addr().unwrap(), read.peer_addr().unwrap()),
        (local, peer)
    );
    assert_eq!(
        (write.local_addr().unwrap(), write.peer_addr().unwrap()),
        (local, peer)
    );
    write.writable().await.unwrap();
    assert!(write.ready(Interest::WRITABLE).await.unwrap().is_writable());
    assert_eq!(write.try_write(b"half").unwrap(), 4);
    let mut got = [0u8; 4];
    server.read_exact(&mut got).await.unwrap();
    assert_eq!(&got, b"half");
    let mut buf = [0u8; 8];
    assert_eq!(
        read.try_read(&mut buf).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    server.write_all(b"back").await.unwrap();
    read.readable().await.unwrap();
    assert!(read.ready(Interest::READABLE).await.unwrap().is_readable());
    let n = read.peek(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], &b"back"[..n]);
    let m = read.try_read(&mut buf).unwrap();
    assert_eq!(&buf[..m], &b"back"[..m]);
}

async fn a_forgotten_write_half_sends_no_fin<N: TestNet>(net: N) {
    let (client, mut server) = net.pair().await;
    let (_read, write) = client.into_split();
    write.forget();
    let mut buf = [0u8; 1];
    let silent = tokio::time::timeout(Duration::from_millis(200), server.read(&mut buf)).await;
    assert!(silent.is_err(), "forget must not shut the write half down");
}

async fn borrowed_halves_write_and_read_at_once<N: TestNet>(net: N) {
    let (mut client, mut server) = net.pair().await;
    let echo = net.spawn(async move {
        let mut buf = [0u8; 6];
        server.read_exact(&mut buf).await.unwrap();
        server.write_all(&buf).await.unwrap();
        server
    });
    let mut back = [0u8; 6];
    client.split_exchange(b"halves", &mut back).await.unwrap();
    assert_eq!(&back, b"halves");
    drop(echo.await.unwrap());
}

async fn peek_shows_the_same_bytes_until_a_read_takes_them<N: TestNet>(net: N) {
    let (mut client, mut server) = net.pair().await;
    server.write_all(b"hello").await.unwrap();
    settle().await;
    let mut first = [0u8; 16];
    let n = client.peek(&mut first).await.unwrap();
    assert_eq!(&first[..n], b"hello");
    let mut storage = [0u8; 16];
    let mut second = ReadBuf::new(&mut storage);
    let m = poll_fn(|cx| client.poll_peek(cx, &mut second))
        .await
        .unwrap();
    assert_eq!(second.filled(), b"hello");
    assert_eq!(m, 5);
    let mut read = [0u8; 5];
    client.read_exact(&mut read).await.unwrap();
    assert_eq!(&read, b"hello");
    drop(server);
    assert_eq!(client.peek(&mut first).await.unwrap(), 0, "EOF");
}

async fn try_read_would_block_until_readable_then_reads<N: TestNet>(net: N) {
    let (client, mut server) = net.pair().await;
    let mut buf = [0u8; 16];
    let error = client.try_read(&mut buf).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::WouldBlock);
    server.write_all(b"data").await.unwrap();
    poll_fn(|cx| client.poll_read_ready(cx)).await.unwrap();
    client.readable().await.unwrap();
    let n = client.try_read(&mut buf).unwrap();
    assert_eq!(&buf[..n], &b"data"[..n]);
    assert!(n > 0);
}

async fn try_read_vectored_and_try_read_buf_fill_in_order<N: TestNet>(net: N) {
    let (client, mut server) = net.pair().await;
    server.write_all(b"abcdef").await.unwrap();
    settle().await;
    client.readable().await.unwrap();
    let (mut a, mut b) = ([0u8; 2], [0u8; 2]);
    let n = client
        .try_read_vectored(&mut [IoSliceMut::new(&mut a), IoSliceMut::new(&mut b)])
        .unwrap();
    assert_eq!(n, 4);
    assert_eq!((&a, &b), (b"ab", b"cd"));
    let mut rest = Vec::with_capacity(16);
    client.readable().await.unwrap();
    let n = client.try_read_buf(&mut rest).unwrap();
    assert_eq!((n, &rest[..]), (2, &b"ef"[..]));
}

async fn try_write_and_try_write_vectored_write_when_writable<N: TestNet>(net: N) {
    let (client, mut server) = net.pair().await;
    client.writable().await.unwrap();
    poll_fn(|cx| client.poll_write_ready(cx)).await.unwrap();
    assert_eq!(client.try_write(b"abc").unwrap(), 3);
    client.writable().await.unwrap();
    let n = client
        .try_write_vectored(&[IoSlice::new(b"de"), IoSlice::new(b"f")])
        .unwrap();
    assert_eq!(n, 3);
    let mut buf = [0u8; 6];
    server.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"abcdef");
}

async fn try_write_would_block_once_the_buffers_are_full<N: TestNet>(net: N) {
    let (client, _server) = net.pair().await;
    let chunk = vec![5u8; 64 * 1024];
    let mut written = 0usize;
    client.writable().await.unwrap();
    loop {
        match client.try_write(&chunk) {
            Ok(n) => written += n,
            Err(error) if error.kind() == ErrorKind::WouldBlock => break,
            Err(error) => panic!("{error}"),
        }
        assert!(written < 256 * 1024 * 1024, "never blocked");
        // Let the kernel move bytes to the peer, so "full" means full.
        settle().await;
    }
    assert!(written > 0);
    // Full: the stream is not writable until the peer reads. (tokio clears
    // its cached readiness on WouldBlock; the simulator asks each time.)
    let writable = tokio::time::timeout(Duration::from_millis(200), client.writable()).await;
    assert!(writable.is_err(), "writable with full buffers");
}

async fn ready_reports_writable_then_readable_then_read_closed<N: TestNet>(net: N) {
    let (client, mut server) = net.pair().await;
    let ready = client.ready(Interest::WRITABLE).await.unwrap();
    assert!(ready.is_writable() && !ready.is_write_closed());
    server.write_all(b"x").await.unwrap();
    let ready = client.ready(Interest::READABLE).await.unwrap();
    assert!(ready.is_readable() && !ready.is_read_closed());
    let mut buf = [0u8; 1];
    assert_eq!(client.try_read(&mut buf).unwrap(), 1);
    server.shutdown().await.unwrap();
    settle().await;
    let ready = client.ready(Interest::READABLE).await.unwrap();
    assert!(ready.is_read_closed(), "{ready:?}");
    assert_eq!(client.try_read(&mut buf).unwrap(), 0);
}

async fn try_io_runs_the_operation_once_ready<N: TestNet>(net: N) {
    let (client, mut server) = net.pair().await;
    server.write_all(b"io").await.unwrap();
    client.readable().await.unwrap();
    let mut buf = [0u8; 2];
    let n = client.try_io_read(&mut buf).unwrap();
    assert_eq!(&buf[..n], &b"io"[..n]);
    // Nothing left: try_io's operation says WouldBlock, async_io waits.
    let error = client.try_io_read(&mut buf).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::WouldBlock);
    server.write_all(b"more").await.unwrap();
    let n = client.async_io_read(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], &b"mo"[..n]);
}

async fn several_tasks_awaiting_readable_are_all_woken<N: TestNet>(net: N) {
    let (client, mut server) = net.pair().await;
    let client = std::sync::Arc::new(client);
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let client = client.clone();
            net.spawn(async move { client.readable().await })
        })
        .collect();
    settle().await;
    server.write_all(b"wake").await.unwrap();
    for waiter in waiters {
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("every waiter is woken")
            .unwrap()
            .unwrap();
    }
}

async fn peer_addr_is_not_connected_once_both_ends_closed<N: TestNet>(net: N) {
    let (mut client, mut server) = net.pair().await;
    client.shutdown().await.unwrap();
    let mut buf = [0u8; 1];
    assert_eq!(server.read(&mut buf).await.unwrap(), 0);
    assert!(server.peer_addr().is_ok(), "half-closed is still connected");
    server.shutdown().await.unwrap();
    assert_eq!(client.read(&mut buf).await.unwrap(), 0);
    // Timing: the last ACK must arrive before the kernel calls it closed.
    settle().await;
    for end in [&client, &server] {
        assert_eq!(end.peer_addr().unwrap_err().kind(), ErrorKind::NotConnected);
        assert!(end.local_addr().is_ok());
    }
}
