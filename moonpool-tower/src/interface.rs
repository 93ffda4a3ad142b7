//! [`interface!`](crate::interface): one definition of a multi-method
//! interface, both sides of it.

/// Declares a multi-method RPC interface, as FoundationDB's interface
/// structs: one definition yields the typed client and both ways of serving
/// it, with the token of method `i` derived from one base token
/// ([`Uid::adjusted`](moonpool_codec::Uid::adjusted)`(i)`).
///
/// The interface becomes a module (the types of the parent module are in
/// scope inside it) holding:
/// - `Client`: one public [`RpcClient`](crate::rpc::RpcClient) field per
///   method (each a tower service), made by
///   `Client::new(&transport, base_endpoint)` (reliable delivery;
///   `.unreliable()` switches every method);
/// - `Streams`: one public [`RequestStream`](crate::actor::RequestStream)
///   field per method, registered by `Streams::register(router, base)`,
///   for an actor-style server;
/// - `Services`: a builder that registers one tower service per method,
///   `Services::new(router, base).add(svc)?.mul(svc)?`;
/// - `METHODS`: the `(name, index)` of every method.
///
/// Requests and responses are protobuf messages (`prost`). Method indices
/// are written out so that reordering the definition never changes the
/// wire. Declare the interface at module level (the generated module
/// imports its parent's items with `use super::*`).
///
/// ```
/// use moonpool_codec::Uid;
/// use moonpool_tower::interface;
///
/// #[derive(Clone, PartialEq, prost::Message)]
/// pub struct Pair { #[prost(int64, tag = "1")] pub a: i64, #[prost(int64, tag = "2")] pub b: i64 }
/// #[derive(Clone, PartialEq, prost::Message)]
/// pub struct Total { #[prost(int64, tag = "1")] pub value: i64 }
///
/// interface! {
///     /// Integer arithmetic.
///     pub mod calculator {
///         /// `a + b`.
///         add(Pair) -> Total = 0;
///         /// `a * b`.
///         mul(Pair) -> Total = 1;
///     }
/// }
///
/// # fn main() {
/// assert_eq!(calculator::METHODS, [("add", 0), ("mul", 1)]);
/// # }
/// # async fn serve(router: &moonpool_tower::endpoint::EndpointRouter) -> Result<(), moonpool_tower::endpoint::RouterError> {
/// let base = Uid::new(0xca1c, 0);
/// let mut streams = calculator::Streams::register(router, base)?;
/// tokio::select! {
///     biased;
///     Some((pair, reply)) = streams.add.recv() => reply.send(Total { value: pair.a + pair.b }),
///     Some((pair, reply)) = streams.mul.recv() => reply.send(Total { value: pair.a * pair.b }),
/// }
/// # Ok(())
/// # }
/// ```
#[macro_export]
macro_rules! interface {
    (
        $(#[$interface_meta:meta])*
        $vis:vis mod $interface:ident {
            $(
                $(#[$method_meta:meta])*
                $method:ident($request:ty) -> $response:ty = $index:literal;
            )+
        }
    ) => {
        $(#[$interface_meta])*
        $vis mod $interface {
            #![allow(unused_imports, unreachable_pub)]
            use super::*;

            /// Every method's name and index (its token is `base.adjusted(index)`).
            pub const METHODS: &[(&str, u32)] = &[$((stringify!($method), $index)),+];

            /// The typed client: one RPC client (a tower service) per method.
            #[derive(Clone, Debug)]
            pub struct Client {
                $(
                    $(#[$method_meta])*
                    pub $method: $crate::rpc::RpcClient<$request, $response>,
                )+
            }

            impl Client {
                /// A client of the interface whose base endpoint is `base`,
                /// sending reliably.
                pub fn new(
                    transport: &$crate::transport::Transport,
                    base: $crate::__private::moonpool_codec::Endpoint,
                ) -> Self {
                    Self {
                        $($method: $crate::rpc::RpcClient::new(transport, base.adjusted($index)),)+
                    }
                }

                /// Every method sends at most once (`tryGetReply`).
                #[must_use]
                pub fn unreliable(self) -> Self {
                    Self {
                        $($method: self.$method.unreliable(),)+
                    }
                }
            }

            /// The server side as request streams: one per method.
            #[derive(Debug)]
            pub struct Streams {
                $(
                    $(#[$method_meta])*
                    pub $method: $crate::actor::RequestStream<$request, $response>,
                )+
            }

            impl Streams {
                /// Registers every method at `base.adjusted(index)`. On
                /// failure, the methods registered so far are unregistered.
                pub fn register(
                    router: &$crate::endpoint::EndpointRouter,
                    base: $crate::__private::moonpool_codec::Uid,
                ) -> ::std::result::Result<Self, $crate::endpoint::RouterError> {
                    Ok(Self {
                        $($method: router.request_stream(base.adjusted($index))?,)+
                    })
                }
            }

            /// The server side as tower services: registers one per method.
            #[derive(Debug)]
            pub struct Services<'a> {
                router: &'a $crate::endpoint::EndpointRouter,
                base: $crate::__private::moonpool_codec::Uid,
            }

            impl<'a> Services<'a> {
                /// Starts registering the methods at tokens derived from `base`.
                pub fn new(router: &'a $crate::endpoint::EndpointRouter, base: $crate::__private::moonpool_codec::Uid) -> Self {
                    Self { router, base }
                }

                $(
                    $(#[$method_meta])*
                    ///
                    /// Registers `service` for this method.
                    pub fn $method<S>(self, service: S) -> ::std::result::Result<Self, $crate::endpoint::RouterError>
                    where
                        S: $crate::__private::tower::Service<$request, Response = $response>
                            + Clone
                            + Send
                            + 'static,
                        S::Error: Into<$crate::__private::tower::BoxError>,
                        S::Future: Send + 'static,
                    {
                        self.router.serve(self.base.adjusted($index), service)?;
                        Ok(self)
                    }
                )+
            }
        }
    };
}
