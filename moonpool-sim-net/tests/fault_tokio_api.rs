//! tokio's non-`AsyncRead` API under chaos: an echo server written with
//! readiness and `try_read`/`try_write`, clients with owned halves in two
//! tasks. Every fault but bit flips is on (the echo has no checksum); no
//! iteration may hang or panic, every echo that completes is intact, and
//! the same seed gives the same trace.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod fault_support;

use std::io::{self, ErrorKind};
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use fault_support::{PORT, ip, ms, secs};
use moonpool_sim_net::{FaultConfig, FaultKind, Sim, SimTcpListener, SimTcpStream, spawn};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Echoes with `readable`/`try_read` and `writable`/`try_write` only.
async fn readiness_echo(stream: SimTcpStream) -> io::Result<()> {
    let mut buf = vec![0u8; 4096];
    loop {
        stream.readable().await?;
        let n = match stream.try_read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(error) if error.kind() == ErrorKind::WouldBlock => continue,
            Err(error) => return Err(error),
        };
        let mut sent = 0;
        while sent < n {
            stream.writable().await?;
            match stream.try_write(&buf[sent..n]) {
                Ok(m) => sent += m,
                Err(error) if error.kind() == ErrorKind::WouldBlock => {}
                Err(error) => return Err(error),
            }
        }
    }
}

async fn server() -> io::Result<()> {
    let listener = SimTcpListener::bind((Ipv4Addr::UNSPECIFIED, PORT)).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        spawn(readiness_echo(stream));
    }
}

/// Rounds of `[round; len]` over owned halves: a writer task sends, this
/// task reads the echo back. Returns the rounds that completed intact.
async fn client(rounds: u8) -> io::Result<u32> {
    let mut intact = 0;
    for round in 0..rounds {
        let Ok(Ok(stream)) =
            tokio::time::timeout(secs(2), SimTcpStream::connect((ip(1), PORT))).await
        else {
            tokio::time::sleep(ms(100)).await;
            continue;
        };
        let (mut read, mut write) = stream.into_split();
        let payload = vec![round; 1000 + usize::from(round) * 37];
        let sending = payload.clone();
        let writer = spawn(async move {
            let sent = write.write_all(&sending).await;
            (write, sent)
        });
        let mut echoed = vec![0u8; payload.len()];
        let received = tokio::time::timeout(secs(3), read.read_exact(&mut echoed)).await;
        let (write, sent) = writer.await.unwrap();
        if sent.is_ok() && matches!(received, Ok(Ok(_))) {
            assert!(echoed == payload, "an echo came back altered");
            intact += 1;
        }
        if let Ok(stream) = read.reunite(write) {
            drop(stream);
        }
    }
    Ok(intact)
}

/// One iteration: (trace hash, intact rounds, faults injected).
fn run(seed: u64) -> (u64, u32, u64) {
    let mut faults = FaultConfig::chaos();
    faults.bit_flip.enabled = false;
    let intact = Arc::new(AtomicU32::new(0));
    let workload = |intact: Arc<AtomicU32>| async move {
        intact.fetch_add(client(20).await?, Ordering::Relaxed);
        Ok::<(), io::Error>(())
    };
    let outcome = Sim::new(seed)
        .faults(faults)
        .host("server", ip(1), server)
        .workload("client-a", ip(2), workload(intact.clone()))
        .workload("client-b", ip(3), workload(intact.clone()))
        .run(secs(600))
        .unwrap_or_else(|error| panic!("seed {seed}: {error}"));
    let injected = FaultKind::ALL
        .iter()
        .map(|&kind| outcome.faults.get(kind))
        .sum();
    (outcome.trace_hash, intact.load(Ordering::Relaxed), injected)
}

#[test]
fn readiness_and_owned_halves_survive_chaos_deterministically() {
    let (mut intact, mut injected) = (0, 0);
    for seed in 1..=12 {
        let first = run(seed);
        assert_eq!(first, run(seed), "seed {seed} is not deterministic");
        intact += first.1;
        injected += first.2;
    }
    assert!(intact > 12 * 20, "only {intact} of 480 rounds came back");
    assert!(injected > 0, "chaos injected nothing");
}
