//! Same seed, same workload: the same network events; another seed, others.

use std::io;
use std::time::Duration;

use moonpool_sim_net::{Sim, SimHandle, SimOutcome, SimTcpListener, SimTcpStream, spawn};
use rand::RngExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::sleep;

use crate::ip;

const SERVERS: u8 = 3;
const CLIENTS: u8 = 6;

/// Servers answer each length-prefixed request with its bytes reversed,
/// after a random think time.
async fn server() -> io::Result<()> {
    let listener = SimTcpListener::bind("0.0.0.0:9000").await?;
    loop {
        let (mut stream, _) = listener.accept().await?;
        let mut rng = SimHandle::current().unwrap().host_rng();
        spawn(async move {
            loop {
                let mut len = [0u8; 2];
                if stream.read_exact(&mut len).await.is_err() {
                    return;
                }
                let mut body = vec![0u8; usize::from(u16::from_le_bytes(len))];
                if stream.read_exact(&mut body).await.is_err() {
                    return;
                }
                sleep(Duration::from_micros(rng.random_range(0..3000))).await;
                body.reverse();
                if stream.write_all(&body).await.is_err() {
                    return;
                }
            }
        });
    }
}

/// Each client sends requests of random sizes to random servers,
/// reconnecting when a crash broke its connection.
async fn client() -> io::Result<()> {
    let sim = SimHandle::current().unwrap();
    let mut rng = sim.host_rng();
    let mut done = 0;
    while done < 60 {
        let target = ip(rng.random_range(1..=SERVERS));
        let Ok(mut stream) = SimTcpStream::connect((target, 9000)).await else {
            sleep(Duration::from_millis(20)).await;
            continue;
        };
        for _ in 0..rng.random_range(1..6) {
            let len: u16 = rng.random_range(1..3000);
            let body: Vec<u8> = (0..len).map(|_| rng.random()).collect();
            let mut request = len.to_le_bytes().to_vec();
            request.extend_from_slice(&body);
            let mut reply = vec![0u8; body.len()];
            let exchanged = async {
                stream.write_all(&request).await?;
                stream.read_exact(&mut reply).await
            };
            if exchanged.await.is_err() {
                break;
            }
            assert!(reply.iter().eq(body.iter().rev()));
            done += 1;
        }
    }
    Ok(())
}

fn run(seed: u64) -> SimOutcome {
    let mut sim = Sim::new(seed).record_trace(true);
    for s in 1..=SERVERS {
        sim = sim.host(&format!("server-{s}"), ip(s), server);
    }
    for c in 1..=CLIENTS {
        sim = sim.workload(&format!("client-{c}"), ip(100 + c), client());
    }
    sim = sim.workload("chaos", ip(200), async {
        let sim = SimHandle::current().unwrap();
        sleep(Duration::from_millis(30)).await;
        sim.crash(ip(2)).unwrap();
        sleep(Duration::from_millis(100)).await;
        sim.restart(ip(2)).unwrap();
        Ok::<(), io::Error>(())
    });
    sim.run(Duration::from_secs(600)).unwrap()
}

#[test]
fn the_same_seed_gives_the_same_event_trace() {
    let first = run(7);
    let second = run(7);
    assert!(
        first.events > 1000,
        "a non-trivial workload: {} events",
        first.events
    );
    assert_eq!(first.trace_hash, second.trace_hash);
    assert_eq!(first.events, second.events);
    assert_eq!(first.sim_elapsed, second.sim_elapsed);
    assert_eq!(first.trace, second.trace);
    assert_eq!(first.trace.len() as u64, first.events);
}

#[test]
fn different_seeds_give_different_event_traces() {
    let a = run(7);
    let b = run(8);
    assert_ne!(a.trace_hash, b.trace_hash);
}

/// A longer sweep: many seeds, each run twice. `cargo test -- --ignored`.
#[test]
#[ignore = "seed sweep; run with --ignored"]
fn every_seed_of_a_sweep_replays_identically() {
    for seed in 0..50 {
        let first = run(seed);
        let second = run(seed);
        assert_eq!(first.trace_hash, second.trace_hash, "seed {seed}");
        assert_eq!(first.events, second.events, "seed {seed}");
    }
}

/// One client sends `payload` to a server that reads it all.
fn send(payload: &'static [u8]) -> SimOutcome {
    Sim::new(3)
        .record_trace(true)
        .host("client", ip(2), move || async move {
            sleep(Duration::from_millis(5)).await;
            let mut stream = SimTcpStream::connect((ip(1), 9000)).await?;
            stream.write_all(payload).await?;
            stream.shutdown().await
        })
        .workload("server", ip(1), async {
            let listener = SimTcpListener::bind("0.0.0.0:9000").await?;
            let (mut stream, _) = listener.accept().await?;
            let mut sink = Vec::new();
            stream.read_to_end(&mut sink).await?;
            Ok::<(), io::Error>(())
        })
        .run(Duration::from_secs(10))
        .unwrap()
}

#[test]
fn the_trace_hash_covers_the_bytes_not_only_their_lengths() {
    let a = send(b"Date: Mon, 01 Jan 2024");
    let b = send(b"Date: Tue, 02 Jan 2024");
    assert_eq!(a.events, b.events, "the same events at the same times");
    assert_ne!(a.trace_hash, b.trace_hash);
    let first = a.trace.iter().zip(&b.trace).find(|(x, y)| x != y);
    let (x, _) = first.expect("the traces name the segment that differs");
    assert!(x.event.to_string().contains("22 bytes (digest "), "{x:?}");
    assert_eq!(send(b"Date: Mon, 01 Jan 2024").trace_hash, a.trace_hash);
}
