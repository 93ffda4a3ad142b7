//! Link bandwidth (`NetConfig::link_bandwidth`): a transfer takes its size
//! over the configured rate, within 5 %, measured on the simulated clock;
//! time grows with size; without a bandwidth, size costs nothing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use moonpool_sim_net::{NetConfig, Sim, SimTcpListener, SimTcpStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const MIB: u64 = 1024 * 1024;
/// 10 MiB/s.
const BANDWIDTH: u64 = 10 * MIB;

/// Sends `bytes` from A to B; returns the simulated time from A's first
/// write to B's last read.
fn transfer_time(net: NetConfig, bytes: u64) -> Duration {
    let started = Arc::new(Mutex::new(None::<Instant>));
    let finished = Arc::new(Mutex::new(None::<Instant>));
    let (start_mark, end_mark) = (started.clone(), finished.clone());
    Sim::new(1)
        .net(net)
        .host("b", B, move || {
            let end_mark = end_mark.clone();
            async move {
                let listener = SimTcpListener::bind((Ipv4Addr::UNSPECIFIED, 80)).await?;
                let (mut stream, _) = listener.accept().await?;
                let mut received = 0u64;
                let mut buf = vec![0u8; 64 * 1024];
                while received < bytes {
                    let n = stream.read(&mut buf).await?;
                    if n == 0 {
                        break;
                    }
                    received += n as u64;
                }
                *end_mark.lock().unwrap() = Some(Instant::now());
                Ok::<(), std::io::Error>(())
            }
        })
        .workload("a", A, async move {
            let mut stream = SimTcpStream::connect((B, 80)).await?;
            let chunk = vec![7u8; 64 * 1024];
            *start_mark.lock().unwrap() = Some(Instant::now());
            let mut sent = 0u64;
            while sent < bytes {
                let n = chunk.len().min(usize::try_from(bytes - sent).unwrap());
                stream.write_all(&chunk[..n]).await?;
                sent += n as u64;
            }
            // Keep the connection until B has read everything.
            let mut byte = [0u8; 1];
            let _eof = stream.read(&mut byte).await;
            Ok::<(), std::io::Error>(())
        })
        .run(Duration::from_secs(600))
        .unwrap();
    let start = started.lock().unwrap().unwrap();
    let end = finished.lock().unwrap().unwrap();
    end - start
}

fn with_bandwidth() -> NetConfig {
    NetConfig {
        link_bandwidth: Some(BANDWIDTH),
        ..NetConfig::default()
    }
}

#[test]
fn a_transfer_takes_its_size_over_the_link_bandwidth_within_five_percent() {
    let bytes = 20 * MIB;
    let measured = transfer_time(with_bandwidth(), bytes).as_secs_f64();
    let expected = bytes as f64 / BANDWIDTH as f64;
    let error = (measured - expected).abs() / expected;
    assert!(
        error <= 0.05,
        "{bytes} bytes at {BANDWIDTH} B/s took {measured:.3} s, expected {expected:.3} s ({:.1} % off)",
        error * 100.0
    );
}

#[test]
fn transfer_time_grows_with_size_on_a_link_with_bandwidth() {
    let small = transfer_time(with_bandwidth(), MIB);
    let large = transfer_time(with_bandwidth(), 8 * MIB);
    assert!(
        large > small * 6,
        "1 MiB took {small:?}, 8 MiB took {large:?}"
    );
}

#[test]
fn without_a_bandwidth_size_costs_no_simulated_time() {
    let small = transfer_time(NetConfig::default(), MIB);
    let large = transfer_time(NetConfig::default(), 8 * MIB);
    assert!(
        large < Duration::from_millis(100),
        "1 MiB took {small:?}, 8 MiB took {large:?}"
    );
}
