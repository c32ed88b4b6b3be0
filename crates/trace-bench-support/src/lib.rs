//! **Internal to trace-rs, not published.** What the workspace's benchmarks share:
//! the cases they compare ([`BenchCase`]), the timed loop ([`ns_per_call`]), the machine
//! line every summary starts with ([`print_machine`]), CPUs kept awake for I/O-bound
//! benchmarks ([`CpusAwake`]), and a span processor that counts and drops
//! ([`CountAndDrop`]).
//!
//! It lives outside `trace-core` so that none of this is part of a published API. Use it
//! as a dev-dependency only; `cargo xtask deps` rejects any other kind of dependency on
//! it.
//!
//! ## Feature flags
//!
//! None.
//!
//! ## Supported Rust versions
//!
//! The workspace's `rust-version` (1.94), like every crate here.

mod awake;
mod bench;
mod processor;

pub use awake::CpusAwake;
pub use bench::{BenchCase, ns_per_call, print_machine};
pub use processor::CountAndDrop;
