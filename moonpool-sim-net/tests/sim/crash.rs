//! Crash and restart: nothing of a dead incarnation keeps running, its peers
//! see resets, a restarted host runs fresh.

use std::io::ErrorKind;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use moonpool_sim_net::{
    HostHandle, Sim, SimHandle, SimTcpListener, SimTcpStream, WorkloadStatus, spawn,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::sleep;

use crate::ip;

/// Sets its flag when dropped: a task holding it was aborted (or finished).
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[derive(Clone, Default)]
struct Probe {
    starts: Arc<AtomicU64>,
    ticks: Arc<AtomicU64>,
    ticker_dropped: Arc<AtomicBool>,
    handle: Arc<Mutex<Option<HostHandle>>>,
}

async fn echo(mut stream: SimTcpStream) {
    let mut buf = [0u8; 64];
    while let Ok(n @ 1..) = stream.read(&mut buf).await {
        if stream.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
}

fn server(
    probe: Probe,
) -> impl Fn() -> std::pin::Pin<Box<dyn Future<Output = std::io::Result<()>> + Send>>
+ Send
+ Sync
+ 'static {
    move || {
        let probe = probe.clone();
        Box::pin(async move {
            probe.starts.fetch_add(1, Ordering::SeqCst);
            probe.ticker_dropped.store(false, Ordering::SeqCst);
            *probe.handle.lock().unwrap() = HostHandle::current();
            // Binding the same port again after a restart proves the crash freed it.
            let listener = SimTcpListener::bind("0.0.0.0:7000").await?;
            let flag = DropFlag(probe.ticker_dropped.clone());
            let ticks = probe.ticks.clone();
            spawn(async move {
                let _flag = flag;
                loop {
                    sleep(Duration::from_millis(10)).await;
                    ticks.fetch_add(1, Ordering::SeqCst);
                }
            });
            loop {
                let (stream, _) = listener.accept().await?;
                spawn(echo(stream));
            }
        })
    }
}

async fn round_trip(stream: &mut SimTcpStream, msg: &[u8]) -> std::io::Result<()> {
    stream.write_all(msg).await?;
    let mut buf = vec![0u8; msg.len()];
    stream.read_exact(&mut buf).await?;
    assert_eq!(buf, msg);
    Ok(())
}

#[test]
fn crash_aborts_every_task_resets_peers_and_restart_runs_fresh() {
    let probe = Probe::default();
    let p = probe.clone();
    Sim::new(11)
        .host("server", ip(1), server(probe.clone()))
        .workload("client", ip(2), async move {
            let sim = SimHandle::current().unwrap();
            let mut stream = SimTcpStream::connect((ip(1), 7000)).await?;
            round_trip(&mut stream, b"before").await?;
            sleep(Duration::from_millis(100)).await;
            assert!(p.ticks.load(Ordering::SeqCst) > 0);
            let old = p.handle.lock().unwrap().clone().unwrap();
            assert_eq!(old.incarnation(), 0);

            sim.crash(ip(1)).unwrap();
            // The peer sees the reset.
            let mut buf = [0u8; 8];
            let error = stream.read(&mut buf).await.unwrap_err();
            assert_eq!(error.kind(), ErrorKind::ConnectionReset);
            // Every task of the dead incarnation was aborted and stays dead.
            sleep(Duration::from_millis(50)).await;
            assert!(
                p.ticker_dropped.load(Ordering::SeqCst),
                "ticker still alive"
            );
            let ticks = p.ticks.load(Ordering::SeqCst);
            sleep(Duration::from_secs(1)).await;
            assert_eq!(p.ticks.load(Ordering::SeqCst), ticks, "a dead task ticked");
            // Its spawner spawns nothing any more.
            assert!(!old.is_alive());
            let ran = Arc::new(AtomicBool::new(false));
            let r = ran.clone();
            let join = old.spawn(async move { r.store(true, Ordering::SeqCst) });
            assert!(join.await.unwrap_err().is_cancelled());
            assert!(!ran.load(Ordering::SeqCst));
            // A crashed host refuses connections.
            let error = SimTcpStream::connect((ip(1), 7000)).await.unwrap_err();
            assert_eq!(error.kind(), ErrorKind::ConnectionRefused);
            let info = sim.hosts().into_iter().find(|h| h.ip == ip(1)).unwrap();
            assert!(!info.alive);

            sim.restart(ip(1)).unwrap();
            sleep(Duration::from_millis(5)).await;
            assert_eq!(p.starts.load(Ordering::SeqCst), 2, "the factory ran again");
            let new = p.handle.lock().unwrap().clone().unwrap();
            assert_eq!(new.incarnation(), 1);
            let mut stream = SimTcpStream::connect((ip(1), 7000)).await?;
            round_trip(&mut stream, b"after").await?;
            assert!(
                !p.ticker_dropped.load(Ordering::SeqCst),
                "a fresh ticker runs"
            );
            Ok::<(), std::io::Error>(())
        })
        .run(Duration::from_secs(60))
        .unwrap();
    assert_eq!(probe.starts.load(Ordering::SeqCst), 2);
}

#[test]
fn restart_of_a_running_host_crashes_it_first() {
    let probe = Probe::default();
    let p = probe.clone();
    Sim::new(12)
        .host("server", ip(1), server(probe.clone()))
        .workload("client", ip(2), async move {
            let sim = SimHandle::current().unwrap();
            let mut stream = SimTcpStream::connect((ip(1), 7000)).await?;
            round_trip(&mut stream, b"one").await?;
            sim.restart(ip(1)).unwrap();
            let error = round_trip(&mut stream, b"two").await.unwrap_err();
            assert_eq!(error.kind(), ErrorKind::ConnectionReset);
            sleep(Duration::from_millis(5)).await;
            let mut stream = SimTcpStream::connect((ip(1), 7000)).await?;
            round_trip(&mut stream, b"three").await?;
            assert_eq!(p.starts.load(Ordering::SeqCst), 2);
            Ok::<(), std::io::Error>(())
        })
        .run(Duration::from_secs(60))
        .unwrap();
}

#[test]
fn a_crashed_workload_counts_as_finished_and_is_reported_crashed() {
    let outcome = Sim::new(13)
        .workload("victim", ip(1), async {
            sleep(Duration::from_secs(3600)).await;
            Ok::<(), std::io::Error>(())
        })
        .workload("killer", ip(2), async {
            sleep(Duration::from_millis(10)).await;
            SimHandle::current().unwrap().crash(ip(1)).unwrap();
            Ok::<(), std::io::Error>(())
        })
        .run(Duration::from_secs(60))
        .unwrap();
    let status = |name: &str| {
        outcome
            .workloads
            .iter()
            .find(|w| w.name == name)
            .unwrap()
            .status
    };
    assert_eq!(status("victim"), WorkloadStatus::Crashed);
    assert_eq!(status("killer"), WorkloadStatus::Finished);
    assert!(outcome.sim_elapsed < Duration::from_secs(1));
}
