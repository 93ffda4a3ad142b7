//! 25 client hosts, each doing TCP ping-pong of 8-byte messages with its own
//! server host over the simulated network (latency 100 µs..1 ms).
//!
//! Prints the round trips, the simulated seconds and the wall seconds.
//!
//! ```sh
//! cargo run --release --example sim_echo            # 10 simulated seconds
//! cargo run --release --example sim_echo -- 60s     # 60 simulated seconds
//! cargo run --release --example sim_echo -- 5000    # 5000 round trips per client
//! SIM_ECHO=2s cargo run --example sim_echo          # same, from the environment
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use moonpool_sim_net::{NetConfig, Sim, SimHandle, SimTcpListener, SimTcpStream, spawn};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PAIRS: u8 = 25;
const PORT: u16 = 7000;

/// How long each client runs: simulated time ("10s") or round trips ("5000").
#[derive(Clone, Copy, Debug)]
enum Length {
    Simulated(Duration),
    RoundTrips(u64),
}

impl Length {
    fn parse(arg: &str) -> Option<Length> {
        match arg.strip_suffix('s') {
            Some(secs) => secs
                .parse()
                .ok()
                .map(Duration::from_secs_f64)
                .map(Length::Simulated),
            None => arg.parse().ok().map(Length::RoundTrips),
        }
    }

    fn done(self, sim: &SimHandle, round_trips: u64) -> bool {
        match self {
            Length::Simulated(d) => sim.elapsed() >= d,
            Length::RoundTrips(n) => round_trips >= n,
        }
    }
}

/// Echoes 8-byte messages on every connection it accepts.
async fn server() -> io::Result<()> {
    let listener = SimTcpListener::bind((Ipv4Addr::UNSPECIFIED, PORT)).await?;
    loop {
        let (mut stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        spawn(async move {
            let mut buf = [0u8; 8];
            while stream.read_exact(&mut buf).await.is_ok() {
                if stream.write_all(&buf).await.is_err() {
                    break;
                }
            }
        });
    }
}

/// Sends a counter, waits for it to come back, until `length` is reached.
async fn client(server: Ipv4Addr, length: Length, total: Arc<AtomicU64>) -> io::Result<()> {
    let sim = SimHandle::current().expect("runs inside a simulated host");
    let mut stream = SimTcpStream::connect((server, PORT)).await?;
    stream.set_nodelay(true)?;
    let mut round_trips = 0u64;
    while !length.done(&sim, round_trips) {
        stream.write_all(&round_trips.to_le_bytes()).await?;
        let mut reply = [0u8; 8];
        stream.read_exact(&mut reply).await?;
        if u64::from_le_bytes(reply) != round_trips {
            return Err(io::Error::other("echo returned the wrong message"));
        }
        round_trips += 1;
    }
    total.fetch_add(round_trips, Ordering::Relaxed);
    Ok(())
}

/// Wall-clock measurement for the printout only; never feeds the simulation.
#[allow(clippy::disallowed_types, clippy::disallowed_methods)]
fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = std::time::Instant::now();
    let value = f();
    (value, start.elapsed())
}

fn main() {
    let arg = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("SIM_ECHO").ok());
    let length = match arg {
        Some(arg) => Length::parse(&arg).unwrap_or_else(|| {
            eprintln!("usage: sim_echo [SECONDSs | ROUND_TRIPS]   (e.g. 10s or 5000)");
            std::process::exit(2)
        }),
        None => Length::Simulated(Duration::from_secs(10)),
    };
    let total = Arc::new(AtomicU64::new(0));
    let mut sim = Sim::new(2024).net(NetConfig {
        latency: Duration::from_micros(100)..=Duration::from_millis(1),
        ..NetConfig::default()
    });
    for i in 1..=PAIRS {
        let server_ip = Ipv4Addr::new(10, 0, 1, i);
        sim = sim
            .host(&format!("server-{i}"), server_ip, server)
            .workload(
                &format!("client-{i}"),
                Ipv4Addr::new(10, 0, 0, i),
                client(server_ip, length, total.clone()),
            );
    }
    let (outcome, wall) = timed(|| sim.run(Duration::from_secs(24 * 3600)));
    let outcome = outcome.unwrap_or_else(|error| {
        eprintln!("simulation failed: {error}");
        std::process::exit(1)
    });
    let round_trips = total.load(Ordering::Relaxed);
    println!("pairs:             {PAIRS}");
    println!("round trips:       {round_trips}");
    println!("network events:    {}", outcome.events);
    println!(
        "simulated seconds: {:.3}",
        outcome.sim_elapsed.as_secs_f64()
    );
    println!("wall seconds:      {:.3}", wall.as_secs_f64());
    println!(
        "round trips per wall second: {:.0}",
        round_trips as f64 / wall.as_secs_f64().max(1e-9)
    );
    println!("trace hash:        {:016x}", outcome.trace_hash);
}
