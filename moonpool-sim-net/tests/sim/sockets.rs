//! Simulator-only socket behaviour: unknown hosts, name lookup, ephemeral
//! port reuse, per-direction ordering under wide latency, resets of writes to
//! closed peers, the recorded trace.

use std::io::{self, ErrorKind};
use std::time::Duration;

use moonpool_sim_net::{NetConfig, NetEvent, Sim, SimHandle, SimTcpListener, SimTcpStream};
use rand::RngExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::sleep;

use crate::ip;

#[test]
fn connecting_to_an_unknown_host_is_refused() {
    Sim::new(51)
        .workload("w", ip(1), async {
            let error = SimTcpStream::connect((ip(77), 80)).await.unwrap_err();
            assert_eq!(error.kind(), ErrorKind::ConnectionRefused);
            Ok::<(), io::Error>(())
        })
        .run(Duration::from_secs(10))
        .unwrap();
}

#[test]
fn host_names_resolve_through_the_host_table() {
    Sim::new(52)
        .host("db", ip(1), || async {
            let listener = SimTcpListener::bind("0.0.0.0:5432").await?;
            let (mut stream, _) = listener.accept().await?;
            stream.write_all(b"db").await
        })
        .workload("app", ip(2), async {
            assert_eq!(SimHandle::current().unwrap().lookup("db"), Some(ip(1)));
            let mut stream = SimTcpStream::connect("db:5432").await?;
            assert_eq!(stream.peer_addr()?, "10.0.0.1:5432".parse().unwrap());
            let mut buf = [0u8; 2];
            stream.read_exact(&mut buf).await?;
            let error = SimTcpStream::connect("nowhere:1").await.unwrap_err();
            assert_eq!(error.kind(), ErrorKind::NotFound);
            Ok::<(), io::Error>(())
        })
        .run(Duration::from_secs(10))
        .unwrap();
}

/// Each accepted connection is read to EOF, then closed.
async fn drain() -> io::Result<()> {
    let listener = SimTcpListener::bind("0.0.0.0:80").await?;
    loop {
        let (mut stream, _) = listener.accept().await?;
        moonpool_sim_net::spawn(async move {
            let mut sink = Vec::new();
            let _ = stream.read_to_end(&mut sink).await;
        });
    }
}

#[test]
fn ephemeral_ports_are_reused_after_close() {
    let config = NetConfig {
        ephemeral_ports: 50000..=50001,
        ..NetConfig::default()
    };
    Sim::new(53)
        .net(config)
        .host("server", ip(1), drain)
        .workload("client", ip(2), async {
            let a = SimTcpStream::connect((ip(1), 80)).await?;
            let b = SimTcpStream::connect((ip(1), 80)).await?;
            let mut ports = [a.local_addr()?.port(), b.local_addr()?.port()];
            ports.sort();
            assert_eq!(ports, [50000, 50001]);
            let error = SimTcpStream::connect((ip(1), 80)).await.unwrap_err();
            assert_eq!(error.kind(), ErrorKind::AddrNotAvailable);
            let freed = a.local_addr()?.port();
            drop(a);
            // FIN, the server's EOF and close, its FIN back: closed at both ends.
            sleep(Duration::from_millis(10)).await;
            let c = SimTcpStream::connect((ip(1), 80)).await?;
            assert_eq!(c.local_addr()?.port(), freed);
            drop(b);
            Ok::<(), io::Error>(())
        })
        .run(Duration::from_secs(10))
        .unwrap();
}

#[test]
fn bytes_of_one_direction_stay_in_order_whatever_the_latency_draws() {
    let config = NetConfig {
        latency: Duration::ZERO..=Duration::from_millis(50),
        max_segment_size: 7,
        ..NetConfig::default()
    };
    Sim::new(54)
        .net(config)
        .host("sink", ip(1), || async {
            let listener = SimTcpListener::bind("0.0.0.0:9").await?;
            let (mut stream, _) = listener.accept().await?;
            let mut received = Vec::new();
            stream.read_to_end(&mut received).await?;
            stream.write_all(&received).await?;
            stream.shutdown().await
        })
        .workload("source", ip(2), async {
            let mut rng = SimHandle::current().unwrap().host_rng();
            let mut stream = SimTcpStream::connect((ip(1), 9)).await?;
            let sent: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
            let mut offset = 0;
            while offset < sent.len() {
                let end = (offset + rng.random_range(1..40)).min(sent.len());
                stream.write_all(&sent[offset..end]).await?;
                offset = end;
                if rng.random_bool(0.1) {
                    sleep(Duration::from_millis(rng.random_range(0..5))).await;
                }
            }
            stream.shutdown().await?;
            let mut echoed = Vec::new();
            stream.read_to_end(&mut echoed).await?;
            assert!(echoed == sent, "bytes were reordered");
            Ok::<(), io::Error>(())
        })
        .run(Duration::from_secs(600))
        .unwrap();
}

#[test]
fn writing_to_a_peer_that_closed_draws_a_reset_reported_as_broken_pipe() {
    Sim::new(55)
        .host("closer", ip(1), || async {
            let listener = SimTcpListener::bind("0.0.0.0:9").await?;
            let (stream, _) = listener.accept().await?;
            drop(stream);
            std::future::pending::<io::Result<()>>().await
        })
        .workload("writer", ip(2), async {
            let mut stream = SimTcpStream::connect((ip(1), 9)).await?;
            let mut buf = [0u8; 1];
            assert_eq!(stream.read(&mut buf).await?, 0, "FIN first");
            // The first write is accepted; the closed socket answers it with
            // RST, after which writes fail with EPIPE (Linux's answer to a
            // RST in CLOSE_WAIT) and reads still see EOF.
            stream.write_all(b"anyone?").await?;
            sleep(Duration::from_millis(10)).await;
            let error = stream.write_all(b"hello?").await.unwrap_err();
            assert_eq!(error.kind(), ErrorKind::BrokenPipe);
            assert_eq!(stream.read(&mut buf).await?, 0);
            Ok::<(), io::Error>(())
        })
        .run(Duration::from_secs(10))
        .unwrap();
}

#[test]
fn the_recorded_trace_lists_every_event_with_its_time() {
    let outcome = Sim::new(56)
        .record_trace(true)
        .host("server", ip(1), || async {
            let listener = SimTcpListener::bind("0.0.0.0:9").await?;
            let (mut stream, _) = listener.accept().await?;
            stream.write_all(b"bye").await?;
            stream.shutdown().await
        })
        .workload("client", ip(2), async {
            let mut stream = SimTcpStream::connect((ip(1), 9)).await?;
            let mut buf = Vec::new();
            stream.read_to_end(&mut buf).await?;
            Ok::<(), io::Error>(())
        })
        .run(Duration::from_secs(10))
        .unwrap();
    assert_eq!(outcome.trace.len() as u64, outcome.events);
    let kinds: Vec<&str> = outcome
        .trace
        .iter()
        .map(|record| match record.event {
            NetEvent::HostStarted { .. } => "start",
            NetEvent::Accepted { .. } => "accepted",
            NetEvent::Established { .. } => "established",
            NetEvent::Segment { .. } => "segment",
            NetEvent::Fin { .. } => "fin",
            other => panic!("unexpected {other}"),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "start",
            "start",
            "accepted",
            "established",
            "segment",
            "fin"
        ]
    );
    assert!(outcome.trace.windows(2).all(|w| w[0].at <= w[1].at));
    assert!(outcome.trace[5].at >= Duration::from_millis(1));
}

#[test]
fn host_rng_streams_are_seeded_and_distinct() {
    let draw = |seed| {
        let mut values = Vec::new();
        let cell = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let c = cell.clone();
        Sim::new(seed)
            .workload("a", ip(1), async move {
                let sim = SimHandle::current().unwrap();
                let first: u64 = sim.host_rng().random();
                let second: u64 = sim.host_rng().random();
                c.lock().unwrap().extend([first, second]);
                Ok::<(), io::Error>(())
            })
            .run(Duration::from_secs(1))
            .unwrap();
        values.extend(cell.lock().unwrap().iter().copied());
        values
    };
    let a = draw(5);
    assert_eq!(a, draw(5));
    assert_ne!(a[0], a[1], "each call gives a new stream");
    assert_ne!(a, draw(6));
}

fn data(salt: u8) -> Vec<u8> {
    (0..5000u32).map(|i| (i as u8).wrapping_mul(salt)).collect()
}

#[test]
fn tiny_buffers_carry_both_directions_intact_under_backpressure() {
    let config = NetConfig {
        send_buffer: 7,
        receive_window: 13,
        max_segment_size: 5,
        latency: Duration::from_micros(10)..=Duration::from_millis(3),
        ..NetConfig::default()
    };
    Sim::new(57)
        .net(config)
        .host("echo", ip(1), || async {
            let listener = SimTcpListener::bind("0.0.0.0:9").await?;
            let (stream, _) = listener.accept().await?;
            let (mut read, mut write) = tokio::io::split(stream);
            // Writes its own stream while the peer writes, reading in another task.
            let reader = moonpool_sim_net::spawn(async move {
                let mut got = Vec::new();
                read.read_to_end(&mut got).await.map(|_| got)
            });
            write.write_all(&data(3)).await?;
            write.shutdown().await?;
            assert!(reader.await.unwrap()? == data(5));
            Ok::<(), io::Error>(())
        })
        .workload("peer", ip(2), async move {
            let stream = SimTcpStream::connect((ip(1), 9)).await?;
            let (mut read, mut write) = tokio::io::split(stream);
            let reader = moonpool_sim_net::spawn(async move {
                let mut got = Vec::new();
                read.read_to_end(&mut got).await.map(|_| got)
            });
            write.write_all(&data(5)).await?;
            write.shutdown().await?;
            assert!(reader.await.unwrap()? == data(3));
            Ok::<(), io::Error>(())
        })
        .run(Duration::from_secs(600))
        .unwrap();
}

#[test]
fn every_task_accepting_on_one_listener_is_woken() {
    Sim::new(53)
        .host("server", ip(1), || async {
            let listener = std::sync::Arc::new(SimTcpListener::bind("0.0.0.0:7000").await?);
            for _ in 0..2 {
                let listener = listener.clone();
                moonpool_sim_net::spawn(async move {
                    let (mut stream, _) = listener.accept().await?;
                    stream.write_all(b"x").await?;
                    sleep(Duration::from_secs(100)).await;
                    Ok::<(), io::Error>(())
                });
            }
            sleep(Duration::from_secs(100)).await;
            Ok::<(), io::Error>(())
        })
        .workload("client", ip(2), async {
            sleep(Duration::from_millis(10)).await;
            let mut a = SimTcpStream::connect((ip(1), 7000)).await?;
            let mut b = SimTcpStream::connect((ip(1), 7000)).await?;
            let mut byte = [0u8; 1];
            for stream in [&mut a, &mut b] {
                tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut byte))
                    .await
                    .expect("an acceptor was never woken")?;
            }
            Ok::<(), io::Error>(())
        })
        .run(Duration::from_secs(60))
        .unwrap();
}
