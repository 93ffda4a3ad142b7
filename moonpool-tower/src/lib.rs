//! FoundationDB-style peers, endpoints and RPC as tower services.
