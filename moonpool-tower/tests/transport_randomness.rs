//! Where a transport's randomness comes from: by default the operating
//! system's entropy, so two nodes, or two runs of one node, never draw the
//! same reply tokens or connection ids; with the builder's `seed` or `rng`,
//! that seed, so a test can draw the same ones every run.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod peer_support;

use std::time::Duration;

use futures_util::StreamExt;
use moonpool_codec::{PacketCodec, Uid};
use moonpool_tower::peer::{HANDSHAKE_TOKEN, Outgoing};
use moonpool_tower::transport::{Transport, TransportBuilder};
use peer_support::{MemoryNet, addr, packet};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio_util::codec::FramedRead;

const WITHIN: Duration = Duration::from_secs(10);
const TOKENS: usize = 8;

fn tokens(transport: &Transport) -> Vec<Uid> {
    (0..TOKENS)
        .map(|_| transport.router().new_token())
        .collect()
}

/// The connection id in the handshake of the first connection `builder`'s
/// transport opens (payload bytes 8..16, `docs/wire-format.md`).
async fn first_connection_id(net: &MemoryNet, builder: TransportBuilder) -> u64 {
    let address = addr("10.0.0.1:1");
    let mut incoming = Box::pin(net.listen(address));
    let transport = builder.build().unwrap();
    let mut peer = transport.peer(address.into());
    peer.send(Outgoing::reliable(packet(1))).await.unwrap();
    let (stream, _) = incoming.next().await.unwrap().unwrap();
    let handshake =
        tokio::time::timeout(WITHIN, FramedRead::new(stream, PacketCodec::new()).next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    assert_eq!(handshake.token, HANDSHAKE_TOKEN);
    net.unlisten(address);
    transport.shutdown().await;
    u64::from_le_bytes(handshake.payload[8..16].try_into().unwrap())
}

#[tokio::test]
async fn transports_built_without_a_seed_draw_different_reply_tokens() {
    let first = Transport::builder(MemoryNet::default().connector())
        .build()
        .unwrap();
    let restarted = Transport::builder(MemoryNet::default().connector())
        .build()
        .unwrap();
    let (first_tokens, restarted_tokens) = (tokens(&first), tokens(&restarted));
    assert!(
        first_tokens.iter().all(|t| !restarted_tokens.contains(t)),
        "a token drawn twice: {first_tokens:?} / {restarted_tokens:?}"
    );
}

#[tokio::test]
async fn transports_built_without_a_seed_draw_different_connection_ids() {
    let net = MemoryNet::default();
    let first = first_connection_id(&net, Transport::builder(net.connector())).await;
    let restarted = first_connection_id(&net, Transport::builder(net.connector())).await;
    assert_ne!(first, restarted);
}

#[tokio::test]
async fn transports_built_with_the_same_seed_draw_the_same_tokens_and_connection_ids() {
    let net = MemoryNet::default();
    let seeded = || Transport::builder(net.connector()).seed(7);
    let with_rng = || Transport::builder(net.connector()).rng(StdRng::seed_from_u64(7));
    assert_eq!(
        tokens(&seeded().build().unwrap()),
        tokens(&with_rng().build().unwrap()),
    );
    assert_eq!(
        first_connection_id(&net, seeded()).await,
        first_connection_id(&net, with_rng()).await,
    );
    assert_ne!(
        tokens(&seeded().build().unwrap()),
        tokens(&Transport::builder(net.connector()).seed(8).build().unwrap()),
        "another seed, other tokens"
    );
}
