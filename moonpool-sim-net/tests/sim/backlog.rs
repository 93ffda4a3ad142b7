//! Simulator-only checks of the listen backlog and of port claims that the
//! kernel conformance suite can not afford (a 127 s SYN give-up) or can not
//! arrange across two hosts.

use std::io::{self, ErrorKind};
use std::net::SocketAddr;
use std::time::Duration;

use moonpool_sim_net::{Sim, SimHandle, SimTcpListener, SimTcpSocket, SimTcpStream};

use crate::ip;

#[test]
fn a_connection_beyond_a_full_backlog_times_out_after_the_syn_retries() {
    Sim::new(61)
        .workload("w", ip(1), async {
            let socket = SimTcpSocket::new_v4()?;
            socket.bind(SocketAddr::from((ip(1), 0)))?;
            // Backlog 0: Linux queues one connection, then drops SYNs.
            let listener = socket.listen(0)?;
            let addr = listener.local_addr()?;
            let _queued = SimTcpStream::connect(addr).await?;
            let sim = SimHandle::current().unwrap();
            let start = sim.elapsed();
            let error = SimTcpStream::connect(addr).await.unwrap_err();
            assert_eq!(error.kind(), ErrorKind::TimedOut);
            // 1 + 2 + 4 + 8 + 16 + 32 + 64 s: tcp_syn_retries = 6.
            let waited = sim.elapsed() - start;
            assert!(
                (Duration::from_secs(127)..Duration::from_secs(130)).contains(&waited),
                "{waited:?}"
            );
            Ok::<(), io::Error>(())
        })
        .run(Duration::from_secs(600))
        .unwrap();
}

#[test]
fn a_listener_can_not_take_the_port_of_an_outgoing_connection() {
    Sim::new(62)
        .host("server", ip(1), || async {
            let listener = SimTcpListener::bind("0.0.0.0:80").await?;
            loop {
                let _ = listener.accept().await?;
            }
            #[allow(unreachable_code)]
            Ok::<(), io::Error>(())
        })
        .workload("w", ip(2), async {
            let stream = SimTcpStream::connect((ip(1), 80)).await?;
            let port = stream.local_addr()?.port();
            let error = SimTcpListener::bind((ip(2), port)).await.unwrap_err();
            assert_eq!(error.kind(), ErrorKind::AddrInUse);
            drop(stream);
            Ok::<(), io::Error>(())
        })
        .run(Duration::from_secs(60))
        .unwrap();
}

#[test]
fn sockets_share_a_bound_port_only_with_reuseaddr() {
    Sim::new(63)
        .workload("w", ip(1), async {
            let first = SimTcpSocket::new_v4()?;
            first.bind(SocketAddr::from((ip(1), 0)))?;
            let taken = first.local_addr()?;
            let plain = SimTcpSocket::new_v4()?;
            assert_eq!(plain.bind(taken).unwrap_err().kind(), ErrorKind::AddrInUse);
            let reusing = SimTcpSocket::new_v4()?;
            reusing.set_reuseaddr(true)?;
            reusing.bind(taken)?;
            drop((first, reusing));
            // Dropped unconnected sockets give the port back.
            SimTcpSocket::new_v4()?.bind(taken)?;
            Ok::<(), io::Error>(())
        })
        .run(Duration::from_secs(60))
        .unwrap();
}

#[test]
fn sockets_exist_only_inside_a_host_and_only_for_ipv4() {
    let outside = SimTcpSocket::new_v4().unwrap_err();
    assert_eq!(outside.kind(), ErrorKind::Unsupported);
    let v6 = SimTcpSocket::new_v6().unwrap_err();
    assert_eq!(v6.kind(), ErrorKind::Unsupported);
}
