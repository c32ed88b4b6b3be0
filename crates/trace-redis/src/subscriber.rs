//! [`RedisSubscriberLayer`]: a `tracing` layer that turns fred's own `fred.command` spans
//! into OpenTelemetry CLIENT spans named after the command.
//!
//! fred opens `fred.command` synchronously in the poll of the caller's future, so
//! [`Context::current`](opentelemetry::Context::current) at that moment is the caller's
//! context: the OpenTelemetry span gets the right parent without any change to the
//! calling code. fred records `cmd.name` once the arguments are prepared and `cmd.res`
//! (the reply's size) when the reply arrives; the span is renamed on the first and
//! ended on the second.

use std::fmt;
use std::sync::Arc;

use opentelemetry::KeyValue;
use opentelemetry::trace::SpanKind;
use opentelemetry_semantic_conventions::attribute::{DB_OPERATION_NAME, DB_SYSTEM_NAME};
use trace_core::{ScopedTracer, SpanStart};
use tracing::span::{Attributes, Id, Record};
use tracing::{Metadata, Subscriber};
use tracing_subscriber::layer::Context as LayerContext;

use crate::fields::{self, CommandFields, is_fred_command};
use crate::in_flight::{CommandSpan, InFlight};
use crate::scope::{self, Claim};
use crate::statement::StatementOptions;

pub(crate) static TRACER: ScopedTracer =
    ScopedTracer::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"));

/// fred's spans inside `fred.command` (`full-tracing` adds the last two): the command's
/// own span already covers them, and each costs the subscriber a span of bookkeeping.
const FRED_INNER_SPANS: [&str; 3] = ["fred.rtt", "fred.prepare", "fred.queued"];

/// Attributes set after the span started (`db.operation.name`; with
/// [`traced`](crate::RedisFutureExt::traced) up to three more): room for them is made at
/// the start, so the span's attribute list never grows.
const LATER_ATTRIBUTES: usize = 4;

/// A `tracing_subscriber` layer that gives every fred command an OpenTelemetry CLIENT
/// span. Add it to the subscriber the service installs:
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt;
///
/// let subscriber = tracing_subscriber::registry().with(trace_redis::RedisSubscriberLayer::new());
/// # drop(subscriber);
/// ```
///
/// The layer handles only fred's `fred.command` spans. It switches off fred's spans
/// nested inside them (`fred.rtt`, and with fred's `full-tracing` also `fred.prepare` and
/// `fred.queued`) for the whole subscriber, since the command span covers them; other
/// layers that want them can have them back with
/// [`keep_inner_spans`](Self::keep_inner_spans). Every other span and event is left to
/// the other layers.
#[derive(Default)]
pub struct RedisSubscriberLayer {
    options: Arc<StatementOptions>,
    keep_inner_spans: bool,
    in_flight: InFlight,
}

/// A clone has the same settings and no commands in flight: span ids are only unique
/// within one subscriber, so each subscriber needs a layer of its own.
impl Clone for RedisSubscriberLayer {
    fn clone(&self) -> Self {
        Self {
            options: Arc::clone(&self.options),
            keep_inner_spans: self.keep_inner_spans,
            in_flight: InFlight::default(),
        }
    }
}

impl fmt::Debug for RedisSubscriberLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSubscriberLayer")
            .field("statements", &self.options)
            .field("keep_inner_spans", &self.keep_inner_spans)
            .finish_non_exhaustive()
    }
}

impl RedisSubscriberLayer {
    /// A layer with the default [`StatementOptions`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets how `db.query.text` is built for commands whose arguments are given with
    /// [`Traced::with_args`](crate::Traced::with_args).
    pub fn statements(mut self, options: StatementOptions) -> Self {
        self.options = Arc::new(options);
        self
    }

    /// Keeps fred's `fred.rtt` (and `full-tracing`'s `fred.prepare` and `fred.queued`)
    /// spans for the subscriber's other layers (default `false`: they are switched off,
    /// which spares the subscriber creating, entering twice and closing `fred.rtt` for
    /// every command).
    pub fn keep_inner_spans(mut self, keep: bool) -> Self {
        self.keep_inner_spans = keep;
        self
    }
}

fn is_fred_inner_span(metadata: &Metadata<'_>) -> bool {
    let target = metadata.target();
    metadata.is_span()
        && (target == "fred" || target.starts_with("fred::"))
        && FRED_INNER_SPANS.contains(&metadata.name())
}

impl<S: Subscriber> tracing_subscriber::Layer<S> for RedisSubscriberLayer {
    // Also decides the callsite interest (the default `register_callsite` asks this):
    // `never` for fred's inner spans, `always` for everything else.
    fn enabled(&self, metadata: &Metadata<'_>, _ctx: LayerContext<'_, S>) -> bool {
        self.keep_inner_spans || !is_fred_inner_span(metadata)
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _ctx: LayerContext<'_, S>) {
        let metadata = attrs.metadata();
        if !is_fred_command(metadata) || !trace_core::is_enabled() {
            return;
        }
        fields::remember_callsite(metadata);
        let claim = scope::claim();
        if matches!(claim, Claim::Batch) {
            if scope::batch_recording() == Some(true) {
                let mut fields = CommandFields::default();
                attrs.record(&mut fields);
                if let Some(client) = fields.client {
                    scope::set_batch_client(client);
                }
            }
            return;
        }
        let span = TRACER.start(SpanKind::Client, || {
            let mut fields = CommandFields::default();
            attrs.record(&mut fields);
            let client = fields
                .client
                .as_deref()
                .map_or(&[][..], |info| &info.attributes);
            let mut attributes = Vec::with_capacity(1 + client.len() + LATER_ATTRIBUTES);
            attributes.push(KeyValue::new(DB_SYSTEM_NAME, "redis"));
            attributes.extend_from_slice(client);
            SpanStart::new("redis").with_attributes(attributes)
        });
        if !span.is_recording() {
            return;
        }
        let scoped = matches!(claim, Claim::Command);
        if scoped {
            scope::hand_over(span.context().clone(), Arc::clone(&self.options));
        }
        let replaced = self
            .in_flight
            .lock(id)
            .insert(id.into_u64(), CommandSpan { span, scoped });
        // An id is reused only after its span closed, which removed the entry.
        drop(replaced);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _ctx: LayerContext<'_, S>) {
        // `cmd.req` and other spans' records are told apart without any lookup.
        let Some(recorded) = fields::recorded(values) else {
            return;
        };
        let mut commands = self.in_flight.lock(id);
        let key = id.into_u64();
        let Some(command) = commands.get_mut(&key) else {
            drop(commands);
            // Not recording, or queued in a batch: fields are read only for batches that
            // record, so a command that does not record allocates nothing more here.
            match scope::batch_recording() {
                Some(true) if recorded.name => {
                    let mut fields = CommandFields::default();
                    values.record(&mut fields);
                    scope::add_to_batch(fields.name.as_deref());
                }
                Some(false) if recorded.name => scope::add_to_batch(None),
                _ => {}
            }
            return;
        };
        if recorded.name {
            let mut fields = CommandFields::default();
            values.record(&mut fields);
            if let Some(name) = fields.name {
                if command.scoped {
                    scope::name_claimed(name.clone());
                }
                command
                    .span
                    .set_attribute(KeyValue::new(DB_OPERATION_NAME, name.clone()));
                command.span.update_name(name);
            }
        }
        if recorded.reply && !command.scoped {
            // The reply arrived; fred keeps its span open until the command is
            // dropped, which for pipelined commands is much later.
            let command = commands.remove(&key);
            drop(commands);
            if let Some(command) = command {
                command.span.end();
            }
        }
    }

    fn on_close(&self, id: Id, _ctx: LayerContext<'_, S>) {
        let command = self.in_flight.lock(&id).remove(&id.into_u64());
        if let Some(command) = command
            && !command.scoped
        {
            // No reply: the command failed in the client, timed out or the caller
            // dropped it. fred does not say which, so the status stays unset.
            command.span.end();
        }
    }
}
