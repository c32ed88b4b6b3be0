//! [`RedisLayer`]: a `tracing` layer that turns fred's own `fred.command` spans into
//! OpenTelemetry CLIENT spans named after the command.
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
use trace_core::{ScopedTracer, SpanStart, TracedSpan};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Metadata, Subscriber};
use tracing_subscriber::layer::Context as LayerContext;
use tracing_subscriber::registry::LookupSpan;

use crate::clients;
use crate::scope::{self, Claim};
use crate::statement::StatementOptions;

pub(crate) static TRACER: ScopedTracer =
    ScopedTracer::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"));

/// The span fred opens around every command.
const FRED_COMMAND: &str = "fred.command";

/// A `tracing_subscriber` layer that gives every fred command an OpenTelemetry CLIENT
/// span. Add it to the subscriber the service installs:
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt;
///
/// let subscriber = tracing_subscriber::registry().with(trace_redis::RedisLayer::new());
/// # drop(subscriber);
/// ```
///
/// The layer handles only fred's `fred.command` spans and ignores everything else.
#[derive(Clone, Default)]
pub struct RedisLayer {
    options: Arc<StatementOptions>,
}

impl fmt::Debug for RedisLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisLayer")
            .field("statements", &self.options)
            .finish()
    }
}

impl RedisLayer {
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
}

/// The OpenTelemetry span behind one `fred.command`, kept in the registry's extensions.
struct CommandSpan {
    span: TracedSpan,
    /// Owned by a [`Traced`](crate::Traced) wrapper, which ends it with the result.
    scoped: bool,
}

impl<S> tracing_subscriber::Layer<S> for RedisLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: LayerContext<'_, S>) {
        if !is_fred_command(attrs.metadata()) || !trace_core::is_enabled() {
            return;
        }
        let claim = scope::claim();
        if matches!(claim, Claim::Batch) {
            if scope::batch_recording() == Some(true) {
                let mut fields = CommandFields::default();
                attrs.record(&mut fields);
                if let Some(client_id) = fields.client_id {
                    scope::set_batch_client(&client_id);
                }
            }
            return;
        }
        let span = TRACER.start(SpanKind::Client, || {
            let mut fields = CommandFields::default();
            attrs.record(&mut fields);
            let start =
                SpanStart::new("redis").with_attribute(KeyValue::new(DB_SYSTEM_NAME, "redis"));
            match fields.client_id.as_deref().and_then(clients::lookup) {
                Some(info) => start.with_attributes(info.attributes.iter().cloned()),
                None => start,
            }
        });
        if !span.is_recording() {
            return;
        }
        let scoped = matches!(claim, Claim::Command);
        if scoped {
            scope::hand_over(span.context().clone(), Arc::clone(&self.options));
        }
        if let Some(registered) = ctx.span(id) {
            registered
                .extensions_mut()
                .insert(CommandSpan { span, scoped });
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: LayerContext<'_, S>) {
        let Some(registered) = ctx.span(id) else {
            return;
        };
        if !is_fred_command(registered.metadata()) {
            return;
        }
        // Fields are read only for spans that record or batches that count: the
        // unsampled path allocates nothing.
        let mut extensions = registered.extensions_mut();
        let mut fields = CommandFields::default();
        let Some(command) = extensions.get_mut::<CommandSpan>() else {
            let names_command = registered
                .metadata()
                .fields()
                .field("cmd.name")
                .is_some_and(|field| values.contains(&field));
            match scope::batch_recording() {
                Some(true) if names_command => {
                    values.record(&mut fields);
                    scope::add_to_batch(fields.name.as_deref());
                }
                Some(false) if names_command => scope::add_to_batch(None),
                _ => {}
            }
            return;
        };
        values.record(&mut fields);
        if let Some(name) = fields.name {
            if command.scoped {
                scope::name_claimed(&name);
            }
            command
                .span
                .set_attribute(KeyValue::new(DB_OPERATION_NAME, name.clone()));
            command.span.update_name(name);
        }
        if fields.replied && !command.scoped {
            // The reply arrived; fred keeps its span open until the command is
            // dropped, which for pipelined commands is much later.
            if let Some(command) = extensions.remove::<CommandSpan>() {
                command.span.end();
            }
        }
    }

    fn on_close(&self, id: Id, ctx: LayerContext<'_, S>) {
        let Some(registered) = ctx.span(&id) else {
            return;
        };
        if let Some(command) = registered.extensions_mut().remove::<CommandSpan>()
            && !command.scoped
        {
            // No reply: the command failed in the client, timed out or the caller
            // dropped it. fred does not say which, so the status stays unset.
            command.span.end();
        }
    }
}

fn is_fred_command(metadata: &Metadata<'_>) -> bool {
    metadata.name() == FRED_COMMAND
}

/// The fields of `fred.command` this layer reads.
#[derive(Default)]
struct CommandFields {
    client_id: Option<String>,
    name: Option<String>,
    replied: bool,
}

impl Visit for CommandFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "client.id" => self.client_id = Some(value.to_owned()),
            "cmd.name" => self.name = Some(value.to_owned()),
            _ => {}
        }
    }

    fn record_u64(&mut self, field: &Field, _value: u64) {
        if field.name() == "cmd.res" {
            self.replied = true;
        }
    }

    fn record_i64(&mut self, field: &Field, _value: i64) {
        if field.name() == "cmd.res" {
            self.replied = true;
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match field.name() {
            "cmd.res" => self.replied = true,
            // Names arrive as `&&str`, which some tracing versions hand over as Debug.
            "cmd.name" => self.name = Some(format!("{value:?}").trim_matches('"').to_owned()),
            "client.id" => self.client_id = Some(format!("{value:?}").trim_matches('"').to_owned()),
            _ => {}
        }
    }
}
