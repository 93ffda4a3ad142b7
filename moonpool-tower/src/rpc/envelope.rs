//! The RPC envelope: how a request names its reply token, and how a reply
//! says what it carries. Normative text: `docs/wire-format.md`, section
//! "RPC envelope".
//!
//! ```text
//! request payload  [reply_token.first u64 LE][reply_token.second u64 LE][request bytes]
//! reply payload    [tag u8][body]
//!   tag 0  Ok              body = response bytes
//!   tag 1  Error           body = [code u32 LE][message, UTF-8]
//!   tag 2  BrokenPromise   body = empty
//!   tag 3  BadRequest      body = [message, UTF-8]
//! EndpointNotFound payload [unknown_token.first u64 LE][unknown_token.second u64 LE]
//! ```

use bytes::{BufMut, Bytes, BytesMut};
use moonpool_codec::{PayloadCodec, PayloadError, Uid};

use super::ApplicationError;

/// Length of the reply token that starts every request payload.
pub const REPLY_TOKEN_LEN: usize = 16;

/// Reply tag: the body is the encoded response.
pub const TAG_OK: u8 = 0;
/// Reply tag: the body is an application error (`code`, `message`).
pub const TAG_ERROR: u8 = 1;
/// Reply tag: the server dropped the request unanswered; empty body.
pub const TAG_BROKEN_PROMISE: u8 = 2;
/// Reply tag: the server could not decode the request; the body is its
/// description of why.
pub const TAG_BAD_REQUEST: u8 = 3;

/// Encodes a request payload: the reply token, then `request` through
/// `codec`.
pub fn encode_request<T, C: PayloadCodec<T>>(
    reply_token: Uid,
    codec: &C,
    request: &T,
) -> Result<Bytes, PayloadError> {
    let mut dst = BytesMut::with_capacity(REPLY_TOKEN_LEN + 64);
    dst.put_slice(&reply_token.to_le_bytes());
    codec.encode(request, &mut dst)?;
    Ok(dst.freeze())
}

/// Splits a request payload into its reply token and the request bytes
/// (zero-copy); `None` if it is shorter than the token.
pub fn split_request(mut payload: Bytes) -> Option<(Uid, Bytes)> {
    if payload.len() < REPLY_TOKEN_LEN {
        return None;
    }
    let token = token_from_slice(&payload.split_to(REPLY_TOKEN_LEN))?;
    Some((token, payload))
}

/// A decoded reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// The encoded response (tag 0).
    Ok(Bytes),
    /// An application error (tag 1).
    Error(ApplicationError),
    /// The server dropped the request unanswered (tag 2).
    BrokenPromise,
    /// The server could not decode the request (tag 3).
    BadRequest(String),
}

impl Reply {
    /// Encodes a successful reply: tag 0 then `response` through `codec`.
    pub fn encode_ok<T, C: PayloadCodec<T>>(
        codec: &C,
        response: &T,
    ) -> Result<Bytes, PayloadError> {
        let mut dst = BytesMut::with_capacity(1 + 64);
        dst.put_u8(TAG_OK);
        codec.encode(response, &mut dst)?;
        Ok(dst.freeze())
    }

    /// This reply's payload bytes.
    pub fn encode(&self) -> Bytes {
        match self {
            Self::Ok(body) => {
                let mut dst = BytesMut::with_capacity(1 + body.len());
                dst.put_u8(TAG_OK);
                dst.put_slice(body);
                dst.freeze()
            }
            Self::Error(error) => {
                let mut dst = BytesMut::with_capacity(5 + error.message.len());
                dst.put_u8(TAG_ERROR);
                dst.put_u32_le(error.code);
                dst.put_slice(error.message.as_bytes());
                dst.freeze()
            }
            Self::BrokenPromise => Bytes::from_static(&[TAG_BROKEN_PROMISE]),
            Self::BadRequest(message) => {
                let mut dst = BytesMut::with_capacity(1 + message.len());
                dst.put_u8(TAG_BAD_REQUEST);
                dst.put_slice(message.as_bytes());
                dst.freeze()
            }
        }
    }

    /// Decodes a reply payload (zero-copy for [`Reply::Ok`]); the error says
    /// what is malformed.
    pub fn decode(mut payload: Bytes) -> Result<Self, &'static str> {
        if payload.is_empty() {
            return Err("empty reply payload (no tag)");
        }
        let tag = payload.split_to(1)[0];
        match tag {
            TAG_OK => Ok(Self::Ok(payload)),
            TAG_ERROR => {
                if payload.len() < 4 {
                    return Err("error reply shorter than its 4-byte code");
                }
                let code = payload.split_to(4);
                let code = u32::from_le_bytes([code[0], code[1], code[2], code[3]]);
                let message = utf8(payload, "error message is not UTF-8")?;
                Ok(Self::Error(ApplicationError { code, message }))
            }
            TAG_BROKEN_PROMISE if payload.is_empty() => Ok(Self::BrokenPromise),
            TAG_BROKEN_PROMISE => Err("broken-promise reply with a body"),
            TAG_BAD_REQUEST => Ok(Self::BadRequest(utf8(
                payload,
                "bad-request message is not UTF-8",
            )?)),
            _ => Err("unknown reply tag"),
        }
    }
}

/// The payload of a packet to the well-known `EndpointNotFound` endpoint:
/// the token nobody serves.
pub fn encode_not_found(unknown: Uid) -> Bytes {
    Bytes::copy_from_slice(&unknown.to_le_bytes())
}

/// The unknown token an `EndpointNotFound` payload names; `None` unless it
/// is exactly 16 bytes.
pub fn decode_not_found(payload: &[u8]) -> Option<Uid> {
    if payload.len() != REPLY_TOKEN_LEN {
        return None;
    }
    token_from_slice(payload)
}

fn token_from_slice(bytes: &[u8]) -> Option<Uid> {
    let bytes: [u8; REPLY_TOKEN_LEN] = bytes.try_into().ok()?;
    Some(Uid::from_le_bytes(bytes))
}

fn utf8(bytes: Bytes, reason: &'static str) -> Result<String, &'static str> {
    String::from_utf8(bytes.to_vec()).map_err(|_| reason)
}

#[cfg(test)]
mod tests {
    use super::*;
    use moonpool_codec::ProstCodec;

    #[derive(Clone, PartialEq, prost::Message)]
    struct Ping {
        #[prost(uint64, tag = "1")]
        seq: u64,
    }

    /// The test vectors of `docs/wire-format.md`, "RPC envelope".
    #[test]
    fn request_envelope_matches_the_documented_vector() {
        let token = Uid::new(0x0102_0304_0506_0708, 0x1112_1314_1516_1718);
        let payload = encode_request(token, &ProstCodec::<Ping>::new(), &Ping { seq: 5 }).unwrap();
        let expected: &[u8] = &[
            0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01, // reply_token.first
            0x18, 0x17, 0x16, 0x15, 0x14, 0x13, 0x12, 0x11, // reply_token.second
            0x08, 0x05, // protobuf: field 1 varint 5
        ];
        assert_eq!(&payload[..], expected);
        let (reply_to, body) = split_request(payload).unwrap();
        assert_eq!(reply_to, token);
        assert_eq!(&body[..], &[0x08, 0x05]);
    }

    #[test]
    fn reply_envelopes_match_the_documented_vectors() {
        let ok = Reply::encode_ok(&ProstCodec::<Ping>::new(), &Ping { seq: 5 }).unwrap();
        assert_eq!(&ok[..], &[0x00, 0x08, 0x05]);
        let error = Reply::Error(ApplicationError::new(7, "no")).encode();
        assert_eq!(&error[..], &[0x01, 0x07, 0x00, 0x00, 0x00, b'n', b'o']);
        assert_eq!(&Reply::BrokenPromise.encode()[..], &[0x02]);
        let bad = Reply::BadRequest("x".into()).encode();
        assert_eq!(&bad[..], &[0x03, b'x']);
        for reply in [
            Reply::Ok(Bytes::from_static(&[0x08, 0x05])),
            Reply::Error(ApplicationError::new(7, "no")),
            Reply::BrokenPromise,
            Reply::BadRequest("x".into()),
        ] {
            assert_eq!(Reply::decode(reply.encode()), Ok(reply));
        }
    }

    #[test]
    fn malformed_replies_are_rejected_with_the_reason() {
        for (bytes, reason) in [
            (&[][..], "empty reply payload (no tag)"),
            (
                &[0x01, 0x07, 0x00][..],
                "error reply shorter than its 4-byte code",
            ),
            (&[0x01, 0, 0, 0, 0, 0xff][..], "error message is not UTF-8"),
            (&[0x02, 0x00][..], "broken-promise reply with a body"),
            (&[0x09][..], "unknown reply tag"),
        ] {
            assert_eq!(Reply::decode(Bytes::copy_from_slice(bytes)), Err(reason));
        }
    }

    #[test]
    fn short_request_and_not_found_payloads_are_rejected() {
        assert_eq!(split_request(Bytes::from_static(&[0; 15])), None);
        let token = Uid::new(3, 4);
        assert_eq!(decode_not_found(&encode_not_found(token)), Some(token));
        assert_eq!(decode_not_found(&[0; 17]), None);
    }
}
