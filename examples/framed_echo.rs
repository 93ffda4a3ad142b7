//! An echo server and client speaking moonpool's wire format over real TCP,
//! with nothing but tokio, tokio-util's `Framed` and `PacketCodec`.
//!
//! ```sh
//! cargo run --release --example framed_echo            # 10000 round trips
//! cargo run --release --example framed_echo -- 50000   # or as many as you like
//! ```
//!
//! The client sends N packets one at a time on 127.0.0.1, checks that each
//! echo carries the same token and payload, and prints the round trips per
//! second. Then it writes one frame with a single flipped bit straight to a
//! socket, and prints the typed error the server's decoder reported for it.

use std::error::Error;
use std::net::SocketAddr;
use std::process::ExitCode;

use bytes::BytesMut;
use futures_util::{SinkExt, StreamExt};
use moonpool_codec::{Packet, PacketCodec, Uid, WireError};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::codec::{Encoder, Framed};

/// Round trips when no count is given on the command line.
const DEFAULT_ROUND_TRIPS: u64 = 10_000;

type BoxError = Box<dyn Error + Send + Sync>;

/// Echoes every packet of every connection; reports each connection that
/// ends in a decode error on `rejected`.
async fn serve(listener: TcpListener, rejected: mpsc::UnboundedSender<(SocketAddr, WireError)>) {
    while let Ok((stream, peer)) = listener.accept().await {
        let rejected = rejected.clone();
        tokio::spawn(async move {
            let mut framed = Framed::new(stream, PacketCodec::new());
            while let Some(next) = framed.next().await {
                match next {
                    Ok(packet) => {
                        if framed.send(packet).await.is_err() {
                            return;
                        }
                    }
                    Err(error) => {
                        // The stream is out of step now: drop the connection.
                        let _ = rejected.send((peer, error));
                        return;
                    }
                }
            }
        });
    }
}

/// The payload of round trip `seq`: its number, then bytes derived from it.
fn payload_for(seq: u64) -> Vec<u8> {
    let mut payload = seq.to_le_bytes().to_vec();
    payload.extend((0..(seq % 200) as u8).map(|b| b ^ seq as u8));
    payload
}

/// Sends `count` packets one at a time and checks every echo.
async fn ping_pong(server: SocketAddr, count: u64) -> Result<(), BoxError> {
    let stream = TcpStream::connect(server).await?;
    stream.set_nodelay(true)?;
    let mut framed = Framed::new(stream, PacketCodec::new());
    let started = Instant::now();
    for seq in 0..count {
        let sent = Packet::new(Uid::new(seq, !seq), payload_for(seq));
        framed.send(sent.clone()).await?;
        let echoed = framed
            .next()
            .await
            .ok_or("the server closed the connection")??;
        if echoed != sent {
            return Err(format!("round trip {seq}: the echo differs from what was sent").into());
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{count} round trips verified in {elapsed:.3} s: {:.0} round trips/s ({:.1} µs each)",
        count as f64 / elapsed,
        elapsed * 1e6 / count as f64
    );
    Ok(())
}

/// Writes one frame with a flipped payload bit straight to a new connection.
async fn send_corrupted_frame(server: SocketAddr) -> Result<SocketAddr, BoxError> {
    let mut frame = BytesMut::new();
    PacketCodec::new().encode(
        Packet::new(Uid::new(7, 7), &b"this frame will arrive damaged"[..]),
        &mut frame,
    )?;
    let bit = 8 * 30 + 3;
    frame[bit / 8] ^= 1 << (bit % 8);
    let mut stream = TcpStream::connect(server).await?;
    let local = stream.local_addr()?;
    stream.write_all(&frame).await?;
    println!(
        "client: wrote a {}-byte frame with bit {bit} flipped, raw, from {local}",
        frame.len()
    );
    Ok(local)
}

#[path = "support/cli.rs"]
mod cli;

const USAGE: &str = "usage: framed_echo [ROUND_TRIPS]   (default 10000)

moonpool-codec alone in Framed<TcpStream, PacketCodec> over loopback, then
a corrupted frame rejected with ChecksumMismatch.";

#[tokio::main]
async fn main() -> ExitCode {
    let args = match cli::parse(USAGE, &[], true) {
        Ok(args) => args,
        Err(code) => return code,
    };
    match run(args.positional).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("framed_echo: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(round_trips: Option<String>) -> Result<(), BoxError> {
    let count = match round_trips {
        Some(arg) => arg
            .parse()
            .map_err(|_| format!("usage: framed_echo [ROUND_TRIPS], got {arg:?}"))?,
        None => DEFAULT_ROUND_TRIPS,
    };
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let server = listener.local_addr()?;
    let (rejected_tx, mut rejected) = mpsc::unbounded_channel();
    let server_task = tokio::spawn(serve(listener, rejected_tx));
    println!("server: echoing on {server}");

    ping_pong(server, count).await?;

    let corrupt_from = send_corrupted_frame(server).await?;
    let (peer, error) = rejected
        .recv()
        .await
        .ok_or("the server stopped before reporting")?;
    println!("server: rejected the frame from {peer}: {error}");
    println!("server: the error as a value: {error:?}");
    server_task.abort();
    if peer != corrupt_from || !matches!(error, WireError::ChecksumMismatch { .. }) {
        return Err("the server did not report a checksum mismatch for the damaged frame".into());
    }
    Ok(())
}
