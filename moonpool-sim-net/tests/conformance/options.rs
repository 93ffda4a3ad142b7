//! Socket options and addresses: TTL on streams and listeners, connecting
//! by host name and to several addresses in turn, and the default buffers.

use std::io::ErrorKind;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use crate::harness::{StreamApi, TestNet, conformance};

conformance!(
    ttl_is_64_by_default_and_set_ttl_takes_1_to_255,
    quickack_reads_back_what_was_set,
    a_listener_ttl_is_inherited_by_the_connections_it_accepts,
    connect_by_host_name_reaches_the_listener,
    connect_tries_each_address_in_turn_and_reports_the_last_error,
    a_writer_blocks_after_about_four_mebibytes_with_default_buffers,
);

async fn ttl_is_64_by_default_and_set_ttl_takes_1_to_255<N: TestNet>(net: N) {
    let (client, _server) = net.pair().await;
    assert_eq!(client.ttl().unwrap(), 64);
    client.set_ttl(100).unwrap();
    assert_eq!(client.ttl().unwrap(), 100);
    for bad in [0, 256, 1000] {
        let error = client.set_ttl(bad).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput, "ttl {bad}");
    }
    // -1 through tokio's u32: back to the default.
    client.set_ttl(u32::MAX).unwrap();
    assert_eq!(client.ttl().unwrap(), 64);
}

async fn quickack_reads_back_what_was_set<N: TestNet>(net: N) {
    // The kernel may leave quick-ack mode on its own as traffic flows, so
    // only what was just set is guaranteed.
    let (client, _server) = net.pair().await;
    client.set_quickack(false).unwrap();
    assert!(!client.quickack().unwrap());
    client.set_quickack(true).unwrap();
    assert!(client.quickack().unwrap());
}

async fn a_listener_ttl_is_inherited_by_the_connections_it_accepts<N: TestNet>(net: N) {
    let listener = net.bind(0).await.unwrap();
    assert_eq!(N::listener_ttl(&listener).unwrap(), 64);
    N::set_listener_ttl(&listener, 17).unwrap();
    assert_eq!(N::listener_ttl(&listener).unwrap(), 17);
    assert_eq!(
        N::set_listener_ttl(&listener, 0).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    let addr = N::listener_addr(&listener);
    let (client, accepted) = tokio::join!(net.connect(addr), N::accept(&listener));
    let (client, (server, _)) = (client.unwrap(), accepted.unwrap());
    assert_eq!(server.ttl().unwrap(), 17);
    assert_eq!(client.ttl().unwrap(), 64);
}

async fn connect_by_host_name_reaches_the_listener<N: TestNet>(net: N) {
    let listener = net.bind(0).await.unwrap();
    let port = N::listener_addr(&listener).port();
    let (client, accepted) = tokio::join!(net.connect_by_name(port), N::accept(&listener));
    let (client, (_server, from)) = (client.unwrap(), accepted.unwrap());
    assert_eq!(client.local_addr().unwrap(), from);
    assert_eq!(client.peer_addr().unwrap(), N::listener_addr(&listener));
}

async fn connect_tries_each_address_in_turn_and_reports_the_last_error<N: TestNet>(net: N) {
    let gone = net.bind(0).await.unwrap();
    let refused = N::listener_addr(&gone);
    drop(gone);
    let listener = net.bind(0).await.unwrap();
    let good = N::listener_addr(&listener);
    let (client, accepted) =
        tokio::join!(net.connect_any(vec![refused, good]), N::accept(&listener));
    assert_eq!(client.unwrap().peer_addr().unwrap(), good);
    drop(accepted.unwrap());
    let error = net.connect_any(vec![refused, refused]).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::ConnectionRefused);
    let error = net.connect_any(Vec::new()).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidInput);
}

async fn a_writer_blocks_after_about_four_mebibytes_with_default_buffers<N: TestNet>(net: N) {
    // Kernel figures vary with sysctls and autotuning: on a stock Linux the
    // bound is the send buffer (up to tcp_wmem's 4 MiB) plus the receive
    // buffer (tcp_rmem's 128 KiB); assert the order of magnitude.
    let (mut client, _server) = net.pair().await;
    let chunk = vec![1u8; 64 * 1024];
    let mut written = 0usize;
    while let Ok(n) = tokio::time::timeout(Duration::from_millis(200), client.write(&chunk)).await {
        written += n.unwrap();
        assert!(written < 64 * 1024 * 1024, "never blocked");
    }
    assert!(
        (2 * 1024 * 1024..=12 * 1024 * 1024).contains(&written),
        "blocked after {written} bytes"
    );
}
