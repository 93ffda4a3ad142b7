//! Bytes: order, arbitrary cuts, zero-length operations, backpressure.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

use crate::harness::{TestNet, conformance, pattern};

conformance!(
    bytes_arrive_in_order_across_many_writes,
    a_read_may_return_part_of_a_write,
    a_read_may_return_parts_of_several_writes,
    zero_length_reads_and_writes_are_noops_not_eof,
    writer_blocks_while_receiver_does_not_read_and_resumes_when_it_reads,
);

const TOTAL: usize = 300_000;

async fn bytes_arrive_in_order_across_many_writes<N: TestNet>(net: N) {
    let (mut client, mut server) = net.pair().await;
    let reader = net.spawn(async move {
        let mut received = Vec::new();
        let mut sizes = 1usize;
        loop {
            // Reads of varying sizes: bytes may come cut anywhere.
            sizes = sizes * 7 % 4093 + 1;
            let mut buf = vec![0u8; sizes];
            let n = server.read(&mut buf).await.unwrap();
            if n == 0 {
                break received;
            }
            received.extend_from_slice(&buf[..n]);
        }
    });
    let data: Vec<u8> = (0..TOTAL).map(pattern).collect();
    let mut offset = 0;
    let mut size = 3usize;
    while offset < TOTAL {
        size = size * 13 % 9001 + 1;
        let end = (offset + size).min(TOTAL);
        client.write_all(&data[offset..end]).await.unwrap();
        offset = end;
    }
    client.shutdown().await.unwrap();
    let received = reader.await.unwrap();
    assert_eq!(received.len(), TOTAL);
    assert!(received == data, "bytes were reordered or corrupted");
}

async fn a_read_may_return_part_of_a_write<N: TestNet>(net: N) {
    let (mut client, mut server) = net.pair().await;
    client.write_all(&[7u8; 100]).await.unwrap();
    let mut small = [0u8; 10];
    let n = server.read(&mut small).await.unwrap();
    assert!(
        (1..=10).contains(&n),
        "read {n} bytes into a 10-byte buffer"
    );
    let mut rest = vec![0u8; 100 - n];
    server.read_exact(&mut rest).await.unwrap();
    assert!(rest.iter().all(|&b| b == 7));
}

async fn a_read_may_return_parts_of_several_writes<N: TestNet>(net: N) {
    let (mut client, mut server) = net.pair().await;
    for chunk in [b"abc", b"def", b"ghi"] {
        client.write_all(chunk).await.unwrap();
    }
    // Timing: give all three writes time to arrive (50 ms of wall time on
    // loopback, of simulated time in the simulator), then one read sees
    // bytes of more than one write.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut buf = [0u8; 64];
    let n = server.read(&mut buf).await.unwrap();
    assert!(n > 3, "one read returned only {n} bytes");
    assert_eq!(&buf[..n], &b"abcdefghi"[..n]);
}

async fn zero_length_reads_and_writes_are_noops_not_eof<N: TestNet>(net: N) {
    let (mut client, mut server) = net.pair().await;
    assert_eq!(client.write(&[]).await.unwrap(), 0);
    client.write_all(b"x").await.unwrap();
    // An empty read returns 0 without consuming anything, and is not EOF.
    // (tokio's TcpStream first waits for the socket to be readable; the
    // simulator returns at once. Both return 0.)
    let empty = tokio::time::timeout(Duration::from_secs(5), server.read(&mut []))
        .await
        .expect("a zero-length read returns");
    assert_eq!(empty.unwrap(), 0);
    let mut buf = [0u8; 4];
    let n = server.read(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"x", "the empty read consumed nothing");
    assert_eq!(client.write(&[]).await.unwrap(), 0);
    client.write_all(b"y").await.unwrap();
    let n = server.read(&mut buf).await.unwrap();
    assert_eq!(
        &buf[..n],
        b"y",
        "the stream still works after zero-length operations"
    );
}

async fn writer_blocks_while_receiver_does_not_read_and_resumes_when_it_reads<N: TestNet>(net: N) {
    const CHUNK: usize = 64 * 1024;
    // Far above any kernel's loopback buffering, so the writer must block.
    const LIMIT: usize = 512 * 1024 * 1024;
    let (mut client, mut server) = net.pair().await;
    let (start_reading, go) = oneshot::channel::<()>();
    let reader = net.spawn(async move {
        go.await.unwrap();
        let mut total = 0usize;
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = server.read(&mut buf).await.unwrap();
            if n == 0 {
                break total;
            }
            total += n;
        }
    });
    let chunk = vec![1u8; CHUNK];
    let mut written = 0usize;
    let blocked = loop {
        // Timing: "blocked" means no progress for 200 ms (wall time on real
        // TCP, simulated time in the simulator).
        match tokio::time::timeout(Duration::from_millis(200), client.write(&chunk)).await {
            Ok(n) => written += n.unwrap(),
            Err(_elapsed) => break true,
        }
        if written > LIMIT {
            break false;
        }
    };
    assert!(blocked, "the writer never blocked after {written} bytes");
    assert!(written > 0);
    start_reading.send(()).unwrap();
    // The blocked writer is woken as the reader frees room.
    client.write_all(&chunk).await.unwrap();
    client.shutdown().await.unwrap();
    let total = reader.await.unwrap();
    assert_eq!(total, written + CHUNK);
}
