//! Every iteration ends: a stalled one as `Stalled`, a busy one past its
//! budget as `BudgetExceeded`, both naming what was waiting.

use std::time::Duration;

use moonpool_sim_net::{Sim, SimError, SimTcpListener, SimTcpStream, SocketReport, spawn};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::ip;

async fn silent() -> std::io::Result<()> {
    let listener = SimTcpListener::bind("0.0.0.0:7000").await?;
    loop {
        let (stream, _) = listener.accept().await?;
        // Keeps the connection open and never writes.
        spawn(async move {
            let _stream = stream;
            std::future::pending::<()>().await;
        });
    }
}

async fn echo() -> std::io::Result<()> {
    let listener = SimTcpListener::bind("0.0.0.0:7000").await?;
    let (mut stream, _) = listener.accept().await?;
    let mut buf = [0u8; 8];
    loop {
        stream.read_exact(&mut buf).await?;
        stream.write_all(&buf).await?;
    }
}

fn silent_server() -> Sim {
    Sim::new(21).host("silent", ip(1), silent)
}

#[test]
fn a_deadlocked_workload_ends_as_stalled_naming_the_waiting_socket() {
    let error = silent_server()
        .workload("reader", ip(2), async {
            let mut stream = SimTcpStream::connect((ip(1), 7000)).await?;
            let mut buf = [0u8; 1];
            stream.read_exact(&mut buf).await?;
            Ok::<(), std::io::Error>(())
        })
        .run(Duration::from_secs(30))
        .unwrap_err();
    let SimError::Stalled(report) = &error else {
        panic!("expected Stalled, got {error}");
    };
    assert_eq!(report.at, Duration::from_secs(30));
    let reader = report.hosts.iter().find(|h| h.name == "reader").unwrap();
    assert!(reader.workload_pending);
    assert!(reader.sockets.iter().any(|s| matches!(
        s,
        SocketReport::Stream { reading: true, peer, .. } if peer.ip() == ip(1)
    )));
    let silent = report.hosts.iter().find(|h| h.name == "silent").unwrap();
    assert!(silent.sockets.iter().any(|s| matches!(
        s,
        SocketReport::Listener {
            accepting: true,
            ..
        }
    )));
    let message = error.to_string();
    assert!(message.contains("reader (10.0.0.2)"), "{message}");
    assert!(message.contains("blocked reading"), "{message}");
}

#[test]
fn a_workload_still_busy_at_the_budget_ends_as_budget_exceeded() {
    let error = Sim::new(22)
        .host("echo", ip(1), echo)
        .workload("pinger", ip(2), async {
            let mut stream = SimTcpStream::connect((ip(1), 7000)).await?;
            let mut buf = [0u8; 8];
            loop {
                stream.write_all(&buf).await?;
                stream.read_exact(&mut buf).await?;
            }
            #[allow(unreachable_code)]
            Ok::<(), std::io::Error>(())
        })
        .run(Duration::from_secs(20))
        .unwrap_err();
    let SimError::BudgetExceeded(report) = &error else {
        panic!("expected BudgetExceeded, got {error}");
    };
    assert!(report.events > 1000);
    assert!(
        report
            .hosts
            .iter()
            .any(|h| h.name == "pinger" && h.workload_pending)
    );
}

#[test]
fn a_sleep_past_the_budget_does_not_hang_the_test() {
    let error = Sim::new(23)
        .workload("sleeper", ip(1), async {
            tokio::time::sleep(Duration::from_secs(365 * 24 * 3600)).await;
            Ok::<(), std::io::Error>(())
        })
        .run(Duration::from_secs(60))
        .unwrap_err();
    assert!(matches!(error, SimError::Stalled(_)), "{error}");
}
