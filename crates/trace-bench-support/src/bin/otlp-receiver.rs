//! The benchmarks' OTLP trace receiver as a program of its own:
//! `cargo run -p trace-bench-support --features receiver --bin otlp-receiver -- [--grpc-port N]
//! [--http-port N] [--exit-on-stdin-eof]`. See `trace_bench_support::receiver`.

use std::process::ExitCode;

fn main() -> ExitCode {
    trace_bench_support::receiver::serve(std::env::args().skip(1))
}
