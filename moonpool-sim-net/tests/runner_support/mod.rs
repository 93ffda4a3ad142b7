//! An echo system for the runner's tests: a server host that honours the
//! shutdown signal and publishes how many bytes it echoed, and clients that
//! check every reply with `always!`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::Ipv4Addr;
use std::time::Duration;

use moonpool_sim_net::assertions::shutdown_signal;
use moonpool_sim_net::invariants::{Invariant, publish};
use moonpool_sim_net::runner::{Iterations, Seeds, SimulationBuilder};
use moonpool_sim_net::{SimTcpListener, SimTcpStream, always, buggify, sometimes, spawn};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub(crate) const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
pub(crate) const PORT: u16 = 7000;
pub(crate) const ROUNDS: u64 = 5;

pub(crate) fn client_ip(i: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 1, i)
}

/// The echo server: accepts until shutdown, echoes, counts echoed bytes in
/// its published state.
pub(crate) async fn echo_server() -> std::io::Result<()> {
    let listener = SimTcpListener::bind((Ipv4Addr::UNSPECIFIED, PORT)).await?;
    let shutdown = shutdown_signal();
    let echoed = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    publish(SERVER, "echoed", 0_u64);
    loop {
        let (mut stream, _) = tokio::select! {
            biased;
            () = shutdown.cancelled() => {
                publish(SERVER, "shut down", true);
                return Ok(());
            }
            accepted = listener.accept() => accepted?,
        };
        let echoed = echoed.clone();
        spawn(async move {
            let mut buf = [0u8; 8];
            while stream.read_exact(&mut buf).await.is_ok() {
                if stream.write_all(&buf).await.is_err() {
                    break;
                }
                let total = echoed.fetch_add(8, std::sync::atomic::Ordering::Relaxed) + 8;
                publish(SERVER, "echoed", total);
            }
        });
    }
}

/// A client: `ROUNDS` round trips, each reply checked with `always!`;
/// publishes how many bytes it sent.
pub(crate) async fn echo_client(ip: Ipv4Addr) -> std::io::Result<()> {
    let mut stream = SimTcpStream::connect((SERVER, PORT)).await?;
    let mut sent = 0_u64;
    for round in 0..ROUNDS {
        if buggify!() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let started = tokio::time::Instant::now();
        stream.write_all(&round.to_le_bytes()).await?;
        let mut reply = [0u8; 8];
        stream.read_exact(&mut reply).await?;
        sent += 8;
        publish(ip, "sent", sent);
        always!(
            u64::from_le_bytes(reply) == round,
            "echo returns what was sent"
        );
        sometimes!(
            started.elapsed() >= Duration::from_millis(2),
            "a slow round trip"
        );
        sometimes!(
            started.elapsed() < Duration::from_millis(2),
            "a fast round trip"
        );
    }
    Ok(())
}

/// Every byte sent was echoed: the server's count equals the clients' sum.
pub(crate) fn echoed_everything() -> Invariant {
    Invariant::new("server echoed every byte sent", |state| {
        let sent: u64 = state.values::<u64>("sent").map(|(_, n)| *n).sum();
        let echoed = state.get::<u64>(SERVER, "echoed").copied().unwrap_or(0);
        if sent == echoed {
            Ok(())
        } else {
            Err(format!("clients sent {sent} bytes, server echoed {echoed}"))
        }
    })
}

/// The echo system with `clients` clients, quiet progress, `iterations`
/// derived seeds.
pub(crate) fn echo_sim(clients: u8, iterations: u64) -> SimulationBuilder {
    let mut builder = SimulationBuilder::new()
        .host("server", SERVER, echo_server)
        .invariant(echoed_everything())
        .seeds(Seeds::Derived { base: 1 })
        .iterations(Iterations::Fixed(iterations))
        .budget(Duration::from_secs(10))
        .progress(false)
        .print_failures(false);
    for i in 1..=clients {
        let ip = client_ip(i);
        builder = builder.workload(&format!("client-{i}"), ip, move || echo_client(ip));
    }
    builder
}
