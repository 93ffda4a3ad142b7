//! Unchanged third-party code replays with the seed: a hyper server (whose
//! `Date` header reads the wall clock) answers byte for byte the same, and
//! `uuid`'s v4 ids (OS randomness through the `getrandom` crate) repeat,
//! for the same seed in this process and in a new one; another seed gives
//! other dates and ids.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::convert::Infallible;
use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use moonpool_sim_net::{Sim, SimTcpListener, SimTcpStream, spawn};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

/// A stock hyper server: every response carries hyper's own `Date` header
/// and a v4 UUID drawn from OS randomness.
async fn server() -> std::io::Result<()> {
    let listener = SimTcpListener::bind((Ipv4Addr::UNSPECIFIED, 80)).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        spawn(async move {
            let service = service_fn(|_request: Request<hyper::body::Incoming>| async {
                let body = format!("request id {}\n", uuid::Uuid::new_v4());
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Two requests, a simulated second apart; returns the raw response bytes.
async fn client(seen: Arc<Mutex<Vec<u8>>>) -> std::io::Result<()> {
    let mut stream = SimTcpStream::connect((SERVER, 80)).await?;
    for _ in 0..2 {
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: server\r\n\r\n")
            .await?;
        let mut response = Vec::new();
        while !is_complete(&response) {
            let mut buf = [0u8; 1024];
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            response.extend_from_slice(&buf[..n]);
        }
        seen.lock().unwrap().extend_from_slice(&response);
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Ok(())
}

/// A response is complete once its body (`content-length` bytes) is in.
fn is_complete(response: &[u8]) -> bool {
    let text = String::from_utf8_lossy(response);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    let length = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length: "))
        .and_then(|value| value.trim().parse::<usize>().ok());
    length.is_some_and(|length| body.len() >= length)
}

fn responses(seed: u64) -> String {
    let seen = Arc::new(Mutex::new(Vec::new()));
    Sim::new(seed)
        .host("server", SERVER, server)
        .workload("client", CLIENT, client(Arc::clone(&seen)))
        .run(Duration::from_secs(30))
        .unwrap();
    let bytes = seen.lock().unwrap().clone();
    String::from_utf8(bytes).unwrap()
}

const SEED_VAR: &str = "MOONPOOL_TEST_HYPER_SEED";

/// Entry point of the new processes of [`hyper_replays_in_a_new_process`]
/// (which sets the seed); run directly, it serves seed 5.
#[test]
#[ignore = "run by hyper_replays_in_a_new_process in a process of its own"]
fn hyper_entry_point() {
    let seed = std::env::var(SEED_VAR).map_or(5, |seed| seed.parse().unwrap());
    for line in responses(seed).lines() {
        println!("| {line}");
    }
}

fn responses_in_a_new_process(seed: u64) -> String {
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "hyper_entry_point",
            "--exact",
            "--include-ignored",
            "--nocapture",
        ])
        .env(SEED_VAR, seed.to_string())
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter_map(|line| line.strip_prefix("| "))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn hyper_answers_byte_for_byte_the_same_for_the_same_seed() {
    let first = responses(5);
    assert!(first.starts_with("HTTP/1.1 200 OK"), "{first}");
    assert!(
        first.contains("date: "),
        "hyper stamps a Date header: {first}"
    );
    assert!(first.contains("request id "), "{first}");
    assert_eq!(responses(5), first);
    let other = responses(6);
    let header = |text: &str, name: &str| {
        text.lines()
            .find(|line| line.starts_with(name))
            .unwrap()
            .to_owned()
    };
    assert_ne!(header(&other, "date: "), header(&first, "date: "));
    assert_ne!(header(&other, "request id"), header(&first, "request id"));
}

#[test]
fn hyper_replays_in_a_new_process() {
    let first = responses_in_a_new_process(5);
    assert!(first.contains("date: "), "{first}");
    assert_eq!(responses_in_a_new_process(5), first);
    let here = responses(5);
    assert_eq!(first, here.lines().collect::<Vec<_>>().join("\n"));
}
