//! Connection faults: random close, bit flips, short reads and writes,
//! connect failures, half-open connections, scripted closes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod fault_support;

use std::io::ErrorKind;

use fault_support::{PORT, echo_server, ip, ms, only, pattern, secs};
use moonpool_sim_net::{
    CloseKind, ConnectFailure, CrashMode, FaultKind, Sim, SimHandle, SimTcpListener, SimTcpStream,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

/// A server that accepts one connection and reports what its reads see.
async fn reader_server(expect: ErrorKind) -> Result<(), std::io::Error> {
    let listener = SimTcpListener::bind((ip(1), PORT)).await?;
    let (mut stream, _) = listener.accept().await?;
    let mut buf = vec![0u8; 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) => {
                assert_eq!(
                    expect,
                    ErrorKind::UnexpectedEof,
                    "the peer's FIN reads as EOF"
                );
                return Ok(());
            }
            Ok(_) => continue,
            Err(e) => {
                assert_eq!(e.kind(), expect);
                return Ok(());
            }
        }
    }
}

#[test]
fn random_close_with_rst_fails_the_call_at_once_and_resets_the_peer() {
    let faults = only(|f| {
        f.random_close.enabled = true;
        f.random_close.probability = 1.0;
        f.random_close.rst_probability = 1.0;
        f.random_close.fail_call_probability = 1.0;
    });
    let outcome = Sim::new(1)
        .faults(faults)
        .host("server", ip(1), || {
            reader_server(ErrorKind::ConnectionReset)
        })
        .workload("client", ip(2), async {
            let mut stream = SimTcpStream::connect((ip(1), PORT)).await?;
            let error = stream.write_all(b"hello").await.unwrap_err();
            assert_eq!(error.kind(), ErrorKind::ConnectionReset);
            // The peer must see it: wait for the server's read to fail.
            tokio::time::sleep(ms(50)).await;
            Ok::<_, std::io::Error>(())
        })
        .run(secs(10))
        .unwrap();
    assert_eq!(outcome.faults.get(FaultKind::RandomClose), 1);
}

#[test]
fn random_close_with_fin_sends_eof_to_the_peer_and_respects_the_cooldown() {
    let faults = only(|f| {
        f.random_close.enabled = true;
        f.random_close.probability = 1.0;
        f.random_close.rst_probability = 0.0;
        f.random_close.both_sides_probability = 0.0;
        f.random_close.cooldown = secs(100);
    });
    let outcome = Sim::new(2)
        .faults(faults)
        .host("server", ip(1), || async {
            let listener = SimTcpListener::bind((ip(1), PORT)).await?;
            let (mut first, _) = listener.accept().await?;
            let (mut second, _) = listener.accept().await?;
            // Read only after the client's calls rolled (and used) the close.
            tokio::time::sleep(ms(100)).await;
            let mut buf = vec![0u8; 64];
            assert_eq!(
                first.read(&mut buf).await?,
                0,
                "the peer's FIN reads as EOF"
            );
            // Within the cooldown, the second connection is left alone.
            second.read_exact(&mut buf[..5]).await?;
            assert_eq!(&buf[..5], b"still");
            Ok::<_, std::io::Error>(())
        })
        .workload("client", ip(2), async {
            let mut first = SimTcpStream::connect((ip(1), PORT)).await?;
            let mut second = SimTcpStream::connect((ip(1), PORT)).await?;
            let error = first.write_all(b"hello").await.unwrap_err();
            assert_eq!(error.kind(), ErrorKind::BrokenPipe);
            second.write_all(b"still").await?;
            tokio::time::sleep(ms(200)).await;
            Ok::<_, std::io::Error>(())
        })
        .run(secs(10))
        .unwrap();
    assert_eq!(outcome.faults.get(FaultKind::RandomClose), 1);
}

#[test]
fn bit_flips_corrupt_delivered_bytes_but_never_a_stable_connection() {
    let faults = only(|f| {
        f.bit_flip.enabled = true;
        f.bit_flip.probability = 1.0;
    });
    let outcome = Sim::new(3)
        .faults(faults)
        .host("server", ip(1), echo_server)
        .workload("client", ip(2), async {
            let data = pattern(1000);
            let mut stream = SimTcpStream::connect((ip(1), PORT)).await?;
            stream.write_all(&data).await?;
            let mut back = vec![0u8; data.len()];
            stream.read_exact(&mut back).await?;
            let flipped: u32 = back
                .iter()
                .zip(&data)
                .map(|(a, b)| (a ^ b).count_ones())
                .sum();
            assert!(
                (1..=64).contains(&flipped),
                "{flipped} bits flipped over two hops"
            );

            let mut stable = SimTcpStream::connect((ip(1), PORT)).await?;
            stable.mark_stable();
            stable.write_all(&data).await?;
            stable.read_exact(&mut back).await?;
            assert_eq!(back, data, "a stable connection is never corrupted");
            Ok::<_, std::io::Error>(())
        })
        .run(secs(10))
        .unwrap();
    assert!(outcome.faults.get(FaultKind::BitFlip) >= 1);
}

#[test]
fn short_writes_accept_a_prefix_and_short_reads_return_part_yet_streams_stay_whole() {
    let faults = only(|f| {
        f.short_io.enabled = true;
        f.short_io.write_probability = 1.0;
        f.short_io.read_probability = 1.0;
    });
    let outcome = Sim::new(4)
        .faults(faults)
        .host("server", ip(1), echo_server)
        .workload("client", ip(2), async {
            let data = pattern(1000);
            let mut stream = SimTcpStream::connect((ip(1), PORT)).await?;
            let n = stream.write(&data).await?;
            assert!((1..data.len()).contains(&n), "wrote {n} of {}", data.len());
            stream.write_all(&data[n..]).await?;
            tokio::time::sleep(ms(100)).await;
            let mut back = vec![0u8; data.len()];
            let got = stream.read(&mut back).await?;
            assert!(got < data.len(), "read {got} while everything had arrived");
            stream.read_exact(&mut back[got..]).await?;
            assert_eq!(back, data);
            Ok::<_, std::io::Error>(())
        })
        .run(secs(10))
        .unwrap();
    assert!(outcome.faults.get(FaultKind::ShortWrite) >= 1);
    assert!(outcome.faults.get(FaultKind::ShortRead) >= 1);
}

#[test]
fn connect_faults_refuse_or_hang_until_the_callers_timeout() {
    for (mode, kind) in [
        (ConnectFailure::Refuse, FaultKind::ConnectRefused),
        (ConnectFailure::Hang, FaultKind::ConnectHang),
    ] {
        let faults = only(|f| {
            f.connect.enabled = true;
            f.connect.probability = 1.0;
            f.connect.mode = mode;
        });
        let outcome = Sim::new(5)
            .faults(faults)
            .host("server", ip(1), echo_server)
            .workload("client", ip(2), async move {
                let start = Instant::now();
                let attempt =
                    tokio::time::timeout(secs(3), SimTcpStream::connect((ip(1), PORT))).await;
                match (mode, attempt) {
                    (ConnectFailure::Refuse, Ok(Err(e))) => {
                        assert_eq!(e.kind(), ErrorKind::ConnectionRefused);
                        assert!(start.elapsed() < secs(1));
                    }
                    (ConnectFailure::Hang, Err(_elapsed)) => {}
                    (mode, other) => panic!("{mode:?}: unexpected {other:?}"),
                }
                Ok::<_, std::io::Error>(())
            })
            .run(secs(10))
            .unwrap();
        assert_eq!(outcome.faults.get(kind), 1);
    }
}

#[test]
fn a_vanished_peer_leaves_a_half_open_connection_until_the_timeout() {
    let faults = only(|f| f.connection_timeout = secs(5));
    let outcome = Sim::new(6)
        .faults(faults)
        .host("server", ip(1), echo_server)
        .workload("client", ip(2), async {
            let mut stream = SimTcpStream::connect((ip(1), PORT)).await?;
            stream.write_all(b"ping").await?;
            let mut buf = [0u8; 4];
            stream.read_exact(&mut buf).await?;
            SimHandle::current()
                .unwrap()
                .crash_with(ip(1), CrashMode::Vanish)?;
            let start = Instant::now();
            // Writes keep succeeding (into the send buffer) ...
            stream.write_all(&pattern(1000)).await?;
            // ... reads block: nothing comes back, no FIN, no RST ...
            let read = tokio::time::timeout(secs(2), stream.read(&mut buf)).await;
            assert!(read.is_err(), "a half-open connection's read blocks");
            // ... until the retransmission timeout gives up.
            let error = stream.read(&mut buf).await.unwrap_err();
            assert_eq!(error.kind(), ErrorKind::TimedOut);
            assert!(start.elapsed() >= secs(5));
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        })
        .run(secs(60))
        .unwrap();
    assert_eq!(outcome.faults.get(FaultKind::CrashVanish), 1);
    assert_eq!(outcome.faults.get(FaultKind::ConnectionTimeout), 1);
}

#[test]
fn a_half_open_writer_blocks_once_its_send_buffer_is_full() {
    Sim::new(7)
        .host("server", ip(1), echo_server)
        .workload("client", ip(2), async {
            let mut stream = SimTcpStream::connect((ip(1), PORT)).await?;
            tokio::time::sleep(ms(10)).await;
            SimHandle::current()
                .unwrap()
                .crash_with(ip(1), CrashMode::Vanish)?;
            // Larger than the default send buffer (4 MiB).
            let big = pattern(8 << 20);
            let write = tokio::time::timeout(secs(1), stream.write_all(&big)).await;
            assert!(write.is_err(), "a full send buffer blocks the writer");
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        })
        .run(secs(60))
        .unwrap();
}

#[test]
fn graceful_crash_sends_fin_and_restart_serves_again() {
    let outcome = Sim::new(8)
        .host("server", ip(1), echo_server)
        .workload("client", ip(2), async {
            let mut stream = SimTcpStream::connect((ip(1), PORT)).await?;
            tokio::time::sleep(ms(10)).await;
            let sim = SimHandle::current().unwrap();
            sim.crash_with(ip(1), CrashMode::Graceful)?;
            let mut buf = [0u8; 4];
            assert_eq!(
                stream.read(&mut buf).await?,
                0,
                "graceful close reads as EOF"
            );
            sim.restart(ip(1))?;
            tokio::time::sleep(ms(10)).await;
            let mut again = SimTcpStream::connect((ip(1), PORT)).await?;
            again.write_all(b"back").await?;
            again.read_exact(&mut buf).await?;
            assert_eq!(&buf, b"back");
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        })
        .run(secs(60))
        .unwrap();
    assert_eq!(outcome.faults.get(FaultKind::CrashGraceful), 1);
}

#[test]
fn scripted_close_resets_or_finishes_every_connection_between_two_hosts() {
    for (kind, expect) in [
        (CloseKind::Reset, Some(ErrorKind::ConnectionReset)),
        (CloseKind::Fin, None),
    ] {
        let outcome = Sim::new(9)
            .host("server", ip(1), echo_server)
            .workload("client", ip(2), async move {
                let mut a = SimTcpStream::connect((ip(1), PORT)).await?;
                let mut b = SimTcpStream::connect((ip(1), PORT)).await?;
                tokio::time::sleep(ms(10)).await;
                let closed = SimHandle::current()
                    .unwrap()
                    .close_connections(ip(2), ip(1), kind)?;
                assert_eq!(closed, 2);
                let mut buf = [0u8; 4];
                for stream in [&mut a, &mut b] {
                    match (expect, stream.read(&mut buf).await) {
                        (Some(kind), Err(e)) => assert_eq!(e.kind(), kind),
                        (None, Ok(0)) => {}
                        (expect, got) => panic!("expected {expect:?}, got {got:?}"),
                    }
                }
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            })
            .run(secs(10))
            .unwrap();
        assert_eq!(outcome.faults.get(FaultKind::ScriptedClose), 2);
    }
}

/// Records the close test's writer sends: 4-byte big-endian sequence numbers.
const RECORDS: u32 = 3000;

/// Accepts one connection and writes records 0, 1, 2, ... until a call
/// fails; a few records per write, with pauses so the reader interleaves.
async fn record_writer() -> Result<(), std::io::Error> {
    let listener = SimTcpListener::bind((ip(1), PORT)).await?;
    let (mut stream, _) = listener.accept().await?;
    for first in (0..RECORDS).step_by(3) {
        let batch: Vec<u8> = (first..(first + 3).min(RECORDS))
            .flat_map(u32::to_be_bytes)
            .collect();
        if stream.write_all(&batch).await.is_err() {
            return Ok(());
        }
        tokio::time::sleep(ms(1)).await;
    }
    let _ = stream.shutdown().await;
    // Keep the socket open until the reader is done with it.
    tokio::time::sleep(secs(60)).await;
    Ok(())
}

#[test]
fn random_close_never_lets_a_reader_see_a_later_record_after_a_missing_one() {
    let faults = only(|f| {
        f.random_close.enabled = true;
        f.random_close.probability = 0.02;
        f.random_close.cooldown = ms(0);
        f.random_close.rst_probability = 0.5;
        f.random_close.both_sides_probability = 0.5;
        f.random_close.fail_call_probability = 0.5;
    });
    let mut closes = 0;
    for seed in 0..40 {
        let outcome = Sim::new(seed)
            .faults(faults.clone())
            .host("writer", ip(1), record_writer)
            .workload("reader", ip(2), async move {
                let mut stream = SimTcpStream::connect((ip(1), PORT)).await?;
                let mut next = 0u32;
                let mut record = [0u8; 4];
                loop {
                    // A slow reader: bytes queue up in its receive buffer.
                    tokio::time::sleep(ms(2)).await;
                    let read = tokio::time::timeout(secs(5), stream.read_exact(&mut record));
                    // EOF, a reset, or silence (a half-open connection) all
                    // end the stream; a record never skips ahead.
                    let Ok(Ok(_)) = read.await else {
                        return Ok::<_, std::io::Error>(());
                    };
                    let got = u32::from_be_bytes(record);
                    assert_eq!(
                        got, next,
                        "seed {seed}: record {got} arrived after {next} was lost"
                    );
                    next += 1;
                }
            })
            .run(secs(120))
            .unwrap();
        closes += outcome.faults.get(FaultKind::RandomClose);
    }
    assert!(
        closes >= 40,
        "every seed closed its connection ({closes} closes)"
    );
}
