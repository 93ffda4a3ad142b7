//! Network faults: latency model, clogs, partitions, packet loss.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod fault_support;

use std::io::ErrorKind;
use std::time::Duration;

use fault_support::{PORT, echo_server, ip, ms, only, pattern, secs};
use moonpool_sim_net::{ConnectFailure, FaultConfig, FaultKind, Sim, SimHandle, SimTcpStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

/// Writes `data` through the echo server and reads it back; returns the
/// simulated time it took.
async fn echo_through(stream: &mut SimTcpStream, data: &[u8]) -> std::io::Result<Duration> {
    let start = Instant::now();
    let (mut reader, mut writer) = tokio::io::split(stream);
    let write = async {
        writer.write_all(data).await?;
        Ok::<_, std::io::Error>(())
    };
    let read = async {
        let mut back = vec![0u8; data.len()];
        reader.read_exact(&mut back).await?;
        Ok::<_, std::io::Error>(back)
    };
    let ((), back) = tokio::try_join!(write, read)?;
    if back != data {
        return Err(std::io::Error::new(ErrorKind::InvalidData, "bytes changed"));
    }
    Ok(start.elapsed())
}

#[test]
fn foundationdb_latency_model_keeps_bytes_in_order_and_has_a_slow_tail() {
    let faults = only(|f| {
        f.latency.enabled = true;
        f.latency.slow_probability = 0.05;
    });
    let outcome = Sim::new(3)
        .faults(faults)
        .host("server", ip(1), echo_server)
        .workload("client", ip(2), async {
            let mut stream = SimTcpStream::connect((ip(1), PORT)).await?;
            for round in 0..200usize {
                // Many small writes: each segment draws its own latency.
                for chunk in pattern(4096).chunks(64 + round % 7) {
                    stream.write_all(chunk).await?;
                }
                let mut back = vec![0u8; 4096];
                stream.read_exact(&mut back).await?;
                assert_eq!(back, pattern(4096));
            }
            Ok::<_, std::io::Error>(())
        })
        .run(secs(600))
        .unwrap();
    assert!(outcome.faults.get(FaultKind::SlowPacket) > 0);
}

#[test]
fn clogged_send_side_stalls_bytes_and_delivers_all_of_them_after() {
    let outcome = Sim::new(1)
        .host("server", ip(1), echo_server)
        .workload("client", ip(2), async {
            let mut stream = SimTcpStream::connect((ip(1), PORT)).await?;
            let quick = echo_through(&mut stream, &pattern(10_000)).await?;
            assert!(quick < ms(100));
            SimHandle::current().unwrap().clog_send(ip(2), secs(2))?;
            let slow = echo_through(&mut stream, &pattern(10_000)).await?;
            assert!(slow >= secs(2), "clogged round trip took {slow:?}");
            SimHandle::current().unwrap().clog_receive(ip(2), secs(1))?;
            let slow = echo_through(&mut stream, &pattern(300_000)).await?;
            assert!(slow >= secs(1), "clogged receive took {slow:?}");
            SimHandle::current()
                .unwrap()
                .clog_pair(ip(1), ip(2), secs(1))?;
            let slow = echo_through(&mut stream, &pattern(1000)).await?;
            assert!(slow >= secs(1), "clogged pair took {slow:?}");
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        })
        .record_trace(true)
        .run(secs(60))
        .unwrap();
    assert_eq!(outcome.faults.get(FaultKind::Clog), 3);
    assert!(outcome.faults.get(FaultKind::Held) >= 3);
    // Faults are trace events, so they show on the timeline.
    assert!(outcome.trace.iter().any(|r| matches!(
        r.event,
        moonpool_sim_net::NetEvent::Fault {
            kind: FaultKind::Clog,
            ..
        }
    )));
}

#[test]
fn partition_shorter_than_the_timeout_holds_bytes_and_delivers_them_after_the_heal() {
    let outcome = Sim::new(2)
        .host("server", ip(1), echo_server)
        .workload("client", ip(2), async {
            let mut stream = SimTcpStream::connect((ip(1), PORT)).await?;
            let sim = SimHandle::current().unwrap();
            sim.partition(ip(1), ip(2), secs(3))?;
            let took = echo_through(&mut stream, &pattern(50_000)).await?;
            assert!(took >= secs(3), "partitioned round trip took {took:?}");
            // One direction only: requests pass, replies wait.
            sim.partition_one_way(ip(1), ip(2), secs(2))?;
            let took = echo_through(&mut stream, &pattern(100)).await?;
            assert!(took >= secs(2));
            // A scripted heal ends it early.
            sim.isolate(ip(1), secs(30))?;
            let heal = async {
                tokio::time::sleep(secs(1)).await;
                sim.heal().unwrap();
            };
            let data = pattern(100);
            let (took, ()) = tokio::join!(echo_through(&mut stream, &data), heal);
            let took = took?;
            assert!(took >= secs(1) && took < secs(2), "healed after {took:?}");
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        })
        .run(secs(60))
        .unwrap();
    assert_eq!(outcome.faults.get(FaultKind::Partition), 5);
    assert_eq!(outcome.faults.get(FaultKind::Heal), 1);
    assert_eq!(outcome.faults.get(FaultKind::ConnectionTimeout), 0);
}

#[test]
fn partition_longer_than_the_connection_timeout_fails_both_ends_with_timed_out() {
    let faults = only(|f| f.connection_timeout = secs(5));
    let outcome = Sim::new(4)
        .faults(faults)
        .host("server", ip(1), || async {
            let listener = moonpool_sim_net::SimTcpListener::bind((ip(1), PORT)).await?;
            let (mut stream, _) = listener.accept().await?;
            let mut buf = [0u8; 16];
            // The server end waits for bytes that are held, then fails too.
            let error = stream.read(&mut buf).await.unwrap_err();
            assert_eq!(error.kind(), ErrorKind::TimedOut);
            Ok::<_, std::io::Error>(())
        })
        .workload("client", ip(2), async {
            let mut stream = SimTcpStream::connect((ip(1), PORT)).await?;
            SimHandle::current()
                .unwrap()
                .partition(ip(1), ip(2), secs(20))?;
            stream.write_all(b"lost in the partition").await?;
            let mut buf = [0u8; 16];
            let start = Instant::now();
            let error = stream.read(&mut buf).await.unwrap_err();
            assert_eq!(error.kind(), ErrorKind::TimedOut);
            assert!(start.elapsed() >= secs(5) && start.elapsed() < secs(6));
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        })
        .run(secs(60))
        .unwrap();
    assert_eq!(outcome.faults.get(FaultKind::ConnectionTimeout), 1);
}

#[test]
fn connect_across_a_partition_is_refused_or_hangs_as_configured() {
    for (mode, expect_refused) in [
        (ConnectFailure::Refuse, true),
        (ConnectFailure::Hang, false),
    ] {
        let faults = only(|f| f.partition.connect = mode);
        Sim::new(5)
            .faults(faults)
            .host("server", ip(1), echo_server)
            .workload("client", ip(2), async move {
                SimHandle::current().unwrap().isolate(ip(1), secs(10))?;
                let attempt = tokio::time::timeout(secs(2), SimTcpStream::connect((ip(1), PORT)));
                match attempt.await {
                    Ok(Err(e)) => {
                        assert!(expect_refused && e.kind() == ErrorKind::ConnectionRefused)
                    }
                    Err(_elapsed) => assert!(!expect_refused, "a refused connect must not hang"),
                    Ok(Ok(_)) => panic!("connected across a partition"),
                }
                // After the partition, connecting works again.
                tokio::time::sleep(secs(10)).await;
                SimTcpStream::connect((ip(1), PORT)).await?;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            })
            .run(secs(60))
            .unwrap();
    }
}

#[test]
fn packet_loss_delays_segments_without_losing_bytes() {
    let faults = only(|f| {
        f.loss.enabled = true;
        f.loss.probability = 0.3;
        f.connection_timeout = secs(60);
    });
    let outcome = Sim::new(6)
        .faults(faults)
        .host("server", ip(1), echo_server)
        .workload("client", ip(2), async {
            let mut stream = SimTcpStream::connect((ip(1), PORT)).await?;
            let took = echo_through(&mut stream, &pattern(500_000)).await?;
            // Retransmission timeouts (200 ms and up) dominate the transfer.
            assert!(took >= ms(200), "lossy transfer took {took:?}");
            Ok::<_, std::io::Error>(())
        })
        .run(secs(600))
        .unwrap();
    assert!(outcome.faults.get(FaultKind::Loss) > 0);
    assert_eq!(outcome.faults.get(FaultKind::ConnectionTimeout), 0);
}

#[test]
fn heavy_packet_loss_for_long_enough_times_the_connection_out() {
    let faults = only(|f| {
        f.loss.enabled = true;
        f.loss.probability = 0.9;
        f.connection_timeout = secs(2);
    });
    let outcome = Sim::new(7)
        .faults(faults)
        .host("server", ip(1), echo_server)
        .workload("client", ip(2), async {
            let mut stream = SimTcpStream::connect((ip(1), PORT)).await?;
            let error = echo_through(&mut stream, &pattern(200_000))
                .await
                .unwrap_err();
            assert_eq!(error.kind(), ErrorKind::TimedOut);
            Ok::<_, std::io::Error>(())
        })
        .run(secs(600))
        .unwrap();
    assert!(outcome.faults.get(FaultKind::ConnectionTimeout) >= 1);
}

#[test]
fn same_seed_under_chaos_gives_the_same_trace() {
    let run = || {
        Sim::new(11)
            .faults(FaultConfig::chaos())
            .host("server", ip(1), echo_server)
            .workload("client", ip(2), async {
                for _ in 0..20 {
                    let Ok(Ok(mut stream)) =
                        tokio::time::timeout(secs(1), SimTcpStream::connect((ip(1), PORT))).await
                    else {
                        continue;
                    };
                    let _ =
                        tokio::time::timeout(secs(3), echo_through(&mut stream, &pattern(5000)))
                            .await;
                }
                Ok::<_, std::io::Error>(())
            })
            .run(secs(600))
            .unwrap()
    };
    let (a, b) = (run(), run());
    assert_eq!(a.trace_hash, b.trace_hash);
    assert_eq!(a.faults, b.faults);
    assert!(a.faults.total() > 0);
}

#[test]
fn durations_too_long_to_add_to_an_instant_mean_never_not_a_panic() {
    let faults = only(|f| {
        f.connection_timeout = Duration::MAX;
        f.clock.enabled = true;
        f.clock.max_drift = Duration::MAX;
        f.buggified_delay.enabled = true;
        f.buggified_delay.probability = 1.0;
        f.buggified_delay.max = Duration::MAX;
    });
    Sim::new(1)
        .faults(faults)
        .host("server", ip(1), echo_server)
        .workload("client", ip(2), async {
            let sim = SimHandle::current().unwrap();
            assert!(moonpool_sim_net::timer() >= Instant::now());
            sim.partition(ip(1), ip(2), Duration::MAX)?;
            sim.clog_send(ip(2), Duration::MAX)?;
            sim.heal()?;
            let mut stream = SimTcpStream::connect((ip(1), PORT)).await?;
            // Held bytes never time out: they wait for the partition's end.
            sim.partition(ip(1), ip(2), secs(10))?;
            let took = echo_through(&mut stream, &pattern(1000)).await?;
            assert!(took >= secs(10), "{took:?}");
            Ok::<_, moonpool_sim_net::BoxError>(())
        })
        .run(Duration::MAX)
        .unwrap();
}

#[test]
fn a_retransmission_timeout_too_long_to_add_times_the_connection_out() {
    let faults = only(|f| {
        f.loss.enabled = true;
        f.loss.probability = 0.9;
        f.loss.retransmit_timeout = Duration::MAX;
    });
    Sim::new(1)
        .faults(faults)
        .host("server", ip(1), echo_server)
        .workload("client", ip(2), async {
            let mut stream = SimTcpStream::connect((ip(1), PORT)).await?;
            let error = echo_through(&mut stream, &pattern(1000)).await.unwrap_err();
            assert_eq!(error.kind(), ErrorKind::TimedOut);
            Ok::<_, std::io::Error>(())
        })
        .run(secs(60))
        .unwrap();
}
