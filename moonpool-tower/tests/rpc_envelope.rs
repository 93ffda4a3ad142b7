//! The RPC envelope against the test vectors of `docs/wire-format.md`
//! ("RPC test vectors"), read from the document itself.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::Bytes;
use moonpool_codec::Uid;
use moonpool_tower::rpc::ApplicationError;
use moonpool_tower::rpc::envelope::{Reply, decode_not_found, encode_not_found, split_request};

const WIRE_FORMAT: &str = include_str!("../../docs/wire-format.md");

/// One ```hex block: its fields in order.
struct Vector(Vec<(String, String)>);

impl Vector {
    fn field(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .unwrap_or_else(|| panic!("vector has no {name}"))
    }

    fn hex(&self, name: &str) -> Vec<u8> {
        let digits: String = self.field(name).split_whitespace().collect();
        (0..digits.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).unwrap())
            .collect()
    }

    fn token(&self, name: &str) -> Uid {
        let halves: Vec<u64> = self
            .field(name)
            .split_whitespace()
            .map(|half| u64::from_str_radix(half.trim_start_matches("0x"), 16).unwrap())
            .collect();
        Uid::new(halves[0], halves[1])
    }
}

fn vectors() -> Vec<Vector> {
    let (_, section) = WIRE_FORMAT
        .split_once("### RPC test vectors")
        .expect("the document has the RPC test vectors");
    let mut vectors = Vec::new();
    let mut blocks = section.split("```");
    blocks.next();
    while let (Some(block), _) = (blocks.next(), blocks.next()) {
        let Some(body) = block.strip_prefix("hex\n") else {
            continue;
        };
        let fields = body
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| {
                let (key, value) = line.split_once(' ').unwrap();
                (key.to_owned(), value.trim().to_owned())
            })
            .collect();
        vectors.push(Vector(fields));
    }
    vectors
}

#[test]
fn every_documented_vector_encodes_and_decodes_byte_for_byte() {
    let vectors = vectors();
    assert_eq!(vectors.len(), 6, "R1..R6");
    for vector in vectors {
        let payload = Bytes::from(vector.hex("payload"));
        let kind = vector.field("kind");
        match kind {
            "request" => {
                let (token, message) = split_request(payload).unwrap();
                assert_eq!(token, vector.token("reply_token"));
                assert_eq!(&message[..], &vector.hex("message")[..]);
            }
            "not_found" => {
                let token = vector.token("token");
                assert_eq!(decode_not_found(&payload), Some(token));
                assert_eq!(encode_not_found(token), payload);
            }
            _ => {
                let reply = match kind {
                    "ok" => Reply::Ok(Bytes::from(vector.hex("message"))),
                    "error" => Reply::Error(ApplicationError {
                        code: vector.field("code").parse().unwrap(),
                        message: String::from_utf8(vector.hex("message")).unwrap(),
                    }),
                    "broken_promise" => Reply::BrokenPromise,
                    "bad_request" => {
                        Reply::BadRequest(String::from_utf8(vector.hex("message")).unwrap())
                    }
                    other => panic!("unknown vector kind {other}"),
                };
                assert_eq!(reply.encode(), payload, "{kind}");
                assert_eq!(Reply::decode(payload), Ok(reply), "{kind}");
            }
        }
    }
}
