//! The seams other crates use without depending on the simulator: a
//! `tower::MakeConnection<SocketAddr>` and a `Stream` of accepted connections.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use futures_core::Stream;
use futures_util::StreamExt;
use moonpool_sim_net::{Sim, SimConnector, SimTcpListener, spawn};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tower::make::MakeConnection;

use crate::ip;

/// A library's accept loop, generic over the accept stream.
async fn serve<S, IO>(mut incoming: S) -> io::Result<()>
where
    S: Stream<Item = io::Result<(IO, SocketAddr)>> + Unpin,
    IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    while let Some(accepted) = incoming.next().await {
        let (mut stream, _peer) = accepted?;
        spawn(async move {
            let mut buf = [0u8; 5];
            if stream.read_exact(&mut buf).await.is_ok() {
                let _ = stream.write_all(&buf).await;
            }
        });
    }
    Ok(())
}

/// A library's client, generic over the connector.
async fn ask<M>(mut connector: M, addr: SocketAddr) -> io::Result<[u8; 5]>
where
    M: MakeConnection<SocketAddr>,
    M::Connection: Unpin,
    M::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut stream = connector
        .make_connection(addr)
        .await
        .map_err(io::Error::other)?;
    stream.write_all(b"hello").await?;
    let mut buf = [0u8; 5];
    stream.read_exact(&mut buf).await?;
    Ok(buf)
}

#[test]
fn generic_connector_and_accept_stream_code_runs_on_the_simulator() {
    Sim::new(41)
        .host("server", ip(1), || async {
            serve(SimTcpListener::bind("0.0.0.0:4000").await?.into_stream()).await
        })
        .workload("client", ip(2), async {
            let reply = ask(SimConnector::new(), SocketAddr::from((ip(1), 4000))).await?;
            assert_eq!(&reply, b"hello");
            Ok::<(), io::Error>(())
        })
        .run(Duration::from_secs(10))
        .unwrap();
}

#[test]
fn public_types_have_the_promised_auto_traits() {
    fn stream<T: AsyncRead + AsyncWrite + Send + Sync + Unpin + 'static>() {}
    fn shared<T: Clone + Send + Sync + 'static>() {}
    fn send<T: Send + 'static>() {}
    fn connector<M: MakeConnection<SocketAddr, Connection = moonpool_sim_net::SimTcpStream>>() {}
    fn incoming<S: Stream<Item = io::Result<(moonpool_sim_net::SimTcpStream, SocketAddr)>>>() {}
    stream::<moonpool_sim_net::SimTcpStream>();
    shared::<moonpool_sim_net::SimHandle>();
    shared::<moonpool_sim_net::HostHandle>();
    shared::<SimConnector>();
    send::<moonpool_sim_net::SimTcpListener>();
    send::<moonpool_sim_net::SimIncoming>();
    send::<moonpool_sim_net::ConnectFuture>();
    send::<moonpool_sim_net::SimError>();
    send::<moonpool_sim_net::Sim>();
    connector::<SimConnector>();
    incoming::<moonpool_sim_net::SimIncoming>();
}

#[test]
fn a_connector_made_in_a_host_connects_from_it_whichever_task_calls_it() {
    Sim::new(42)
        .host("server", ip(1), || async {
            serve(SimTcpListener::bind("0.0.0.0:4000").await?.into_stream()).await
        })
        .workload("client", ip(2), async {
            let connector = SimConnector::new();
            // A plain tokio task (a tower Buffer worker, say) belongs to no host.
            let escaped = tokio::spawn(async move {
                let mut connector = connector;
                let stream =
                    tower::ServiceExt::oneshot(&mut connector, SocketAddr::from((ip(1), 4000)))
                        .await
                        .unwrap();
                stream.local_addr().unwrap()
            });
            assert_eq!(escaped.await.unwrap().ip(), ip(2));
            Ok::<(), io::Error>(())
        })
        .run(Duration::from_secs(10))
        .unwrap();
}
