//! The test vectors of docs/wire-format.md, read from the document itself.

use bytes::BytesMut;
use moonpool_codec::{Packet, PacketCodec, Uid, frame_checksum};
use tokio_util::codec::Decoder;

const WIRE_FORMAT: &str = include_str!("../../../docs/wire-format.md");

/// One ```text block of the "Test vectors" section: its fields in order.
struct Vector {
    fields: Vec<(String, String)>,
}

impl Vector {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    fn hex(&self, name: &str) -> Vec<u8> {
        let value = self.field(name).unwrap();
        if value == "(empty)" {
            return Vec::new();
        }
        let digits: String = value.chars().filter(|c| !c.is_whitespace()).collect();
        assert!(
            digits.len().is_multiple_of(2),
            "odd hex digits in {name}: {value}"
        );
        (0..digits.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).unwrap())
            .collect()
    }

    fn number(&self, name: &str) -> u64 {
        let value = self.field(name).unwrap();
        u64::from_str_radix(value.trim_start_matches("0x"), 16).unwrap()
    }
}

fn vectors() -> Vec<Vector> {
    let (_, section) = WIRE_FORMAT
        .split_once("## Test vectors")
        .expect("the document has a test vector section");
    let mut vectors = Vec::new();
    let mut blocks = section.split("```");
    // Odd pieces are inside fences.
    blocks.next();
    while let (Some(block), _) = (blocks.next(), blocks.next()) {
        let Some(body) = block.strip_prefix("text\n") else {
            continue;
        };
        let mut fields: Vec<(String, String)> = Vec::new();
        for line in body.lines().filter(|line| !line.trim().is_empty()) {
            if line.starts_with(' ') {
                let last = fields.last_mut().expect("a continuation follows a field");
                last.1.push(' ');
                last.1.push_str(line.trim());
            } else {
                let (key, value) = line.split_once(' ').unwrap_or((line, ""));
                fields.push((key.to_owned(), value.trim().to_owned()));
            }
        }
        vectors.push(Vector { fields });
    }
    vectors
}

fn valid_vectors() -> Vec<Vector> {
    vectors()
        .into_iter()
        .filter(|v| v.field("error").is_none())
        .collect()
}

fn invalid_vectors() -> Vec<Vector> {
    vectors()
        .into_iter()
        .filter(|v| v.field("error").is_some())
        .collect()
}

#[test]
fn the_document_has_at_least_three_valid_and_three_invalid_vectors() {
    assert!(valid_vectors().len() >= 3);
    assert!(invalid_vectors().len() >= 3);
}

#[test]
fn every_valid_vector_decodes_to_its_token_and_payload() {
    for vector in valid_vectors() {
        let token = Uid::new(vector.number("token.first"), vector.number("token.second"));
        let payload = vector.hex("payload");
        let mut buf = BytesMut::from(&vector.hex("frame")[..]);

        let packet = PacketCodec::new()
            .decode_eof(&mut buf)
            .unwrap()
            .expect("a whole frame");

        assert_eq!(packet.token, token);
        assert_eq!(packet.payload, payload);
        assert!(buf.is_empty(), "the frame is consumed whole");
    }
}

#[test]
fn every_valid_vector_is_encoded_byte_for_byte() {
    for vector in valid_vectors() {
        let token = Uid::new(vector.number("token.first"), vector.number("token.second"));
        let packet = Packet::new(token, vector.hex("payload"));
        let mut buf = BytesMut::new();

        PacketCodec::new().encode_packet(&packet, &mut buf).unwrap();

        assert_eq!(&buf[..], &vector.hex("frame")[..], "{token}");
    }
}

#[test]
fn every_valid_vector_carries_the_documented_checksum() {
    for vector in valid_vectors() {
        let token = Uid::new(vector.number("token.first"), vector.number("token.second"));
        let checksum = vector.number("checksum") as u32;

        assert_eq!(frame_checksum(token, &vector.hex("payload")), checksum);
        assert_eq!(&vector.hex("frame")[4..8], &checksum.to_le_bytes());
    }
}

#[test]
fn every_invalid_vector_is_the_documented_error() {
    for vector in invalid_vectors() {
        let mut buf = BytesMut::from(&vector.hex("frame")[..]);

        let error = PacketCodec::new().decode_eof(&mut buf).unwrap_err();

        assert_eq!(format!("{error:?}"), vector.field("error").unwrap());
    }
}
