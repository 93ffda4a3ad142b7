//! tokio's `TcpSocket`: options before connecting, bind before connect,
//! buffer sizes that bound what is in flight, and a real listen backlog.

use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use crate::harness::{SocketApi, StreamApi, TestNet, conformance};

conformance!(
    a_fresh_socket_is_unbound_with_default_options,
    options_set_on_a_socket_read_back,
    buffer_sizes_read_back_doubled_as_linux_does,
    a_socket_bound_before_connect_connects_from_its_port,
    binding_a_listening_port_is_addr_in_use_and_binding_twice_invalid,
    listen_without_bind_takes_an_ephemeral_port,
    a_small_send_buffer_makes_a_writer_block_sooner,
    a_full_backlog_holds_a_connection_until_an_accept_makes_room,
    a_zero_linger_set_on_the_socket_resets_the_connection_on_drop,
);

fn any(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::UNSPECIFIED, port))
}

async fn a_fresh_socket_is_unbound_with_default_options<N: TestNet>(net: N) {
    let socket = net.client_socket().await.unwrap();
    assert_eq!(socket.local_addr().unwrap(), any(0));
    assert!(socket.take_error().unwrap().is_none());
    assert!(!socket.reuseaddr().unwrap());
    assert!(!socket.reuseport().unwrap());
    assert!(!socket.keepalive().unwrap());
    assert!(!socket.nodelay().unwrap());
    assert_eq!(socket.linger().unwrap(), None);
}

async fn options_set_on_a_socket_read_back<N: TestNet>(net: N) {
    let socket = net.client_socket().await.unwrap();
    socket.set_reuseaddr(true).unwrap();
    socket.set_reuseport(true).unwrap();
    socket.set_keepalive(true).unwrap();
    socket.set_nodelay(true).unwrap();
    socket.set_linger(Some(Duration::from_secs(3))).unwrap();
    assert!(socket.reuseaddr().unwrap() && socket.reuseport().unwrap());
    assert!(socket.keepalive().unwrap() && socket.nodelay().unwrap());
    assert_eq!(socket.linger().unwrap(), Some(Duration::from_secs(3)));
    socket.set_zero_linger().unwrap();
    assert_eq!(socket.linger().unwrap(), Some(Duration::ZERO));
    assert_eq!(socket.tos_v4().unwrap(), 0);
    socket.set_tos_v4(0x10).unwrap();
    assert_eq!(socket.tos_v4().unwrap(), 0x10);
    // TCP keeps the two ECN bits for itself, and only the low byte counts.
    socket.set_tos_v4(0x1ff).unwrap();
    assert_eq!(socket.tos_v4().unwrap(), 0xfc);
}

async fn buffer_sizes_read_back_doubled_as_linux_does<N: TestNet>(net: N) {
    let socket = net.client_socket().await.unwrap();
    socket.set_send_buffer_size(16 * 1024).unwrap();
    socket.set_recv_buffer_size(16 * 1024).unwrap();
    assert_eq!(socket.send_buffer_size().unwrap(), 32 * 1024);
    assert_eq!(socket.recv_buffer_size().unwrap(), 32 * 1024);
    // Requests below the floor get the kernel's minimum.
    socket.set_send_buffer_size(1).unwrap();
    socket.set_recv_buffer_size(1).unwrap();
    assert_eq!(socket.send_buffer_size().unwrap(), 4608);
    assert_eq!(socket.recv_buffer_size().unwrap(), 2304);
}

async fn a_socket_bound_before_connect_connects_from_its_port<N: TestNet>(net: N) {
    let listener = net.bind(0).await.unwrap();
    let socket = net.client_socket().await.unwrap();
    socket.bind(any(0)).unwrap();
    let port = socket.local_addr().unwrap().port();
    assert_ne!(port, 0);
    let (client, accepted) = tokio::join!(
        socket.connect(N::listener_addr(&listener)),
        N::accept(&listener)
    );
    let (client, (_server, from)) = (client.unwrap(), accepted.unwrap());
    assert_eq!(client.local_addr().unwrap().port(), port);
    assert_eq!(from.port(), port);
}

async fn binding_a_listening_port_is_addr_in_use_and_binding_twice_invalid<N: TestNet>(net: N) {
    let listener = net.bind(0).await.unwrap();
    let taken = N::listener_addr(&listener);
    let socket = net.server_socket().await.unwrap();
    assert_eq!(socket.bind(taken).unwrap_err().kind(), ErrorKind::AddrInUse);
    socket.bind(SocketAddr::new(net.server_ip(), 0)).unwrap();
    let again = socket
        .bind(SocketAddr::new(net.server_ip(), 0))
        .unwrap_err();
    assert_eq!(again.kind(), ErrorKind::InvalidInput);
}

async fn listen_without_bind_takes_an_ephemeral_port<N: TestNet>(net: N) {
    let socket = net.server_socket().await.unwrap();
    let listener = socket.listen(16).unwrap();
    let local = N::listener_addr(&listener);
    assert!(local.ip().is_unspecified() && local.port() != 0, "{local}");
    let addr = SocketAddr::new(net.server_ip(), local.port());
    let (client, accepted) = tokio::join!(net.connect(addr), N::accept(&listener));
    client.unwrap();
    accepted.unwrap();
}

async fn a_small_send_buffer_makes_a_writer_block_sooner<N: TestNet>(net: N) {
    let listener = net.bind(0).await.unwrap();
    let socket = net.client_socket().await.unwrap();
    socket.set_send_buffer_size(16 * 1024).unwrap();
    let (client, accepted) = tokio::join!(
        socket.connect(N::listener_addr(&listener)),
        N::accept(&listener)
    );
    let (mut client, _server) = (client.unwrap(), accepted.unwrap());
    let chunk = vec![3u8; 16 * 1024];
    let mut written = 0usize;
    while let Ok(n) = tokio::time::timeout(Duration::from_millis(200), client.write(&chunk)).await {
        written += n.unwrap();
        assert!(written < 64 * 1024 * 1024, "never blocked");
    }
    // Send buffer (32 KiB) plus the peer's receive buffer (128 KiB) and
    // the kernel's slack: far below the 4 MiB of the default.
    assert!((32 * 1024..1024 * 1024).contains(&written), "{written}");
}

async fn a_full_backlog_holds_a_connection_until_an_accept_makes_room<N: TestNet>(net: N) {
    // Linux queues backlog + 1 connections, then drops further SYNs; the
    // client retransmits after 1 s. Timing: "held" means not connected
    // within 500 ms; the retransmission lands within a few seconds.
    let socket = net.server_socket().await.unwrap();
    socket.bind(SocketAddr::new(net.server_ip(), 0)).unwrap();
    let listener = socket.listen(1).unwrap();
    let addr = N::listener_addr(&listener);
    let first = net.connect(addr).await.unwrap();
    let second = net.connect(addr).await.unwrap();
    let late = net.clone();
    let mut third = net.spawn(async move { late.connect(addr).await });
    let held = tokio::time::timeout(Duration::from_millis(500), &mut third).await;
    assert!(
        held.is_err(),
        "a connection beyond the backlog completed at once"
    );
    let (accepted, _) = N::accept(&listener).await.unwrap();
    let third = tokio::time::timeout(Duration::from_secs(10), third)
        .await
        .expect("the retransmitted SYN got in")
        .unwrap()
        .expect("connected, not refused");
    drop((first, second, third, accepted));
}

async fn a_zero_linger_set_on_the_socket_resets_the_connection_on_drop<N: TestNet>(net: N) {
    let listener = net.bind(0).await.unwrap();
    let socket = net.client_socket().await.unwrap();
    socket.set_zero_linger().unwrap();
    let (client, accepted) = tokio::join!(
        socket.connect(N::listener_addr(&listener)),
        N::accept(&listener)
    );
    let (client, (mut server, _)) = (client.unwrap(), accepted.unwrap());
    assert_eq!(client.linger().unwrap(), Some(Duration::ZERO));
    drop(client);
    let mut buf = [0u8; 4];
    let error = tokio::io::AsyncReadExt::read(&mut server, &mut buf)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ConnectionReset);
}
