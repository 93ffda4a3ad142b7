//! `EndpointNotFound`: which packets draw the notice, and whose notice
//! fails which calls. Real loopback TCP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod node_support;

use std::convert::Infallible;

use moonpool_codec::{Endpoint, Packet, Uid, WellKnownToken};
use moonpool_tower::actor::RequestStream;
use moonpool_tower::peer::Outgoing;
use moonpool_tower::rpc::envelope::encode_not_found;
use moonpool_tower::rpc::{RpcClient, RpcError};
use node_support::{tcp_client as not_listening, tcp_server as listening, within};

#[derive(Clone, PartialEq, prost::Message)]
struct Num {
    #[prost(int64, tag = "1")]
    value: i64,
}

/// An application's well-known token: easy to guess from outside.
const GUESSABLE: Uid = Uid::well_known(64);
const ECHO: Uid = Uid::new(0xec40, 1);
const SLOW: Uid = Uid::new(0x510, 1);

fn echo()
-> impl tower::Service<Num, Response = Num, Error = Infallible, Future: Send> + Clone + Send {
    tower::service_fn(|n: Num| async move { Ok::<_, Infallible>(n) })
}

#[tokio::test]
async fn a_notice_from_a_client_without_an_address_fails_no_call() {
    // `far` serves GUESSABLE slowly: its loop has not read the request yet.
    let (far, far_address) = listening(1).await;
    let mut slow: RequestStream<Num, Num> = far.router().request_stream(GUESSABLE).unwrap();
    // `victim` listens, serves ECHO, and has a call pending at `far`.
    let (victim, victim_address) = listening(2).await;
    victim.router().serve(ECHO, echo()).unwrap();
    let pending = RpcClient::<Num, Num>::new(&victim, Endpoint::new(far_address, GUESSABLE));
    let call = tokio::spawn(pending.get_reply(Num { value: 4 }));
    let (request, reply) = within(slow.recv()).await.unwrap();

    // A client that does not listen claims that GUESSABLE is not found...
    let anonymous = not_listening(3);
    let mut to_victim = anonymous.peer(victim_address);
    to_victim
        .send(Outgoing::unreliable(Packet::new(
            WellKnownToken::EndpointNotFound.uid(),
            encode_not_found(GUESSABLE),
        )))
        .await
        .unwrap();
    // ...then calls the victim on the same connection: once this answer is
    // back, the victim has handled the notice before it.
    let echo = RpcClient::<Num, Num>::new(&anonymous, Endpoint::new(victim_address, ECHO));
    assert_eq!(
        within(echo.get_reply(Num { value: 5 }))
            .await
            .unwrap()
            .value,
        5
    );

    assert!(!call.is_finished(), "the anonymous notice failed a call");
    assert_eq!(victim.router().pending_replies(), 1);
    reply.send(Num {
        value: request.value * 10,
    });
    assert_eq!(within(call).await.unwrap().unwrap().value, 40);
}

#[tokio::test]
async fn a_notice_fails_only_the_calls_addressed_to_its_sender() {
    // Two servers; SLOW is served slowly at `a`, not at all at `b`.
    let (a, a_address) = listening(4).await;
    let mut slow: RequestStream<Num, Num> = a.router().request_stream(SLOW).unwrap();
    let (_b, b_address) = listening(5).await;
    let client = not_listening(6);
    let at_a = RpcClient::<Num, Num>::new(&client, Endpoint::new(a_address, SLOW));
    let at_b = RpcClient::<Num, Num>::new(&client, Endpoint::new(b_address, SLOW));

    let call_a = tokio::spawn(at_a.get_reply(Num { value: 1 }));
    let (request, reply) = within(slow.recv()).await.unwrap();
    // `b`'s notice fails the call to `b`...
    assert!(matches!(
        within(at_b.get_reply(Num { value: 2 })).await,
        Err(RpcError::EndpointNotFound { endpoint }) if endpoint.address == b_address
    ));
    // ...and leaves the call to the same token at `a` alone.
    assert!(!call_a.is_finished());
    reply.send(Num {
        value: request.value + 1,
    });
    assert_eq!(within(call_a).await.unwrap().unwrap().value, 2);
}

#[tokio::test]
async fn a_call_to_an_unregistered_application_well_known_token_resolves_endpoint_not_found() {
    // The server listens before it serves: a call arriving in between.
    let (server, address) = listening(7).await;
    let client = not_listening(8);
    let rpc = RpcClient::<Num, Num>::new(&client, Endpoint::new(address, GUESSABLE));
    assert!(matches!(
        within(rpc.get_reply(Num { value: 1 })).await,
        Err(RpcError::EndpointNotFound { endpoint }) if endpoint.token == GUESSABLE
    ));
    // Once registered, the same call is served.
    server.router().serve(GUESSABLE, echo()).unwrap();
    assert_eq!(
        within(rpc.get_reply(Num { value: 2 })).await.unwrap().value,
        2
    );
}

#[tokio::test]
async fn a_local_call_to_an_unregistered_application_well_known_token_resolves_endpoint_not_found()
{
    let (node, address) = listening(9).await;
    let rpc = RpcClient::<Num, Num>::new(&node, Endpoint::new(address, GUESSABLE));
    assert!(rpc.is_local());
    assert!(matches!(
        within(rpc.try_get_reply(Num { value: 1 })).await,
        Err(RpcError::EndpointNotFound { .. })
    ));
    assert_eq!(node.router().pending_replies(), 0);
}

#[tokio::test]
async fn a_call_to_a_reserved_token_fails_at_once_without_being_sent() {
    // Nodes drop packets for moonpool's own tokens without a notice, so a
    // call there could only wait forever: the client refuses it up front.
    let (server, address) = listening(10).await;
    let client = not_listening(11);
    for index in [0, 1, 3, WellKnownToken::RESERVED - 1] {
        let target = Endpoint::new(address, Uid::well_known(index));
        let rpc = RpcClient::<Num, Num>::new(&client, target);
        assert!(matches!(
            within(rpc.get_reply(Num { value: 1 })).await,
            Err(RpcError::EndpointNotFound { endpoint }) if endpoint == target
        ));
    }
    assert_eq!(client.router().pending_replies(), 0);
    assert_eq!(client.peer(address).metrics().packets_sent, 0);
    drop(server);
}
