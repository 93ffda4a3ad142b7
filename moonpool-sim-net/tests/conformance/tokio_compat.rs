//! Unchanged tokio and tower code on the stream: `Framed` over
//! `tokio::io::split` halves, `tokio::time::timeout`, tower's `Timeout`.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Mutex;
use tokio_util::codec::{FramedRead, FramedWrite, LinesCodec};
use tower::{Service, ServiceExt};

use crate::harness::{TestNet, conformance};

conformance!(
    framed_lines_round_trip_over_split_halves,
    tokio_timeout_elapses_while_the_peer_is_silent,
    tower_timeout_wraps_a_request_over_the_stream,
);

async fn framed_lines_round_trip_over_split_halves<N: TestNet>(net: N) {
    let (client, server) = net.pair().await;
    let echo = net.spawn(async move {
        let (read, write) = tokio::io::split(server);
        let mut lines = FramedRead::new(read, LinesCodec::new());
        let mut sink = FramedWrite::new(write, LinesCodec::new());
        while let Some(line) = lines.next().await {
            sink.send(line.unwrap().to_uppercase()).await.unwrap();
        }
    });
    let (read, write) = tokio::io::split(client);
    let mut lines = FramedRead::new(read, LinesCodec::new());
    let mut sink = FramedWrite::new(write, LinesCodec::new());
    for i in 0..50 {
        sink.send(format!("line number {i}")).await.unwrap();
    }
    for i in 0..50 {
        let line = lines.next().await.unwrap().unwrap();
        assert_eq!(line, format!("LINE NUMBER {i}"));
    }
    let mut write = sink.into_inner();
    write.shutdown().await.unwrap();
    echo.await.unwrap();
    assert!(
        lines.next().await.is_none(),
        "EOF after the echo side closed"
    );
}

async fn tokio_timeout_elapses_while_the_peer_is_silent<N: TestNet>(net: N) {
    let (mut client, mut server) = net.pair().await;
    let mut buf = [0u8; 4];
    let silent = tokio::time::timeout(Duration::from_millis(100), server.read(&mut buf)).await;
    assert!(silent.is_err(), "nothing was sent, the read must time out");
    client.write_all(b"late").await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), server.read_exact(&mut buf))
        .await
        .expect("data arrives")
        .unwrap();
    assert_eq!(&buf, b"late");
}

async fn tower_timeout_wraps_a_request_over_the_stream<N: TestNet>(net: N) {
    let (client, mut server) = net.pair().await;
    let client = Arc::new(Mutex::new(client));
    let service = tower::service_fn(move |request: u8| {
        let client = client.clone();
        async move {
            let mut stream = client.lock().await;
            stream.write_all(&[request]).await?;
            let mut reply = [0u8; 1];
            stream.read_exact(&mut reply).await?;
            Ok::<u8, io::Error>(reply[0])
        }
    });
    let mut service = tower::timeout::Timeout::new(service, Duration::from_millis(200));
    // The server does not answer the first request: the call times out.
    let error = service.ready().await.unwrap().call(1).await.unwrap_err();
    assert!(error.is::<tower::timeout::error::Elapsed>(), "{error}");
    let mut request = [0u8; 1];
    server.read_exact(&mut request).await.unwrap();
    assert_eq!(request, [1]);
    // Answer the second request; the stale first exchange was abandoned
    // between write and read, so answer both in order.
    let answer = net.spawn(async move {
        server.read_exact(&mut request).await.unwrap();
        server.write_all(&[request[0] * 10]).await.unwrap();
        server
    });
    let reply = service.ready().await.unwrap().call(4).await.unwrap();
    assert_eq!(reply, 40);
    drop(answer.await.unwrap());
}
