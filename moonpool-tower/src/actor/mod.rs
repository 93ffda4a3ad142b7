//! The actor style of serving: FoundationDB's `RequestStream` and
//! `ReplyPromise`.
//!
//! A server registers a [`RequestStream`] per endpoint and answers each
//! request through its [`ReplyPromise`], typically in one `select!` loop
//! (with `biased;`) over several streams. Dropping a promise unfulfilled
//! answers `BrokenPromise`.

mod promise;
mod stream;

pub use promise::ReplyPromise;
pub use stream::RequestStream;
