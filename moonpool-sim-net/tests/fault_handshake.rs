//! Clogs and partitions during the connection handshake: what the server
//! sends before its handshake reply reached the client waits behind that
//! reply, whatever the blocks do, and a heal releases handshakes too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod fault_support;

use fault_support::{PORT, ip, ms, secs};
use moonpool_sim_net::{CrashMode, Sim, SimHandle, SimTcpListener, SimTcpStream};
use std::future::Future;
use std::io::ErrorKind;
use std::pin::Pin;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::{Instant, sleep, timeout};

const SERVER: u8 = 1;
const CLIENT: u8 = 2;

type Root = Pin<Box<dyn Future<Output = std::io::Result<()>> + Send>>;

/// Two overlapping clogs of the server's send side, the second longer: the
/// handshake reply is held by the first, what follows by the second.
fn overlapping_clogs(sim: &SimHandle) {
    sim.clog_send(ip(SERVER), secs(1)).unwrap();
}

async fn second_clog(sim: &SimHandle) {
    sleep(ms(100)).await;
    sim.clog_send(ip(SERVER), secs(2)).unwrap();
}

/// A server that accepts one connection and, while its handshake reply is
/// still on the way, runs `act` on the accepted stream.
fn server<F, Fut>(act: F) -> impl Fn() -> Root + Send + Sync + 'static
where
    F: Fn(SimTcpStream) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = std::io::Result<()>> + Send + 'static,
{
    move || {
        let act = act.clone();
        Box::pin(async move {
            let listener = SimTcpListener::bind(("0.0.0.0", PORT)).await?;
            let (stream, _) = listener.accept().await?;
            act(stream).await?;
            sleep(secs(100)).await;
            Ok(())
        })
    }
}

fn run(
    server: impl Fn() -> Root + Send + Sync + 'static,
    client: impl Future<Output = std::io::Result<()>> + Send + 'static,
) {
    Sim::new(1)
        .host("server", ip(SERVER), server)
        .workload("client", ip(CLIENT), client)
        .run(secs(60))
        .unwrap();
}

#[test]
fn server_bytes_sent_during_a_clogged_handshake_survive_a_heal() {
    let greet = server(|mut stream: SimTcpStream| async move {
        SimHandle::current()
            .unwrap()
            .clog_send(ip(SERVER), secs(5))
            .unwrap();
        stream.write_all(b"hello").await
    });
    run(greet, async {
        let sim = SimHandle::current().unwrap();
        let heal = async {
            sleep(ms(500)).await;
            sim.heal().unwrap();
        };
        let (stream, ()) = tokio::join!(SimTcpStream::connect((ip(SERVER), PORT)), heal);
        let mut stream = stream?;
        let mut greeting = [0u8; 5];
        timeout(secs(20), stream.read_exact(&mut greeting))
            .await
            .expect("the greeting must not be lost")?;
        assert_eq!(&greeting, b"hello");
        Ok(())
    });
}

#[test]
fn server_bytes_survive_overlapping_clogs_of_the_handshake_reply() {
    let greet = server(|mut stream: SimTcpStream| async move {
        let sim = SimHandle::current().unwrap();
        overlapping_clogs(&sim);
        second_clog(&sim).await;
        stream.write_all(b"hello").await
    });
    run(greet, async {
        let mut stream = SimTcpStream::connect((ip(SERVER), PORT)).await?;
        let mut greeting = [0u8; 5];
        timeout(secs(20), stream.read_exact(&mut greeting))
            .await
            .expect("the greeting must not be lost")?;
        assert_eq!(&greeting, b"hello");
        Ok(())
    });
}

#[test]
fn a_fin_sent_during_a_clogged_handshake_reaches_the_client_after_the_connect() {
    let close = server(|mut stream: SimTcpStream| async move {
        let sim = SimHandle::current().unwrap();
        overlapping_clogs(&sim);
        second_clog(&sim).await;
        stream.write_all(b"bye").await?;
        stream.shutdown().await
    });
    run(close, async {
        let mut stream = SimTcpStream::connect((ip(SERVER), PORT)).await?;
        let mut all = Vec::new();
        timeout(secs(20), stream.read_to_end(&mut all))
            .await
            .expect("the FIN must not be lost")?;
        assert_eq!(all, b"bye");
        Ok(())
    });
}

#[test]
fn a_rst_sent_during_a_clogged_handshake_reaches_the_client_after_the_connect() {
    let crash = server(|stream: SimTcpStream| async move {
        let _open = stream;
        let sim = SimHandle::current().unwrap();
        overlapping_clogs(&sim);
        second_clog(&sim).await;
        // The host crashes with the stream open: its RST follows the reply.
        sim.crash_with(ip(SERVER), CrashMode::Reset).unwrap();
        Ok(())
    });
    run(crash, async {
        let mut stream = SimTcpStream::connect((ip(SERVER), PORT)).await?;
        let mut byte = [0u8; 1];
        let read = timeout(secs(20), stream.read(&mut byte))
            .await
            .expect("the RST must not be lost");
        assert_eq!(read.unwrap_err().kind(), ErrorKind::ConnectionReset);
        Ok(())
    });
}

#[test]
fn a_stable_connection_is_spared_a_clog_of_its_handshake_reply() {
    let greet = server(|mut stream: SimTcpStream| async move {
        stream.mark_stable();
        SimHandle::current()
            .unwrap()
            .clog_send(ip(SERVER), secs(5))
            .unwrap();
        stream.write_all(b"hello").await
    });
    run(greet, async {
        let start = Instant::now();
        let mut stream = SimTcpStream::connect((ip(SERVER), PORT)).await?;
        assert!(start.elapsed() < secs(1), "the reply was held");
        let mut greeting = [0u8; 5];
        timeout(secs(20), stream.read_exact(&mut greeting))
            .await
            .expect("the greeting must not be lost")?;
        Ok(())
    });
}

#[test]
fn a_heal_releases_a_clogged_connection_request_at_once() {
    let accept = server(|_stream: SimTcpStream| async { Ok(()) });
    run(accept, async {
        let sim = SimHandle::current().unwrap();
        sleep(ms(10)).await;
        sim.clog_send(ip(CLIENT), secs(10)).unwrap();
        let start = Instant::now();
        let heal = async {
            sleep(ms(500)).await;
            sim.heal().unwrap();
        };
        let (stream, ()) = tokio::join!(SimTcpStream::connect((ip(SERVER), PORT)), heal);
        stream?;
        let took = start.elapsed();
        assert!(took < secs(1), "connected {took:?} after a heal at 500 ms");
        Ok(())
    });
}
