//! [`RedisLayer`]: a `tracing` layer that turns fred's own `fred.command` spans into
//! OpenTelemetry CLIENT spans named after the command.
//!
//! fred opens `fred.command` synchronously in the poll of the caller's future, so
//! [`Context::current`](opentelemetry::Context::current) at that moment is the caller's
//! context: the OpenTelemetry span gets the right parent without any change to the
//! calling code. fred records `cmd.name` once the arguments are prepared and `cmd.res`
//! (the reply's size) when the reply arrives; the span is renamed on the first and
//! ended on the second.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, RwLock};

use opentelemetry::KeyValue;
use opentelemetry::trace::SpanKind;
use opentelemetry_semantic_conventions::attribute::{DB_OPERATION_NAME, DB_SYSTEM_NAME};
use trace_core::{ScopedTracer, SpanStart, TracedSpan};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Metadata, Subscriber};
use tracing_subscriber::layer::Context as LayerContext;
use tracing_subscriber::registry::LookupSpan;

use crate::clients::{self, ClientInfo};
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
                if let Some(client) = fields.client {
                    scope::set_batch_client(client);
                }
            }
            return;
        }
        let span = TRACER.start(SpanKind::Client, || {
            let mut fields = CommandFields::default();
            attrs.record(&mut fields);
            let start =
                SpanStart::new("redis").with_attribute(KeyValue::new(DB_SYSTEM_NAME, "redis"));
            match fields.client {
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
                scope::name_claimed(name.clone());
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
    client: Option<Arc<ClientInfo>>,
    name: Option<Cow<'static, str>>,
    replied: bool,
}

impl CommandFields {
    fn set(&mut self, field: &Field, value: &str) {
        match field.name() {
            "client.id" => self.client = clients::lookup(value),
            "cmd.name" => self.name = Some(intern(value)),
            _ => {}
        }
    }
}

impl Visit for CommandFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.set(field, value);
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
            // Only reached if fred ever records these as something other than text.
            "cmd.name" | "client.id" => self.set(field, format!("{value:?}").trim_matches('"')),
            _ => {}
        }
    }
}

/// The most distinct command names kept for reuse; more (an application inventing
/// custom command names without end) are allocated per span instead.
const MAX_INTERNED_NAMES: usize = 512;

static NAMES: RwLock<Option<HashSet<&'static str>>> = RwLock::new(None);

/// The command name as a `'static` string, so that sampled spans do not allocate it:
/// Redis has a few hundred command names, each leaked once.
fn intern(name: &str) -> Cow<'static, str> {
    if let Some(known) = NAMES
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
        .and_then(|names| names.get(name))
    {
        return Cow::Borrowed(known);
    }
    let mut names = NAMES.write().unwrap_or_else(|p| p.into_inner());
    let names = names.get_or_insert_with(HashSet::new);
    if let Some(known) = names.get(name) {
        return Cow::Borrowed(known);
    }
    if names.len() >= MAX_INTERNED_NAMES {
        return Cow::Owned(name.to_owned());
    }
    let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
    names.insert(leaked);
    Cow::Borrowed(leaked)
}
