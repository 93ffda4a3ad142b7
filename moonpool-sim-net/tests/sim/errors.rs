//! Failures end the iteration with an error that says which host, and
//! misuse is an error, never a panic.

use std::io::ErrorKind;
use std::time::Duration;

use moonpool_sim_net::{
    HostError, NetConfig, Sim, SimError, SimHandle, SimTcpListener, SimTcpStream, spawn,
};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::ip;

#[test]
fn a_workload_error_fails_the_iteration_naming_the_host() {
    let error = Sim::new(31)
        .workload("failing", ip(1), async { Err::<(), _>("boom") })
        .run(Duration::from_secs(10))
        .unwrap_err();
    match error {
        SimError::HostFailed {
            name,
            ip: addr,
            source,
            ..
        } => {
            assert_eq!(name, "failing");
            assert_eq!(addr, ip(1));
            assert_eq!(source.to_string(), "boom");
        }
        other => panic!("expected HostFailed, got {other}"),
    }
}

#[test]
fn a_panicking_host_task_fails_the_iteration_with_its_message() {
    let error = Sim::new(32)
        .workload("panicky", ip(1), async {
            let _ = spawn(async { panic!("kaboom") }).await;
            tokio::time::sleep(Duration::from_secs(1)).await;
            Ok::<(), std::io::Error>(())
        })
        .run(Duration::from_secs(10))
        .unwrap_err();
    match error {
        SimError::TaskPanicked { name, message, .. } => {
            assert_eq!(name, "panicky");
            assert_eq!(message, "kaboom");
        }
        other => panic!("expected TaskPanicked, got {other}"),
    }
}

#[test]
fn invalid_worlds_are_rejected_before_running() {
    let ok = || async { Ok::<(), std::io::Error>(()) };
    let duplicate = Sim::new(1)
        .workload("a", ip(1), ok())
        .workload("b", ip(1), ok());
    assert!(matches!(
        duplicate.run(Duration::from_secs(1)),
        Err(SimError::DuplicateIp(_))
    ));
    let loopback = Sim::new(1).workload("a", std::net::Ipv4Addr::LOCALHOST, ok());
    assert!(matches!(
        loopback.run(Duration::from_secs(1)),
        Err(SimError::ReservedIp { .. })
    ));
    let idle = Sim::new(1).host("server", ip(1), ok);
    assert!(matches!(
        idle.run(Duration::from_secs(1)),
        Err(SimError::NoWorkload)
    ));
    let config = NetConfig {
        receive_window: 0,
        ..NetConfig::default()
    };
    let bad = Sim::new(1).net(config).workload("a", ip(1), ok());
    assert!(matches!(
        bad.run(Duration::from_secs(1)),
        Err(SimError::InvalidConfig(_))
    ));
}

#[test]
fn host_control_errors_name_the_problem() {
    Sim::new(33)
        .workload("w", ip(1), async {
            let sim = SimHandle::current().unwrap();
            assert_eq!(sim.crash(ip(99)), Err(HostError::UnknownHost(ip(99))));
            assert!(matches!(
                sim.restart(ip(1)),
                Err(HostError::NotRestartable { .. })
            ));
            Ok::<(), std::io::Error>(())
        })
        .run(Duration::from_secs(10))
        .unwrap();
}

#[test]
fn socket_calls_outside_any_host_are_unsupported_errors() {
    // Outside any simulation.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let error = SimTcpListener::bind("0.0.0.0:1").await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Unsupported);
        let error = SimTcpStream::connect((ip(1), 1)).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Unsupported);
        assert!(SimHandle::current().is_none());
    });
    // Inside a simulation, from a task that escaped its host.
    Sim::new(34)
        .workload("w", ip(1), async {
            let escaped =
                tokio::spawn(async { SimTcpStream::connect((ip(1), 1)).await.unwrap_err().kind() });
            assert_eq!(escaped.await.unwrap(), ErrorKind::Unsupported);
            let orphan = tokio::spawn(async { spawn(async {}).await });
            assert!(orphan.await.unwrap().unwrap_err().is_cancelled());
            Ok::<(), std::io::Error>(())
        })
        .run(Duration::from_secs(10))
        .unwrap();
}

#[test]
fn failures_carry_the_trace_hash_of_the_events_before_them() {
    let fail = |seed| {
        Sim::new(seed)
            .workload("failing", ip(1), async {
                tokio::time::sleep(Duration::from_millis(5)).await;
                Err::<(), _>("boom")
            })
            .run(Duration::from_secs(10))
            .unwrap_err()
            .trace_hash()
    };
    assert!(fail(35).is_some());
    assert_eq!(fail(35), fail(35));
}

#[tokio::test]
async fn run_works_from_async_code_on_a_thread_of_its_own() {
    let outcome = Sim::new(36)
        .workload("w", ip(1), async {
            tokio::time::sleep(Duration::from_secs(2)).await;
            Ok::<(), std::io::Error>(())
        })
        .run(Duration::from_secs(10))
        .unwrap();
    assert_eq!(outcome.sim_elapsed, Duration::from_secs(2));
}

#[test]
fn a_stream_moved_into_a_task_outside_any_host_keeps_working() {
    Sim::new(35)
        .host("echo", ip(1), || async {
            let listener = SimTcpListener::bind("0.0.0.0:7000").await?;
            let (mut stream, _) = listener.accept().await?;
            let mut buf = [0u8; 4];
            stream.read_exact(&mut buf).await?;
            stream.write_all(&buf).await?;
            tokio::time::sleep(Duration::from_secs(100)).await;
            Ok::<(), std::io::Error>(())
        })
        .workload("w", ip(2), async {
            let stream = SimTcpStream::connect((ip(1), 7000)).await?;
            // Only the calls that create a socket need a host.
            let escaped = tokio::spawn(async move {
                let mut stream = stream;
                stream.write_all(b"ping").await?;
                let mut buf = [0u8; 4];
                stream.read_exact(&mut buf).await?;
                Ok::<_, std::io::Error>(buf)
            });
            assert_eq!(&escaped.await.unwrap()?, b"ping");
            Ok::<(), std::io::Error>(())
        })
        .run(Duration::from_secs(10))
        .unwrap();
}
