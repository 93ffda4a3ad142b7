//! Random close (RST) edge cases: what the end that rolled the reset sees on
//! its own writes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod fault_support;

use std::io::ErrorKind;

use fault_support::{PORT, ip, ms, only, secs};
use moonpool_sim_net::{Sim, SimTcpListener, SimTcpStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::{Instant, sleep, timeout};

/// Accepts connections and keeps them open without ever reading.
async fn silent_server() -> std::io::Result<()> {
    let listener = SimTcpListener::bind(("0.0.0.0", PORT)).await?;
    let mut streams = Vec::new();
    loop {
        let (stream, _) = listener.accept().await?;
        streams.push(stream);
    }
}

#[test]
fn a_writer_waiting_for_room_goes_on_when_its_own_reset_discards_the_unsent_bytes() {
    let faults = only(|f| {
        f.random_close.enabled = true;
        f.random_close.probability = 1.0;
        f.random_close.rst_probability = 1.0;
        // Only the peer is told, and the call that rolled it does not fail.
        f.random_close.both_sides_probability = 0.0;
        f.random_close.fail_call_probability = 0.0;
        f.random_close.cooldown = secs(1);
    });
    Sim::new(1)
        .faults(faults)
        .host("server", ip(1), silent_server)
        .workload("client", ip(2), async {
            // The first call anywhere rolls a close; the cooldown then
            // spares the next second.
            let mut first = SimTcpStream::connect((ip(1), PORT)).await?;
            first.write_all(b"x").await?;
            let stream = SimTcpStream::connect((ip(1), PORT)).await?;
            let (mut reader, mut writer) = tokio::io::split(stream);
            // One window in the server's receive buffer, one in our send buffer.
            writer.write_all(&[0; 64 * 1024]).await?;
            writer.write_all(&[0; 64 * 1024]).await?;
            // A task of its own: a join! would poll the writer again on
            // the reader's wake-ups and hide a lost one.
            moonpool_sim_net::spawn(async move {
                sleep(secs(2)).await;
                // This read rolls a RST from our end: our unsent bytes go.
                let _ = timeout(ms(100), reader.read(&mut [0; 1])).await;
                sleep(secs(100)).await;
            });
            let start = Instant::now();
            let written = timeout(secs(5), writer.write(&[1])).await;
            // (tokio's timeout polls the write once more when it fires:
            // that late success would hide a writer never woken.)
            let took = start.elapsed();
            assert!(took < secs(3), "the writer was woken only after {took:?}");
            let written = written.unwrap()?;
            assert_eq!(written, 1);
            Ok::<_, std::io::Error>(())
        })
        .run(secs(60))
        .unwrap();
}

#[test]
fn a_write_that_rolls_a_reset_of_both_ends_fails_at_once() {
    let faults = only(|f| {
        f.random_close.enabled = true;
        f.random_close.probability = 1.0;
        f.random_close.rst_probability = 1.0;
        f.random_close.both_sides_probability = 1.0;
        f.random_close.fail_call_probability = 0.0;
    });
    Sim::new(1)
        .faults(faults)
        .host("server", ip(1), silent_server)
        .workload("client", ip(2), async {
            let mut stream = SimTcpStream::connect((ip(1), PORT)).await?;
            let error = stream.write(b"hello").await.unwrap_err();
            assert_eq!(error.kind(), ErrorKind::ConnectionReset);
            Ok::<_, std::io::Error>(())
        })
        .run(secs(60))
        .unwrap();
}
