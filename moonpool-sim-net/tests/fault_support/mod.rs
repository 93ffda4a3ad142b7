//! Helpers shared by the fault tests: addresses, an echo server, quiet
//! configurations with one family turned on.
#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::net::Ipv4Addr;
use std::pin::Pin;
use std::time::Duration;

use moonpool_sim_net::{FaultConfig, SimTcpListener, spawn};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const PORT: u16 = 7000;

/// A host's root future, boxed.
pub type Root = Pin<Box<dyn Future<Output = std::io::Result<()>> + Send>>;

pub fn ip(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, 0, n)
}

/// A restartable echo server on `PORT`.
pub async fn echo_server() -> Result<(), std::io::Error> {
    let listener = SimTcpListener::bind((Ipv4Addr::UNSPECIFIED, PORT)).await?;
    loop {
        let (mut stream, _) = listener.accept().await?;
        spawn(async move {
            let mut buf = vec![0u8; 4096];
            while let Ok(n @ 1..) = stream.read(&mut buf).await {
                if stream.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        });
    }
}

/// Nothing injected, except what `tweak` turns on.
pub fn only(tweak: impl FnOnce(&mut FaultConfig)) -> FaultConfig {
    let mut config = FaultConfig::quiet();
    tweak(&mut config);
    config
}

/// `n` bytes numbered 0, 1, 2, ... (mod 251, so a shift shows).
pub fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

pub fn ms(m: u64) -> Duration {
    Duration::from_millis(m)
}
