//! The OpenTelemetry spans of the fred commands in flight, by `tracing` span id.
//!
//! The layer's own table instead of the registry's span extensions: no registry lookup
//! and no boxed extension per command, and spans that are not `fred.command` cost one
//! uncontended lock and a miss on close. Sharded, so commands on different threads
//! rarely meet on a lock.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Mutex, MutexGuard};

use trace_core::TracedSpan;
use tracing::span::Id;

/// The OpenTelemetry span behind one `fred.command`.
pub(crate) struct CommandSpan {
    pub(crate) span: TracedSpan,
    /// Owned by a [`Traced`](crate::Traced) wrapper, which ends it with the result.
    pub(crate) scoped: bool,
}

pub(crate) type Commands = HashMap<u64, CommandSpan, BuildHasherDefault<IdHasher>>;

const SHARDS: usize = 16;

/// One shard on a cache line of its own.
#[repr(align(64))]
#[derive(Default)]
struct Shard(Mutex<Commands>);

/// The in-flight commands of one layer (span ids are only unique within one registry,
/// so every layer has its own table).
pub(crate) struct InFlight {
    shards: Box<[Shard]>,
}

impl Default for InFlight {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
        }
    }
}

impl InFlight {
    /// The shard holding `id`, locked. End or drop a [`CommandSpan`] only after
    /// releasing it: ending may export, and an exporter's own spans close through
    /// this table too.
    pub(crate) fn lock(&self, id: &Id) -> MutexGuard<'_, Commands> {
        let shard = (id.into_u64() as usize) % SHARDS;
        self.shards[shard]
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Span ids are unique integers already: one multiplication spreads them over the table.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(u64::from(byte) ^ self.0.rotate_left(8));
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}
