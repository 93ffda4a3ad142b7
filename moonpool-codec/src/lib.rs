//! moonpool's wire format as a `tokio-util` codec.
