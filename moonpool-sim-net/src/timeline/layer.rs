//! A `tracing-subscriber` layer that puts user events on the timeline.

use std::fmt;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use super::recorder;

/// The field that names the track (host) of an event or span.
const HOST_FIELD: &str = "host";
/// The simulator's own host span: `host{name, ip, incarnation}`.
const HOST_SPAN: &str = "host";
/// The address field of the simulator's host span.
const IP_FIELD: &str = "ip";
/// The field `tracing` puts an event's message in.
const MESSAGE_FIELD: &str = "message";

/// Puts `tracing` events emitted during a traced iteration on its timeline.
///
/// Outside a traced iteration it does nothing beyond a thread-local check,
/// so it can stay installed for a whole test run:
///
/// ```
/// use moonpool_sim_net::timeline::TimelineLayer;
/// use tracing_subscriber::layer::SubscriberExt;
///
/// let subscriber = tracing_subscriber::registry().with(TimelineLayer::new());
/// let _guard = tracing::subscriber::set_default(subscriber);
/// tracing::info!(host = "10.0.0.1", "leader elected");
/// ```
#[derive(Debug, Clone, Copy)]
pub struct TimelineLayer {
    max_level: Level,
}

impl Default for TimelineLayer {
    /// Records events up to `INFO`: the simulator's own `debug!`/`trace!`
    /// chatter would drown the user's events, and the network events are
    /// on the timeline anyway.
    fn default() -> Self {
        Self {
            max_level: Level::INFO,
        }
    }
}

impl TimelineLayer {
    /// The layer, recording events up to `INFO`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records events up to `level` (`Level::TRACE` records all).
    pub fn with_max_level(mut self, level: Level) -> Self {
        self.max_level = level;
        self
    }
}

/// The `host` a span was created with, kept in the span's extensions.
#[derive(Debug, Clone)]
struct SpanHost(String);

impl<S> Layer<S> for TimelineLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if !recorder::is_recording() {
            return;
        }
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        let host = fields.host.or_else(|| {
            (attrs.metadata().name() == HOST_SPAN)
                .then(|| fields.args.get(IP_FIELD).map(value_text))
                .flatten()
        });
        if let (Some(host), Some(span)) = (host, ctx.span(id)) {
            span.extensions_mut().insert(SpanHost(host));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        // Levels order by verbosity: TRACE is the greatest.
        if *event.metadata().level() > self.max_level || !recorder::is_recording() {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let host = fields.host.or_else(|| {
            ctx.event_scope(event)?
                .find_map(|span| span.extensions().get::<SpanHost>().map(|h| h.0.clone()))
        });
        let metadata = event.metadata();
        let name = fields.message.unwrap_or_else(|| metadata.name().to_owned());
        let mut args = fields.args;
        args.insert("level".into(), Value::from(metadata.level().as_str()));
        args.insert("target".into(), Value::from(metadata.target()));
        recorder::record_user_event(host.as_deref(), name, args);
    }
}

/// An event's or span's fields as JSON, with `host` and `message` apart.
#[derive(Debug, Default)]
struct Fields {
    host: Option<String>,
    message: Option<String>,
    args: Map<String, Value>,
}

impl Fields {
    fn put(&mut self, field: &Field, value: Value) {
        match field.name() {
            HOST_FIELD => self.host = Some(value_text(&value)),
            MESSAGE_FIELD => self.message = Some(value_text(&value)),
            name => {
                self.args.insert(name.to_owned(), value);
            }
        }
    }
}

/// A field value as plain text (strings without their JSON quotes).
fn value_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

impl Visit for Fields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Value::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::from(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::from(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, Value::from(format!("{value:?}")));
    }
}
