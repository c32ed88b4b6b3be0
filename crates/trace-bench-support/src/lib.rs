//! **Internal to trace-rs, not published.** What the workspace's benchmarks share:
//! the cases they compare ([`BenchCase`]), the timed loop ([`ns_per_call`]), the machine
//! line every summary starts with ([`print_machine`]), CPUs kept awake for I/O-bound
//! benchmarks ([`CpusAwake`]), a span processor that counts and drops
//! ([`CountAndDrop`]), CPU time per thread and memory from `/proc` ([`proc`]), allocation
//! counts that cost the code measured almost nothing ([`alloc`]), and, with
//! the `receiver` feature, an OTLP receiver that runs in a process of its own and the
//! export set-up of benchmarks whose traced cases export to it ([`receiver`]).
//!
//! It lives outside `trace-core` so that none of this is part of a published API. Use it
//! as a dev-dependency only; `cargo xtask deps` rejects any other kind of dependency on
//! it.
//!
//! ## Feature flags
//!
//! - `receiver`: the `receiver` module and the `otlp-receiver` binary (tonic and hyper
//!   servers, opentelemetry-proto's types).
//!
//! ## Supported Rust versions
//!
//! The workspace's `rust-version` (1.94), like every crate here.

pub mod alloc;
mod awake;
mod bench;
pub mod proc;
mod processor;
#[cfg(feature = "receiver")]
pub mod receiver;

pub use awake::CpusAwake;
pub use bench::{BenchCase, ns_per_call, print_machine};
pub use processor::CountAndDrop;
