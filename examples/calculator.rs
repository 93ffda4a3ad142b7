//! A multi-method interface, served two ways, called through tower layers.
//!
//! ```text
//! cargo run -p examples --example calculator
//! ```
//!
//! `interface!` declares the `calculator` interface once. One server is an
//! actor (a `select!` over the interface's request streams), the other
//! registers a tower service per method; the client calls both through
//! `Timeout` and `ConcurrencyLimit`, and sees division by zero come back as
//! the server's application error.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::convert::Infallible;
use std::time::Duration;

use moonpool_codec::{Endpoint, Uid};
use moonpool_tower::interface;
use moonpool_tower::net::{TcpConnector, TcpIncoming};
use moonpool_tower::rpc::{ApplicationError, RpcError};
use moonpool_tower::transport::Transport;
use tower::{BoxError, ServiceBuilder, ServiceExt};

/// Two operands.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Operands {
    /// Left operand.
    #[prost(int64, tag = "1")]
    pub a: i64,
    /// Right operand.
    #[prost(int64, tag = "2")]
    pub b: i64,
}

/// A result.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Value {
    /// The value.
    #[prost(int64, tag = "1")]
    pub value: i64,
}

interface! {
    /// Integer arithmetic.
    pub mod calculator {
        /// `a + b`.
        add(Operands) -> Value = 0;
        /// `a - b`.
        sub(Operands) -> Value = 1;
        /// `a * b`.
        mul(Operands) -> Value = 2;
        /// `a / b`; dividing by zero is application error 1.
        div(Operands) -> Value = 3;
    }
}

/// The interface's base token on both servers.
const CALCULATOR: Uid = Uid::new(0xca1c, 0);

/// The application error code for division by zero.
const DIVISION_BY_ZERO: u32 = 1;

fn divide(Operands { a, b }: Operands) -> Result<Value, ApplicationError> {
    a.checked_div(b)
        .map(|value| Value { value })
        .ok_or_else(|| ApplicationError::new(DIVISION_BY_ZERO, format!("{a} / {b}")))
}

/// The actor-style server: one loop over four request streams.
async fn actor_server(transport: Transport) {
    let mut methods =
        calculator::Streams::register(transport.router(), CALCULATOR).expect("tokens are free");
    loop {
        tokio::select! {
            biased;
            Some((ops, reply)) = methods.add.recv() => reply.send(Value { value: ops.a + ops.b }),
            Some((ops, reply)) = methods.sub.recv() => reply.send(Value { value: ops.a - ops.b }),
            Some((ops, reply)) = methods.mul.recv() => reply.send(Value { value: ops.a * ops.b }),
            Some((ops, reply)) = methods.div.recv() => match divide(ops) {
                Ok(value) => reply.send(value),
                Err(error) => reply.send_error(error),
            },
            else => break,
        }
    }
}

/// The tower-style server: one service per method.
fn register_services(transport: &Transport) -> Result<(), BoxError> {
    let op = |f: fn(i64, i64) -> i64| {
        tower::service_fn(move |ops: Operands| async move {
            Ok::<_, Infallible>(Value {
                value: f(ops.a, ops.b),
            })
        })
    };
    calculator::Services::new(transport.router(), CALCULATOR)
        .add(op(|a, b| a + b))?
        .sub(op(|a, b| a - b))?
        .mul(op(|a, b| a * b))?
        .div(tower::service_fn(
            |ops: Operands| async move { divide(ops) },
        ))?;
    Ok(())
}

async fn listen() -> Result<(Transport, Endpoint), BoxError> {
    let incoming = TcpIncoming::bind("127.0.0.1:0".parse()?).await?;
    let address = incoming.local_addr()?.into();
    let transport = Transport::builder(TcpConnector::new())
        .listen(address, incoming)
        .build()?;
    Ok((transport, Endpoint::new(address, CALCULATOR)))
}

async fn exercise(name: &str, client: &Transport, base: Endpoint) -> Result<(), BoxError> {
    let methods = calculator::Client::new(client, base);
    // Each method is a tower service: wrap it like any other.
    let layered = |service| {
        ServiceBuilder::new()
            .timeout(Duration::from_secs(2))
            .concurrency_limit(16)
            .service(service)
    };
    let ops = Operands { a: 84, b: 2 };
    let add = layered(methods.add.clone()).oneshot(ops.clone()).await?;
    let sub = layered(methods.sub.clone()).oneshot(ops.clone()).await?;
    let mul = layered(methods.mul.clone()).oneshot(ops.clone()).await?;
    let div = layered(methods.div.clone()).oneshot(ops.clone()).await?;
    println!(
        "{name}: 84+2={} 84-2={} 84*2={} 84/2={}",
        add.value, sub.value, mul.value, div.value
    );
    assert_eq!(
        (add.value, sub.value, mul.value, div.value),
        (86, 82, 168, 42)
    );

    let by_zero = methods.div.get_reply(Operands { a: 1, b: 0 }).await;
    match by_zero {
        Err(RpcError::Application(error)) if error.code == DIVISION_BY_ZERO => {
            println!(
                "{name}: 1/0 -> application error {}: {}",
                error.code, error.message
            );
        }
        other => return Err(format!("expected division by zero, got {other:?}").into()),
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    let (actors, actor_base) = listen().await?;
    tokio::spawn(actor_server(actors.clone()));
    let (services, service_base) = listen().await?;
    register_services(&services)?;

    let client = Transport::builder(TcpConnector::new()).build()?;
    exercise("actor server", &client, actor_base).await?;
    exercise("tower server", &client, service_base).await?;

    client.shutdown().await;
    actors.shutdown().await;
    services.shutdown().await;
    Ok(())
}
