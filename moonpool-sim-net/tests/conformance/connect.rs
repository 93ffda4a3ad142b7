//! Connecting and listening: refused, address in use, ephemeral ports,
//! listener drop, addresses.

use std::io::ErrorKind;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::{StreamApi, TestNet, conformance};

conformance!(
    connect_to_a_port_nobody_listens_on_is_refused,
    bind_to_a_port_in_use_is_addr_in_use,
    port_zero_binds_an_ephemeral_port,
    dropping_a_listener_keeps_accepted_connections_and_refuses_new_ones,
    local_and_peer_addrs_are_concrete_and_symmetric,
    nodelay_is_off_by_default_and_reads_back_what_was_set,
);

async fn connect_to_a_port_nobody_listens_on_is_refused<N: TestNet>(net: N) {
    let listener = net.bind(0).await.unwrap();
    let addr = N::listener_addr(&listener);
    drop(listener);
    let error = net.connect(addr).await.expect_err("connect must fail");
    assert_eq!(error.kind(), ErrorKind::ConnectionRefused);
}

async fn bind_to_a_port_in_use_is_addr_in_use<N: TestNet>(net: N) {
    let listener = net.bind(0).await.unwrap();
    let port = N::listener_addr(&listener).port();
    let error = net.bind(port).await.expect_err("second bind must fail");
    assert_eq!(error.kind(), ErrorKind::AddrInUse);
}

async fn port_zero_binds_an_ephemeral_port<N: TestNet>(net: N) {
    let listener = net.bind(0).await.unwrap();
    let port = N::listener_addr(&listener).port();
    assert_ne!(port, 0);
    // The kernel's ephemeral range is a sysctl (32768..=60999 on Linux by
    // default); the simulator uses the IANA range of NetConfig's default.
    if net.is_simulated() {
        assert!((49152..=65535).contains(&port), "port {port}");
    }
    let (client, _server) = net.pair().await;
    assert_ne!(client.local_addr().unwrap().port(), 0);
}

async fn dropping_a_listener_keeps_accepted_connections_and_refuses_new_ones<N: TestNet>(net: N) {
    let listener = net.bind(0).await.unwrap();
    let addr = N::listener_addr(&listener);
    let (client, accepted) = tokio::join!(net.connect(addr), N::accept(&listener));
    let (mut client, mut server) = (client.unwrap(), accepted.unwrap().0);
    drop(listener);
    client.write_all(b"still here").await.unwrap();
    let mut buf = [0u8; 10];
    server.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"still here");
    server.write_all(b"ok").await.unwrap();
    let mut reply = [0u8; 2];
    client.read_exact(&mut reply).await.unwrap();
    assert_eq!(&reply, b"ok");
    let error = net.connect(addr).await.expect_err("the listener is gone");
    assert_eq!(error.kind(), ErrorKind::ConnectionRefused);
}

async fn local_and_peer_addrs_are_concrete_and_symmetric<N: TestNet>(net: N) {
    let listener = net.bind(0).await.unwrap();
    let addr = N::listener_addr(&listener);
    let (client, accepted) = tokio::join!(net.connect(addr), N::accept(&listener));
    let (client, (server, accepted_from)) = (client.unwrap(), accepted.unwrap());
    assert_eq!(client.local_addr().unwrap(), server.peer_addr().unwrap());
    assert_eq!(client.peer_addr().unwrap(), server.local_addr().unwrap());
    assert_eq!(client.peer_addr().unwrap(), addr);
    assert_eq!(accepted_from, client.local_addr().unwrap());
    for a in [client.local_addr().unwrap(), server.local_addr().unwrap()] {
        assert!(
            !a.ip().is_unspecified() && a.port() != 0,
            "{a} is not concrete"
        );
    }
}

async fn nodelay_is_off_by_default_and_reads_back_what_was_set<N: TestNet>(net: N) {
    let (client, server) = net.pair().await;
    assert!(!client.nodelay().unwrap());
    client.set_nodelay(true).unwrap();
    server.set_nodelay(true).unwrap();
    assert!(client.nodelay().unwrap());
    client.set_nodelay(false).unwrap();
    assert!(!client.nodelay().unwrap());
}
